"""The exact GP reference used to evaluate GP-prior PFNs."""

import math

import torch

from probtheory.pfn import GPPrior
from probtheory.pfn.evaluation import exact_gp_predictive, ks_uniform


def test_exact_gp_is_calibrated_on_its_own_prior():
    """PIT values of fresh prior draws under the exact predictive are U(0, 1): KS < 1.36/sqrt(n)."""
    prior = GPPrior(lengthscale=0.3, outputscale=1.2, noise=0.02)
    batch = prior.sample(4000, 11, torch.Generator().manual_seed(0))
    pred = exact_gp_predictive(batch.x[:, :10], batch.y[:, :10], batch.x[:, 10:], 0.3, 1.2, 0.02)
    pit = pred.cdf(batch.y[:, 10:])
    assert ks_uniform(pit) < 1.63 / 4000**0.5  # KS critical value at the 1% level


def test_exact_gp_without_context_is_the_prior():
    pred = exact_gp_predictive(torch.zeros(2, 0, 1), torch.zeros(2, 0), torch.rand(2, 3, 1), 0.3, 1.2, 0.02)
    assert torch.allclose(pred.variance, torch.full((2, 3), 1.22, dtype=torch.float64))


def test_exact_gp_interpolates_noise_free_data():
    x = torch.rand(1, 5, 1, dtype=torch.float64)
    y = torch.sin(6 * x[..., 0])
    pred = exact_gp_predictive(x, y, x, 0.3, 1.0, 1e-10)
    assert torch.allclose(pred.mean, y, atol=1e-4)


def test_exact_gp_rejects_bad_input():
    import pytest

    from probtheory.errors import InputDataError

    x = torch.rand(2, 3, 1)
    with pytest.raises(InputDataError, match="y_train"):
        exact_gp_predictive(x, torch.zeros(2, 4), x, 0.3, 1.0, 0.1)
    with pytest.raises(InputDataError, match="noise"):
        exact_gp_predictive(x, torch.zeros(2, 3), x, 0.3, 1.0, 0.0)


def test_hyperprior_predictive_with_a_point_mass_hyperprior_is_the_exact_gp():
    """Hyper-priors of width ~0 leave one hyperparameter triple: the mixture is that GP's predictive."""
    from probtheory.pfn import GPHyperPrior
    from probtheory.pfn.evaluation import hyperprior_gp_predictive

    prior = GPHyperPrior(log_lengthscale_scale=1e-9, log_outputscale_scale=1e-9, log_noise_scale=1e-9)
    batch = prior.sample(3, 12, torch.Generator().manual_seed(1))
    args = (batch.x[:, :8], batch.y[:, :8], batch.x[:, 8:])
    mixture = hyperprior_gp_predictive(
        *args, prior, num_samples=16, generator=torch.Generator().manual_seed(0)
    )
    exact = exact_gp_predictive(*args, math.exp(-1.6), 1.0, math.exp(-4.6))
    target = batch.y[:, 8:].double()
    assert torch.allclose(mixture.log_prob(target), exact.log_prob(target), atol=1e-6)


