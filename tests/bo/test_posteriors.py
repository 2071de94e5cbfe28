"""bo.posteriors: SampleEnsemblePosterior's moments, q-batches and base samples; the sampler all share."""

from __future__ import annotations

import re

import pytest
import torch
from botorch.posteriors import Posterior
from botorch.sampling import IIDNormalSampler, SobolQMCNormalSampler, StochasticSampler
from botorch.sampling.get_sampler import get_sampler
from botorch.sampling.index_sampler import IndexSampler

from bo.posteriors import MarginalPosterior, SampleEnsemblePosterior, ScaleMixtureNormalPosterior
from bo.posteriors._base_samples import normal_sampler
from probtheory.errors import InputDataError, UnsupportedError

DTYPE = torch.float64


def _values(S=7, batch=(2,), q=3, m=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(S, *batch, q, m, generator=generator, dtype=DTYPE)


def _draw_of_each_sample(samples, values):
    """Index of the draw each sample's whole q-batch equals, `S' x batch`; -1 if none."""
    distance = (samples.unsqueeze(1) - values.unsqueeze(0)).abs().amax(dim=(-2, -1))  # S' x S x batch
    best = distance.argmin(dim=1)
    return torch.where(distance.amin(dim=1) == 0, best, -1)


def test_mean_and_variance_are_exact_over_the_draws():
    values = _values()
    posterior = SampleEnsemblePosterior.from_values(values)
    torch.testing.assert_close(posterior.mean, values.mean(0))
    torch.testing.assert_close(posterior.variance, values.var(0, correction=0))


def test_observation_noise_adds_the_mean_noise_variance():
    values = _values()
    noise = torch.rand(7, 1, 1, 2, dtype=DTYPE)
    posterior = SampleEnsemblePosterior.from_values(values, noise_variance=noise)
    torch.testing.assert_close(posterior.mean, values.mean(0))
    torch.testing.assert_close(posterior.variance, values.var(0, correction=0) + noise.mean(0))


def test_monte_carlo_moments_match_the_exact_ones():
    # 40000 i.i.d. samples: the sample mean has standard error sqrt(var / N); z = 5 bound.
    # The variance check uses the standard error of a sample variance, sqrt((mu4 - var^2) / N).
    values = _values(S=5, batch=(), q=2, m=1)
    noise = torch.full((5, 1, 1), 0.3, dtype=DTYPE)
    posterior = SampleEnsemblePosterior.from_values(values, noise_variance=noise)
    torch.manual_seed(0)
    N = 40_000
    samples = posterior.rsample(torch.Size([N]))
    mean, var = posterior.mean, posterior.variance
    assert ((samples.mean(0) - mean).abs() <= 5 * (var / N).sqrt()).all()
    mu4 = (samples - mean).pow(4).mean(0)
    assert ((samples.var(0) - var).abs() <= 5 * ((mu4 - var**2) / N).sqrt()).all()


@pytest.mark.parametrize("sampler_kind", ["sobol", "rsample", "index", "stochastic"])
def test_each_sample_is_one_draw_over_the_whole_q_batch(sampler_kind):
    values = _values(S=6, batch=(3,), q=4, m=2)
    posterior = SampleEnsemblePosterior.from_values(values)
    shape = torch.Size([20])
    if sampler_kind == "sobol":
        samples = get_sampler(posterior, shape, seed=0)(posterior)
    elif sampler_kind == "index":
        samples = IndexSampler(shape, seed=0)(posterior)
    elif sampler_kind == "stochastic":
        samples = StochasticSampler(shape)(posterior)
    else:
        samples = posterior.rsample(shape)
    assert samples.shape == (20, 3, 4, 2)
    assert (_draw_of_each_sample(samples, values) >= 0).all()


def test_noisy_samples_are_one_draw_plus_noise():
    values = _values(S=4, batch=(), q=3, m=1)
    noise = torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=DTYPE).reshape(4, 1, 1)
    posterior = SampleEnsemblePosterior.from_values(values, noise_variance=noise)
    base = torch.randn(torch.Size([50]) + posterior.base_sample_shape, dtype=DTYPE)
    samples = posterior.rsample_from_base_samples(torch.Size([50]), base)
    index = (torch.special.ndtr(base[..., 0]) * 4).floor().long()
    expected = values[index] + noise[index].sqrt() * base[..., 1:].reshape(50, 3, 1)
    torch.testing.assert_close(samples, expected)


