import math

import numpy as np
import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.layers import PolyNorm, PolyReLU


def _random_coefficients(module, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.weight.copy_(torch.randn(module.order, generator=generator, dtype=torch.float64))
        module.bias.copy_(torch.randn(1, generator=generator, dtype=torch.float64))
    return module.bias.item(), module.weight.tolist()


@pytest.mark.parametrize("cls", [PolyReLU, PolyNorm])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_coefficients_initialise_as_in_the_paper(cls, order):
    # Zhuo et al.: a_1 = ... = a_r = 1/r, a_0 = 0 (official code: torch.ones(3) / 3, zero bias)
    module = cls(order)
    assert module.weight.shape == (order,)
    assert torch.equal(module.weight, torch.full((order,), 1.0 / order))
    assert torch.equal(module.bias, torch.zeros(1))
    assert module.weight.requires_grad and module.bias.requires_grad


def test_default_polyrelu_is_the_cubic_mean_of_relu_powers():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)
    relu = x.clamp(min=0)
    expected = (relu + relu**2 + relu**3) / 3
    # the coefficients are float32 1/3: exact to float32 resolution
    assert torch.allclose(PolyReLU().double()(x), expected, rtol=1e-7, atol=0)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_polyrelu_is_a_polynomial_composed_with_relu(order):
    module = PolyReLU(order).double()
    a0, weights = _random_coefficients(module, seed=order)
    coefficients = [a0, *weights]  # numpy's order: constant term first
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    out = module(x)
    positive = x > 0
    expected = np.polynomial.polynomial.polyval(x[positive].numpy(), coefficients)
    np.testing.assert_allclose(out[positive].detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert torch.allclose(out[~positive], torch.full_like(out[~positive], a0), rtol=0, atol=1e-15)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_polyrelu_has_exact_degree_order_on_the_positive_half_line(order):
    # finite differences on a uniform grid: the r-th is constant r! a_r h^r, the (r+1)-th vanishes
    module = PolyReLU(order).double()
    _, weights = _random_coefficients(module, seed=10 + order)
    h = 0.25
    x = 0.5 + h * torch.arange(order + 6, dtype=torch.float64)
    values = module(x).detach().numpy()
    rth = np.diff(values, n=order)
    np.testing.assert_allclose(rth, math.factorial(order) * weights[-1] * h**order, rtol=1e-9)
    np.testing.assert_allclose(np.diff(values, n=order + 1), 0.0, atol=1e-9 * np.abs(values).max())


def test_polynorm_matches_its_formula():
    module = PolyNorm(order=3, eps=1e-6).double()
    a0, (a1, a2, a3) = _random_coefficients(module)
    x = torch.randn(5, 7, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def norm(z):
        return z / torch.sqrt(z.pow(2).mean(dim=-1, keepdim=True) + 1e-6)

    expected = a0 + a1 * norm(x) + a2 * norm(x**2) + a3 * norm(x**3)
    assert torch.allclose(module(x), expected, rtol=1e-13, atol=1e-13)


def test_polynorm_is_invariant_to_positive_rescaling_and_flips_odd_powers_under_negation():
    # N(c^i x^i) = N(x^i) for c > 0 up to eps; for c = -1 the odd powers change sign
    module = PolyNorm(order=3, eps=1e-12).double()
    a0, (a1, a2, a3) = _random_coefficients(module, seed=3)
    x = torch.randn(4, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    base = module(x)
    for c in (0.3, 1.0, 7.0):
        assert torch.allclose(module(c * x), base, rtol=0, atol=1e-9)
    odd_flipped = module(-x)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([-a1, a2, -a3], dtype=torch.float64))
    assert torch.allclose(odd_flipped, module(x), rtol=0, atol=1e-12)


def test_polynorm_normalises_each_sample_separately():
    module = PolyNorm().double()
    x = torch.randn(3, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    changed = x.clone()
    changed[0] *= 100.0
    changed[0, 0] = -5.0
    assert torch.equal(module(x)[1:], module(changed)[1:])


@pytest.mark.parametrize("cls", [PolyReLU, PolyNorm])
def test_shape_and_dtype_are_preserved_and_coefficients_learn(cls):
    module = cls()
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(2, 3, 5, dtype=dtype)
        out = module(x)
        assert out.shape == x.shape and out.dtype == dtype
    module(torch.randn(4, 6)).sum().backward()
    assert module.weight.grad is not None and torch.isfinite(module.weight.grad).all()
    assert module.bias.grad is not None


@pytest.mark.parametrize("cls", [PolyReLU, PolyNorm])
def test_bad_inputs_are_rejected(cls):
    with pytest.raises(InputDataError, match="order"):
        cls(0)
    with pytest.raises(InputDataError, match="order"):
        cls(2.5)
    with pytest.raises(InputDataError, match="floating-point"):
        cls()(torch.ones(3, 4, dtype=torch.int64))
    with pytest.raises(InputDataError, match="torch.Tensor"):
        cls()([1.0, 2.0])


def test_polynorm_rejects_bad_eps_and_scalars():
    with pytest.raises(InputDataError, match="eps"):
        PolyNorm(eps=0.0)
    with pytest.raises(InputDataError, match="1 dim"):
        PolyNorm()(torch.tensor(1.0))
