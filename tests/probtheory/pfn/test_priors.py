"""Priors: shapes, reproducibility, and the distribution of what they sample."""

import math

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.pfn import Batch, FunctionPrior, GPHyperPrior, GPPrior, PyroPrior


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("prior", [GPPrior(), GPHyperPrior(), PyroPrior(), GPPrior(num_features=3)])
def test_shapes_and_reproducibility(prior):
    a = prior.sample(4, 9, _g())
    b = prior.sample(4, 9, _g())
    assert a.x.shape == (4, 9, prior.num_features) and a.y.shape == a.target_y.shape == (4, 9)
    assert torch.equal(a.y, b.y) and torch.isfinite(a.y).all()


def test_gp_prior_covariance_matches_kernel():
    """Sample covariance of y at two fixed-distance points vs k + noise (z = 5 standard errors)."""
    prior = GPPrior(lengthscale=0.3, outputscale=1.5, noise=0.05)
    batch = prior.sample(20_000, 2, _g(3))
    dx = (batch.x[:, 0, 0] - batch.x[:, 1, 0]).abs()
    expected_var = 1.5 + 0.05
    var = batch.y[:, 0].pow(2)
    assert abs(var.mean() - expected_var) < 5 * var.std() / math.sqrt(len(var))
    prod = batch.y[:, 0] * batch.y[:, 1]
    cov = 1.5 * torch.exp(-(dx**2) / (2 * 0.3**2))
    resid = prod - cov
    assert abs(resid.mean()) < 5 * resid.std() / math.sqrt(len(resid))


def test_pyro_prior_requires_y_site():
    import pyro
    import pyro.distributions as pdist

    def no_y(x):
        return pyro.sample("z", pdist.Normal(0.0, 1.0))

    with pytest.raises(InputDataError, match="model"):
        PyroPrior(no_y).sample(2, 3, _g())


def test_pyro_prior_does_not_touch_global_rng():
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    PyroPrior().sample(2, 4, _g())
    assert torch.equal(torch.rand(1), before)


def test_function_prior_validates():
    def good(b, t, g):
        x = torch.rand(b, t, 1, generator=g, dtype=torch.float64)
        return Batch(x, x[..., 0], x[..., 0])

    assert FunctionPrior(good).sample(2, 5, _g()).x.shape == (2, 5, 1)
    with pytest.raises(InputDataError, match="fn"):
        FunctionPrior(lambda b, t, g: None).sample(2, 5, _g())
    with pytest.raises(InputDataError, match="lengthscale"):
        GPPrior(lengthscale=-1.0)
