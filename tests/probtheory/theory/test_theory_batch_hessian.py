"""Tests of mini-batch Hessians, Lanczos and the spiked (BBP) prediction (docs/derivations.md, §5)."""

import itertools
import math

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.theory.batch_hessian import (
    TanhRegression,
    batch_eigenvalues,
    batch_hessian,
    lanczos_top_eigenvalue,
    marchenko_pastur_edge,
    max_stable_learning_rate,
    spiked_covariance_sample,
    spiked_top_eigenvalue,
)


def test_closed_form_per_sample_hessians_match_autodiff():
    problem = TanhRegression(6, 3, 5, seed=4)
    x, y, params = problem.data()
    reference = torch.stack(
        [
            torch.autograd.functional.hessian(lambda p, i=i: problem.loss(p, x[i], y[i]), params)
            for i in range(6)
        ]
    )
    hess = problem.per_sample_hessians()
    assert hess.shape == (6, 5 * 5 + 1, 5 * 5 + 1)
    assert torch.allclose(hess, reference, rtol=0, atol=1e-12)
    assert torch.allclose(hess, hess.transpose(1, 2), rtol=0, atol=1e-14)


def test_exact_jensen_and_monotonicity_by_enumerating_all_batches():
    # no Monte Carlo: the expectation over every B-subset, for every B
    per_sample = TanhRegression(7, 2, 2, seed=1).per_sample_hessians()
    full = torch.linalg.eigvalsh(per_sample.mean(0))
    tops, bottoms = [], []
    for b in range(1, 8):
        ev = torch.stack(
            [
                torch.linalg.eigvalsh(batch_hessian(per_sample, torch.tensor(s)))
                for s in itertools.combinations(range(7), b)
            ]
        )
        tops.append(float(ev[:, -1].mean()))
        bottoms.append(float(ev[:, 0].mean()))
    assert all(t >= full[-1] - 1e-12 for t in tops)
    assert all(bt <= full[0] + 1e-12 for bt in bottoms)
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(tops))
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(bottoms))
    assert tops[0] > full[-1] + 1e-3  # strict at B = 1
    assert tops[-1] == pytest.approx(float(full[-1]), abs=1e-12)


def test_batch_eigenvalues_full_batch_equals_full_hessian():
    per_sample = TanhRegression(20, 2, 3, seed=0).per_sample_hessians()
    ev = batch_eigenvalues(per_sample, [5, 20], 4, seed=0)
    assert ev.top.shape == (2, 4)
    assert torch.allclose(ev.top[1], torch.full((4,), ev.full_top, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(ev.bottom[1], torch.full((4,), ev.full_bottom, dtype=torch.float64), atol=1e-12)
    again = batch_eigenvalues(per_sample, [5, 20], 4, seed=0)
    assert torch.equal(ev.top, again.top)


@pytest.mark.parametrize(
    ("batch", "expected"),
    # docs/derivations.md, §5, d = 400, theta = 3 (formula values quoted there)
    [(50, 14.667), (100, 9.333), (400, 5.333), (1600, 4.333), (6400, 4.083)],
)
def test_spiked_prediction_reference_values(batch, expected):
    assert spiked_top_eigenvalue(3.0, 400 / batch) == pytest.approx(expected, abs=6e-4)


def test_spiked_prediction_branches_meet_at_the_transition():
    gamma = 2.0
    theta = math.sqrt(gamma)
    assert spiked_top_eigenvalue(theta, gamma) == pytest.approx(marchenko_pastur_edge(gamma), rel=1e-14)
    assert spiked_top_eigenvalue(theta * (1 + 1e-9), gamma) == pytest.approx(
        marchenko_pastur_edge(gamma), rel=1e-8
    )
    below = 0.5 * theta
    assert spiked_top_eigenvalue(below, gamma) == marchenko_pastur_edge(gamma)
    assert (1 + below) * (1 + gamma / below) > marchenko_pastur_edge(gamma)  # the blind outlier formula


def test_lanczos_matches_eigvalsh_and_three_plain_steps_underestimate():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(150, 150, generator=g, dtype=torch.float64)
    a = m @ m.T / 150
    exact = float(torch.linalg.eigvalsh(a)[-1])
    assert lanczos_top_eigenvalue(lambda v: a @ v, 150, iterations=80, seed=1) == pytest.approx(
        exact, rel=1e-8
    )
    assert (
        lanczos_top_eigenvalue(lambda v: a @ v, 150, iterations=3, reorthogonalize=False, seed=1)
        < 0.95 * exact
    )
    # a rank-2 operator: the Krylov space is exhausted after two steps, exactly
    u = torch.randn(150, 2, generator=g, dtype=torch.float64)
    q = torch.linalg.qr(u).Q
    low = q @ torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64)) @ q.T
    assert lanczos_top_eigenvalue(lambda v: low @ v, 150, seed=2) == pytest.approx(3.0, rel=1e-12)


