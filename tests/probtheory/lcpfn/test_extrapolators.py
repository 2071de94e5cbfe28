"""The shared extrapolation API, the importance-sampling reference and the ensemble MCMC."""

import math

import pytest
import torch
from scipy import stats

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.lcpfn import (
    LCPFN,
    CurveNormalizer,
    CurvePrior,
    GaussianMixture,
    ImportanceSamplingExtrapolator,
    MCMCExtrapolator,
)
from probtheory.pfn import PFN, TransformerConfig, bucket_borders

EPOCHS = torch.arange(1, 101, dtype=torch.float64)


@pytest.fixture(scope="module")
def curves():
    return CurvePrior().sample(6, 100, torch.Generator().manual_seed(11)).y.clamp(0, 1)


@pytest.fixture(scope="module")
def importance():
    return ImportanceSamplingExtrapolator(num_samples=20_000, num_components=500)


@pytest.fixture(scope="module")
def tiny_lcpfn():
    torch.manual_seed(0)
    borders = bucket_borders(20, CurvePrior().sample(50, 100, torch.Generator().manual_seed(0)).y.flatten())
    config = TransformerConfig(num_buckets=20, emsize=16, nhead=2, nhid=16, nlayers=1)
    return LCPFN(PFN(config, borders, {"prior": {"max_epochs": 100}}))


def _models(importance, tiny_lcpfn):
    return [importance, tiny_lcpfn, MCMCExtrapolator(walkers=32, steps=40, burn_in=20, thin=5)]


def test_gaussian_mixture_quantiles_invert_the_cdf():
    g = torch.Generator().manual_seed(0)
    mix = GaussianMixture(
        *(torch.randn(3, 5, generator=g, dtype=torch.float64) for _ in range(2)),
        torch.rand(3, 5, dtype=torch.float64) + 0.1,
    )
    q = torch.tensor([0.01, 0.3, 0.5, 0.99], dtype=torch.float64).view(-1, 1)
    assert torch.allclose(mix.cdf(mix.icdf(q)), q.expand(4, 3), atol=1e-10)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_layouts_and_monotone_quantiles(curves, importance, tiny_lcpfn, which):
    model = _models(importance, tiny_lcpfn)[which]
    x, y = EPOCHS[:10].unsqueeze(1), curves[0, :10].unsqueeze(1)
    q = model.predict_quantiles(x, y, EPOCHS[10:].unsqueeze(1), [0.05, 0.5, 0.95])
    assert q.shape == (90, 3) and (q.diff(dim=-1) >= 0).all()
    assert model.predict_mean(EPOCHS[:10], curves[0, :10], EPOCHS[10:]).shape == (90,)
    batch = model.predict_quantiles(
        EPOCHS[:10].expand(2, 10).unsqueeze(-1),
        curves[:2, :10],
        EPOCHS[10:].expand(2, 90).unsqueeze(-1),
        [0.5],
    )
    assert batch.shape == (2, 90, 1)
    nll = model.nll_loss(x, y, EPOCHS[10:].unsqueeze(1), curves[0, 10:])
    assert nll.shape == (90,) and torch.isfinite(nll).all()


@pytest.mark.parametrize("which", [0, 1, 2])
def test_bad_input_is_rejected(curves, importance, tiny_lcpfn, which):
    model = _models(importance, tiny_lcpfn)[which]
    x, y, xq = EPOCHS[:10], curves[0, :10], EPOCHS[10:]
    with pytest.raises(InputDataError, match="strictly increasing"):
        model.predict(x.flip(0), y, xq)
    with pytest.raises(InputDataError, match="widened by the curve prior's observation noise"):
        model.predict(x, y + 10, xq)
    with pytest.raises(InputDataError, match="empty curve"):
        model.predict(x[:0], y[:0], xq)
    with pytest.raises(InputDataError, match="supports"):
        model.predict(x, y, torch.tensor([150.0]))
    with pytest.raises(InputDataError, match="y_train"):
        model.predict(x, y[:5], xq)
    with pytest.raises(InputDataError, match="finite"):
        model.predict(x, y.clone().fill_(math.nan), xq)
    with pytest.raises(InputDataError, match="qs"):
        model.predict_quantiles(x, y, xq, [0.0, 0.5])


