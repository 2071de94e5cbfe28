"""Finite networks: parameterisations, ensembles, validation, finite-width laws."""

import math

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.networks import MLP, relu_fourth_moment_ratio


def _x(n=5, d=3):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_parameterisations_give_the_same_function_at_init():
    """NTK and standard parameterisations differ in gradients only: same seed, same outputs."""
    x = _x()
    ntk = MLP(3, [64, 64], parameterization="ntk", weight_variance=1.7, bias_variance=0.2, seed=4)
    std = MLP(3, [64, 64], parameterization="standard", weight_variance=1.7, bias_variance=0.2, seed=4)
    assert torch.allclose(ntk(x), std(x), atol=1e-12)


def test_ntk_gradients_are_width_independent_and_standard_are_not():
    x = _x(1)
    norms = {}
    for param in ("ntk", "standard"):
        for width in (64, 1024):
            net = MLP(3, [width], parameterization=param, seed=0)
            net(x).sum().backward()
            norms[param, width] = sum(float((p.grad**2).sum()) for p in net.parameters())
    # sum of squared gradients = empirical NTK(x, x): O(1) in NTK param., O(n) in standard
    assert 0.5 < norms["ntk", 1024] / norms["ntk", 64] < 2
    assert norms["standard", 1024] / norms["standard", 64] > 8


def test_ensemble_matches_members():
    x = _x()
    ens = MLP(3, [16], num_networks=4, seed=2)
    out = ens(x)
    assert out.shape == (4, 5, 1)
    member = MLP(3, [16], seed=0)
    with torch.no_grad():
        for p_member, p_ens in zip(member.parameters(), ens.parameters(), strict=True):
            p_member.copy_(p_ens[2])
    assert torch.allclose(member(x), out[2], atol=1e-13)


def test_preactivations_and_depth_zero():
    out, hs = MLP(3, [8, 8], seed=0)(_x(), return_preactivations=True)
    assert [h.shape for h in hs] == [(5, 8), (5, 8)]
    linear = MLP(3, [], seed=0)
    assert linear.depth == 0 and linear(_x()).shape == (5, 1)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"hidden_widths": [0]}, "hidden_widths"),
        ({"hidden_widths": 4}, "hidden_widths"),
        ({"weight_variance": 0.0}, "weight_variance"),
        ({"bias_variance": -1.0}, "bias_variance"),
        ({"parameterization": "nope"}, "parameterization"),
        ({"activation": "nope"}, "activation"),
    ],
)
def test_rejects_bad_configuration(kwargs, argument):
    base = {"in_features": 3, "hidden_widths": [4]}
    with pytest.raises(InputDataError, match=argument):
        MLP(**{**base, **kwargs})


def test_rejects_wrong_input_dimension():
    with pytest.raises(InputDataError, match="`x`"):
        MLP(3, [4], seed=0)(torch.zeros(2, 5, dtype=torch.float64))


def test_relu_fourth_moment_ratio():
    assert relu_fourth_moment_ratio([]) == 3.0
    assert relu_fourth_moment_ratio([5, 10]) == pytest.approx(3 * 2 * 1.5)
    # leading order: excess kurtosis ~ 15 (L - 1) / n for L - 1 equal widths n
    assert relu_fourth_moment_ratio([1000] * 4) - 3 == pytest.approx(15 * 4 / 1000, rel=0.02)
    with pytest.raises(InputDataError):
        relu_fourth_moment_ratio([0])
    assert math.isfinite(relu_fourth_moment_ratio([4] * 20))
