import itertools
import logging
import math

import cvxpy as cp
import pytest
import torch

from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from probtheory.training.convex_relu import (
    activation_patterns,
    fit_convex_relu,
    fit_convex_relu_adversarial,
    two_layer_objective,
)

F64 = torch.float64
# the program is solved to gap/feasibility 1e-9 (SOLVER_TOLERANCE); 1e-6 leaves 1000x headroom
TOL = 1e-6


def _data(n, d, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=F64), torch.randn(n, generator=gen, dtype=F64)


def _as_set(patterns):
    return {tuple(row.tolist()) for row in patterns}


@pytest.mark.parametrize(("n", "d"), [(6, 1), (6, 2), (9, 2), (7, 3)])
def test_enumeration_counts_the_regions_of_a_generic_arrangement(n, d):
    # n generic hyperplanes through 0 in R^k cut it into 2 sum_{i<k} C(n-1, i) regions
    # (Cover 1965); the all-negative region's pattern is zero and dropped
    x, _ = _data(n, d, seed=n + d)
    patterns, complete = activation_patterns(x)
    k = d + 1
    assert complete
    assert patterns.shape == (2 * sum(math.comb(n - 1, i) for i in range(k)) - 1, n)
    sampled, complete = activation_patterns(x, samples=20_000, seed=0)
    assert not complete and _as_set(sampled) <= _as_set(patterns)


def test_enumeration_handles_degenerate_data():
    # duplicated and collinear points (non-generic arrangement), no bias: sampling finds them all
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0], [-1.0, 0.0]], dtype=F64)
    exact, _ = activation_patterns(x, bias=False)
    sampled, _ = activation_patterns(x, bias=False, samples=50_000, seed=1)
    assert _as_set(exact) == _as_set(sampled)


def test_rebuilt_network_attains_the_convex_optimum():
    x, y = _data(6, 2, seed=0)
    result = fit_convex_relu(x, y, beta=0.1)
    assert result.complete_enumeration and result.patterns_used == 31 and result.status == "optimal"
    loss = two_layer_objective(result.network, x, y, 0.1).item()
    assert abs(loss - result.objective) <= TOL * max(1.0, result.objective)
    assert result.network(x).shape == (6, 1)
    assert result.first_layer.shape == (result.neurons, 3)


def test_optimum_satisfies_the_dual_certificate():
    # Pilanci & Ergen: at the optimum, lambda = y - y_hat obeys max_{||u|| <= 1} |lambda^T (X u)_+| <= beta,
    # with equality on the directions of the neurons used (a solver-independent optimality check)
    x, y = _data(8, 2, seed=1)
    beta = 0.05
    result = fit_convex_relu(x, y, beta)
    with torch.no_grad():
        residual = y - result.network(x).squeeze(-1)
    features = torch.cat([x, torch.ones(8, 1, dtype=F64)], dim=1)
    u = torch.randn(3, 50_000, generator=torch.Generator().manual_seed(0), dtype=F64)
    u = u / u.norm(dim=0)
    assert (residual @ (features @ u).clamp(min=0)).abs().max() <= beta * (1 + 1e-6)
    # interior-point solutions keep ~1e-7-norm columns that are zero up to the solver's tolerance
    used = result.second_layer.square() > 1e-4 * result.second_layer.square().max()
    directions = result.first_layer[used] / result.first_layer[used].norm(dim=1, keepdim=True)
    attained = (residual @ (features @ directions.T).clamp(min=0)).abs()
    torch.testing.assert_close(attained, torch.full_like(attained, beta), rtol=1e-5, atol=0)


def test_gradient_descent_does_not_beat_the_convex_optimum():
    x, y = _data(6, 1, seed=2)
    beta = 0.1
    result = fit_convex_relu(x, y, beta)
    finals = []
    for seed in range(2):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(1, 14, dtype=F64), torch.nn.ReLU(), torch.nn.Linear(14, 1, bias=False, dtype=F64)
        )
        optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
        for _ in range(150):
            optimizer.zero_grad()
            loss = two_layer_objective(net, x, y, beta)
            loss.backward()
            optimizer.step()
        finals.append(two_layer_objective(net, x, y, beta).item())
    assert min(finals) >= result.objective - TOL * max(1.0, result.objective)
    assert min(finals) < 1.5 * result.objective  # the runs did train (the bound is not vacuous)


def test_too_few_patterns_only_give_an_upper_bound():
    x, y = _data(8, 2, seed=3)
    full = fit_convex_relu(x, y, 0.05)
    few = fit_convex_relu(x, y, 0.05, patterns=2, seed=0)
    assert not few.complete_enumeration and few.patterns_used <= 2
    assert few.objective > full.objective + 1e-3
    explicit = fit_convex_relu(x, y, 0.05, patterns=full.patterns)
    assert abs(explicit.objective - full.objective) <= TOL * max(1.0, full.objective)


def _worst_case_loss(network, x, y, beta, epsilon):
    corners = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=x.shape[1])), dtype=F64) * epsilon
    with torch.no_grad():
        out = network(x[:, None, :] + corners[None]).squeeze(-1)
        penalty = sum(p.square().sum() for p in network.parameters())
    return 0.5 * (out - y[:, None]).square().max(1).values.sum().item() + 0.5 * beta * penalty.item()


