"""Dual activations, the stable deep NNGP/NTK recursion, the limit classifiers (docs/derivations.md, §6)."""

import math

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.kernels.activations import ErfActivation, SlopeReLUActivation
from probtheory.kernels.recursion import nngp_ntk
from probtheory.theory.wide_deep import (
    deep_kernel_path,
    deep_kernels,
    gram_correlations,
    interpolating_classifier,
    majority_vote,
    named_dual,
    nearest_neighbour,
    polynomial_dual,
    singular_exponent,
    singular_kernel_classifier,
    unnormalised_relu_dual,
)

NAMES = ["relu", "erf", "sine:1.5", "hermite:3", "2d_opt", "3d_opt", "5d_opt", "9d_opt"]
X64 = torch.float64


def _sphere(n, d, seed, radius=1.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=X64)
    return radius * x / x.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("name", NAMES)
def test_duals_are_normalised_and_consistent(name):
    dual = named_dual(name)
    assert dual.normalised
    xi = torch.linspace(-0.95, 0.95, 21, dtype=X64)
    h = 1e-6
    numeric = (dual.dual(xi + h) - dual.dual(xi - h)) / (2 * h)
    assert torch.allclose(dual.derivative(xi), numeric, rtol=1e-7, atol=1e-8)
    eps = torch.tensor([1e-3, 0.1, 0.5, 1.2], dtype=X64)
    assert torch.allclose(dual.complement(eps), 1 - dual.dual(1 - eps), rtol=1e-10, atol=1e-14)
    # tiny eps: 1 - dual(1 - eps) = dual'(1) eps (1 + O(eps)); the complement keeps all digits
    tiny = torch.tensor([1e-14], dtype=X64)
    rel = {"relu": 1e-6}.get(name, 1e-10)  # relu: next term is O(eps^(3/2))
    assert float(dual.complement(tiny)) == pytest.approx(dual.slope_at(1.0) * 1e-14, rel=rel)


def test_relu_ntk_matches_the_library_recursion():
    # probtheory.kernels: NT parameterisation, sigma_w^2 = 2, no bias, inputs of norm sqrt(d) give
    # Sigma^{l+1} = 2 x (this recursion) and Theta^{L+1} = 2 K_L: the normalised kernels agree.
    x = _sphere(6, 4, 0, radius=2.0)
    depth = 5
    nngp, ntk = nngp_ntk(x, x, depth, SlopeReLUActivation(0.0, 1.0), torch.tensor([[2.0]], dtype=X64),
                         torch.tensor([[0.0]], dtype=X64))  # fmt: skip
    xi, eps = gram_correlations(x / 2.0, x / 2.0)
    ours = deep_kernels(xi, depth, named_dual("relu"), complement=eps)
    assert torch.allclose(ntk / ntk.diagonal()[:, None], ours.ntk, rtol=1e-12, atol=1e-13)
    assert torch.allclose(nngp / nngp.diagonal()[:, None], ours.nngp, rtol=1e-12, atol=1e-13)


def test_erf_kernels_match_the_library_recursion():
    # sigma_w^2 = 1/((2/pi) asin(2/3)) keeps every layer at variance 1 when Sigma^1 = xi
    wv = 1.0 / ((2.0 / math.pi) * math.asin(2.0 / 3.0))
    x = _sphere(5, 3, 1, radius=math.sqrt(3 / wv))
    nngp, ntk = nngp_ntk(
        x, x, 4, ErfActivation(), torch.tensor([[wv]], dtype=X64), torch.tensor([[0.0]], dtype=X64)
    )
    xi, eps = gram_correlations(x / x.norm(dim=1, keepdim=True), x / x.norm(dim=1, keepdim=True))
    ours = deep_kernels(xi, 4, named_dual("erf"), complement=eps)
    assert torch.allclose(nngp, ours.nngp, rtol=1e-12, atol=1e-13)
    assert torch.allclose(ntk / ours.ntk_diagonal, ours.ntk, rtol=1e-12, atol=1e-13)


def test_monomial_dual_has_closed_form_kernels():
    xi = torch.tensor([0.3, 0.8, 0.99], dtype=X64)
    k = deep_kernels(xi, 3, named_dual("hermite:2"))
    assert torch.allclose(k.nngp, xi**8, rtol=1e-14)
    # K_{l+1} = S_l^2 + 2 S_l K_l with S_l = xi^(2^l), D_l = 2^(l+1) - 1
    s, kk = xi.clone(), xi.clone()
    for _ in range(3):
        s, kk = s * s, s * s + 2 * s * kk
    assert torch.allclose(k.ntk, kk / 15.0, rtol=1e-14)
    assert k.ntk_diagonal == pytest.approx(15.0)


