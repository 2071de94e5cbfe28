"""SNNK layers: unbiased random-feature estimates, the arc-cosine kernel, shapes, seeds, errors.

Monte-Carlo tolerances: an estimate built from R independent terms is compared with its exact
value at z = 5 standard errors of its mean (the SE estimated from the same terms), the project's
convention for statistical checks.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.layers.snnk import (
    URF_ACTIVATIONS,
    SNNKLinear,
    URFDecomposition,
    arccos_kernel,
    exponential_random_features,
    gaussian_projection,
    relu_random_features,
)

_Z = 5.0


def _problem(d=4, out=3, n=5, scale=0.35, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * scale
    w = torch.randn(out, d, generator=gen, dtype=torch.float64) * scale
    b = torch.randn(out, generator=gen, dtype=torch.float64) * scale
    return x, w, b


def _assert_unbiased(samples: torch.Tensor, target: torch.Tensor) -> None:
    """``samples``: `R x ...` independent estimates; their mean must be within z SE of ``target``."""
    r = samples.shape[0]
    se = samples.std(0) / math.sqrt(r)
    z = ((samples.mean(0) - target).abs() / se).max().item()
    assert z < _Z, f"mean of {r} estimates is {z:.1f} standard errors from the exact value"


@pytest.mark.parametrize("kind,activation", [("relu", "exp")] + [("urf", a) for a in URF_ACTIVATIONS])
def test_iid_features_give_an_unbiased_estimate(kind, activation):
    # with i.i.d. rows the estimate is a mean of m i.i.d. terms m * Phi_k(x) Psi_k(w): test those terms
    x, w, b = _problem()
    layer = SNNKLinear(4, 3, 20000, kind=kind, activation=activation, orthogonal=False,
                       weight=w, bias_init=b, seed=1, dtype=torch.float64)  # fmt: skip
    terms = 20000 * layer.input_features(x).unsqueeze(-2) * layer.psi.detach()  # n x out x m
    terms = terms.real if terms.is_complex() else terms
    _assert_unbiased(terms.permute(2, 0, 1), layer.target(x, w, b))


@pytest.mark.parametrize("kind,activation", [("relu", "exp"), ("urf", "sin"), ("urf", "cos")])
def test_orthogonal_features_give_an_unbiased_estimate(kind, activation):
    # orthogonal rows are dependent within a block: independence is across seeds. (Not "gaussian":
    # with xi ~ N(0, 1) the terms are heavy-tailed and 300 seeds underestimate their spread.)
    x, w, b = _problem()
    estimates = torch.stack(
        [
            SNNKLinear(
                4, 3, 16, kind=kind, activation=activation, weight=w, bias_init=b, seed=s, dtype=torch.float64
            )(x).detach()  # fmt: skip
            for s in range(300)
        ]
    )
    _assert_unbiased(estimates, SNNKLinear(4, 3, 1, kind=kind, activation=activation).target(x, w, b))


def test_user_decomposition_cosh_is_unbiased():
    # cosh z = E_{xi = +-1}[exp(xi z)]: a^2 = xi, so a = i for xi = -1 (complex features)
    cosh = URFDecomposition(
        "cosh",
        lambda m, gen: torch.randint(0, 2, (m,), generator=gen).double() * 2 - 1,
        lambda xi: xi.to(torch.complex128),
        lambda xi: torch.ones_like(xi, dtype=torch.complex128),
        torch.cosh,
    )
    x, w, b = _problem()
    layer = SNNKLinear(4, 3, 20000, kind="urf", activation=cosh, orthogonal=False, weight=w, bias_init=b,
                       seed=2, dtype=torch.float64)  # fmt: skip
    terms = (20000 * layer.input_features(x).unsqueeze(-2) * layer.psi.detach()).real
    torch.testing.assert_close(layer.target(x, w, b), torch.cosh(x @ w.T + b))
    _assert_unbiased(terms.permute(2, 0, 1), layer.target(x, w, b))
    with pytest.raises(ConfigurationError, match="activation"):
        SNNKLinear(4, 3, 8, kind="relu", activation=cosh)


def test_mean_squared_error_falls_like_one_over_m():
    # i.i.d. features: E[(estimate - k)^2] = Var(term) / m exactly, so m * MSE is the same for every m
    x, w, b = _problem(n=2, out=2)
    scaled = []
    for m in (8, 128):
        sq = torch.stack(
            [
                (SNNKLinear(4, 2, m, orthogonal=False, weight=w, bias_init=b, seed=s, dtype=torch.float64)(x)
                 .detach() - arccos_kernel(torch.cat([x, torch.ones(2, 1, dtype=x.dtype)], 1),
                                           torch.cat([w, b[:, None]], 1))).square().sum()
                for s in range(400)
            ]
        )  # fmt: skip
        scaled.append((m * sq.mean(), m * sq.std() / math.sqrt(sq.numel())))
    (a, se_a), (b_, se_b) = scaled
    assert abs(a - b_) < _Z * math.sqrt(se_a**2 + se_b**2)


def test_arccos_kernel_closed_form_values():
    u = torch.tensor([[3.0, 0.0], [0.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    k = arccos_kernel(u, u)
    # theta = 0: ||u||^2 / 2; theta = pi/2: ||u|| ||v|| / (2 pi); theta = pi: 0
    torch.testing.assert_close(torch.diagonal(k), u.square().sum(-1) / 2)
    assert k[0, 1].item() == pytest.approx(6 / (2 * math.pi), rel=1e-12)
    assert k[0, 2].item() == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(k, k.T)
    assert arccos_kernel(torch.zeros(1, 2), u.float()).abs().max() == 0


def test_gaussian_projection_orthogonal_blocks_and_unit_covariance():
    g = gaussian_projection(10, 4, orthogonal=True, generator=torch.Generator().manual_seed(0))
    assert g.shape == (10, 4) and g.dtype == torch.float64
    gram = g[:4] @ g[:4].T
    torch.testing.assert_close(gram, torch.diag(torch.diagonal(gram)))
    # every row is N(0, I): E[g g^T] = I, tested entrywise on 2000 blocks
    rows = gaussian_projection(8000, 4, generator=torch.Generator().manual_seed(1))
    outer = (rows.unsqueeze(-1) * rows.unsqueeze(-2)).reshape(2000, 4, 4, 4).mean(1)  # per-block means
    _assert_unbiased(outer, torch.eye(4, dtype=torch.float64))


def test_feature_maps_by_hand():
    z = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(relu_random_features(z, g), torch.tensor([[1.0, 0.0, 0.0, 0.0]]).double() / 2)
    feats = exponential_random_features(z, g, torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(feats, torch.exp(z @ g.T - 2.5) / 2)
    c = exponential_random_features(z, g, torch.full((4,), 1j, dtype=torch.complex128))
    assert c.dtype == torch.complex128
    a = complex(math.sqrt(0.5), math.sqrt(0.5))
    torch.testing.assert_close(c, torch.exp(a * (z @ g.T) - 1j * 2.5) / 2)


def test_shapes_parameters_and_real_output():
    layer = SNNKLinear(6, 5, 12, seed=0)
    assert layer(torch.randn(2, 3, 6)).shape == (2, 3, 5)
    assert layer(torch.randn(6)).shape == (5,)
    assert [n for n, _ in layer.named_parameters()] == ["psi"] and layer.psi.shape == (5, 12)
    assert layer.projection.shape == (12, 7)
    assert SNNKLinear(6, 5, 12, bias=False, seed=0).projection.shape == (12, 6)
    cos = SNNKLinear(6, 5, 12, kind="urf", activation="cos", seed=0)
    assert cos.complex_features and cos.psi.is_complex()
    assert not cos(torch.randn(3, 6) / 6).is_complex()
    assert not SNNKLinear(6, 5, 12, kind="urf", activation="exp", seed=0).complex_features
    double = SNNKLinear(6, 5, 12, seed=0, dtype=torch.float64)
    assert double(torch.randn(3, 6, dtype=torch.float64)).dtype == torch.float64


def test_seeds_are_reproducible_and_state_dict_round_trips():
    a = SNNKLinear(4, 3, 8, kind="urf", activation="gaussian", seed=3)
    b = SNNKLinear(4, 3, 8, kind="urf", activation="gaussian", seed=3)
    x = torch.randn(2, 4) / 4
    torch.testing.assert_close(a(x), b(x))
    assert not torch.equal(a.projection, SNNKLinear(4, 3, 8, seed=4).projection)
    c = SNNKLinear(4, 3, 8, kind="urf", activation="gaussian", seed=99)
    c.load_state_dict(a.state_dict())
    torch.testing.assert_close(c(x), a(x))


def test_from_linear_starts_at_the_weight_features_and_trains_only_psi():
    torch.manual_seed(0)
    linear = nn.Linear(4, 3).double()
    layer = SNNKLinear.from_linear(linear, num_features=32, seed=0)
    assert layer.psi.dtype == torch.float64
    torch.testing.assert_close(
        layer.psi.detach(), layer.weight_features(linear.weight.detach(), linear.bias.detach())
    )
    layer(torch.randn(5, 4, dtype=torch.float64)).square().sum().backward()
    assert layer.psi.grad is not None and linear.weight.grad is None
    nobias = SNNKLinear.from_linear(nn.Linear(4, 3, bias=False), num_features=8, seed=0)
    assert not nobias.use_bias and nobias.projection.shape == (8, 4)


def test_complex_weight_features_train_with_adam():
    layer = SNNKLinear(3, 2, 16, kind="urf", activation="sin", seed=0)
    x, y = torch.randn(20, 3) / 3, torch.randn(20, 2)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    first = None
    for _ in range(10):
        opt.zero_grad()
        loss = (layer(x) - y).square().mean()
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_bad_input_raises():
    with pytest.raises(InputDataError, match="kind"):
        SNNKLinear(4, 3, 8, kind="softplus")
    with pytest.raises(InputDataError, match="activation"):
        SNNKLinear(4, 3, 8, kind="urf", activation="softplus")
    with pytest.raises(ConfigurationError, match="activation"):
        SNNKLinear(4, 3, 8, kind="relu", activation="cos")
    with pytest.raises(InputDataError, match="num_features"):
        SNNKLinear(4, 3, 0)
    with pytest.raises(InputDataError, match="in_features"):
        SNNKLinear(2.5, 3, 8)
    with pytest.raises(InputDataError, match="dtype"):
        SNNKLinear(4, 3, 8, dtype=torch.int64)
    with pytest.raises(InputDataError, match="weight"):
        SNNKLinear(4, 3, 8, weight=torch.zeros(4, 3))
    with pytest.raises(InputDataError, match="weight"):
        SNNKLinear(4, 3, 8, weight=torch.full((3, 4), float("nan")))
    with pytest.raises(InputDataError, match="bias_init"):
        SNNKLinear(4, 3, 8, weight=torch.zeros(3, 4), bias_init=torch.zeros(4))
    with pytest.raises(ConfigurationError, match="bias_init"):
        SNNKLinear(4, 3, 8, bias=False, weight=torch.zeros(3, 4), bias_init=torch.zeros(3))
    layer = SNNKLinear(4, 3, 8, seed=0)
    with pytest.raises(InputDataError, match="`x`"):
        layer(torch.randn(2, 5))
    with pytest.raises(InputDataError, match="`x`"):
        layer(torch.ones(2, 4, dtype=torch.int64))
    with pytest.raises(InputDataError, match="`x`"):
        layer(torch.tensor(1.0))
    with pytest.raises(InputDataError, match="linear"):
        SNNKLinear.from_linear(nn.Conv1d(1, 1, 1), num_features=8)
    with pytest.raises(InputDataError, match="`v`"):
        arccos_kernel(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(InputDataError, match="`u`"):
        arccos_kernel(torch.randn(3), torch.randn(2, 3))
    with pytest.raises(InputDataError, match="dim"):
        gaussian_projection(4, 0)
    with pytest.raises(InputDataError, match="a_squared"):
        exponential_random_features(torch.randn(2, 3), torch.randn(4, 3), -torch.ones(4))
