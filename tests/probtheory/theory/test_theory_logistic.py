"""Tests of LR+GD with large steps, the batch perceptron and the separability LP (docs/derivations.md, §4)."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from probtheory.errors import InputDataError
from probtheory.theory.logistic import (
    batch_perceptron,
    logistic_gd,
    logistic_loss,
    perceptron_iteration_bound,
    perceptron_limit_gap,
    separability,
    small_step_separation_bound,
    smooth_step_limit,
    stable_sigmoid,
    steps_to_separation,
)
from proofs_checks.catalog.large_step_logistic import (
    LogisticSubject,
    SeparableData,
    _check_limit,
    _check_separation,
)


def _separable(n=60, d=4, margin=0.1, seed=0):
    return SeparableData(n, d, margin, 3.0, seed).tensors()


def _flip_one(a, y):
    # a copy of point 0 with the opposite label: no separator through the origin exists
    return torch.cat([a, a[:1]]), torch.cat([y, -y[:1]])


def test_stable_sigmoid_never_overflows_and_matches_torch():
    z = torch.tensor([-1e308, -1e6, -30.0, 0.0, 2.5, 1e6, 1e308], dtype=torch.float64)
    s = stable_sigmoid(z)
    assert torch.isfinite(s).all()
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    # relative precision in the far negative tail too: sigma(-30) = e^-30 / (1 + e^-30)
    assert s[2] == pytest.approx(math.exp(-30) / (1 + math.exp(-30)), rel=1e-14)
    assert s[4] == pytest.approx(1 / (1 + math.exp(-2.5)), rel=1e-15)


def test_first_step_is_half_the_mean_signed_feature():
    a, y = _separable()
    gamma = 7.0
    w1 = logistic_gd(a, y, gamma, 1).iterates[1]
    u1 = batch_perceptron(a, y, 1).iterates[1]
    expected = 0.5 * (y[:, None] * a).mean(0)
    assert torch.allclose(w1 / gamma, expected, rtol=0, atol=1e-15)
    assert torch.allclose(u1, expected, rtol=0, atol=1e-15)
    assert torch.allclose(batch_perceptron(a, y, 1, tie_weight=1.0).iterates[1], 2 * expected)


def test_gradient_matches_autograd_of_the_loss():
    a, y = _separable(n=20, d=3)
    w = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    logistic_loss(a, y, w).backward()
    step = logistic_gd(a, y, 1.0, 1, initial=w.detach()).iterates
    assert torch.allclose(step[0] - step[1], w.grad, rtol=1e-13, atol=1e-15)


def test_iterates_over_step_converge_to_the_perceptron():
    a, y = _separable(n=80, d=5, seed=3)
    gaps = [perceptron_limit_gap(a, y, gamma, 30) for gamma in (10.0, 100.0, 1e3, 1e4)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[3] <= 1e-6


def test_separability_verdicts():
    a, y = _separable(margin=0.2, seed=1)
    verdict = separability(a, y)
    assert verdict.separable and verdict.margin > 0
    assert ((y[:, None] * a) @ verdict.direction > 0).all()
    assert verdict.radius == pytest.approx(float(a.norm(dim=1).max()))
    bad = separability(*_flip_one(a, y))
    assert not bad.separable and bad.margin == 0.0 and bad.direction is None
    assert "not linearly separable" in bad.message


def test_perceptron_terminates_within_the_novikoff_bound():
    a, y = _separable(n=100, d=6, margin=0.05, seed=2)
    bound = perceptron_iteration_bound(a, y)
    ya = y[:, None] * a
    u, steps = torch.zeros(6, dtype=torch.float64), 0
    while not (ya @ u > 0).all():
        u = batch_perceptron(a, y, 1, initial=u).iterates[-1]
        steps += 1
        assert steps <= bound
    assert 0 < steps <= bound


def test_small_step_bound_holds_and_large_steps_separate():
    a, y = _separable(n=50, d=3, margin=0.1, seed=4)
    limit = smooth_step_limit(a)
    bound = small_step_separation_bound(a, y, limit)
    t_small = steps_to_separation(a, y, limit, bound)
    assert t_small is not None and t_small <= bound
    for gamma in (10 * limit, 1e6 * limit):
        assert steps_to_separation(a, y, gamma, 10 * bound) is not None
    with pytest.raises(InputDataError, match="`step`"):
        small_step_separation_bound(a, y, 2 * limit)


def test_non_separable_data_is_an_unmet_assumption_not_a_pass():
    a, y = _flip_one(*_separable(seed=5))
    with pytest.raises(InputDataError, match="linearly separable"):
        steps_to_separation(a, y, 1.0, 100)
    with pytest.raises(InputDataError, match="linearly separable"):
        perceptron_iteration_bound(a, y)

    class NonSeparable(SeparableData):
        def tensors(self):
            return a, y

    # inside a claim the instance is discarded by hypothesis.assume - never counted as a pass: a
    # run whose every instance is non-separable ends as Unsatisfiable, not as a verdict
    subject = LogisticSubject(logistic_gd, batch_perceptron)
    for check in (_check_separation, _check_limit):

        @settings(max_examples=3, database=None, suppress_health_check=list(HealthCheck))
        @given(st.just(NonSeparable(10, 2, 0.1, 1.0, 0)), st.just(check))
        def run(instance, check):
            check(instance, subject)

        with pytest.raises(Unsatisfiable):
            run()


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda a, y: logistic_gd(a, y, 0.0, 3), "step"),
        (lambda a, y: logistic_gd(a, y, 1.0, -1), "iterations"),
        (lambda a, y: logistic_gd(a, 2 * y, 1.0, 3), "y"),
        (lambda a, y: logistic_gd(a, y[:-1], 1.0, 3), "y"),
        (lambda a, y: logistic_gd(a[0], y, 1.0, 3), "a"),
        (lambda a, y: logistic_gd(a, y, 1.0, 3, initial=torch.zeros(7, dtype=torch.float64)), "initial"),
        (lambda a, y: batch_perceptron(a, y, 3, tie_weight=1.5), "tie_weight"),
        (lambda a, y: separability(a * math.nan, y), "a"),
    ],
)
def test_bad_arguments_are_named(call, argument):
    a, y = _separable(n=10, d=3)
    with pytest.raises(InputDataError, match=f"`{argument}`"):
        call(a, y)