def test_hyperprior_predictive_weights_are_the_marginal_likelihoods():
    """Two draws: the mixture weight ratio equals the ratio of the two GPs' evidences."""
    from probtheory.pfn import GPHyperPrior
    from probtheory.pfn.evaluation import hyperprior_gp_predictive

    prior = GPHyperPrior()
    batch = prior.sample(1, 7, torch.Generator().manual_seed(2))
    x, y = batch.x[:, :6].double(), batch.y[:, :6].double()
    mixture = hyperprior_gp_predictive(
        x, y, batch.x[:, 6:], prior, num_samples=2, generator=torch.Generator().manual_seed(3)
    )
    z = torch.randn(3, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    hp = prior.hyperprior()
    ls, os_, nz = (torch.exp(d.loc.double() + d.scale.double() * z[i]) for i, d in enumerate(hp.values()))
    evidence = []
    for s in range(2):
        k = os_[s] * torch.exp(-((x[0] - x[0].T) ** 2) / (2 * ls[s] ** 2)) + nz[s] * torch.eye(
            6, dtype=torch.float64
        )
        evidence.append(
            torch.distributions.MultivariateNormal(torch.zeros(6, dtype=torch.float64), k).log_prob(y[0])
        )
    logits = mixture.mixture_distribution.logits[0, 0]
    assert torch.allclose(logits[0] - logits[1], evidence[0] - evidence[1], atol=1e-8)


def test_hyperprior_predictive_is_calibrated_on_its_own_prior():
    """PIT values of fresh draws from the hyper-prior under the Bayes predictive are U(0, 1)."""
    from probtheory.pfn import GPHyperPrior
    from probtheory.pfn.evaluation import hyperprior_gp_predictive

    prior = GPHyperPrior()
    batch = prior.sample(600, 6, torch.Generator().manual_seed(4))
    pred = hyperprior_gp_predictive(
        batch.x[:, :5], batch.y[:, :5], batch.x[:, 5:], prior, 512, torch.Generator().manual_seed(5)
    )
    pit = (
        pred.mixture_distribution.probs * pred.component_distribution.cdf(batch.y[:, 5:, None].double())
    ).sum(-1)
    assert ks_uniform(pit) < 1.63 / 600**0.5  # KS critical value at the 1% level


def test_hyperprior_predictive_rejects_bad_input():
    import pytest

    from probtheory.errors import InputDataError
    from probtheory.pfn import GPHyperPrior, GPPrior
    from probtheory.pfn.evaluation import hyperprior_gp_predictive

    x = torch.rand(2, 3, 1)
    with pytest.raises(InputDataError, match="prior"):
        hyperprior_gp_predictive(x, torch.zeros(2, 3), x, GPPrior())
    with pytest.raises(InputDataError, match="num_samples"):
        hyperprior_gp_predictive(x, torch.zeros(2, 3), x, GPHyperPrior(), num_samples=0)
    with pytest.raises(InputDataError, match="y_train"):
        hyperprior_gp_predictive(x, torch.zeros(2, 4), x, GPHyperPrior())


def test_bar_projection_masses_are_the_mixtures_bucket_masses():
    """Two-component mixture: each bucket's mass is the weighted difference of the Normal CDFs
    (scipy), the end buckets reaching to -inf and +inf."""
    from scipy import stats

    from probtheory.pfn.evaluation import bar_projection

    borders = torch.tensor([-2.0, -0.5, 0.0, 0.7, 3.0], dtype=torch.float64)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=torch.tensor([[0.3, 0.7]], dtype=torch.float64)),
        torch.distributions.Normal(
            torch.tensor([[-0.4, 0.9]], dtype=torch.float64), torch.tensor([[0.5, 1.3]], dtype=torch.float64)
        ),
    )
    cdf = 0.3 * stats.norm.cdf(borders[1:-1], -0.4, 0.5) + 0.7 * stats.norm.cdf(borders[1:-1], 0.9, 1.3)
    expected = torch.diff(torch.tensor([0.0, *cdf, 1.0], dtype=torch.float64))
    masses = bar_projection(mixture, borders).log_masses.exp()
    assert masses.shape == (1, 4)
    assert torch.allclose(masses[0], expected, atol=1e-12)


def test_bar_projection_has_the_smallest_expected_nll_on_its_borders():
    """Gibbs' inequality: under the Normal, the projection's exact expected NLL is below that of
    every perturbation of its logits, and it approaches the Normal's entropy as buckets shrink."""
    from probtheory.pfn.bar_distribution import BarDistribution
    from probtheory.pfn.evaluation import bar_projection
    from probtheory.pfn.soft_targets import expected_nll

    loc, scale = torch.tensor([0.3], dtype=torch.float64), torch.tensor([0.4], dtype=torch.float64)
    normal = torch.distributions.Normal(loc, scale)
    floors = []
    for k in (20, 40, 80, 160):
        borders = torch.linspace(-3, 3, k + 1, dtype=torch.float64)
        projection = bar_projection(normal, borders)
        best = expected_nll(projection, loc, scale)
        g = torch.Generator().manual_seed(k)
        for _ in range(20):
            noise = 0.05 * torch.randn(projection.logits.shape, generator=g, dtype=torch.float64)
            other = BarDistribution(borders, projection.logits + noise)
            assert expected_nll(other, loc, scale) > best
        floors.append(float(best - normal.entropy()))
    assert all(f > 0 for f in floors)
    # halving the width divides the floor by about 4 (~ width^2)
    assert all(finer < 0.3 * coarser for coarser, finer in zip(floors[:-1], floors[1:], strict=True))


