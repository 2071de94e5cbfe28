"""The BoTorch surrogates of bo.models: the shared contract plus model-specific checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.acquisition.objective import ScalarizedPosteriorTransform

from bo.models import (
    DKL,
    GP,
    HMCBNN,
    IBNN,
    SVIBNN,
    DeepEnsemble,
    DeepEnsembleConfig,
    IBNNConfig,
    LaplaceBNN,
    StudentTP,
)
from bo.posteriors import SampleEnsemblePosterior
from bo.testing import SurrogateContract, contract_objective
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.kernels import NNGPKernel

DTYPE = torch.float64


# ---------------------------------------------------------------------------- the contract
class TestGPContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return GP(train_X, train_Y)


class TestIBNNContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return IBNN(train_X, train_Y)


class TestIBNNErfContract(SurrogateContract):
    d = 3

    def make_model(self, train_X, train_Y):
        return IBNN(train_X, train_Y, activation="erf", depth=2)


class TestDeepEnsembleContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return DeepEnsemble(train_X, train_Y, n_models=5, steps=100, seed=0)


class TestHMCBNNContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return HMCBNN(
            train_X, train_Y, width=8, num_samples=8, warmup_steps=10, max_tree_depth=4, map_steps=200, seed=0
        )


class TestSVIBNNContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return SVIBNN(train_X, train_Y, width=8, steps=150, num_draws=16, seed=0)


class TestLaplaceBNNContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return LaplaceBNN(train_X, train_Y, width=8, map_steps=300, seed=0)


class TestStudentTPContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return StudentTP(train_X, train_Y, steps=30)


class TestDKLContract(SurrogateContract):
    def make_model(self, train_X, train_Y):
        return DKL(train_X, train_Y, width=8, train_steps=100, seed=0)


# ---------------------------------------------------------------------------- helpers
def _data(n=10, d=2, m=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=DTYPE)
    Y = contract_objective(X)
    if m > 1:
        Y = torch.cat([Y, (X * 4).cos().sum(-1, keepdim=True)], dim=-1)[:, :m]
    return X, Y


# ---------------------------------------------------------------------------- IBNN
def _relu_depth1_oracle(x1, x2, weight_variance, bias_variance):
    """sigma_b^2 + (sigma_w^2 / 2) k_arccos1 of the base kernel (Cho & Saul, NeurIPS 2009), in numpy."""
    x1, x2 = x1.numpy(), x2.numpy()
    d = x1.shape[-1]

    def base(a, b):
        return bias_variance + weight_variance * (a @ b.T) / d

    k12 = base(x1, x2)
    n1 = np.sqrt(np.diag(base(x1, x1)))[:, None]
    n2 = np.sqrt(np.diag(base(x2, x2)))[None, :]
    theta = np.arccos(np.clip(k12 / (n1 * n2), -1.0, 1.0))
    arccos1 = n1 * n2 * (np.sin(theta) + (math.pi - theta) * np.cos(theta)) / math.pi
    return bias_variance + weight_variance / 2 * arccos1


def test_ibnn_relu_depth1_matches_the_arccos_oracle():
    X, Y = _data(d=3)
    model = IBNN(X, Y, depth=1, activation="relu", weight_variance=3.0, bias_variance=0.7)
    X2 = torch.rand(5, 3, dtype=DTYPE)
    kernel = model.covar_module(X, X2).to_dense().detach()
    np.testing.assert_allclose(kernel.numpy(), _relu_depth1_oracle(X, X2, 3.0, 0.7), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_ibnn_kernel_is_the_nngp_kernel_with_fitted_hyperparameters(activation):
    X, Y = _data()
    model = IBNN(X, Y, activation=activation, depth=3).fit()
    wv, bv = model.covar_module.weight_variance.item(), model.covar_module.bias_variance.item()
    assert (wv, bv) != (10.0, 1.3), "the NNGP hyperparameters were not fitted"
    reference = NNGPKernel(depth=3, activation=activation).double()
    reference.weight_variance, reference.bias_variance = wv, bv
    X2 = torch.rand(4, 2, dtype=DTYPE)
    torch.testing.assert_close(model.covar_module(X, X2).to_dense(), reference(X, X2).to_dense())


def test_ibnn_posterior_mean_is_kernel_regression_with_the_nngp_kernel():
    X, Y = _data()
    model = IBNN(X, Y).fit()
    Xt = torch.rand(6, 2, dtype=DTYPE)
    with torch.no_grad():
        K = model.covar_module(X).to_dense() + model.likelihood.noise * torch.eye(len(X), dtype=DTYPE)
        k_star = model.covar_module(Xt, X).to_dense()
        c = model.mean_module.constant
        y_std = (Y - model.outcome_transform.means) / model.outcome_transform.stdvs
        mean_std = c + k_star @ torch.linalg.solve(K, y_std - c)
        expected = model.outcome_transform.means + model.outcome_transform.stdvs * mean_std
        torch.testing.assert_close(model.posterior(Xt).mean, expected)


def test_ibnn_options_and_config_are_one_thing():
    X, Y = _data()
    a = IBNN(X, Y, depth=2, activation="erf")
    b = IBNN(X, Y, config=IBNNConfig(depth=2, activation="erf"))
    assert a.config == b.config and a.covar_module.depth == 2
    with pytest.raises(ConfigurationError, match="width"):
        IBNN(X, Y, width=3)
    with pytest.raises(ConfigurationError):
        IBNN(X, Y, config=IBNNConfig(), depth=2)
    with pytest.raises(InputDataError) as info:
        IBNN(X, Y, activation="tanh")
    assert info.value.argument == "activation"


# ---------------------------------------------------------------------------- DeepEnsemble
@pytest.fixture(scope="module")
def ensemble():
    X, Y = _data()
    return DeepEnsemble(X, Y, n_models=4, steps=200, seed=0).fit()


def test_ensemble_mean_is_the_average_of_member_networks(ensemble):
    Xt = torch.rand(3, 5, 2, dtype=DTYPE)
    with torch.no_grad():
        members = torch.stack([net(Xt) for net in ensemble.member_networks()])  # S x 3 x 5 x 1, standardised
        members, _ = ensemble.outcome_transform.untransform(members)
        posterior = ensemble.posterior(Xt)
        assert isinstance(posterior, SampleEnsemblePosterior) and posterior.num_draws == 4
        torch.testing.assert_close(posterior.values, members)
        torch.testing.assert_close(posterior.mean, members.mean(0))
        torch.testing.assert_close(posterior.variance, members.var(0, correction=0))
        assert (members.std(0) > 0).all(), "members should differ (own init and own data subset)"


def test_each_member_trains_on_its_own_subset_without_replacement(ensemble):
    subsets = ensemble.member_subsets
    assert subsets.shape == (4, 8)  # round(0.8 * 10) points per member
    assert all(len(set(row.tolist())) == 8 for row in subsets), "a subset repeats a point (bootstrap?)"
    assert len({tuple(sorted(row.tolist())) for row in subsets}) > 1, "all members share one subset"


def test_ensemble_fits_its_training_data(ensemble):
    # noise_var = 0.1 on the standardised scale: the MAP fit leaves residuals of that order.
    with torch.no_grad():
        residual = (
            ensemble.posterior(ensemble.train_X).mean - ensemble.train_Y
        ) / ensemble.outcome_transform.stdvs
    assert residual.square().mean().sqrt() < 0.5


def test_ensemble_observation_noise_is_the_likelihood_variance(ensemble):
    Xt = torch.rand(4, 2, dtype=DTYPE)
    with torch.no_grad():
        plain = ensemble.posterior(Xt).variance
        noisy = ensemble.posterior(Xt, observation_noise=True).variance
        expected = plain + ensemble.config.noise_var * ensemble.outcome_transform.stdvs.square()
    torch.testing.assert_close(noisy, expected)


def test_ensemble_is_reproducible_under_its_seed():
    X, Y = _data()
    Xt = torch.rand(4, 2, dtype=DTYPE)

    def mean(**options):
        with torch.no_grad():
            return DeepEnsemble(X, Y, n_models=3, steps=20, **options).fit().posterior(Xt).mean

    assert torch.equal(mean(seed=1), mean(seed=1))
    assert not torch.equal(mean(seed=1), mean(seed=2))
    torch.manual_seed(7)
    first = mean()
    torch.manual_seed(7)
    assert torch.equal(first, mean())


@pytest.mark.parametrize(
    "options",
    [
        {"n_models": 0},
        {"train_prop": 1.5},
        {"activation": "gelu"},
        {"prior_var": -1.0},
        {"steps": 2.5},
        {"select_hyperparameters": "yes"},
    ],
)
def test_ensemble_rejects_bad_options(options):
    X, Y = _data()
    with pytest.raises(InputDataError):
        DeepEnsemble(X, Y, **options)


def test_ensemble_config_object():
    X, Y = _data()
    model = DeepEnsemble(X, Y, config=DeepEnsembleConfig(n_models=2, steps=5, seed=0))
    assert model.num_draws == 2
    with pytest.raises(ConfigurationError, match="n_model"):
        DeepEnsemble(X, Y, n_model=2)


# ---------------------------------------------------------------------------- several outputs
@pytest.mark.parametrize(
    "make",
    [
        lambda X, Y: GP(X, Y),
        lambda X, Y: IBNN(X, Y, depth=2),
        lambda X, Y: DeepEnsemble(X, Y, n_models=3, steps=30, seed=0),
    ],
    ids=["GP", "IBNN", "DeepEnsemble"],
)
def test_two_outputs(make):
    X, Y = _data(m=2)
    model = make(X, Y).fit()
    assert model.num_outputs == 2
    Xt = torch.rand(3, 4, 2, dtype=DTYPE)
    posterior = model.posterior(Xt)
    assert posterior.mean.shape == (3, 4, 2)
    assert posterior.rsample(torch.Size([5])).shape == (5, 3, 4, 2)
    second = model.posterior(Xt, output_indices=[1])
    torch.testing.assert_close(second.mean, posterior.mean[..., 1:])
    weights = torch.tensor([0.5, 2.0], dtype=DTYPE)
    scalar = model.posterior(Xt, posterior_transform=ScalarizedPosteriorTransform(weights))
    torch.testing.assert_close(scalar.mean, posterior.mean @ weights.unsqueeze(-1))


# ---------------------------------------------------------------------------- persistence
@pytest.mark.parametrize(
    "make",
    [lambda X, Y: IBNN(X, Y, depth=2), lambda X, Y: DeepEnsemble(X, Y, n_models=3, steps=30, seed=0)],
    ids=["IBNN", "DeepEnsemble"],
)
def test_a_loaded_state_dict_is_a_fitted_surrogate(make):
    X, Y = _data()
    fitted = make(X, Y).fit()
    restored = make(X, Y)
    assert not restored.is_fitted
    restored.load_state_dict(fitted.state_dict())
    assert restored.is_fitted
    Xt = torch.rand(4, 2, dtype=DTYPE)
    torch.testing.assert_close(restored.posterior(Xt).mean, fitted.posterior(Xt).mean)
