"""The curve prior: basis formulas, the rejection step, and equality in distribution with a
literal one-curve-at-a-time transcription of the reference sampler."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from probtheory.errors import InputDataError
from probtheory.lcpfn import BASIS_CURVES, PEAKED_PRIORS, UNIFORM_PRIORS, CurvePrior


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_basis_formulas_at_hand_computed_points():
    t = torch.tensor([2.0], dtype=torch.float64)
    one = torch.tensor(1.0, dtype=torch.float64)
    half = torch.tensor(0.5, dtype=torch.float64)
    assert BASIS_CURVES["pow3"](t, c=one, a=half, alpha=one).item() == pytest.approx(0.75)
    assert BASIS_CURVES["ilog2"](t, c=one, a=half).item() == pytest.approx(1 - 0.5 / math.log(3))
    expected = 1 - (1 - 0.5) * math.exp(-0.5 * 2**1)
    assert BASIS_CURVES["janoschek"](t, a=one, beta=half, k=half, delta=one).item() == pytest.approx(expected)
    assert BASIS_CURVES["weibull"](t, alpha=one, beta=half, kappa=half, delta=one).item() == pytest.approx(
        1 - 0.5 * math.exp(-1.0)
    )
    assert BASIS_CURVES["mmf"](t, alpha=one, beta=half, kappa=half, delta=one).item() == pytest.approx(0.75)
    assert len(BASIS_CURVES) == 11
    with pytest.raises(InputDataError, match="pow3 parameters"):
        BASIS_CURVES["pow3"](t, c=one)


def test_accepted_curves_satisfy_the_rejection_rules():
    prior = CurvePrior()
    params = prior.sample_parameters(5000, 100, _g())
    curve = prior.mean_curve(params, prior.epochs(100))
    assert ((curve >= 0) & (curve <= 1)).all()
    assert (curve[:, -1] > curve[:, 0]).all()
    # log sigma ~ N(-4, 1) is independent of the rejection step: median within 4 standard errors
    se = 1.2533 / math.sqrt(5000)
    assert abs(params["log_sigma"].median().item() + 4) < 4 * se
    noisy = prior.sample(2000, 100, _g(1)).y
    outside = ((noisy < 0) | (noisy > 1)).double().mean().item()
    assert 0 < outside < 0.05


def test_sampling_is_reproducible_and_shaped():
    prior = CurvePrior()
    a, b = prior.sample(16, 100, _g(3)), prior.sample(16, 100, _g(3))
    assert torch.equal(a.y, b.y) and a.y.shape == (16, 100) and a.x.shape == (16, 100, 1)
    assert torch.allclose(a.x[0, :, 0], torch.arange(1, 101, dtype=torch.float64) / 100)


def _reference_curve(rng: np.random.Generator, seq_len=100):
    """The reference prior, transcribed literally: one curve at a time, `while True` rejection."""
    t = np.arange(1, seq_len + 1, dtype=np.float64)
    while True:
        y = np.zeros(seq_len)
        a, c, alpha = rng.uniform(-0.6, 0.6), rng.uniform(0, 1.25), rng.lognormal(0, 2)
        y += rng.uniform() * (c - a * t ** (-alpha))
        c, a = rng.uniform(0, 1), rng.uniform(-0.5, 0.5)
        y += rng.uniform() * (c - a / np.log(t + 1))
        a, beta, k, delta = rng.uniform(0, 1), rng.uniform(0, 2), rng.lognormal(-2, 1), rng.lognormal(0, 0.5)
        y += rng.uniform() * (a - (a - beta) * np.exp(-k * t**delta))
        sigma = np.exp(rng.normal(-4, 1))
        if y[-1] > y[0] and np.all((y >= 0) & (y <= 1)) and not np.isnan(y).any():
            return y, sigma


def test_vectorised_sampler_matches_the_reference_in_distribution():
    rng = np.random.default_rng(0)
    ref = [_reference_curve(rng) for _ in range(1500)]
    ref_y = np.stack([r[0] for r in ref])
    prior = CurvePrior()
    params = prior.sample_parameters(1500, 100, _g(5))
    ours = prior.mean_curve(params, prior.epochs(100)).numpy()
    for name, a, b in [
        ("y(1)", ours[:, 0], ref_y[:, 0]),
        ("y(10)", ours[:, 9], ref_y[:, 9]),
        ("y(100)", ours[:, -1], ref_y[:, -1]),
        ("gain", ours[:, -1] - ours[:, 0], ref_y[:, -1] - ref_y[:, 0]),
    ]:
        assert stats.ks_2samp(a, b).pvalue > 1e-3, name


def test_uniform_variant_and_custom_priors():
    prior = CurvePrior(parameter_priors={k: dict(v) for k, v in UNIFORM_PRIORS.items()})
    assert prior.sample(8, 50, _g()).y.shape == (8, 50)
    custom = CurvePrior(
        components=("weibull",),
        parameter_priors={
            "weibull": {
                "alpha": ("uniform", 0.5, 1.0),
                "beta": ("uniform", 0.0, 0.3),
                "kappa": ("lognormal", -2.0, 0.5),
                "delta": ("uniform", 0.5, 1.5),
            }
        },
    )
    curves = custom.mean_curve(custom.sample_parameters(100, 100, _g()), custom.epochs(100))
    assert (curves[:, -1] > curves[:, 0]).all()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"components": ("nope",)}, "components"),
        ({"components": ()}, "components"),
        ({"components": ("pow3",), "parameter_priors": {"pow3": {"a": ("uniform", 0, 1)}}}, "pow3"),
        ({"max_epochs": 1}, "max_epochs"),
    ],
)
def test_bad_prior_configuration(kwargs, argument):
    with pytest.raises(InputDataError, match=argument):
        CurvePrior(**kwargs)


def test_bad_sampling_arguments():
    prior = CurvePrior()
    with pytest.raises(InputDataError, match="seq_len"):
        prior.sample(2, 101, _g())
    with pytest.raises(InputDataError, match=r"parameter_priors\['pow3'\]\['a'\]"):  # at construction
        CurvePrior(parameter_priors={**PEAKED_PRIORS, "pow3": {**PEAKED_PRIORS["pow3"], "a": ("beta", 0, 1)}})
