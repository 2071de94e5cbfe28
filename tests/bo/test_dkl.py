"""DKL: a SingleTaskGP whose kernel is a base kernel on MLP features, all trained by marginal likelihood."""

from __future__ import annotations

import pytest
import torch
from botorch.models import SingleTaskGP
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel

from bo.models import DKL, DKLConfig
from bo.testing import contract_objective
from probtheory.errors import ConfigurationError, InputDataError

DTYPE = torch.float64
TINY = dict(width=8, depth=2, train_steps=150, seed=0)


def _data(n=12, d=2, m=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=DTYPE)
    Y = contract_objective(X)
    if m > 1:
        Y = torch.cat([Y, (4 * X).cos().sum(-1, keepdim=True)], dim=-1)
    return X, Y


@pytest.fixture(scope="module")
def model():
    return DKL(*_data(), **TINY).fit()


def test_is_a_single_task_gp_with_a_deep_kernel(model):
    assert isinstance(model, SingleTaskGP)
    kernel = model.covar_module
    assert isinstance(kernel.base_kernel, ScaleKernel) and isinstance(
        kernel.base_kernel.base_kernel, MaternKernel
    )
    X1, X2 = torch.rand(5, 2, dtype=DTYPE), torch.rand(3, 2, dtype=DTYPE)
    with torch.no_grad():
        features1, features2 = kernel.feature_extractor(X1), kernel.feature_extractor(X2)
        expected = kernel.base_kernel(features1, features2).to_dense()
        torch.testing.assert_close(kernel(X1, X2).to_dense(), expected)
    assert features1.shape == (5, 2)  # feature_dim defaults to d


def test_network_and_hyperparameters_are_trained_jointly():
    X, Y = _data()
    untrained, trained = DKL(X, Y, **TINY), DKL(X, Y, **TINY).fit()
    first_layer = "covar_module.feature_extractor.0.weight"
    assert not torch.equal(untrained.state_dict()[first_layer], trained.state_dict()[first_layer])
    lengthscale = "covar_module.base_kernel.base_kernel.raw_lengthscale"
    assert not torch.equal(untrained.state_dict()[lengthscale], trained.state_dict()[lengthscale])
    losses = torch.tensor(trained.loss_trace)
    assert losses[-10:].mean() < losses[:10].mean()


def test_posterior_mean_is_gp_regression_with_the_deep_kernel(model):
    X, Y = model.train_inputs[0], model.train_targets.unsqueeze(-1)  # standardised targets
    Xt = torch.rand(4, 2, dtype=DTYPE)
    with torch.no_grad():
        K = model.covar_module(X).to_dense() + model.likelihood.noise * torch.eye(len(X), dtype=DTYPE)
        k_star = model.covar_module(Xt, X).to_dense()
        c = model.mean_module.constant
        mean_std = c + k_star @ torch.linalg.solve(K, Y - c)
        expected = model.outcome_transform.means + model.outcome_transform.stdvs * mean_std
        torch.testing.assert_close(model.posterior(Xt).mean, expected)


def test_is_reproducible_under_its_seed():
    X, Y = _data()
    Xt = torch.rand(3, 2, dtype=DTYPE)

    def mean(seed):
        with torch.no_grad():
            return DKL(X, Y, width=8, train_steps=20, seed=seed).fit().posterior(Xt).mean

    assert torch.equal(mean(1), mean(1))
    assert not torch.equal(mean(1), mean(2))


def test_two_outputs_and_rbf_features():
    X, Y = _data(m=2)
    model = DKL(X, Y, width=8, train_steps=30, feature_dim=3, base_kernel="rbf", seed=0).fit()
    assert isinstance(model.covar_module.base_kernel.base_kernel, RBFKernel)
    Xt = torch.rand(2, 3, 2, dtype=DTYPE)
    posterior = model.posterior(Xt)
    assert posterior.mean.shape == (2, 3, 2)
    torch.testing.assert_close(model.posterior(Xt, output_indices=[1]).mean, posterior.mean[..., 1:])


def test_bad_options_raise():
    X, Y = _data()
    with pytest.raises(InputDataError):
        DKL(X, Y, base_kernel="periodic")
    with pytest.raises(InputDataError):
        DKL(X, Y, feature_dim=0)
    with pytest.raises(ConfigurationError):
        DKL(X, Y, steps=3)
    assert DKL(X, Y, config=DKLConfig(width=4)).config.width == 4


def test_noise_stays_above_its_bound_on_noise_free_data():
    # BoTorch's noise constraint has no transform: without the projection after each Adam step the
    # noise of this noise-free fit crossed 1e-4 and turned negative (a NotPSDError, or the
    # log-normal noise prior raising, as in a BO benchmark run on Branin)
    X = torch.rand(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    model = DKL(X, X.sum(-1, keepdim=True), width=8, train_steps=600, lr=0.1, seed=0).fit()
    assert (model.likelihood.noise >= 1e-4).all()
    assert torch.isfinite(torch.tensor(model.loss_trace)).all()


def test_features_are_rescaled_with_the_bounds_of_the_final_network():
    """The stored scaling is the range of the final network's training features, not the last step's."""
    X = torch.rand(12, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    model = DKL(X, X.sum(-1, keepdim=True), width=8, train_steps=20, seed=0).fit()
    network, scaling = model.covar_module.feature_extractor[:-1], model.covar_module.feature_extractor[-1]
    raw = network(model.train_inputs[0]).detach()
    assert scaling.min_val.item() == raw.min().item() and scaling.max_val.item() == raw.max().item()
    features = model.covar_module.feature_extractor(model.train_inputs[0]).detach()
    assert features.min().item() == pytest.approx(-0.95, abs=1e-12)
    assert features.max().item() == pytest.approx(0.95, abs=1e-12)
    far = model.covar_module.feature_extractor(torch.full((1, 3), 5.0, dtype=torch.float64)).detach()
    assert far.abs().max().item() <= 0.95 + 1e-12  # inputs outside the data are clamped to the same range
