"""Bad input to probtheory.networks: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.networks import MLP, LayerScaling, mup, ntk, relu_fourth_moment_ratio, standard
from tests.bad_input import BadInput, check_case

X64 = torch.float64
NAN = float("nan")


def net(**kw) -> MLP:
    return MLP(3, [8], seed=0, **kw)


CASES = [
    BadInput("MLP", "a single width instead of a list", lambda: MLP(3, 8), InputDataError, "hidden_widths"),
    BadInput("MLP", "zero width", lambda: MLP(3, [8, 0]), InputDataError, "hidden_widths[1]"),
    BadInput(
        "MLP",
        "NaN weight variance",
        lambda: MLP(3, [8], weight_variance=NAN),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "MLP",
        "negative bias variance",
        lambda: MLP(3, [8], bias_variance=-1.0),
        InputDataError,
        "bias_variance",
    ),
    BadInput(
        "MLP",
        "leaky_relu with '='",
        lambda: MLP(3, [8], activation="leaky_relu=0.2"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "MLP",
        "unknown parameterization",
        lambda: MLP(3, [8], parameterization="NTK"),
        InputDataError,
        "parameterization",
        pattern="ntk",
    ),
    BadInput("MLP", "float seed", lambda: MLP(3, [8], seed=0.5), InputDataError, "seed"),
    BadInput("MLP", "integer dtype", lambda: MLP(3, [8], dtype=torch.int64), InputDataError, "dtype"),
    BadInput(
        "MLP", "a seed where a generator goes", lambda: MLP(3, [8], generator=0), InputDataError, "generator"
    ),
    BadInput(
        "MLP",
        "parameterization returning a tuple",
        lambda: MLP(3, [8], parameterization=lambda *a: (1, 1)),
        InputDataError,
        "parameterization",
    ),
    BadInput("MLP", "wrong input width", lambda: net()(torch.randn(4, 2, dtype=X64)), InputDataError, "x"),
    BadInput("MLP", "integer input", lambda: net()(torch.ones(4, 3, dtype=torch.long)), InputDataError, "x"),
    BadInput("MLP", "a list as input", lambda: net()([[0.0, 1.0, 2.0]]), InputDataError, "x"),
    BadInput(
        "LayerScaling",
        "NaN standard deviation (custom parameterization)",
        lambda: LayerScaling(1.0, NAN, 1.0, 1.0),
        InputDataError,
        "weight_std",
    ),
    BadInput(
        "LayerScaling",
        "negative bias std",
        lambda: LayerScaling(1.0, 1.0, 1.0, -0.1),
        InputDataError,
        "bias_std",
    ),
    BadInput("ntk", "zero fan-in", lambda: ntk("hidden", 0, 4, 1.0, 0.0), InputDataError, "fan_in"),
    BadInput(
        "standard", "NaN sigma_w", lambda: standard("hidden", 4, 4, NAN, 0.0), InputDataError, "sigma_w"
    ),
    BadInput("mup", "unknown layer kind", lambda: mup("output", 4, 4, 1.0, 0.0), InputDataError, "kind"),
    BadInput(
        "relu_fourth_moment_ratio",
        "a single width",
        lambda: relu_fourth_moment_ratio(8),
        InputDataError,
        "hidden_widths",
    ),
    BadInput(
        "relu_fourth_moment_ratio",
        "zero width",
        lambda: relu_fourth_moment_ratio([8, 0]),
        InputDataError,
        "hidden_widths[1]",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_float32_input_to_a_float64_network_is_converted_and_returned_in_float32():
    """The dtype policy: computed in the parameters' dtype, returned in the input's."""
    model = net()
    x = torch.randn(5, 3, dtype=X64)
    out32, pre32 = model(x.float(), return_preactivations=True)
    assert out32.dtype == torch.float32 and all(p.dtype == torch.float32 for p in pre32)
    torch.testing.assert_close(out32, model(x).float())