def test_bar_projection_of_a_batch_does_not_depend_on_the_chunks():
    """Rows processed a few at a time (the last chunk partial) give the masses of one pass."""
    from probtheory.pfn import GPHyperPrior
    from probtheory.pfn.evaluation import bar_projection, hyperprior_gp_predictive

    prior = GPHyperPrior()
    batch = prior.sample(3, 8, torch.Generator().manual_seed(2))
    mixture = hyperprior_gp_predictive(
        batch.x[:, :5], batch.y[:, :5], batch.x[:, 5:], prior, 64, torch.Generator().manual_seed(3)
    )
    borders = torch.linspace(-3, 3, 31)
    whole = bar_projection(mixture, borders, chunk=100).logits
    assert whole.shape == (3, 3, 30)
    chunked = bar_projection(mixture, borders, chunk=4).logits  # 9 rows: 4 + 4 + 1
    assert torch.allclose(chunked, whole, rtol=0, atol=1e-12)


def _mixtures(copies):
    """Three two-component Gaussian mixtures, each repeated ``copies`` times."""
    probs = torch.tensor([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1]], dtype=torch.float64)
    loc = torch.tensor([[-0.4, 0.9], [0.0, 0.05], [1.5, -2.5]], dtype=torch.float64)
    scale = torch.tensor([[0.5, 1.3], [0.2, 0.05], [0.3, 1.0]], dtype=torch.float64)
    return [t.repeat_interleave(copies, 0) for t in (probs, loc, scale)]


def test_discretisation_floor_is_the_projections_exact_kl_divergence():
    """The Monte Carlo floor matches the exact KL divergence within 4 standard errors.

    Exact: the projection's expected NLL under each Normal component in closed form (tails
    included; borders that leave mass outside them, of unequal widths) less the mixture's entropy
    by quadrature."""
    from probtheory.pfn.evaluation import bar_projection, discretisation_floor
    from probtheory.pfn.soft_targets import expected_nll

    borders = torch.tensor([-1.5, -0.8, -0.3, -0.1, 0.0, 0.02, 0.1, 0.4, 1.0, 2.2], dtype=torch.float64)
    probs, loc, scale = _mixtures(1)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=probs), torch.distributions.Normal(loc, scale)
    )
    projection = bar_projection(mixture, borders)
    cross = sum(probs[:, s] * expected_nll(projection, loc[:, s], scale[:, s]) for s in range(2))
    grid = torch.linspace(-12, 12, 400_001, dtype=torch.float64)
    log_p = mixture.log_prob(grid[:, None])
    entropy = -torch.trapezoid(log_p.exp() * log_p, grid, dim=0)
    exact = cross - entropy
    assert (exact > 0.01).all()

    copies = 200
    probs, loc, scale = _mixtures(copies)
    repeated = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=probs), torch.distributions.Normal(loc, scale)
    )
    floors = discretisation_floor(repeated, borders, 200, torch.Generator().manual_seed(0)).reshape(3, copies)
    se = floors.std(1) / copies**0.5
    assert ((floors.mean(1) - exact).abs() < 4 * se).all(), (floors.mean(1), exact, se)


def test_discretisation_floor_of_a_normal_falls_with_the_square_of_the_width():
    """Buckets narrow against a Normal: the floor is about (width / scale)^2 / 24."""
    from probtheory.pfn.evaluation import discretisation_floor

    zeros = torch.zeros(400, dtype=torch.float64)
    normal = torch.distributions.Normal(zeros, zeros + 1)
    for width in (0.5, 0.25):
        borders = torch.arange(-8, 8 + width / 2, width, dtype=torch.float64)
        floors = discretisation_floor(normal, borders, 500, torch.Generator().manual_seed(1))
        se = floors.std() / floors.numel() ** 0.5
        # the w^2/24 law is the leading term: at these widths the exact KL is 1.0% and 0.26% below
        assert abs(floors.mean() - width**2 / 24) < 4 * se + 0.02 * width**2 / 24, (width, floors.mean(), se)


def test_floor_and_projection_of_an_empty_batch_are_empty():
    from probtheory.pfn.evaluation import bar_projection, discretisation_floor

    empty = torch.distributions.Normal(torch.zeros(0), torch.ones(0))
    borders = torch.linspace(-1, 1, 5)
    assert bar_projection(empty, borders).logits.shape == (0, 4)
    assert discretisation_floor(empty, borders).shape == (0,)