def test_diagonal_stays_exactly_one_where_the_naive_recursion_collapses():
    # docs/derivations.md, §6, trap (ii): x @ x.T gives 1 - 1e-16 on the diagonal; dual'(1) = 2
    # doubles that each layer
    dual = named_dual("3d_opt")
    x = _sphere(4, 3, 2)
    naive = (x @ x.T).diagonal().clone()
    naive = torch.where(naive == 1.0, naive - 2.0**-52, naive)  # the round-off X @ X.T typically leaves
    for _ in range(80):
        naive = dual.dual(naive)
    assert (1 - naive).abs().max() > 0.1  # collapsed
    xi, eps = gram_correlations(x, x)
    k = deep_kernels(xi, 80, dual, complement=eps)
    assert torch.equal(k.nngp.diagonal(), torch.ones(4, dtype=X64))
    assert torch.equal(k.ntk.diagonal(), torch.ones(4, dtype=X64))


def test_relu_limit_is_a_quarter():
    xi = torch.tensor([-0.9, 0.0, 0.9], dtype=X64)
    path = deep_kernel_path(xi, [250, 1000], named_dual("relu"))
    dev = {d: float((k.ntk - 0.25).abs().max()) for d, k in path.items()}
    assert dev[1000] < 0.01 < dev[250]
    assert path[1000].ntk_diagonal == pytest.approx(1001.0, rel=1e-12)  # D_L = 1 + L for dual'(1) = 1


def test_majority_vote_is_the_interpolant_of_the_limit_kernel():
    g = torch.Generator().manual_seed(3)
    y = torch.where(torch.rand(9, generator=g) < 0.6, 1.0, -1.0).to(X64)
    assume_no_tie = float(y.sum()) != 0
    assert assume_no_tie
    train = 0.75 * torch.eye(9, dtype=X64) + 0.25  # K_L / K_L(1) -> 1/4 off the diagonal
    test = torch.full((5, 9), 0.25, dtype=X64)
    assert torch.equal(interpolating_classifier(train, test, y), majority_vote(5, y))


def test_nearest_neighbour_and_singular_vote():
    y = torch.tensor([1.0, -1.0, 1.0], dtype=X64)
    eps = torch.tensor([[0.1, 0.01, 0.5], [0.3, 0.2, 1e-9]], dtype=X64)
    assert nearest_neighbour(eps, y).tolist() == [-1.0, 1.0]
    # huge exponent: the vote is 1-NN; tiny exponent: it is the (weighted) majority
    assert singular_kernel_classifier(eps, y, 200.0).tolist() == [-1.0, 1.0]
    assert singular_kernel_classifier(eps, y, 1e-6).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("name", "alpha"), [("2d_opt", 0.5), ("3d_opt", 1.0), ("5d_opt", 2.0), ("9d_opt", 4.0)]
)
def test_singular_exponents_of_the_papers_designs(name, alpha):
    assert singular_exponent(named_dual(name)) == pytest.approx(alpha, rel=1e-14)


def test_singular_slope_near_one():
    eps = torch.logspace(-6, -2, 9, dtype=X64)
    k = deep_kernels(1 - eps, 61, named_dual("3d_opt"), complement=eps)
    slope = torch.diff(k.nngp.log()) / torch.diff(eps.log())
    assert torch.allclose(slope, torch.full_like(slope, -1.0), atol=0.02)


def test_gram_correlations_exact_complements():
    x = _sphere(3, 3, 5)
    xi, eps = gram_correlations(x, x)
    assert torch.equal(eps.diagonal(), torch.zeros(3, dtype=X64))
    assert torch.allclose(xi, (x @ x.T).clamp(-1, 1), atol=1e-15)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: deep_kernels(torch.tensor([1.5], dtype=X64), 3, named_dual("relu")), "xi"),
        (lambda: deep_kernels(torch.tensor([0.5], dtype=X64), -1, named_dual("relu")), "depth"),
        (lambda: deep_kernels(torch.tensor([0.5], dtype=X64), 3, unnormalised_relu_dual()), "dual"),
        (lambda: deep_kernel_path(torch.tensor([0.5], dtype=X64), [], named_dual("relu")), "depths"),
        (lambda: singular_exponent(named_dual("relu")), "dual"),
        (lambda: singular_exponent(named_dual("hermite:3")), "dual"),
        (lambda: named_dual("swish"), "name"),
        (lambda: polynomial_dual([0.5, -0.5]), "coefficients"),
        (lambda: polynomial_dual([0.0, 0.0]), "coefficients"),
        (lambda: gram_correlations(2 * _sphere(3, 2, 0), _sphere(3, 2, 0)), "x1"),
        (
            lambda: singular_kernel_classifier(torch.ones(2, 2, dtype=X64), torch.ones(2, dtype=X64), 0.0),
            "exponent",
        ),
    ],
)
def test_bad_arguments_are_named(call, argument):
    with pytest.raises(InputDataError, match=f"`{argument}`"):
        call()