def test_adversarial_variant_is_attained_and_above_the_standard_optimum():
    x, y = _data(7, 2, seed=4)
    beta, epsilon = 0.1, 0.1
    standard = fit_convex_relu(x, y, beta)
    robust = fit_convex_relu_adversarial(x, y, beta, epsilon)
    assert robust.epsilon == epsilon and robust.objective > standard.objective
    worst = _worst_case_loss(robust.network, x, y, beta, epsilon)
    assert abs(worst - robust.objective) <= TOL * max(1.0, robust.objective)
    # the robust network's worst case is at least its nominal loss, and random attacks stay below it
    assert two_layer_objective(robust.network, x, y, beta).item() <= robust.objective
    delta = epsilon * (2 * torch.rand(500, 7, 2, generator=torch.Generator().manual_seed(0), dtype=F64) - 1)
    with torch.no_grad():
        attacked = 0.5 * (robust.network(x + delta).squeeze(-1) - y).square().sum(1).max()
    assert attacked.item() <= robust.objective - 0.5 * beta * sum(
        p.square().sum() for p in robust.network.parameters()
    )


def test_adversarial_with_zero_radius_is_standard_training():
    x, y = _data(6, 1, seed=5)
    robust = fit_convex_relu_adversarial(x, y, 0.2, 0.0)
    standard = fit_convex_relu(x, y, 0.2)
    assert abs(robust.objective - standard.objective) <= TOL * max(1.0, standard.objective)


def test_other_second_order_cone_solvers_reach_the_same_optimum():
    x, y = _data(5, 1, seed=6)
    clarabel = fit_convex_relu(x, y, 0.1)
    scs = fit_convex_relu(x, y, 0.1, solver="scs")
    assert scs.solver == "SCS" and math.isnan(scs.solver_tolerance)
    assert abs(scs.objective - clarabel.objective) <= 1e-3 * max(
        1.0, clarabel.objective
    )  # SCS: first order, 1e-4


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((torch.tensor([[float("nan"), 1.0]]), torch.zeros(1), 0.1), {}, "`X`"),
        ((torch.ones(3, 2), torch.tensor([0.0, float("inf"), 1.0]), 0.1), {}, "`y`"),
        ((torch.ones(3, 2), torch.zeros(4), 0.1), {}, "`y`"),
        ((torch.ones(3), torch.zeros(3), 0.1), {}, "`X`"),
        ((torch.ones(3, 2), torch.zeros(3), 0.0), {}, "`beta`"),
        ((torch.ones(3, 2), torch.zeros(3), -1.0), {}, "`beta`"),
        (
            (torch.ones(3, 2), torch.zeros(3), 0.1),
            {"patterns": torch.ones(2, 4, dtype=torch.bool)},
            "patterns",
        ),
        ((torch.ones(3, 2), torch.zeros(3), 0.1), {"patterns": 0}, "patterns"),
    ],
)
def test_bad_inputs_are_rejected(args, kwargs, match):
    with pytest.raises(InputDataError, match=match):
        fit_convex_relu(*args, **kwargs)


def test_negative_radius_and_unknown_solver_are_rejected():
    x, y = _data(4, 1, seed=7)
    with pytest.raises(InputDataError, match="epsilon"):
        fit_convex_relu_adversarial(x, y, 0.1, -0.1)
    with pytest.raises(UnsupportedError, match="solver"):
        fit_convex_relu(x, y, 0.1, solver="NOT_A_SOLVER")


def test_solver_failures_report_the_cvxpy_status(monkeypatch):
    x, y = _data(4, 1, seed=8)
    with pytest.raises(ConfigurationError, match="OSQP"):
        fit_convex_relu(x, y, 0.1, solver="OSQP")  # a QP solver: cannot handle the cones

    def fail(problem, *args, **kwargs):
        problem._status = cp.INFEASIBLE_INACCURATE

    monkeypatch.setattr(cp.Problem, "solve", fail)
    with pytest.raises(ConfigurationError, match="infeasible_inaccurate"):
        fit_convex_relu(x, y, 0.1)


def test_an_inaccurate_solve_is_retried_at_the_same_tolerance_not_accepted(monkeypatch):
    from probtheory.errors import ConfigurationError
    from probtheory.training import convex_relu

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(7, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(7, generator=gen, dtype=torch.float64)
    # this instance ends "optimal_inaccurate" in Clarabel at tolerance 1e-9 with its defaults
    robust = fit_convex_relu_adversarial(x, y, 1.0, 0.25)
    assert robust.status == "optimal" and robust.solver_tolerance == convex_relu.SOLVER_TOLERANCE
    starved = ("CLARABEL", {"max_iter": 1})  # cannot converge: its status is not optimal
    monkeypatch.setattr(convex_relu, "_DEFAULT_ATTEMPTS", (starved, convex_relu._DEFAULT_ATTEMPTS[0]))
    again = fit_convex_relu(x, y, 0.1)
    assert again.status == "optimal" and again.solver == "CLARABEL"
    monkeypatch.setattr(convex_relu, "_DEFAULT_ATTEMPTS", (starved, starved))
    every_outcome = "not solved to optimality.*CLARABEL: status.*CLARABEL: status"
    with pytest.raises(ConfigurationError, match=every_outcome):
        fit_convex_relu(x, y, 0.1)


def test_a_retried_solve_is_logged_not_printed(monkeypatch, caplog, capsys):
    from probtheory.training import convex_relu

    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("probtheory").handlers)
    x, y = _data(4, 1, seed=8)
    starved = ("CLARABEL", {"max_iter": 1})  # cannot converge: its status is not optimal
    monkeypatch.setattr(convex_relu, "_DEFAULT_ATTEMPTS", (starved, convex_relu._DEFAULT_ATTEMPTS[0]))
    with caplog.at_level(logging.INFO, logger="probtheory"):
        assert fit_convex_relu(x, y, 0.1).status == "optimal"
    assert [r.name for r in caplog.records] == ["probtheory.training.convex_relu"]
    assert "attempt 1 of 2 failed: CLARABEL: status" in caplog.text
    assert capsys.readouterr().out == ""
