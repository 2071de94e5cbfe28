"""Bad input to probtheory.kernels: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import math

import pytest
import torch

from probtheory.errors import InputDataError, UnsupportedError
from probtheory.kernels import (
    NNGPKernel,
    NTKKernel,
    empirical_nngp,
    empirical_ntk,
    gradient_descent_mse,
    monte_carlo_nngp,
    nngp_and_ntk,
    resolve_activation,
)
from probtheory.networks import MLP
from tests.bad_input import BadInput, check_case

X64 = torch.float64
NAN = float("nan")


def x(n: int = 4, d: int = 3, **kw) -> torch.Tensor:
    return torch.randn(n, d, dtype=X64, generator=torch.Generator().manual_seed(0), **kw)


def with_nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = NAN
    return t


def kernel(cls=NNGPKernel, **kw):
    return cls(**kw).double()


def net() -> MLP:
    return MLP(3, [8], seed=0)


def networks(k: int, g: torch.Generator) -> MLP:
    return MLP(3, [8], num_networks=k, generator=g)


CASES = [
    # resolve_activation / Activation: one strict grammar
    BadInput(
        "resolve_activation",
        "'=' instead of ':'",
        lambda: resolve_activation("leaky_relu=0.2"),
        InputDataError,
        "activation",
        pattern="leaky_relu:<slope>",
    ),
    BadInput(
        "resolve_activation",
        "slope not a number",
        lambda: resolve_activation("leaky_relu:abc"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "resolve_activation",
        "slope missing",
        lambda: resolve_activation("leaky_relu"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "resolve_activation",
        "NaN slope",
        lambda: resolve_activation("leaky_relu:nan"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "resolve_activation",
        "capitalised name",
        lambda: resolve_activation("ReLU"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "resolve_activation",
        "surrounding spaces",
        lambda: resolve_activation(" relu"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "resolve_activation",
        "unknown name",
        lambda: resolve_activation("swish"),
        InputDataError,
        "activation",
        pattern="relu",
    ),
    BadInput(
        "resolve_activation",
        "softmax is not elementwise",
        lambda: resolve_activation(lambda z: torch.softmax(z, -1)),
        UnsupportedError,
        "activation",
    ),
    BadInput(
        "resolve_activation",
        "LeakyReLU module with a NaN slope",
        lambda: resolve_activation(torch.nn.LeakyReLU(NAN)),
        InputDataError,
        "activation",
    ),
    BadInput(
        "Activation",
        "an object that is neither a name, an Activation nor a callable",
        lambda: resolve_activation(3),
        InputDataError,
        "activation",
    ),
    # NNGPKernel / NTKKernel / InfiniteWidthKernel
    BadInput(
        "NNGPKernel",
        "leaky_relu with '=' (was silently slope 0.01)",
        lambda: NNGPKernel(activation="leaky_relu=0.2"),
        InputDataError,
        "activation",
    ),
    BadInput("NNGPKernel", "negative depth", lambda: NNGPKernel(depth=-1), InputDataError, "depth"),
    BadInput(
        "NNGPKernel",
        "NaN weight variance",
        lambda: NNGPKernel(weight_variance=NAN),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "NNGPKernel",
        "zero weight variance",
        lambda: NNGPKernel(weight_variance=0.0),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "NNGPKernel",
        "negative bias variance",
        lambda: NNGPKernel(bias_variance=-0.1),
        InputDataError,
        "bias_variance",
    ),
    BadInput(
        "NNGPKernel",
        "variance given as a string",
        lambda: NNGPKernel(weight_variance="2"),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "NNGPKernel",
        "x1 and x2 of different feature dimensions",
        lambda: kernel()(x(4, 3), x(4, 2)).to_dense(),
        InputDataError,
        "x2",
    ),
    BadInput(
        "NNGPKernel",
        "diag=True with x2 of another number of points",
        lambda: kernel()(x(4, 3), x(5, 3), diag=True),
        InputDataError,
        "x2",
    ),
    BadInput("NNGPKernel", "NaN input", lambda: kernel()(with_nan(x())), InputDataError, "x1"),
    BadInput(
        "NNGPKernel",
        "integer input",
        lambda: kernel()(torch.ones(3, 2, dtype=torch.long)),
        InputDataError,
        "x1",
    ),
    BadInput(
        "NNGPKernel", "a list instead of a tensor", lambda: kernel()([[1.0, 2.0]]), InputDataError, "x1"
    ),
    BadInput(
        "NNGPKernel",
        "inputs without features",
        lambda: kernel()(torch.zeros(3, 0, dtype=X64)).to_dense(),
        InputDataError,
        "x1",
    ),
    BadInput(
        "NNGPKernel",
        "input_dim mismatch",
        lambda: kernel(input_dim=2)(x(4, 3)).to_dense(),
        InputDataError,
        "x1",
    ),
    BadInput(
        "NTKKernel",
        "x1 and x2 of different feature dimensions",
        lambda: kernel(NTKKernel)(x(4, 3), x(4, 2)).to_dense(),
        InputDataError,
        "x2",
    ),
    BadInput(
        "NTKKernel", "unknown activation", lambda: NTKKernel(activation="tanh2"), InputDataError, "activation"
    ),
    BadInput(
        "InfiniteWidthKernel",
        "inf in x2",
        lambda: kernel()(x(), with_nan(x()) * math.inf).to_dense(),
        InputDataError,
        "x2",
    ),
    BadInput(
        "InfiniteWidthKernel",
        "last_dim_is_batch",
        lambda: kernel().forward(x(), x(), last_dim_is_batch=True),
        UnsupportedError,
        "last_dim_is_batch",
    ),
    # nngp_and_ntk
    BadInput(
        "nngp_and_ntk",
        "x2 of another feature dimension",
        lambda: nngp_and_ntk(x(4, 3), x(4, 2), depth=2),
        InputDataError,
        "x2",
    ),
    BadInput(
        "nngp_and_ntk",
        "NaN bias variance",
        lambda: nngp_and_ntk(x(), depth=2, bias_variance=NAN),
        InputDataError,
        "bias_variance",
    ),
    BadInput(
        "nngp_and_ntk", "numpy array input", lambda: nngp_and_ntk(x().numpy(), depth=1), InputDataError, "x1"
    ),
    # empirical kernels
    BadInput(
        "empirical_ntk",
        "empty batch",
        lambda: empirical_ntk(net(), torch.zeros(0, 3, dtype=X64)),
        InputDataError,
        "x1",
    ),
    BadInput("empirical_ntk", "NaN input", lambda: empirical_ntk(net(), with_nan(x())), InputDataError, "x1"),
    BadInput(
        "empirical_ntk",
        "integer input",
        lambda: empirical_ntk(net(), torch.ones(2, 3, dtype=torch.long)),
        InputDataError,
        "x1",
    ),
    BadInput(
        "empirical_ntk",
        "a plain function as the model",
        lambda: empirical_ntk(torch.sin, x()),
        InputDataError,
        "model",
    ),
    BadInput(
        "empirical_ntk",
        "x2 of another width",
        lambda: empirical_ntk(net(), x(), x(2, 4)),
        InputDataError,
        "x2",
    ),
    BadInput(
        "empirical_ntk",
        "zero memory budget",
        lambda: empirical_ntk(net(), x(), max_memory_bytes=0),
        InputDataError,
        "max_memory_bytes",
    ),
    BadInput(
        "empirical_nngp",
        "model returning a scalar",
        lambda: empirical_nngp(lambda z: z.sum(), x()),
        InputDataError,
        "model",
    ),
    BadInput(
        "empirical_nngp", "NaN in x2", lambda: empirical_nngp(net(), x(), with_nan(x())), InputDataError, "x2"
    ),
    BadInput(
        "monte_carlo_nngp",
        "one sample (no standard error)",
        lambda: monte_carlo_nngp(networks, x(), num_samples=1),
        InputDataError,
        "num_samples",
    ),
    BadInput(
        "monte_carlo_nngp",
        "float seed",
        lambda: monte_carlo_nngp(networks, x(), num_samples=4, seed=1.5),
        InputDataError,
        "seed",
    ),
    BadInput(
        "monte_carlo_nngp",
        "factory returning one network's outputs",
        lambda: monte_carlo_nngp(lambda k, g: MLP(3, [8], generator=g), x(), num_samples=4),
        InputDataError,
        "make_networks",
    ),
    BadInput(
        "monte_carlo_nngp", "not a factory", lambda: monte_carlo_nngp(3, x()), InputDataError, "make_networks"
    ),
    # gradient_descent_mse
    BadInput(
        "gradient_descent_mse",
        "no training points",
        lambda: gradient_descent_mse(torch.zeros(0, 0, dtype=X64), torch.zeros(0, 1, dtype=X64), 0.1, 3),
        InputDataError,
        "k_train_train",
    ),
    BadInput(
        "gradient_descent_mse",
        "1-d targets",
        lambda: gradient_descent_mse(torch.eye(3, dtype=X64), torch.ones(3, dtype=X64), 0.1, 3),
        InputDataError,
        "y_train",
    ),
    BadInput(
        "gradient_descent_mse",
        "NaN learning rate",
        lambda: gradient_descent_mse(torch.eye(3, dtype=X64), torch.ones(3, 1, dtype=X64), NAN, 3),
        InputDataError,
        "learning_rate",
    ),
    BadInput(
        "gradient_descent_mse",
        "NaN initial outputs",
        lambda: gradient_descent_mse(
            torch.eye(3, dtype=X64),
            torch.ones(3, 1, dtype=X64),
            0.1,
            3,
            f0_train=torch.full((3, 1), NAN, dtype=X64),
        ),
        InputDataError,
        "f0_train",
    ),
    BadInput(
        "gradient_descent_mse",
        "test kernel with the wrong number of columns",
        lambda: gradient_descent_mse(
            torch.eye(3, dtype=X64),
            torch.ones(3, 1, dtype=X64),
            0.1,
            3,
            k_test_train=torch.ones(2, 4, dtype=X64),
        ),
        InputDataError,
        "k_test_train",
    ),
    BadInput(
        "gradient_descent_mse",
        "f0_test without k_test_train",
        lambda: gradient_descent_mse(
            torch.eye(3, dtype=X64), torch.ones(3, 1, dtype=X64), 0.1, 3, f0_test=torch.zeros(2, 1, dtype=X64)
        ),
        InputDataError,
        "k_test_train",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


@pytest.mark.parametrize("cls", [NNGPKernel, NTKKernel])
@pytest.mark.parametrize("activation", ["relu", "erf", "leaky_relu:0.2", "tanh"])
def test_diag_is_the_diagonal_of_the_full_matrix(cls, activation):
    """``k(x1, x2, diag=True)`` is k(x1_i, x2_i), also when x2 differs from x1 (batched too)."""
    k = cls(depth=2, activation=activation, bias_variance=0.1).double()
    g = torch.Generator().manual_seed(1)
    x1, x2 = (torch.randn(2, 5, 3, dtype=X64, generator=g) for _ in range(2))
    full = k(x1, x2).to_dense().diagonal(dim1=-2, dim2=-1)
    torch.testing.assert_close(k(x1, x2, diag=True), full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(k(x1, diag=True), k(x1).to_dense().diagonal(dim1=-2, dim2=-1))


def test_leaky_relu_slope_is_parsed_exactly():
    assert resolve_activation("leaky_relu:0.2").a == 0.2
    assert resolve_activation("leaky_relu:1e-2").a == 0.01
    assert resolve_activation("leaky_relu:-1").a == -1.0


def test_mixed_dtypes_follow_the_inputs():
    """Kernels compute in their inputs' dtype (promoted when x1 and x2 differ)."""
    k = NNGPKernel(depth=1).double()
    out = k(x().float(), x()).to_dense()
    assert out.dtype == X64
    assert k(x().float()).to_dense().dtype == torch.float32


def test_empirical_kernels_convert_inputs_to_the_model_dtype():
    model = net()  # float64 parameters
    ntk32, ntk64 = empirical_ntk(model, x().float()), empirical_ntk(model, x())
    assert ntk32.dtype == torch.float32
    torch.testing.assert_close(ntk32, ntk64.float())
