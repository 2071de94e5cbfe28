"""StudentTP: its BoTorch posterior is the closed-form Student-t process predictive."""

import pytest
import torch
from botorch.sampling.get_sampler import get_sampler
from scipy import stats

from bo.models import StudentTP
from probtheory.errors import UnsupportedError


@pytest.fixture(scope="module")
def model():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(15, 2, generator=g, dtype=torch.float64)
    Y = 3 + 2 * torch.sin(5 * X[:, :1]) + 0.1 * torch.randn(15, 1, generator=g, dtype=torch.float64)
    return StudentTP(X, Y, steps=30).fit()


def _closed_form(model, x):
    """The TP's own predictive of noisy observations, mapped back to the units of Y."""
    tp = model.processes[0]
    predictive = tp.posterior(x)
    std, mean = model.outcome_transform.stdvs.item(), model.outcome_transform.means.item()
    return predictive.df, mean + std * predictive.loc, std * predictive.scale


def test_moments_match_the_closed_form(model):
    x = torch.rand(4, 2, dtype=torch.float64)
    df, loc, scale = _closed_form(model, x)
    posterior = model.posterior(x.unsqueeze(1), observation_noise=True)  # 4 x 1 x 2: q = 1
    assert torch.allclose(posterior.mean[:, 0, 0], loc, atol=1e-9)
    assert torch.allclose(posterior.variance[:, 0, 0], scale**2 * df / (df - 2), rtol=1e-6)


def test_samples_follow_the_student_t_marginal(model):
    x = torch.rand(1, 1, 2, dtype=torch.float64)
    df, loc, scale = _closed_form(model, x[0])
    posterior = model.posterior(x, observation_noise=True)
    samples = get_sampler(posterior, torch.Size([4096]), seed=0)(posterior)[:, 0, 0, 0]
    reference = stats.t(df=df.item(), loc=loc.item(), scale=scale.item())
    assert stats.kstest(samples.detach().numpy(), reference.cdf).pvalue > 1e-3


def test_scalarisation_and_its_limits(model):
    x = torch.rand(3, 2, 2, dtype=torch.float64)
    posterior = model.posterior(x).affine(torch.tensor([-2.0]), 1.0)
    assert torch.allclose(posterior.mean, 1.0 - 2.0 * model.posterior(x).mean)
    with pytest.raises(UnsupportedError, match="posterior_transform"):
        model.posterior(x).affine(torch.tensor([1.0, 1.0]))


@pytest.mark.parametrize("observation_noise", [False, True])
def test_the_joint_posterior_is_the_processes_joint_posterior_in_the_units_of_y(model, observation_noise):
    """Jointly over a q-batch: mean std * mu + shift, covariance std^2 rate / (concentration - 1) C."""
    x = torch.rand(2, 3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    posterior = model.posterior(x, observation_noise=observation_noise)
    with torch.no_grad():
        joint = model.processes[0].joint_posterior(x, observation_noise=observation_noise)
    std, shift = model.outcome_transform.stdvs.item(), model.outcome_transform.means.item()
    torch.testing.assert_close(posterior.mean[..., 0], shift + std * joint.mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(posterior.concentration[0], joint.concentration)
    torch.testing.assert_close(posterior.rate[0], joint.rate)
    covariance = std**2 * joint.rate / (joint.concentration - 1) * joint.unit_covariance
    # the latent posterior's C gets a 1e-9 jitter before its Cholesky factorisation
    torch.testing.assert_close(
        posterior.variance[..., 0], covariance.diagonal(dim1=-2, dim2=-1), rtol=1e-7, atol=0
    )
    samples = get_sampler(posterior, torch.Size([4096]), seed=0)(posterior)[..., 0]  # 4096 x 2 x 3
    centred = samples - samples.mean(0)
    empirical = centred.transpose(0, 1).transpose(-1, -2) @ centred.transpose(0, 1) / 4096  # 2 x 3 x 3
    # correlations (variances converge slowly under heavy tails): the Monte-Carlo standard error of
    # a correlation is about (1 - rho^2) / sqrt(4096) <= 1/64, and 0.05 is more than 3 of them
    scale = covariance.diagonal(dim1=-2, dim2=-1).sqrt()
    correlation = covariance / (scale.unsqueeze(-1) * scale.unsqueeze(-2))
    empirical_scale = empirical.diagonal(dim1=-2, dim2=-1).sqrt()
    empirical_correlation = empirical / (empirical_scale.unsqueeze(-1) * empirical_scale.unsqueeze(-2))
    assert (empirical_correlation - correlation).abs().max() < 0.05