def test_spiked_sample_covariance():
    x = spiked_covariance_sample(20000, 3, 2.0, seed=0)
    cov = x.T @ x / 20000
    # SE of a sample variance is var * sqrt(2/n): 3 * 0.01 for the spike; z = 5
    assert cov[0, 0] == pytest.approx(3.0, abs=5 * 3.0 * math.sqrt(2 / 20000))
    assert cov[1, 1] == pytest.approx(1.0, abs=5 * math.sqrt(2 / 20000))


def test_max_stable_learning_rate():
    h = torch.diag(torch.tensor([4.0, 1.0, 0.0], dtype=torch.float64))
    assert max_stable_learning_rate(h) == 0.5
    with pytest.raises(InputDataError, match="positive curvature"):
        max_stable_learning_rate(torch.zeros(3, 3, dtype=torch.float64))  # singular
    with pytest.raises(InputDataError, match="positive curvature"):
        max_stable_learning_rate(-torch.eye(3, dtype=torch.float64))
    with pytest.raises(InputDataError, match="symmetric"):
        max_stable_learning_rate(torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64))
    with pytest.raises(InputDataError, match="square"):
        max_stable_learning_rate(torch.ones(2, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda p: batch_eigenvalues(p, [11], 3), "batch_sizes"),
        (lambda p: batch_eigenvalues(p, [], 3), "batch_sizes"),
        (lambda p: batch_eigenvalues(p, [2], 1), "num_batches"),
        (lambda p: batch_eigenvalues(p[0], [2], 3), "per_sample"),
        (lambda p: spiked_top_eigenvalue(0.0, 1.0), "spike"),
        (lambda p: spiked_top_eigenvalue(1.0, -1.0), "aspect_ratio"),
        (lambda p: spiked_covariance_sample(0, 3, 1.0), "num_samples"),
        (lambda p: lanczos_top_eigenvalue(lambda v: v, 0), "dim"),
        (lambda p: TanhRegression(0, 2, 2, 0).data(), "n"),
    ],
)
def test_bad_arguments_are_named(call, argument):
    per_sample = TanhRegression(10, 2, 2, seed=0).per_sample_hessians()
    with pytest.raises(InputDataError, match=f"`{argument}`"):
        call(per_sample)


@pytest.mark.slow
def test_bbp_prediction_at_d_400():
    # docs/derivations.md, §5 measurements (d = 400, theta = 3, 5 seeds): within 4% on both branches
    for batch in (50, 400, 6400):
        vals = []
        for s in range(5):
            x = spiked_covariance_sample(batch, 400, 3.0, seed=s)
            vals.append(lanczos_top_eigenvalue(lambda v, x=x, b=batch: x.T @ (x @ v) / b, 400, seed=s))
        assert sum(vals) / 5 == pytest.approx(spiked_top_eigenvalue(3.0, 400 / batch), rel=0.04)
