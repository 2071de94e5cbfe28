"""Selecting (prior_var, noise_var) by held-out log-likelihood: the function bnn-bo imports but lacks."""

from __future__ import annotations

import math

import pytest
import torch

from bo.models import HMCBNN, SVIBNN, DeepEnsemble, LaplaceBNN
from bo.models.hyperparameters import (
    NOISE_VARIANCES,
    PRIOR_VARIANCES,
    gaussian_log_likelihood,
    mixture_log_likelihood,
    select_prior_and_noise,
)
from probtheory.errors import InputDataError

DTYPE = torch.float64


def test_grid_search_maximises_the_score_on_an_80_20_split():
    X, Y = torch.rand(10, 2, dtype=DTYPE), torch.randn(10, 1, dtype=DTYPE)
    calls = []

    def score(Xt, Yt, Xv, Yv, prior_var, noise_var):
        calls.append((len(Xt), len(Xv)))
        return -abs(math.log10(prior_var)) - abs(math.log10(noise_var) + 1)  # best at (1, 0.1)

    selection = select_prior_and_noise(X, Y, score, generator=torch.Generator().manual_seed(0))
    assert (selection.prior_var, selection.noise_var) == (1.0, 0.1)
    assert calls == [(8, 2)] * 9
    assert set(selection.scores) == {(p, s) for p in PRIOR_VARIANCES for s in NOISE_VARIANCES}
    assert len(selection.validation_indices) == 2


def test_ties_and_nans_resolve_deterministically():
    X, Y = torch.rand(6, 1, dtype=DTYPE), torch.randn(6, 1, dtype=DTYPE)
    selection = select_prior_and_noise(
        X,
        Y,
        lambda *args: float("nan") if args[4] == 0.1 else 0.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert (selection.prior_var, selection.noise_var) == (1.0, 0.01)  # the first non-NaN in grid order
    with pytest.raises(InputDataError):
        select_prior_and_noise(X[:4], Y[:4], lambda *args: 0.0, generator=torch.Generator())


def test_predictive_log_likelihoods_against_the_textbook_formulas():
    values = torch.tensor([[[0.0], [1.0]], [[2.0], [1.0]]], dtype=DTYPE)  # S=2, N=2, m=1
    Y = torch.tensor([[1.0], [1.0]], dtype=DTYPE)
    normal = torch.distributions.Normal(torch.tensor(1.0, dtype=DTYPE), 0.5)
    expected_first = math.log(0.5 * normal.log_prob(torch.tensor(0.0)).exp() * 2)  # both draws 1 away
    expected_second = normal.log_prob(torch.tensor(1.0)).item()  # both draws exact
    got = mixture_log_likelihood(values, Y, 0.25)
    assert got == pytest.approx((expected_first + expected_second) / 2, rel=1e-12)
    mean, variance = torch.zeros(3, 2, dtype=DTYPE), torch.full((3, 2), 2.0, dtype=DTYPE)
    Y = torch.randn(3, 2, dtype=DTYPE)
    expected = torch.distributions.Normal(mean, variance.sqrt()).log_prob(Y).sum(-1).mean().item()
    assert gaussian_log_likelihood(mean, variance, Y) == pytest.approx(expected, rel=1e-12)


def _noisy_sine(noise, n=30, seed=0):
    """n points of sin(6x) scaled to unit variance plus N(0, noise^2); noise=None: pure N(0, 1) noise.

    After the surrogate standardises y, the noise variance is noise^2 / (1 + noise^2):
    0 -> 0 (the grid's 0.01 is closest), 0.33 -> 0.098 (0.1), None -> 1 (1).
    """
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, generator=generator, dtype=DTYPE)
    if noise is None:
        return X, torch.randn(n, 1, generator=generator, dtype=DTYPE)
    f = torch.sin(6 * X)
    return X, f / f.std() + noise * torch.randn(n, 1, generator=generator, dtype=DTYPE)


@pytest.mark.parametrize(("noise", "expected"), [(0.0, 0.01), (0.33, 0.1), (None, 1.0)])
def test_laplace_selection_picks_the_generating_noise_level(noise, expected):
    # Deterministic given the seeds; data seeds 0-3 all gave the same choice when this was written.
    model = LaplaceBNN(
        *_noisy_sine(noise), width=12, map_steps=200, seed=0, select_hyperparameters=True
    ).fit()
    assert model.hyperparameter_selection.noise_var == expected
    assert model.variances[1].item() == expected
    assert all(math.isfinite(v) for v in model.hyperparameter_selection.scores.values())


@pytest.mark.parametrize(
    "make",
    [
        lambda X, Y: SVIBNN(
            X, Y, width=8, depth=1, steps=100, num_draws=16, seed=0, select_hyperparameters=True
        ),
        lambda X, Y: HMCBNN(
            X,
            Y,
            width=4,
            depth=1,
            num_samples=4,
            warmup_steps=4,
            num_chains=1,
            max_tree_depth=3,
            map_steps=100,
            seed=0,
            select_hyperparameters=True,
        ),
        lambda X, Y: DeepEnsemble(
            X, Y, n_models=4, width=8, depth=1, steps=150, seed=0, select_hyperparameters=True
        ),
    ],
    ids=["SVIBNN", "HMCBNN", "DeepEnsemble"],
)
def test_sample_based_selection_picks_unit_noise_for_pure_noise(make):
    # Pure noise: any model with noise_var < 1 is overconfident on held-out points, and the
    # log-likelihood gap (about -1.8 against -8 or worse, see test above) is far beyond MC error.
    X, Y = _noisy_sine(None, n=20)
    model = make(X, Y).fit()
    assert model.hyperparameter_selection.noise_var == 1.0
    assert model.variances.tolist() == [model.hyperparameter_selection.prior_var, 1.0]
    # the final fit used the selected noise: it is the posterior's observation noise
    Xt = torch.rand(3, 1, dtype=DTYPE)
    with torch.no_grad():
        extra = model.posterior(Xt, observation_noise=True).variance - model.posterior(Xt).variance
    torch.testing.assert_close(extra, torch.full_like(extra, 1.0) * model.outcome_transform.stdvs.square())


def test_too_few_points_keep_the_configured_values_with_a_warning():
    X, Y = torch.rand(4, 1, dtype=DTYPE), torch.randn(4, 1, dtype=DTYPE)
    with pytest.warns(UserWarning, match="at least 5"):
        model = LaplaceBNN(X, Y, width=4, map_steps=10, seed=0, select_hyperparameters=True).fit()
    assert model.hyperparameter_selection is None
    assert model.variances.tolist() == [10.0, 0.1]
