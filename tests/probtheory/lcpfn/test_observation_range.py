"""The LC-PFN accepts the observations its own prior produces (noise added after [0, 1])."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import optimize, special

from probtheory.errors import InputDataError
from probtheory.lcpfn import LCPFN, CurvePrior, ImportanceSamplingExtrapolator
from probtheory.lcpfn.curves import observation_range


def test_margin_with_a_fixed_noise_level_is_the_closed_form():
    """log sigma ~ N(mu, 0): P(some of T noises exceeds m) = 1 - (1 - erfc(m / (sigma sqrt 2)))^T."""
    sigma, epochs, tail = math.exp(-3.0), 100, 1e-6

    def excess(m):
        return -math.expm1(epochs * math.log1p(-special.erfc(m / (sigma * math.sqrt(2))))) - tail

    exact = optimize.brentq(excess, 1e-6, 10.0, xtol=1e-14)
    low, high = observation_range((-3.0, 0.0), epochs, tail=tail)
    assert low == pytest.approx(-exact, rel=1e-9) and high == pytest.approx(1 + exact, rel=1e-9)


def test_margin_of_the_reference_prior_and_its_monotonicity():
    low, high = CurvePrior().observation_range()
    assert low == pytest.approx(-6.0753, abs=1e-3) and high == pytest.approx(7.0753, abs=1e-3)
    margins = [CurvePrior().observation_range(tail)[1] - 1 for tail in (1e-2, 1e-4, 1e-6)]
    assert margins == sorted(margins)
    assert CurvePrior(range_constraint=False).observation_range() == (-math.inf, math.inf)


def test_the_prior_leaves_the_range_no_more_often_than_the_bound_says():
    """With tail = 1e-2 (measurable): the fraction of 20000 prior curves with an observation outside
    the range is at most 1e-2 plus five binomial standard errors (the bound is an upper bound)."""
    prior = CurvePrior()
    low, high = prior.observation_range(1e-2)
    y = prior.sample(20_000, 100, torch.Generator().manual_seed(0)).y
    outside = ((y < low) | (y > high)).any(-1).double().mean().item()
    assert outside <= 1e-2 + 5 * math.sqrt(1e-2 * (1 - 1e-2) / 20_000)
    assert ((y < 0) | (y > 1)).any(-1).double().mean().item() > 0.05  # about one curve in nine


@pytest.fixture(scope="module")
def prior_curves():
    """400 seeded curves of the LC-PFN prior, about one in nine of them leaving [0, 1]."""
    return CurvePrior().sample(400, 100, torch.Generator().manual_seed(7)).y


def test_every_curve_drawn_from_the_prior_is_accepted(prior_curves):
    model = LCPFN.from_pretrained()
    leaving = ((prior_curves < 0) | (prior_curves > 1)).any(-1)
    assert leaving.sum() > 25  # the cases the former [0, 1] check refused
    epochs = torch.arange(1, 101, dtype=torch.float64).expand(len(prior_curves), 100).unsqueeze(-1)
    # every observation but the last is context (so every value is checked); the last is predicted
    fan = model.predict_quantiles(epochs[:, :99], prior_curves[:, :99], epochs[:, 99:], [0.05, 0.5, 0.95])
    assert fan.shape == (400, 1, 3) and torch.isfinite(fan).all()


def test_the_baselines_accept_the_same_range(prior_curves):
    model = ImportanceSamplingExtrapolator(num_samples=2000, num_components=50)
    leaving = ((prior_curves < 0) | (prior_curves > 1)).any(-1).nonzero()[:4, 0]
    epochs = torch.arange(1, 101, dtype=torch.float64)
    for curve in prior_curves[leaving]:
        assert torch.isfinite(model.predict_mean(epochs[:50], curve[:50], epochs[50:])).all()


def test_values_beyond_the_range_are_refused_with_a_hint_for_percentages():
    model = LCPFN.from_pretrained()
    epochs = torch.arange(1, 6, dtype=torch.float64)
    percent = torch.tensor([20.0, 31.0, 38.0, 44.0, 48.0])
    with pytest.raises(InputDataError, match=r"`y_train`.*observation noise.*in percent\? divide it by 100"):
        model.predict(epochs, percent, torch.tensor([10.0]))
    with pytest.raises(InputDataError, match="y_train"):
        model.predict(epochs, torch.full((5,), -7.0), torch.tensor([10.0]))
    assert model.predict(epochs, percent / 100, torch.tensor([10.0])).mean.shape == (1,)
