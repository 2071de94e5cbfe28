"""The exact GP reference used to evaluate GP-prior PFNs."""

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
