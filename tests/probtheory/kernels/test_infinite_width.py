"""Contract, batching, gradients and bad-input tests of NNGPKernel / NTKKernel."""

import math
import unittest

import numpy as np
import pytest
import torch
from botorch.models.kernels import InfiniteWidthBNNKernel
from gpytorch.test.base_kernel_test_case import BaseKernelTestCase

from probtheory.errors import InputDataError, UnsupportedError
from probtheory.kernels import NNGPKernel, NTKKernel, nngp_and_ntk, resolve_activation
from probtheory.kernels.activations import Activation


class TestNNGPKernelContract(unittest.TestCase, BaseKernelTestCase):
    seed = 0

    def create_kernel_no_ard(self, **kwargs):
        return NNGPKernel(depth=3, activation="relu", weight_variance=1.7, bias_variance=0.2, **kwargs)


class TestNTKKernelContract(unittest.TestCase, BaseKernelTestCase):
    seed = 0

    def create_kernel_no_ard(self, **kwargs):
        return NTKKernel(depth=2, activation="erf", weight_variance=1.3, bias_variance=0.1, **kwargs)


class TestQuadratureKernelContract(unittest.TestCase, BaseKernelTestCase):
    seed = 0

    def create_kernel_no_ard(self, **kwargs):
        return NTKKernel(depth=2, activation=torch.tanh, weight_variance=1.5, bias_variance=0.1, **kwargs)


