"""SVIBNN: the ELBO is maximised, the posterior is a fixed set of draws from the AutoNormal guide."""

from __future__ import annotations

import pyro
import pytest
import torch

from bo.models import SVIBNN, SVIBNNConfig
from bo.posteriors import SampleEnsemblePosterior
from bo.testing import contract_objective
from probtheory.errors import InputDataError

DTYPE = torch.float64
TINY = dict(width=8, depth=1, steps=300, num_draws=400, seed=0)


def _data(n=10, d=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=DTYPE)
    return X, contract_objective(X)


@pytest.fixture(scope="module")
def model():
    return SVIBNN(*_data(), **TINY).fit()


def test_the_elbo_increases(model):
    trace = torch.tensor(model.elbo_trace)
    assert len(trace) == 300
    assert trace[-30:].mean() > trace[:30].mean() + 10


def test_draws_come_from_the_fitted_guide(model):
    # S = 400 draws of N(loc, scale^2) per coordinate: the sample mean is within 5 standard
    # errors (5 * scale / sqrt(S)) of loc, and the sample std within 5 * scale / sqrt(2 S) of scale.
    S = model.num_draws
    draws = model.weight_samples
    assert draws.shape == (S, model.layout.num_params)
    assert (model.guide_scale > 0).all()
    assert ((draws.mean(0) - model.guide_loc).abs() < 5 * model.guide_scale / S**0.5).all()
    assert ((draws.std(0) - model.guide_scale).abs() < 5 * model.guide_scale / (2 * S) ** 0.5).all()


def test_posterior_is_deterministic_after_fit(model):
    Xt = torch.rand(3, 4, 2, dtype=DTYPE)
    first, second = model.posterior(Xt), model.posterior(Xt)
    assert isinstance(first, SampleEnsemblePosterior) and first.num_draws == 400
    assert torch.equal(first.values, second.values)
    with torch.no_grad():
        draws, _ = model.outcome_transform.untransform(
            model.layout.forward(model.weight_samples, Xt.reshape(-1, 2))
        )
    torch.testing.assert_close(first.values, draws.reshape(400, 3, 4, 1))


def test_posterior_mean_fits_the_training_data(model):
    with torch.no_grad():
        residual = (model.posterior(model.train_X).mean - model.train_Y) / model.outcome_transform.stdvs
    assert residual.square().mean().sqrt() < 0.6


def test_fit_is_reproducible_and_keeps_the_users_param_store():
    pyro.clear_param_store()
    pyro.param("users_parameter", torch.ones(2))
    X, Y = _data()
    options = dict(TINY, steps=20, num_draws=8)
    first = SVIBNN(X, Y, **options).fit().weight_samples
    assert torch.equal(SVIBNN(X, Y, **options).fit().weight_samples, first)
    assert list(pyro.get_param_store().keys()) == ["users_parameter"]
    assert not torch.equal(SVIBNN(X, Y, **dict(options, seed=1)).fit().weight_samples, first)
    pyro.clear_param_store()


@pytest.mark.parametrize(
    "options", [{"num_draws": 0}, {"steps": -1}, {"init_scale": 0.0}, {"num_particles": 0}]
)
def test_bad_options_raise(options):
    with pytest.raises(InputDataError):
        SVIBNNConfig(**options)