def test_minimisation_metric_flips_quantiles(curves, importance):
    """A loss = 10 * (1 - accuracy): its q-quantile is 10 * (1 - the accuracy's (1-q)-quantile)."""
    x, y, xq = EPOCHS[:8], curves[1, :8], EPOCHS[8:20]
    acc = importance.predict_quantiles(x, y, xq, [0.1, 0.9])
    loss = importance.predict_quantiles(
        x, 10 * (1 - y), xq, [0.1, 0.9], CurveNormalizer(0, 10, minimize=True)
    )
    assert torch.allclose(loss, 10 * (1 - acc.flip(-1)), atol=1e-6)
    dist = importance.predict(x, 10 * (1 - y), xq, CurveNormalizer(0, 10, minimize=True))
    assert torch.allclose(dist.cdf(loss[:, 0]), torch.full((12,), 0.1, dtype=torch.float64), atol=1e-6)


def test_importance_sampling_matches_prior_predictive_with_a_flat_likelihood():
    """One observation with a huge misfit tolerance leaves the prior: the predictive of y(100)
    must match the prior's y(100) distribution (KS against fresh prior curves)."""
    prior = CurvePrior(log_noise=(3.0, 0.0))  # sigma = e^3: the observation carries no information
    model = ImportanceSamplingExtrapolator(prior, num_samples=20_000, num_components=4000, seed=1)
    predictive = model.predict_normalized(torch.tensor([1.0]), torch.tensor([0.5]), torch.tensor([100.0]))
    assert model.last_ess.item() > 19_000
    fresh = prior.sample(4000, 100, torch.Generator().manual_seed(2)).y[:, -1].numpy()
    draws = predictive.sample(torch.Size([4000]))[:, 0].numpy()
    assert stats.ks_2samp(draws, fresh).pvalue > 1e-3


def test_mcmc_leaves_the_prior_invariant():
    """With no observations the target is the prior: after burn-in, walkers started from the
    prior must still be prior-distributed (log sigma ~ N(-4, 1); y(100) as fresh prior curves)."""
    prior = CurvePrior()
    model = MCMCExtrapolator(prior, walkers=40, steps=200, burn_in=100, thin=10, seed=3)
    empty = torch.zeros(30, 0, dtype=torch.float64)
    samples = model.sample_posterior(empty, empty)
    log_sigma = samples["log_sigma"].flatten().numpy()
    # kept draws are autocorrelated: compare thinned draws with a generous threshold
    assert stats.kstest(log_sigma[::7], stats.norm(-4, 1).cdf).pvalue > 1e-4
    final = prior.mean_curve(samples, prior.epochs(100))[..., -1].flatten().numpy()
    fresh = prior.mean_curve(
        prior.sample_parameters(4000, 100, torch.Generator().manual_seed(4)), prior.epochs(100)
    )
    assert stats.ks_2samp(final[::7], fresh[:, -1].numpy()).pvalue > 1e-4
    assert 0.05 < model.last_acceptance.mean().item() < 0.9


def test_mcmc_and_importance_sampling_agree_where_importance_sampling_is_reliable():
    """Noisy observations (sigma ~ e^-2) keep the importance weights flat (large ESS), so the
    importance-sampling predictive is near exact; the MCMC must reproduce its quantiles."""
    prior = CurvePrior(log_noise=(-2.0, 0.2))
    curve = prior.sample(1, 100, torch.Generator().manual_seed(6)).y[0].clamp(0, 1)
    x, y, xq = EPOCHS[:4], curve[:4], torch.tensor([20.0, 60.0])
    exact = ImportanceSamplingExtrapolator(prior, num_samples=50_000, num_components=4000, seed=5)
    reference = exact.predict_quantiles(x, y, xq, [0.25, 0.5, 0.75])
    mcmc = MCMCExtrapolator(prior, walkers=64, steps=2500, burn_in=500, thin=20, seed=5)
    estimate = mcmc.predict_quantiles(x, y, xq, [0.25, 0.5, 0.75])
    assert exact.last_ess.item() > 1000
    assert torch.allclose(estimate, reference, atol=0.03)


def test_bad_sampler_settings():
    with pytest.raises(ConfigurationError, match="walkers"):
        MCMCExtrapolator(walkers=11)
    with pytest.raises(ConfigurationError, match="burn_in"):
        MCMCExtrapolator(steps=10, burn_in=10)
    with pytest.raises(InputDataError, match="pfn"):
        LCPFN(PFN(TransformerConfig(num_buckets=2, emsize=4, nhead=1, nhid=4, nlayers=1), torch.arange(3.0)))
