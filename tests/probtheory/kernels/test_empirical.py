"""Empirical NTK / NNGP estimators and the kernel gradient-descent predictor."""

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.kernels import (
    empirical_nngp,
    empirical_ntk,
    gradient_descent_mse,
    monte_carlo_nngp,
    nngp_and_ntk,
)
from probtheory.networks import MLP


def _x(n, d=3, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _explicit_ntk(model, x1, x2):
    """J1 J2^T from one autograd.grad call per input and output (the definition)."""
    params = [p for p in model.parameters() if p.requires_grad]

    def jac(x):
        rows = []
        for i in range(len(x)):
            out = model(x[i : i + 1]).reshape(-1)
            rows.append(
                torch.stack(
                    [
                        torch.cat([g.reshape(-1) for g in torch.autograd.grad(o, params, retain_graph=True)])
                        for o in out
                    ]
                )
            )
        return torch.stack(rows)  # n x o x P

    j1, j2 = jac(x1), jac(x2)
    return torch.einsum("aop,bop->ab", j1, j2) / j1.shape[1]


def test_empirical_ntk_matches_definition_for_any_module():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 7), nn.Tanh(), nn.Linear(7, 2)).double()
    x1, x2 = _x(4), _x(3, seed=1)
    assert torch.allclose(empirical_ntk(model, x1, x2), _explicit_ntk(model, x1, x2), atol=1e-12)


def test_empirical_ntk_blocking_is_exact():
    net = MLP(3, [32, 32], seed=1)
    x = _x(9)
    full = empirical_ntk(net, x)
    tiny = empirical_ntk(net, x, max_memory_bytes=1)  # one row per block
    assert torch.allclose(full, tiny, atol=1e-12)
    assert torch.allclose(full, full.T, atol=1e-12)


def test_empirical_ntk_rejects_bad_input():
    net = MLP(3, [8], seed=0)
    with pytest.raises(InputDataError, match="x2"):
        empirical_ntk(net, _x(2), _x(2, d=4))
    x = _x(2)
    x[0, 0] = float("nan")
    with pytest.raises(InputDataError, match="x1"):
        empirical_ntk(net, x)
    with pytest.raises(InputDataError, match="model"):
        empirical_ntk(nn.Identity(), _x(2))


def test_wide_empirical_kernels_approach_analytic():
    x = _x(3)
    net = MLP(3, [4096], activation="erf", weight_variance=1.5, bias_variance=0.1, seed=3)
    nngp, ntk = nngp_and_ntk(x, depth=1, activation="erf", weight_variance=1.5, bias_variance=0.1)
    # one network of width 4096: relative fluctuation ~ 1/sqrt(4096) = 1.6%; allow 10%
    assert torch.allclose(empirical_ntk(net, x), ntk, rtol=0.1, atol=0.05)


def test_monte_carlo_nngp_ensemble_and_standard_error():
    x = _x(3)
    est = monte_carlo_nngp(
        lambda k, g: MLP(3, [32], num_networks=k, generator=g), x, num_samples=3000, seed=0
    )
    nngp, _ = nngp_and_ntk(x, depth=1)
    assert est.num_samples == 3000
    # one hidden layer: unbiased at any width; z = 5
    assert ((est.mean - nngp).abs() <= 5 * est.standard_error + 1e-12).all()
    single = empirical_nngp(MLP(3, [32], num_networks=10, seed=0), x)
    assert single.shape == (3, 3)


def test_monte_carlo_nngp_checks_network_shape():
    with pytest.raises(InputDataError, match="make_networks"):
        monte_carlo_nngp(lambda k, g: MLP(3, [8], generator=g), _x(2), num_samples=4)


def test_gradient_descent_mse_closed_form():
    """Discrete kernel GD equals Y + (I - eta K / N)^k (f0 - Y)."""
    k = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    f0 = torch.tensor([[0.3], [0.2]], dtype=torch.float64)
    traj = gradient_descent_mse(k, y, 0.7, 5, f0_train=f0, k_test_train=k[:1], f0_test=f0[:1])
    step = torch.eye(2, dtype=torch.float64) - 0.7 * k / 2
    assert torch.allclose(traj.train[-1], y + torch.linalg.matrix_power(step, 5) @ (f0 - y), atol=1e-14)
    assert torch.allclose(traj.test[-1], traj.train[-1][:1], atol=1e-14)
    assert traj.train.shape == (6, 2, 1)
    with pytest.raises(InputDataError, match="learning_rate"):
        gradient_descent_mse(k, y, -1.0, 5)
    with pytest.raises(InputDataError, match="y_train"):
        gradient_descent_mse(k, y[:1], 0.1, 5)