def _x(n=6, d=3, seed=0, batch=()):
    return torch.randn(*batch, n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("activation", ["relu", "erf", "abs", "leaky_relu:0.1", "tanh"])
def test_gram_matrices_are_symmetric_psd(activation):
    x = _x(12, 4)
    x = x / x.norm(dim=-1, keepdim=True)
    nngp, ntk = nngp_and_ntk(x, depth=3, activation=activation, weight_variance=1.8, bias_variance=0.3)
    # closed forms are symmetric to round-off; 2-D quadrature treats u and v differently and
    # is symmetric only to its accuracy (tanh, degree 64, variances ~1: ~1e-9)
    tol = 1e-8 if activation == "tanh" else 1e-13
    for k in (nngp, ntk):
        assert torch.allclose(k, k.T, atol=tol * k.diagonal().max().item())
        assert torch.linalg.eigvalsh(k).min() >= -1e-10 * k.trace()


def test_batch_shapes_and_broadcasting():
    k = NTKKernel(depth=2, batch_shape=torch.Size([2])).double()
    k.weight_variance = torch.tensor([1.5, 2.5])
    x = _x(5, 3, batch=(2,))
    out = k(x).to_dense()
    assert out.shape == (2, 5, 5)
    single = NTKKernel(depth=2, weight_variance=2.5).double()(x[1]).to_dense()
    assert torch.allclose(out[1], single, atol=1e-12)
    assert k(x, diag=True).shape == (2, 5)


def test_rectangular_blocks_match_single_pass():
    import probtheory.kernels.recursion as recursion

    x1, x2 = _x(37, 3, 1), _x(23, 3, 2)
    full = nngp_and_ntk(x1, x2, depth=4)
    old = recursion._BLOCK_ELEMENTS
    try:
        recursion._BLOCK_ELEMENTS = 50  # two rows per block
        blocked = nngp_and_ntk(x1, x2, depth=4)
    finally:
        recursion._BLOCK_ELEMENTS = old
    for a, b in zip(full, blocked, strict=True):
        assert torch.allclose(a, b, atol=1e-13)


@pytest.mark.parametrize("activation", ["relu", "erf", "leaky_relu:0.2", "tanh"])
def test_in_place_prediction_path_equals_autograd_path(activation):
    x = _x(9, 3)
    with torch.no_grad():
        fast = nngp_and_ntk(x, depth=4, activation=activation, weight_variance=1.7, bias_variance=0.3)
    k = NTKKernel(4, activation, 1.7, 0.3).double()
    nngp, ntk = k._kernels(x, x, diag=False)
    assert ntk.requires_grad
    assert torch.allclose(fast[0], nngp, atol=1e-13) and torch.allclose(fast[1], ntk, atol=1e-13)


@pytest.mark.parametrize("kernel_cls", [NNGPKernel, NTKKernel])
@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_hyperparameter_gradients_match_finite_differences(kernel_cls, activation):
    x = torch.cat([_x(5, 3), _x(1, 3)])  # includes a repeated row direction via the diagonal
    k = kernel_cls(depth=3, activation=activation, weight_variance=1.6, bias_variance=0.2).double()
    k(x).to_dense().sum().backward()
    for name in ("weight_variance", "bias_variance"):
        raw = getattr(k, f"raw_{name}")
        assert torch.isfinite(raw.grad).all()
        h = 1e-6
        with torch.no_grad():
            raw += h
            up = k(x).to_dense().sum()
            raw -= 2 * h
            down = k(x).to_dense().sum()
            raw += h
        assert raw.grad.item() == pytest.approx(((up - down) / (2 * h)).item(), rel=1e-5, abs=1e-7)


def test_gradient_finite_for_duplicate_and_antipodal_inputs():
    x = _x(3, 2)
    x = torch.cat([x, x[:1], -x[1:2]]).requires_grad_(True)
    k = NTKKernel(depth=5).double()
    k(x).to_dense().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(k.raw_weight_variance.grad).all()


@pytest.mark.parametrize("name", ["relu", "leaky_relu:0.2", "abs"])
def test_fused_nngp_layer_equals_the_elementwise_graph(name):
    # One autograd node with an analytic backward (the fitting path) against the generic graph,
    # with rho = 1 (duplicate rows) and rho = -1 (antipodal rows) among the entries.
    activation = resolve_activation(name)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.cat([x[:2], -x[2:3], torch.randn(3, 3, generator=g, dtype=torch.float64)])
    inputs = (x @ y.T, (x * x).sum(-1, keepdim=True), (y * y).sum(-1).unsqueeze(0))
    variances = (torch.tensor([[1.7]], dtype=torch.float64), torch.tensor([[0.3]], dtype=torch.float64))
    fused_args = [t.clone().requires_grad_() for t in (*inputs, *variances)]
    generic_args = [t.clone().requires_grad_() for t in (*inputs, *variances)]
    fused = activation.nngp_layer(*fused_args)
    generic = Activation.nngp_layer(activation, *generic_args)  # the base class: elementwise graph
    torch.testing.assert_close(fused, generic, rtol=1e-13, atol=1e-13)
    assert fused.grad_fn.name().endswith("SlopeReLUNNGPLayerBackward")
    weights = torch.randn(fused.shape, generator=g, dtype=torch.float64)
    for a, b in zip(
        torch.autograd.grad(fused, fused_args, weights),
        torch.autograd.grad(generic, generic_args, weights),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # and against finite differences where rho is away from +-1
    off = [t.detach().clone().requires_grad_() for t in (x[2:] @ y[3:].T, inputs[1][2:], inputs[2][:, 3:])]
    assert torch.autograd.gradcheck(
        lambda *t: activation.nngp_layer(*t), [*off, *(v.clone().requires_grad_() for v in variances)]
    )


def test_quadrature_matches_closed_form_erf():
    # unit-norm inputs keep the pre-activation variances O(1), where Gauss-Hermite resolves
    # erf' = exp(-z^2) (at variance >> 1 the bump is narrower than the node spacing)
    x = _x(8, 3)
    x = x / x.norm(dim=-1, keepdim=True)
    closed = nngp_and_ntk(x, depth=3, activation="erf", weight_variance=1.4, bias_variance=0.1)
    quad = nngp_and_ntk(x, depth=3, activation=lambda z: torch.erf(z), weight_variance=1.4, bias_variance=0.1)
    for a, b in zip(closed, quad, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def test_torch_callables_map_to_closed_forms():
    assert resolve_activation(torch.relu).name == "relu"
    assert resolve_activation(torch.nn.ReLU()).name == "relu"
    assert resolve_activation(torch.erf).name == "erf"
    assert resolve_activation(torch.nn.LeakyReLU(0.1)).a == pytest.approx(0.1)


@pytest.mark.parametrize("name", ["relu", "erf", "leaky_relu:0.3", "abs", "tanh"])
def test_gaussian_expectations_against_monte_carlo(name):
    """E[phi(u)phi(v)] and E[phi'(u)phi'(v)] vs 10^6 samples, |MC - closed| <= 5 SE."""
    act = resolve_activation(name)
    rng = np.random.default_rng(0)
    q1, q2, s12 = 1.3, 0.7, -0.5
    cov = np.array([[q1, s12], [s12, q2]])
    uv = torch.as_tensor(rng.multivariate_normal([0, 0], cov, size=1_000_000))
    u, v = uv[:, 0], uv[:, 1]
    du = torch.func.vmap(torch.func.grad(lambda t: act(t)))(u)
    dv = torch.func.vmap(torch.func.grad(lambda t: act(t)))(v)
    t = lambda a: torch.tensor([[a]], dtype=torch.float64)  # noqa: E731
    mean, mean_d = act.pair(t(s12), t(q1), t(q2))
    for samples, closed in ((act(u) * act(v), mean), (du * dv, mean_d)):
        se = samples.std() / math.sqrt(samples.numel())
        assert abs(samples.mean() - closed.item()) <= 5 * se


def test_matches_botorch_infinite_width_bnn_kernel():
    x = torch.rand(20, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ours = NNGPKernel(depth=3, weight_variance=1.3, bias_variance=0.4)(x).to_dense()
    theirs = InfiniteWidthBNNKernel(depth=3).double()
    theirs.weight_var, theirs.bias_var = 1.3, 0.4
    # BoTorch clamps the cosine to [-1 + 1e-7, 1 - 1e-7]; that moves only the diagonal, by O(1e-10).
    assert torch.allclose(ours, theirs(x).to_dense(), atol=1e-8)


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
def test_zero_input_without_bias_has_zero_covariance(activation):
    """f(0) = 0 in a bias-free network: its kernel row is 0, finite, with finite gradients."""
    x = torch.cat([torch.zeros(1, 3, dtype=torch.float64), _x(3, 3)])
    k = NTKKernel(depth=3, activation=activation, bias_variance=0.0).double()
    gram = k(x).to_dense()
    assert torch.isfinite(gram).all() and gram[0].abs().max() == 0.0
    gram.sum().backward()
    assert torch.isfinite(k.raw_weight_variance.grad).all()


def test_float32_inputs_give_float32_outputs():
    x = _x(4, 2).float()
    assert NTKKernel(depth=2)(x).to_dense().dtype == torch.float32


def test_zero_bias_variance_stays_exactly_zero():
    k = NNGPKernel(depth=1, bias_variance=0.0)
    assert k.bias_variance.item() == 0.0
    k(_x()).to_dense().sum().backward()
    assert k.raw_bias_variance.grad.abs().item() == 0.0


# ---------------------------------------------------------------- bad input


def test_rejects_mismatched_trailing_dimension():
    k = NTKKernel(depth=2)
    with pytest.raises(InputDataError, match="x2"):
        k.forward(_x(3, 3), _x(3, 4))
    with pytest.raises(InputDataError, match="x1"):
        NTKKernel(depth=2, input_dim=5)(_x(3, 3)).to_dense()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_rejects_non_finite_inputs(bad):
    x = _x()
    x[2, 1] = bad
    with pytest.raises(InputDataError, match="finite"):
        NNGPKernel(depth=1)(x).to_dense()


def test_rejects_negative_depth():
    with pytest.raises(InputDataError, match="depth"):
        NNGPKernel(depth=-1)
    with pytest.raises(InputDataError, match="depth"):
        NNGPKernel(depth=2.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("weight_variance", 0.0),
        ("weight_variance", -1.0),
        ("bias_variance", -0.1),
        ("weight_variance", float("nan")),
    ],
)
def test_rejects_non_positive_variances(name, value):
    with pytest.raises(InputDataError, match=name):
        NTKKernel(depth=1, **{name: value})
    k = NTKKernel(depth=1)
    with pytest.raises(InputDataError, match=name):
        setattr(k, name, value)


def test_rejects_non_elementwise_activation():
    with pytest.raises(UnsupportedError, match="activation"):
        NTKKernel(depth=1, activation=torch.nn.Softmax(dim=-1))
    with pytest.raises(UnsupportedError, match="activation"):
        NTKKernel(depth=1, activation=lambda z: z - z.mean())
    with pytest.raises(InputDataError, match="activation"):
        NTKKernel(depth=1, activation="swishy")


def test_rejects_last_dim_is_batch():
    with pytest.raises(UnsupportedError, match="last_dim_is_batch"):
        NTKKernel(depth=1).forward(_x(), _x(), last_dim_is_batch=True)
