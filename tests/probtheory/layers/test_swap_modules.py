import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers import PolyNorm, swap_modules


def _net():
    return nn.Sequential(
        nn.Linear(4, 8), nn.GELU(), nn.Sequential(nn.Linear(8, 8), nn.GELU()), nn.Linear(8, 2)
    )


def test_every_matching_module_is_replaced_including_nested_ones():
    net = _net()
    assert swap_modules(net, nn.GELU, lambda old: PolyNorm()) == 2
    assert isinstance(net[1], PolyNorm) and isinstance(net[2][1], PolyNorm)
    assert not any(isinstance(m, nn.GELU) for m in net.modules())
    assert net(torch.randn(3, 4)).shape == (3, 2)


def test_predicates_and_factories_see_the_old_module():
    net = _net()
    count = swap_modules(
        net, lambda m: isinstance(m, nn.Linear) and m.out_features == 8, lambda old: nn.Identity()
    )
    assert count == 2 and isinstance(net[0], nn.Identity) and isinstance(net[3], nn.Linear)


def test_replaced_modules_are_not_searched_again():
    net = _net()
    # the inner Sequential matches; its GELU is gone with it, so only 2 replacements, not 3
    assert swap_modules(net, (nn.Sequential, nn.GELU), lambda old: nn.Identity()) == 2


def test_bad_arguments_are_rejected():
    with pytest.raises(InputDataError, match="match"):
        swap_modules(_net(), "GELU", lambda old: old)
    with pytest.raises(InputDataError, match="factory"):
        swap_modules(_net(), nn.GELU, None)
    with pytest.raises(InputDataError, match="nn.Module"):
        swap_modules(_net(), nn.GELU, lambda old: 3)
