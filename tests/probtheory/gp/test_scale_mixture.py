"""Scale-mixture NNGPs by Monte Carlo: Burr XII against scipy, and the inverse-gamma case
against the closed-form Student-t process."""

import math

import pytest
import torch
from scipy import stats

from probtheory.errors import InputDataError
from probtheory.gp import BurrXII, ScaleMixtureProcess, StudentTProcess, regression_dataset
from probtheory.kernels import NNGPKernel


def test_burr_xii_matches_scipy():
    d = BurrXII(2.5, 1.5, 0.7)
    x = torch.tensor([0.1, 0.5, 1.0, 3.0], dtype=torch.float64)
    ref = stats.burr12(c=2.5, d=1.5, scale=0.7)
    assert torch.allclose(d.log_prob(x), torch.tensor(ref.logpdf(x.numpy())), atol=1e-12)
    assert torch.allclose(d.cdf(x), torch.tensor(ref.cdf(x.numpy())), atol=1e-12)
    q = torch.tensor([0.01, 0.5, 0.99], dtype=torch.float64)
    assert torch.allclose(d.cdf(d.icdf(q)), q, atol=1e-12)
    torch.manual_seed(0)
    assert stats.kstest(d.rsample(torch.Size([4000])).numpy(), ref.cdf).pvalue > 1e-3


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 2, generator=g, dtype=torch.float64)
    y = torch.sin(3 * x[:, 0]) + 0.3 * torch.randn(12, generator=g, dtype=torch.float64)
    return x, y, torch.rand(5, 2, generator=g, dtype=torch.float64)


def test_inverse_gamma_mixing_reproduces_the_student_t_process():
    """Monte Carlo over sigma^2 ~ InvGamma(a, b) must give the closed-form TP: marginal
    likelihood and predictive log densities agree within Monte Carlo error (S = 200k)."""
    x, y, test_x = _data()
    a, b = 3.0, 2.0
    tp = StudentTProcess(x, y, NNGPKernel(depth=2), concentration=a, rate=b, noise=0.1)
    mix = ScaleMixtureProcess(
        x,
        y,
        torch.distributions.InverseGamma(
            torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        ),
        NNGPKernel(depth=2),
        noise=0.1,
        num_samples=200_000,
    )
    with torch.no_grad():
        assert mix.effective_sample_size().item() > 10_000
        assert mix.marginal_log_likelihood().item() == pytest.approx(
            tp.marginal_log_likelihood().item(), abs=0.01
        )
        grid = tp.posterior(test_x).loc.unsqueeze(0) + torch.linspace(
            -2, 2, 7, dtype=torch.float64
        ).unsqueeze(1)
        # within one scale unit the Monte Carlo error is < 2e-3 nats; the far tails, set by
        # rare large draws of sigma^2, within 2e-2
        gap = (mix.posterior(test_x).log_prob(grid) - tp.posterior(test_x).log_prob(grid)).abs()
        assert gap[2:5].max() < 2e-3 and gap.max() < 2e-2


def test_fit_improves_the_marginal_likelihood():
    x, y, _ = _data()
    model = ScaleMixtureProcess(x, y, BurrXII(2.0, 1.0), NNGPKernel(depth=2), num_samples=2000)
    history = model.fit(steps=30, lr=0.05, progress=False)
    assert history[-1] < history[0] and all(math.isfinite(h) for h in history)


def test_bad_input():
    for kwargs in ({"c": 0.0, "k": 1.0}, {"c": 1.0, "k": -1.0}, {"c": 1.0, "k": 1.0, "scale": float("nan")}):
        with pytest.raises(InputDataError, match=next(k for k, v in kwargs.items() if not v > 0)):
            BurrXII(**kwargs)
    x, y, _ = _data()
    with pytest.raises(InputDataError, match="mixing"):
        ScaleMixtureProcess(x, y, torch.distributions.Normal(torch.zeros(2), 1.0))
    with pytest.raises(InputDataError, match="mixing"):
        ScaleMixtureProcess(x, y, torch.distributions.Normal(0.0, 1.0)).marginal_log_likelihood()
    with pytest.raises(InputDataError, match="train_y"):
        ScaleMixtureProcess(x, y[:3])
    with pytest.raises(InputDataError, match="test_x"):
        ScaleMixtureProcess(x, y).posterior(torch.zeros(2, 3))


def test_diabetes_split():
    d = regression_dataset("diabetes")
    assert d.train_x.shape == (353, 10) and len(d.valid_y) == 44 and len(d.test_y) == 45
    assert torch.allclose(d.train_x.mean(0), torch.zeros(10, dtype=torch.float64), atol=1e-12)
    assert torch.equal(regression_dataset("diabetes").test_y, d.test_y)
    with pytest.raises(InputDataError, match="name"):
        regression_dataset("boston")
