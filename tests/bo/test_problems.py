"""Named BO problems: unit-cube mapping, maximisation, optimal values."""

from __future__ import annotations

import math

import pytest
import torch

from bo.problems import PROBLEMS, estimate_maximum, get_problem
from probtheory.errors import InputDataError

DTYPE = torch.float64


@pytest.mark.parametrize("name", PROBLEMS)
def test_unit_cube_maps_affinely_onto_the_bounds(name):
    problem = get_problem(name)
    lower, upper = problem.bounds
    torch.testing.assert_close(problem.from_unit(torch.zeros(1, problem.dim, dtype=DTYPE))[0], lower)
    torch.testing.assert_close(problem.from_unit(torch.ones(1, problem.dim, dtype=DTYPE))[0], upper)
    X_unit = torch.rand(5, problem.dim, dtype=DTYPE)
    torch.testing.assert_close(problem.to_unit(problem.from_unit(X_unit)), X_unit)
    torch.testing.assert_close(
        problem.evaluate_unit(X_unit), problem.evaluate(lower + (upper - lower) * X_unit)
    )


@pytest.mark.parametrize("name", PROBLEMS)
def test_known_optimizers_attain_the_optimal_value_and_random_points_do_not_beat_it(name):
    problem = get_problem(name)
    at_optimum = problem.evaluate_unit(problem.to_unit(problem.optimizers))[:, 0]
    # BoTorch's published optima are rounded to 6 digits (upwards: simple regret stays >= 0)
    torch.testing.assert_close(
        at_optimum, torch.full_like(at_optimum, problem.optimal_value), rtol=0, atol=5e-6
    )
    values = problem.evaluate_unit(torch.rand(4096, problem.dim, dtype=DTYPE))
    assert values.shape == (4096, 1)
    assert values.max() <= problem.optimal_value + 1e-9


def test_branin_is_maximised_at_its_three_known_points():
    problem = get_problem("branin")
    assert problem.dim == 2 and problem.optimal_value == -0.397887
    optima = torch.tensor([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]], dtype=DTYPE)
    values = problem.evaluate(optima)[:, 0]
    torch.testing.assert_close(values, torch.full((3,), -0.397887, dtype=DTYPE), rtol=0, atol=1e-6)
    # the unit-cube point of (-pi, 12.275) is ((-pi + 5) / 15, 12.275 / 15)
    unit = torch.tensor([[(5 - math.pi) / 15, 12.275 / 15]], dtype=DTYPE)
    torch.testing.assert_close(problem.evaluate_unit(unit)[0, 0], values[0])
    # maximisation of the negated Branin: at the origin (x1 - 5.1/(4 pi^2) x1^2 + 5/pi x1 - 6)^2
    # + 10 (1 - 1/(8 pi)) cos(x1) + 10 is 36 + 10 (1 - 1/(8 pi)) + 10
    expected = -(36 + 10 * (1 - 1 / (8 * math.pi)) + 10)
    assert problem.evaluate(torch.zeros(1, 2, dtype=DTYPE)).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "dim", "optimum"),
    [("hartmann6", 6, 3.32237), ("ackley10", 10, 0.0), ("levy", 4, 0.0), ("rosenbrock", 4, 0.0)],
)
def test_dimensions_and_optimal_values(name, dim, optimum):
    problem = get_problem(name)
    assert problem.dim == dim and problem.optimal_value == optimum


def test_bnn_prior_is_seeded_and_its_optimum_estimate_is_recorded():
    problem = get_problem("bnn_prior")
    assert problem.dim == 4 and "Sobol" in problem.optimum_note and "L-BFGS-B" in problem.optimum_note
    X = torch.rand(6, 4, dtype=DTYPE)
    torch.testing.assert_close(get_problem("bnn_prior").evaluate_unit(X), problem.evaluate_unit(X))
    assert not torch.equal(get_problem("bnn_prior", seed=1).evaluate_unit(X), problem.evaluate_unit(X))
    # the estimate is attained at the recorded point and is a (local) maximum there
    x = problem.optimizers[0]
    assert problem.evaluate(x.unsqueeze(0)).item() == pytest.approx(problem.optimal_value, abs=1e-12)
    nearby = (x + 1e-3 * torch.randn(64, 4, dtype=DTYPE)).clamp(0, 1)
    assert problem.evaluate(nearby).max() <= problem.optimal_value + 1e-9


def test_estimate_maximum_finds_a_known_maximum():
    def function(X):
        return -((X - torch.tensor([0.3, 0.7], dtype=DTYPE)) ** 2).sum(-1) + 2.0

    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=DTYPE)
    value, location = estimate_maximum(function, bounds, num_points=256, num_starts=2)
    assert value == pytest.approx(2.0, abs=1e-10)
    torch.testing.assert_close(location, torch.tensor([0.3, 0.7], dtype=DTYPE), rtol=0, atol=1e-5)


def test_bad_names_and_points_raise():
    with pytest.raises(InputDataError) as info:
        get_problem("hartmann3")
    assert info.value.argument == "problem"
    problem = get_problem("branin")
    with pytest.raises(InputDataError):
        problem.evaluate_unit(torch.full((1, 2), 1.5, dtype=DTYPE))
    with pytest.raises(InputDataError):
        problem.evaluate_unit(torch.rand(3, 3, dtype=DTYPE))