def test_default_sampler_is_sobol_and_stratifies_the_draws():
    values = _values(S=8, batch=(), q=2, m=1)
    posterior = SampleEnsemblePosterior.from_values(values)
    sampler = get_sampler(posterior, torch.Size([128]), seed=0)
    assert isinstance(sampler, SobolQMCNormalSampler)
    draws = _draw_of_each_sample(sampler(posterior), values)
    # 128 points of a scrambled Sobol sequence form a (0, 7, 1)-net: 16 in each 1/8 interval.
    assert torch.bincount(draws, minlength=8).tolist() == [16] * 8


def test_get_sampler_dispatch():
    class Unregistered(Posterior):
        device, dtype = torch.device("cpu"), DTYPE

        def rsample(self, sample_shape=None):
            return torch.zeros(1)

    with pytest.raises(NotImplementedError, match="GetSampler.register"):
        get_sampler(Unregistered(), torch.Size([2]))

    class Subclass(SampleEnsemblePosterior):
        pass

    posterior = Subclass(
        lambda i: torch.zeros(len(i), 2, 1, dtype=DTYPE), 3, torch.Size([2, 1]), dtype=DTYPE, device="cpu"
    )
    assert isinstance(get_sampler(posterior, torch.Size([2]), seed=0), SobolQMCNormalSampler)


def test_sampler_falls_back_to_iid_beyond_the_sobol_dimension():
    values = torch.zeros(2, 21_300, 1, dtype=DTYPE)
    posterior = SampleEnsemblePosterior.from_values(values, noise_variance=torch.ones(2, 1, 1, dtype=DTYPE))
    assert isinstance(get_sampler(posterior, torch.Size([2]), seed=0), IIDNormalSampler)


@pytest.mark.parametrize(
    "make_sampler", [lambda: SobolQMCNormalSampler(torch.Size([16]), seed=3)], ids=["sobol"]
)
def test_fixed_base_samples_are_reproducible_and_shared_across_t_batches(make_sampler):
    values = _values(S=9, batch=(5,), q=2, m=1)
    posterior = SampleEnsemblePosterior.from_values(values)
    first, second = make_sampler()(posterior), make_sampler()(posterior)
    assert torch.equal(first, second)
    # common random numbers: every t-batch element uses the same draw for a given sample
    draws = _draw_of_each_sample(first, values)
    assert (draws == draws[:, :1]).all()


def test_index_sampler_is_reproducible():
    posterior = SampleEnsemblePosterior.from_values(_values(S=9, batch=(5,), q=2, m=1))
    first = IndexSampler(torch.Size([16]), seed=3)(posterior)
    assert torch.equal(first, IndexSampler(torch.Size([16]), seed=3)(posterior))


def test_stochastic_sampler_follows_the_global_seed():
    posterior = SampleEnsemblePosterior.from_values(_values())
    torch.manual_seed(1)
    first = StochasticSampler(torch.Size([8]))(posterior)
    torch.manual_seed(1)
    assert torch.equal(first, StochasticSampler(torch.Size([8]))(posterior))


def test_integer_base_samples_of_any_broadcastable_shape():
    values = _values(S=5, batch=(2, 3), q=2, m=1)
    posterior = SampleEnsemblePosterior.from_values(values)
    per_sample = torch.tensor([4, 0, 2])
    samples = posterior.rsample_from_base_samples(torch.Size([3]), per_sample)
    torch.testing.assert_close(samples, values[per_sample])
    per_batch = torch.randint(0, 5, (3, 2, 3))
    samples = posterior.rsample_from_base_samples(torch.Size([3]), per_batch)
    expected = torch.stack(
        [
            torch.stack([torch.stack([values[per_batch[s, i, j], i, j] for j in range(3)]) for i in range(2)])
            for s in range(3)
        ]
    )
    torch.testing.assert_close(samples, expected)


def test_gradients_flow_to_the_inputs():
    weights = torch.randn(6, 3, dtype=DTYPE)
    X = torch.rand(2, 4, 3, dtype=DTYPE, requires_grad=True)

    def evaluate(indices):
        return torch.tanh(X @ weights[indices].unsqueeze(-1).unsqueeze(1)).reshape(len(indices), 2, 4, 1)

    posterior = SampleEnsemblePosterior(evaluate, 6, torch.Size([2, 4, 1]), dtype=DTYPE, device=X.device)
    get_sampler(posterior, torch.Size([8]), seed=0)(posterior).sum().backward()
    assert torch.isfinite(X.grad).all() and (X.grad != 0).any()


