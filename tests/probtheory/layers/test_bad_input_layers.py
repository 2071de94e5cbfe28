"""Bad input to probtheory.layers: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.layers import (
    BiPerConv2d,
    BiPerLinear,
    HyperNetwork,
    PolyNorm,
    PolyReLU,
    PowerNorm,
    QuadraticLinear,
    SNNKLinear,
    URFDecomposition,
    approx_sign,
    arccos_kernel,
    encode_input,
    relinear_param_groups,
    set_biper_stage,
    square_wave,
    swap_modules,
)
from probtheory.layers.powernorm import power_norm_batch
from tests.bad_input import BadInput, check_case

NAN = float("nan")


def hyper() -> HyperNetwork:
    return HyperNetwork(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), input_dim=1,
                        hidden_sizes=(8,), seed=0)  # fmt: skip


def training_powernorm() -> PowerNorm:
    return PowerNorm(4).train()


CASES = [
    # HyperNetwork
    BadInput(
        "HyperNetwork",
        "x of the wrong width for the primary",
        lambda: hyper()(torch.tensor([0.3]), torch.randn(5, 3)),
        InputDataError,
        "x",
    ),
    BadInput(
        "HyperNetwork",
        "gamma outside [0, 1]",
        lambda: hyper()(torch.tensor([1.5]), torch.randn(5, 4)),
        InputDataError,
        "gamma",
    ),
    BadInput(
        "HyperNetwork",
        "NaN gamma",
        lambda: hyper()(torch.tensor([NAN]), torch.randn(5, 4)),
        InputDataError,
        "gamma",
    ),
    BadInput(
        "HyperNetwork",
        "gamma of the wrong length",
        lambda: hyper()(torch.tensor([0.1, 0.2]), torch.randn(5, 4)),
        InputDataError,
        "gamma",
    ),
    BadInput(
        "HyperNetwork",
        "integer x",
        lambda: hyper()(torch.tensor([0.3]), torch.ones(5, 4, dtype=torch.long)),
        InputDataError,
        "x",
    ),
    BadInput(
        "HyperNetwork",
        "the primary's class instead of an instance",
        lambda: HyperNetwork(nn.Linear, 1),
        InputDataError,
        "primary",
    ),
    BadInput(
        "HyperNetwork",
        "unknown encoding",
        lambda: HyperNetwork(nn.Linear(4, 2), 1, encoding="cos-sin"),
        InputDataError,
        "encoding",
    ),
    BadInput(
        "HyperNetwork",
        "float seed",
        lambda: HyperNetwork(nn.Linear(4, 2), 1, seed=0.0),
        InputDataError,
        "seed",
    ),
    BadInput(
        "HyperNetwork",
        "a single width",
        lambda: HyperNetwork(nn.Linear(4, 2), 1, hidden_sizes=64),
        InputDataError,
        "hidden_sizes",
    ),
    BadInput(
        "encode_input",
        "unknown encoding",
        lambda: encode_input(torch.tensor([0.5]), "sin"),
        InputDataError,
        "encoding",
    ),
    BadInput(
        "encode_input", "integer gamma", lambda: encode_input(torch.tensor([1])), InputDataError, "gamma"
    ),
    # swap_modules
    BadInput(
        "swap_modules",
        "a module instance instead of its class",
        lambda: swap_modules(nn.Sequential(nn.GELU()), nn.GELU(), lambda old: nn.ReLU()),
        InputDataError,
        "match",
    ),
    BadInput(
        "swap_modules",
        "a tuple with a non-class",
        lambda: swap_modules(nn.Sequential(nn.GELU()), (nn.GELU, "ReLU"), lambda old: nn.ReLU()),
        InputDataError,
        "match",
    ),
    BadInput(
        "swap_modules",
        "a module instance as the factory",
        lambda: swap_modules(nn.Sequential(nn.GELU()), nn.GELU, 3),
        InputDataError,
        "factory",
    ),
    BadInput(
        "swap_modules",
        "factory returning a function",
        lambda: swap_modules(nn.Sequential(nn.GELU()), nn.GELU, lambda old: torch.relu),
        InputDataError,
        "factory",
    ),
    BadInput(
        "swap_modules",
        "a state dict instead of a model",
        lambda: swap_modules(nn.Linear(2, 2).state_dict(), nn.GELU, lambda old: nn.ReLU()),
        InputDataError,
        "model",
    ),
    # BiPer
    BadInput(
        "BiPerLinear", "wrong input width", lambda: BiPerLinear(4, 2)(torch.randn(3, 5)), InputDataError, "x"
    ),
    BadInput(
        "BiPerLinear",
        "integer input",
        lambda: BiPerLinear(4, 2)(torch.ones(3, 4, dtype=torch.long)),
        InputDataError,
        "x",
    ),
    BadInput("BiPerLinear", "NaN frequency", lambda: BiPerLinear(4, 2, omega=NAN), InputDataError, "omega"),
    BadInput("BiPerLinear", "stage 3", lambda: BiPerLinear(4, 2, stage=3), InputDataError, "stage"),
    BadInput("BiPerLinear", "zero input width", lambda: BiPerLinear(0, 2), InputDataError, "in_features"),
    BadInput(
        "BiPerConv2d",
        "channels last",
        lambda: BiPerConv2d(3, 4, 3)(torch.randn(2, 8, 8, 3)),
        InputDataError,
        "x",
    ),
    BadInput(
        "BiPerConv2d",
        "image smaller than the kernel",
        lambda: BiPerConv2d(3, 4, 5)(torch.randn(2, 3, 3, 3)),
        InputDataError,
        "x",
    ),
    BadInput(
        "BiPerConv2d", "negative channels", lambda: BiPerConv2d(-3, 4, 3), InputDataError, "in_channels"
    ),
    BadInput(
        "set_biper_stage",
        "stage given as a string",
        lambda: set_biper_stage(nn.Sequential(), "2"),
        InputDataError,
        "stage",
    ),
    BadInput(
        "set_biper_stage",
        "not a module",
        lambda: set_biper_stage([BiPerLinear(2, 2)], 2),
        InputDataError,
        "model",
    ),
    BadInput(
        "square_wave", "zero frequency", lambda: square_wave(torch.randn(3), 0.0), InputDataError, "omega"
    ),
    BadInput(
        "square_wave",
        "integer weights",
        lambda: square_wave(torch.ones(3, dtype=torch.long), 20.0),
        InputDataError,
        "w",
    ),
    BadInput("approx_sign", "a list", lambda: approx_sign([0.5, -0.5]), InputDataError, "a"),
    # PolyCom
    BadInput("PolyReLU", "integer input", lambda: PolyReLU()(torch.arange(3)), InputDataError, "x"),
    BadInput("PolyReLU", "order 0", lambda: PolyReLU(order=0), InputDataError, "order"),
    BadInput("PolyNorm", "zero eps", lambda: PolyNorm(eps=0.0), InputDataError, "eps"),
    BadInput("PolyNorm", "a 0-dim input", lambda: PolyNorm()(torch.tensor(1.0)), InputDataError, "x"),
    # PowerNorm
    BadInput("PowerNorm", "alpha_fwd of 1", lambda: PowerNorm(4, alpha_fwd=1.0), InputDataError, "alpha_fwd"),
    BadInput("PowerNorm", "NaN alpha_bkw", lambda: PowerNorm(4, alpha_bkw=NAN), InputDataError, "alpha_bkw"),
    BadInput(
        "PowerNorm",
        "features not last (BatchNorm1d layout)",
        lambda: PowerNorm(4)(torch.randn(8, 4, 10)),
        InputDataError,
        "x",
    ),
    BadInput(
        "PowerNorm",
        "an empty training batch (running statistic would turn NaN)",
        lambda: training_powernorm()(torch.zeros(0, 4)),
        InputDataError,
        "x",
    ),
    BadInput("PowerNorm", "integer dtype", lambda: PowerNorm(4, dtype=torch.int32), InputDataError, "dtype"),
    BadInput(
        "PowerNorm",
        "power_norm_batch with a scale of the wrong size",
        lambda: power_norm_batch(torch.randn(8, 4), torch.ones(1)),
        InputDataError,
        "weight",
    ),
    # QuadraticLinear
    BadInput(
        "QuadraticLinear",
        "wrong input width",
        lambda: QuadraticLinear(3, 2)(torch.randn(4, 2)),
        InputDataError,
        "x",
    ),
    BadInput(
        "QuadraticLinear", "zero outputs", lambda: QuadraticLinear(3, 0), InputDataError, "out_features"
    ),
    BadInput(
        "relinear_param_groups",
        "a network without quadratic layers",
        lambda: relinear_param_groups(nn.Linear(2, 2), 0.1, 1e-5),
        InputDataError,
        "model",
    ),
    BadInput(
        "relinear_param_groups",
        "NaN learning rate",
        lambda: relinear_param_groups(QuadraticLinear(2, 2), NAN, 1e-5),
        InputDataError,
        "lr",
    ),
    BadInput(
        "relinear_param_groups",
        "a parameter list instead of the model",
        lambda: relinear_param_groups(list(QuadraticLinear(2, 2).parameters()), 0.1, 1e-5),
        InputDataError,
        "model",
    ),
    # SNNK
    BadInput("SNNKLinear", "unknown kind", lambda: SNNKLinear(4, 2, 8, kind="ReLU"), InputDataError, "kind"),
    BadInput(
        "SNNKLinear",
        "unknown URF activation",
        lambda: SNNKLinear(4, 2, 8, kind="urf", activation="tanh"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "SNNKLinear",
        "activation given as a list",
        lambda: SNNKLinear(4, 2, 8, kind="urf", activation=["exp"]),
        InputDataError,
        "activation",
    ),
    BadInput(
        "SNNKLinear",
        "activation for kind='relu'",
        lambda: SNNKLinear(4, 2, 8, activation="cos"),
        ConfigurationError,
        pattern="activation",
    ),
    BadInput(
        "SNNKLinear",
        "wrong input width",
        lambda: SNNKLinear(4, 2, 8, seed=0)(torch.randn(3, 5)),
        InputDataError,
        "x",
    ),
    BadInput("SNNKLinear", "float seed", lambda: SNNKLinear(4, 2, 8, seed=1.0), InputDataError, "seed"),
    BadInput(
        "SNNKLinear",
        "NaN initial weight",
        lambda: SNNKLinear(2, 1, 8, weight=torch.tensor([[NAN, 1.0]])),
        InputDataError,
        "weight",
    ),
    BadInput(
        "SNNKLinear",
        "from_linear given a Conv2d",
        lambda: SNNKLinear.from_linear(nn.Conv2d(1, 1, 1), 8),
        InputDataError,
        "linear",
    ),
    BadInput(
        "URFDecomposition",
        "fields swapped (a string where a sampler goes)",
        lambda: URFDecomposition("f", "normal", torch.ones_like, torch.ones_like, torch.exp),
        InputDataError,
        "sample_xi",
    ),
    BadInput(
        "arccos_kernel",
        "different feature dimensions",
        lambda: arccos_kernel(torch.randn(3, 2), torch.randn(4, 3)),
        InputDataError,
        "v",
    ),
    BadInput(
        "arccos_kernel",
        "1-d inputs",
        lambda: arccos_kernel(torch.randn(3), torch.randn(3)),
        InputDataError,
        "u",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: BiPerLinear(4, 2, binarize_input=False), (3, 4)),
        (lambda: BiPerConv2d(3, 2, 3, binarize_input=False), (2, 3, 5, 5)),
        (lambda: QuadraticLinear(4, 2), (3, 4)),
        (lambda: PolyReLU(), (3, 4)),
        (lambda: PolyNorm(), (3, 4)),
        (lambda: PowerNorm(4).eval(), (3, 4)),
        (lambda: SNNKLinear(4, 2, 8, seed=0), (3, 4)),
    ],
)
def test_dtype_policy_inputs_converted_outputs_in_the_input_dtype(make, shape):
    """A float64 input to a float32 layer is computed in float32 and returned in float64."""
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(*shape, dtype=torch.float64)
    out = layer(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, layer(x.float()).double())


def test_hypernetwork_dtype_policy():
    h = hyper()
    x = torch.randn(5, 4, dtype=torch.float64)
    out = h(torch.tensor([0.3]), x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, h(torch.tensor([0.3]), x.float()).double())
