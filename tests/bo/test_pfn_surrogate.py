"""PFNSurrogate: the BoTorch contract, and its posterior against the PFN it wraps."""

from __future__ import annotations

import pytest
import torch
from botorch.sampling.get_sampler import get_sampler

from bo.models import PFNSurrogate
from bo.posteriors import MarginalPosterior
from bo.testing import SurrogateContract, contract_objective
from probtheory.errors import InputDataError, UnsupportedError
from probtheory.pfn import PFN

DTYPE = torch.float64


class TestPFNSurrogateContract(SurrogateContract):
    d = 1

    def make_model(self, train_X, train_Y):
        # in float64, so that the contract's float64 tolerances test the mechanism, not float32
        # rounding (a t-batch's float32 matmuls round differently from a single candidate's)
        return PFNSurrogate(train_X, train_Y, pfn=PFN.from_pretrained("gp-hyper-1d").to(torch.float64))

    def test_observation_noise_adds_variance(self, model):
        """A PFN predicts noisy observations: ``observation_noise=True`` gives the same predictive."""
        X = self._inputs(6)
        torch.testing.assert_close(
            model.posterior(X, observation_noise=True).variance, model.posterior(X).variance
        )
        with pytest.raises(UnsupportedError, match="observation_noise"):
            model.posterior(X, observation_noise=torch.ones(6, 1, dtype=DTYPE))


@pytest.fixture(scope="module")
def pfn():
    return PFN.from_pretrained("gp-hyper-1d")


def _data(n=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, generator=generator, dtype=DTYPE)
    return X, 3.0 + 2.0 * contract_objective(X)


def test_posterior_is_the_pfn_predictive_in_original_units(pfn):
    X, Y = _data()
    model = PFNSurrogate(X, Y, pfn=pfn).fit()
    Xt = torch.linspace(0, 1, 7, dtype=DTYPE).reshape(7, 1)
    mu, sd = Y.mean(), Y.std()
    reference = pfn.predict(X, ((Y - mu) / sd)[:, 0], Xt)  # the PFN on standardised data
    posterior = model.posterior(Xt)
    float32 = {"rtol": 1e-6, "atol": 1e-6}  # the transformer's rounding (its inputs are cast to float32)
    torch.testing.assert_close(posterior.mean[:, 0], mu + sd * reference.mean, **float32)
    torch.testing.assert_close(posterior.variance[:, 0], sd**2 * reference.variance, **float32)
    # quantiles: Sobol normals map to the PFN's quantiles, point by point
    samples = get_sampler(posterior, torch.Size([64]), seed=0)(posterior)
    u = torch.special.ndtr(torch.linspace(-2, 2, 5, dtype=DTYPE)).reshape(5, 1, 1).expand(5, 7, 1)
    direct = posterior.rsample_from_base_samples(torch.Size([5]), torch.special.ndtri(u))
    torch.testing.assert_close(direct[..., 0], mu + sd * reference.icdf(u[..., 0]), **float32)
    assert samples.shape == (64, 7, 1)


def test_sample_moments_match_the_exact_moments(pfn):
    X, Y = _data()
    posterior = PFNSurrogate(X, Y, pfn=pfn).fit().posterior(torch.tensor([[0.3], [0.8]], dtype=DTYPE))
    samples = posterior.rsample(torch.Size([20000]))
    se = (posterior.variance / 20000).sqrt()
    assert ((samples.mean(0) - posterior.mean).abs() <= 5 * se).all()


def test_posterior_of_a_q_batch_has_independent_points(pfn):
    X, Y = _data()
    posterior = PFNSurrogate(X, Y, pfn=pfn).fit().posterior(torch.tensor([[0.5], [0.5]], dtype=DTYPE))
    samples = posterior.rsample(torch.Size([4000]))[..., 0]
    # identical marginals, independent draws: the two columns are uncorrelated
    assert abs(torch.corrcoef(samples.T)[0, 1].item()) < 0.1


def test_bad_configuration_raises(pfn):
    X, Y = _data()
    with pytest.raises(UnsupportedError, match="num_features"):
        PFNSurrogate(torch.rand(5, 2, dtype=DTYPE), torch.rand(5, 1, dtype=DTYPE), pfn=pfn)
    with pytest.raises(UnsupportedError, match="single output"):
        PFNSurrogate(X, Y.repeat(1, 2), pfn=pfn)
    with pytest.raises(InputDataError, match="name"):
        PFNSurrogate(X, Y, pfn="no-such-pfn")
    with pytest.raises(InputDataError, match="pfn"):
        PFNSurrogate(X, Y, pfn=object())
    with pytest.warns(UserWarning, match="at most 50"):
        PFNSurrogate(torch.rand(60, 1, dtype=DTYPE), torch.rand(60, 1, dtype=DTYPE), pfn=pfn)


def test_marginal_posterior_validates_its_inputs():
    normal = torch.distributions.Normal(torch.zeros(3, 1, dtype=DTYPE), torch.ones(3, 1, dtype=DTYPE))
    with pytest.raises(InputDataError, match="scale"):
        MarginalPosterior(normal, scale=0.0)
    with pytest.raises(InputDataError, match="distribution"):
        MarginalPosterior(torch.distributions.Normal(torch.zeros(3), torch.ones(3)))
    with pytest.raises(InputDataError, match="base_samples"):
        MarginalPosterior(normal).rsample_from_base_samples(torch.Size([2]), torch.zeros(2, 3, dtype=DTYPE))