def test_only_the_needed_draws_are_evaluated():
    values = _values(S=10, batch=(), q=2, m=1)
    calls = []

    def evaluate(indices):
        calls.append(indices.tolist())
        return values[indices]

    posterior = SampleEnsemblePosterior(evaluate, 10, values.shape[1:], dtype=DTYPE, device=values.device)
    samples = posterior.rsample_from_base_samples(torch.Size([4]), torch.tensor([7, 2, 7, 2]))
    torch.testing.assert_close(samples, values[[7, 2, 7, 2]])
    assert calls == [[2, 7]]
    posterior.mean, posterior.variance, posterior.values  # noqa: B018  (all draws, once)
    assert calls == [[2, 7], list(range(10))]


def test_affine_scalarisation():
    values = _values(S=5, batch=(2,), q=3, m=2)
    noise = torch.tensor([0.5, 2.0], dtype=DTYPE).expand(5, 1, 1, 2)
    posterior = SampleEnsemblePosterior.from_values(values, noise_variance=noise)
    weights = torch.tensor([2.0, -1.0], dtype=DTYPE)
    scalar = posterior.affine(weights, offset=3.0)
    combined = values @ weights.unsqueeze(-1) + 3.0
    torch.testing.assert_close(scalar.mean, combined.mean(0))
    torch.testing.assert_close(scalar.variance, combined.var(0, correction=0) + (4 * 0.5 + 1 * 2.0))
    assert scalar.rsample(torch.Size([4])).shape == (4, 2, 3, 1)


def test_index_base_samples_with_noise_are_unsupported():
    posterior = SampleEnsemblePosterior.from_values(
        _values(), noise_variance=torch.ones(7, 1, 1, 1, dtype=DTYPE)
    )
    with pytest.raises(UnsupportedError):
        IndexSampler(torch.Size([4]), seed=0)(posterior)


@pytest.mark.parametrize(
    "build",
    [
        lambda: SampleEnsemblePosterior.from_values(torch.zeros(3, 2, dtype=DTYPE)),
        lambda: SampleEnsemblePosterior.from_values(_values(), noise_variance=torch.ones(3, dtype=DTYPE)),
        lambda: SampleEnsemblePosterior.from_values(_values(), noise_variance=-torch.ones(1, dtype=DTYPE)),
        lambda: SampleEnsemblePosterior.from_values(_values()).rsample_from_base_samples(
            torch.Size([2]), torch.zeros(2, 3, dtype=DTYPE)
        ),
        lambda: SampleEnsemblePosterior.from_values(_values()).rsample_from_base_samples(
            torch.Size([2]), torch.tensor([0, 7])
        ),
        lambda: (
            SampleEnsemblePosterior(
                lambda i: torch.zeros(len(i), 5, 1, dtype=DTYPE),
                3,
                torch.Size([4, 1]),
                dtype=DTYPE,
                device="cpu",
            ).mean
        ),
    ],
    ids=["values_2d", "noise_shape", "noise_negative", "base_shape", "index_range", "evaluate_shape"],
)
def test_bad_input_raises(build):
    with pytest.raises(InputDataError):
        build()


def _every_posterior():
    """One of each posterior of bo.posteriors, with t-batch 2, q = 3, m = 1."""
    normal = torch.distributions.Normal(torch.zeros(2, 3, 1, dtype=DTYPE), torch.ones(2, 3, 1, dtype=DTYPE))
    tril = torch.eye(3, dtype=DTYPE).expand(2, 1, 3, 3)
    ones = torch.ones(1, dtype=DTYPE)
    return [
        SampleEnsemblePosterior.from_values(_values(S=5, batch=(2,), q=3, m=1)),
        MarginalPosterior(normal),
        ScaleMixtureNormalPosterior(torch.zeros(2, 3, 1, dtype=DTYPE), tril, 3 * ones, ones),
    ]


@pytest.mark.parametrize("posterior", _every_posterior(), ids=lambda p: type(p).__name__)
def test_every_posterior_gets_the_shared_normal_sampler_and_base_sample_check(posterior):
    sampler = get_sampler(posterior, torch.Size([8]), seed=0)
    assert isinstance(sampler, SobolQMCNormalSampler)
    assert torch.equal(sampler(posterior), normal_sampler(posterior, torch.Size([8]), seed=0)(posterior))
    assert sampler(posterior).shape == (8, 2, 3, 1)
    wrong = torch.zeros(torch.Size([8]) + posterior.base_sample_shape + (1,), dtype=DTYPE)
    expected = (8, *posterior.base_sample_shape)
    with pytest.raises(InputDataError, match=rf"`base_samples`.*shape {re.escape(str(expected))}"):
        posterior.rsample_from_base_samples(torch.Size([8]), wrong)
