"""The bar distribution: every method consistent with the density, tails included."""

import math

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.pfn import BarDistribution, bucket_borders

BORDERS = torch.tensor([-2.0, -1.0, -0.2, 0.5, 1.0, 2.5], dtype=torch.float64)


def _dist(full_support=True, batch=()):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(*batch, BORDERS.numel() - 1, generator=g, dtype=torch.float64)
    return BarDistribution(BORDERS, logits, full_support=full_support)


def _grid(d):
    lo = float(BORDERS[0]) - (30 * d.left_scale if d.full_support else 0.0)
    hi = float(BORDERS[-1]) + (30 * d.right_scale if d.full_support else 0.0)
    # include the borders so the trapezoid rule never straddles a jump
    inner = torch.linspace(lo, hi, 400_001, dtype=torch.float64)
    return torch.cat([inner, BORDERS, BORDERS - 1e-12, BORDERS + 1e-12]).sort().values


@pytest.mark.parametrize("full_support", [True, False])
def test_density_integrates_to_one_and_matches_moments(full_support):
    d = _dist(full_support)
    y = _grid(d)
    p = d.log_prob(y).exp()
    assert torch.trapezoid(p, y).item() == pytest.approx(1.0, abs=1e-6)
    mean = torch.trapezoid(p * y, y).item()
    assert d.mean.item() == pytest.approx(mean, abs=1e-6)
    assert d.variance.item() == pytest.approx(torch.trapezoid(p * (y - mean) ** 2, y).item(), abs=1e-5)
    entropy = -torch.trapezoid(torch.where(p > 0, p * p.log(), 0.0), y).item()
    assert d.entropy().item() == pytest.approx(entropy, abs=1e-5)


@pytest.mark.parametrize("full_support", [True, False])
def test_cdf_is_the_integral_of_the_density(full_support):
    d = _dist(full_support)
    y = _grid(d)
    cumulative = torch.cumulative_trapezoid(d.log_prob(y).exp(), y)
    probe = torch.linspace(0, y.numel() - 2, 50).long()
    assert torch.allclose(d.cdf(y[1:][probe]), cumulative[probe], atol=1e-6)


@pytest.mark.parametrize("full_support", [True, False])
def test_cdf_of_icdf_is_identity(full_support):
    d = _dist(full_support, batch=(3,))
    q = torch.linspace(1e-9, 1 - 1e-9, 1001, dtype=torch.float64)[:, None].expand(1001, 3)
    assert torch.allclose(d.cdf(d.icdf(q)), q, atol=1e-12)


def test_samples_hit_the_tails_with_their_mass():
    """Reference-code bug (TabPFN #1200): sampling ignored the tails. Here P(Y < b_0) = p_0 / 2."""
    d = BarDistribution(torch.tensor([-2.0, -1.0, 1.0, 2.0]), torch.log(torch.tensor([0.25, 0.5, 0.25])))
    y = d.sample((200_000,), generator=torch.Generator().manual_seed(1))
    for frequency in ((y < -2).double().mean(), (y > 2).double().mean()):
        se = math.sqrt(0.125 * 0.875 / 200_000)
        assert abs(frequency.item() - 0.125) < 5 * se
    assert abs((d.cdf(torch.tensor(-2.0)) - 0.125).item()) < 1e-12


def test_uniform_logits_nll_is_log_k_plus_log_width():
    d = BarDistribution(BORDERS, torch.zeros(5, dtype=torch.float64), full_support=False)
    y = torch.tensor([-1.5, 0.0, 2.0], dtype=torch.float64)
    widths = torch.tensor([1.0, 0.7, 1.5], dtype=torch.float64)
    assert torch.allclose(-d.log_prob(y), math.log(5) + widths.log())


def test_bounded_support_outside_has_zero_density():
    d = _dist(full_support=False)
    assert d.log_prob(torch.tensor(3.0, dtype=torch.float64)).item() == -math.inf
    assert d.cdf(torch.tensor(-5.0, dtype=torch.float64)).item() == 0.0


def test_batch_broadcasting():
    d = _dist(batch=(4, 2))
    assert d.log_prob(torch.zeros(4, 2, dtype=torch.float64)).shape == (4, 2)
    assert d.log_prob(torch.zeros((), dtype=torch.float64)).shape == (4, 2)
    assert d.sample((7,)).shape == (7, 4, 2)
    assert d.mean.shape == d.variance.shape == d.entropy().shape == (4, 2)


def test_bucket_borders_have_equal_mass():
    ys = torch.randn(100_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    borders = bucket_borders(50, ys)
    assert borders.numel() == 51
    counts = torch.histogram(ys, bins=borders).hist
    assert (counts - 2000).abs().max() <= 2


@pytest.mark.parametrize("power", [1 / 3, 1 / 2])
def test_bucket_borders_follow_the_density_to_a_power(power):
    """For N(0, 1) draws, density^power is the N(0, 1/power) density: bucket widths follow it.

    In the bulk (|y| < 2) each bucket's width times the N(0, 1/power) density at its midpoint is
    the same (the bucket's share of the p^power mass); in the tails the counts of buckets beyond
    |y| = 2.5 match that law's within 10%. Quantile borders (power 1) fail. The tolerances: a
    bulk bucket spans over 450 of the 200,000 draws, so the density estimate behind its width
    is good to about (1 - power) / sqrt(450), about 3%; 10% also covers the density's change
    within a fine bucket. Beyond 2.5 the buckets hold ~80-150 draws each (14-28 buckets), so
    their count is good to a few percent, and 10% plus one bucket leaves room for the edges.
    """
    ys = torch.randn(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    law = torch.distributions.Normal(0.0, (1 / power) ** 0.5)

    def check(borders):
        mid, widths = (borders[1:] + borders[:-1]) / 2, borders[1:] - borders[:-1]
        bulk = mid.abs() < 2
        share = widths[bulk] * law.log_prob(mid[bulk]).exp()
        uniform = (share / share.median() - 1).abs().max() < 0.1
        lo, hi = law.cdf(torch.tensor([ys.min().item(), ys.max().item()], dtype=torch.float64))
        edge = law.cdf(torch.tensor(-2.5, dtype=torch.float64))
        tail = (edge - lo + hi - (1 - edge)) / (hi - lo)
        expected = tail * (borders.numel() - 1)
        counted = ((borders[1:] <= -2.5) | (borders[:-1] >= 2.5)).sum()
        return bool(uniform) and abs(counted - expected) <= 0.1 * expected + 1

    assert check(bucket_borders(200, ys, power=power))
    assert not check(bucket_borders(200, ys))


def test_bucket_borders_with_power_zero_are_equally_spaced():
    ys = torch.randn(10_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    borders = bucket_borders(40, ys, power=0.0)
    expected = torch.linspace(ys.min().item(), ys.max().item(), 41, dtype=torch.float64)
    assert torch.allclose(borders, expected, atol=1e-12)


def test_rejects_bad_input():
    with pytest.raises(InputDataError, match="borders"):
        BarDistribution(torch.tensor([0.0, 1.0, 0.5]), torch.zeros(2))
    with pytest.raises(InputDataError, match="logits"):
        BarDistribution(BORDERS, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(InputDataError, match="value"):
        _dist().icdf(torch.tensor(1.5, dtype=torch.float64))
    with pytest.raises(InputDataError, match="samples"):
        bucket_borders(10, torch.ones(100))
