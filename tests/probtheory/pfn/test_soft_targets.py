import math

import pytest
import torch
from scipy import stats

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.lcpfn.curves import CurvePrior
from probtheory.pfn import BarDistribution
from probtheory.pfn.evaluation import exact_gp_predictive
from probtheory.pfn.priors import Batch, FunctionPrior, GPHyperPrior, GPPrior, PyroPrior
from probtheory.pfn.soft_targets import expected_nll, gaussian_bucket_masses
from probtheory.pfn.training import TrainConfig, train_pfn
from probtheory.pfn.transformer import TransformerConfig

DTYPE = torch.float64


def _distribution(seed=0, batch=(5,)):
    g = torch.Generator().manual_seed(seed)
    borders = torch.cat(
        [torch.zeros(1, dtype=DTYPE), torch.rand(12, generator=g, dtype=DTYPE).cumsum(0) + 0.05]
    )
    borders = borders - borders.mean()
    logits = 2 * torch.randn(*batch, 12, generator=g, dtype=DTYPE)
    return BarDistribution(borders, logits, full_support=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_nll_is_the_monte_carlo_average_of_the_sampled_loss(seed):
    d = _distribution(seed)
    lo, hi = d.borders[0].item(), d.borders[-1].item()
    # inside, near an edge, in each tail, and a wide Gaussian straddling everything
    loc = torch.tensor([0.0, hi - 0.05, lo - 0.5, hi + 1.0, 0.3], dtype=DTYPE)
    scale = torch.tensor([0.2, 0.1, 0.3, 0.05, 3.0], dtype=DTYPE)
    n = 400_000
    g = torch.Generator().manual_seed(100 + seed)
    y = loc + scale * torch.randn(n, 5, generator=g, dtype=DTYPE)
    nll = -d.log_prob(y)
    standard_error = nll.std(0) / math.sqrt(n)
    gap = (expected_nll(d, loc, scale) - nll.mean(0)).abs()
    assert (gap <= 5 * standard_error).all(), (gap, standard_error)  # z = 5: false alarm ~6e-7 per entry


def test_the_gradient_is_the_cross_entropy_against_the_gaussian_masses():
    d = _distribution(3, batch=(4,))
    logits = d.logits.clone().requires_grad_(True)
    loc = torch.tensor([0.1, -0.4, 2.0, -3.0], dtype=DTYPE)
    scale = torch.tensor([0.3, 0.05, 0.5, 1.0], dtype=DTYPE)
    expected_nll(BarDistribution(d.borders, logits), loc, scale).sum().backward()
    masses = gaussian_bucket_masses(d.borders, loc, scale)
    assert torch.allclose(logits.grad, torch.softmax(logits, -1).detach() - masses, atol=1e-12)


def test_bucket_masses_are_normal_cdf_differences_with_open_end_buckets():
    borders = torch.tensor([-1.0, -0.2, 0.5, 2.0], dtype=DTYPE)
    loc, scale = torch.tensor([0.3], dtype=DTYPE), torch.tensor([0.7], dtype=DTYPE)
    cdf = stats.norm(0.3, 0.7).cdf(borders.numpy())
    expected = [cdf[1], cdf[2] - cdf[1], 1 - cdf[2]]
    assert gaussian_bucket_masses(borders, loc, scale)[0].tolist() == pytest.approx(expected, abs=1e-14)
    inside = gaussian_bucket_masses(borders, loc, scale, full_support=False)[0]
    assert inside.tolist() == pytest.approx([cdf[1] - cdf[0], cdf[2] - cdf[1], cdf[3] - cdf[2]], abs=1e-14)


@pytest.mark.parametrize("prior", [GPPrior(), GPHyperPrior(), PyroPrior(), CurvePrior()], ids=type)
def test_built_in_priors_give_the_gaussian_law_of_their_observations(prior):
    batch = prior.sample(16, 20, torch.Generator().manual_seed(0))
    assert batch.has_conditional
    z = ((batch.target_y - batch.target_loc) / batch.target_scale).flatten()
    # standardised residuals are N(0, 1): KS at false-alarm probability 1e-4 for 320 draws
    assert stats.kstest(z.numpy(), "norm").statistic < math.sqrt(-math.log(0.5e-4) / (2 * z.numel()))


def test_bad_soft_target_input_is_refused():
    d = _distribution()
    loc = torch.zeros(5, dtype=DTYPE)
    with pytest.raises(InputDataError, match="`scale`"):
        expected_nll(d, loc, torch.zeros(5, dtype=DTYPE))
    with pytest.raises(InputDataError, match="`loc`"):
        expected_nll(d, torch.full((5,), math.nan, dtype=DTYPE), torch.ones(5, dtype=DTYPE))
    with pytest.raises(InputDataError, match="`distribution`"):
        expected_nll(
            BarDistribution(d.borders, d.logits, full_support=False), loc, torch.ones(5, dtype=DTYPE)
        )
    x = torch.zeros(2, 3, 1)
    with pytest.raises(InputDataError, match="`target_scale`"):
        Batch(x, torch.zeros(2, 3), torch.zeros(2, 3), target_loc=torch.zeros(2, 3))
    with pytest.raises(InputDataError, match="`targets`"):
        TrainConfig(targets="soft")


_TINY = TransformerConfig(num_features=1, num_buckets=20, emsize=16, nhead=2, nhid=32, nlayers=1)


def test_training_on_soft_targets_runs_and_needs_a_prior_with_the_conditional():
    config = TrainConfig(steps=3, batch_size=4, seq_len=12, max_context=8, border_samples=500,
                         transformer=_TINY, targets="gaussian")  # fmt: skip
    result = train_pfn(GPPrior(), config, progress=False)
    assert result.steps == 3 and all(math.isfinite(v) for v in result.losses + [0.0])

    def no_conditional(batch_size, seq_len, generator):
        x = torch.rand(batch_size, seq_len, 1, generator=generator, dtype=DTYPE)
        y = torch.sin(6 * x[..., 0]) + 0.1 * torch.randn(
            batch_size, seq_len, generator=generator, dtype=DTYPE
        )
        return Batch(x, y, y)

    with pytest.raises(ConfigurationError, match="target_loc"):
        train_pfn(FunctionPrior(no_conditional), config, progress=False)


def test_a_gp_prior_s_posterior_is_the_exact_gp_predictive_of_its_context():
    prior = GPPrior(lengthscale=0.3, outputscale=1.5, noise=0.04)
    batch = prior.sample(6, 15, torch.Generator().manual_seed(2))
    for s, end in ((0, 4), (7, 15), (14, 15)):
        loc, scale = batch.posterior_targets(s, end)
        exact = exact_gp_predictive(batch.x[:, :s], batch.y[:, :s], batch.x[:, s:end], 0.3, 1.5, 0.04)
        assert torch.allclose(loc, exact.mean, atol=1e-12) and torch.allclose(scale, exact.stddev, atol=1e-12)


def _nearest_neighbour_guess(batch, s, end, borders):
    """A context-dependent bar distribution: N(y of the nearest context point, 0.5^2), bucketed."""
    x = batch.x[..., 0]
    nearest = (x[:, s:end, None] - x[:, None, :s]).abs().argmin(-1)
    guess = torch.gather(batch.y[:, :s], 1, nearest)
    masses = gaussian_bucket_masses(borders, guess, torch.full_like(guess, 0.5))
    return BarDistribution(borders, masses.clamp_min(1e-12).log())


def _tower_z(batch, distribution, loc, scale, s, end):
    """z statistic of E[sampled loss - expected loss under (loc, scale)], datasets as the units."""
    difference = (
        -distribution.log_prob(batch.target_y[:, s:end]) - expected_nll(distribution, loc, scale)
    ).mean(-1)
    return (difference.mean() / (difference.std() / math.sqrt(difference.numel()))).item()


@pytest.mark.parametrize("prior", [GPPrior(), GPHyperPrior()], ids=type)
def test_the_posterior_loss_is_the_sampled_loss_in_expectation(prior):
    # The tower property: E over (hyperparameters, context, y) of -log q(y | context) equals E over
    # (hyperparameters, context) of the expected loss under y's law given both, for any q that
    # depends on the context; here a nearest-neighbour guess, strongly context-dependent.
    batch = prior.sample(4000, 12, torch.Generator().manual_seed(3))
    s, end = 5, 9
    q = _nearest_neighbour_guess(batch, s, end, torch.linspace(-4, 4, 41, dtype=DTYPE))
    loc, scale = batch.posterior_targets(s, end)
    assert abs(_tower_z(batch, q, loc, scale, s, end)) < 4.5  # false alarm ~7e-6
    # mutants: the law given one context point fewer, and given none (the prior predictive)
    short_loc, short_scale = batch.posterior(s - 1, end)
    assert abs(_tower_z(batch, q, short_loc[:, 1:], short_scale[:, 1:], s, end)) > 4.5
    prior_loc, prior_scale = batch.posterior(0, end)
    assert abs(_tower_z(batch, q, prior_loc[:, s:], prior_scale[:, s:], s, end)) > 4.5


def test_training_on_posterior_targets_runs_and_needs_a_prior_with_the_posterior():
    config = TrainConfig(steps=3, batch_size=4, seq_len=12, max_context=8, border_samples=500,
                         transformer=_TINY, targets="posterior", queries=3)  # fmt: skip
    result = train_pfn(GPHyperPrior(), config, progress=False)
    assert result.steps == 3 and all(math.isfinite(v) for v in result.losses + [0.0])
    with pytest.raises(ConfigurationError, match="posterior"):
        train_pfn(PyroPrior(), config, progress=False)


def test_a_bad_posterior_is_refused():
    x, y = torch.rand(2, 5, 1, dtype=DTYPE), torch.zeros(2, 5, dtype=DTYPE)
    with pytest.raises(InputDataError, match="`posterior`"):
        Batch(x, y, y, posterior="gp")
    wrong_shape = Batch(x, y, y, posterior=lambda s, end: (torch.zeros(2, 1), torch.ones(2, 1)))
    with pytest.raises(InputDataError, match="posterior's loc"):
        wrong_shape.posterior_targets(2, 5)
    zero_scale = Batch(x, y, y, posterior=lambda s, end: (torch.zeros(2, end - s), torch.zeros(2, end - s)))
    with pytest.raises(InputDataError, match="posterior's scale"):
        zero_scale.posterior_targets(2, 5)
    nan_loc = Batch(
        x, y, y, posterior=lambda s, end: (torch.full((2, end - s), math.nan), torch.ones(2, end - s))
    )
    with pytest.raises(InputDataError, match="posterior's loc"):
        nan_loc.posterior_targets(2, 5)
