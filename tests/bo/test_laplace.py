"""LaplaceBNN: the last-layer Laplace predictive is exactly Bayesian linear regression on the features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.posteriors import GPyTorchPosterior
from gpytorch.distributions import MultitaskMultivariateNormal

from bo.models import LaplaceBNN, LaplaceBNNConfig
from bo.testing import contract_objective
from probtheory.errors import InputDataError

DTYPE = torch.float64
TINY = dict(width=8, depth=2, map_steps=300, prior_var=2.0, noise_var=0.05, seed=0)


def _data(n=12, d=2, m=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=DTYPE)
    Y = contract_objective(X)
    if m > 1:
        Y = torch.cat([Y, (4 * X).cos().sum(-1, keepdim=True)], dim=-1)
    return X, Y


@pytest.fixture(scope="module")
def model():
    return LaplaceBNN(*_data(), jitter=0.0, **TINY).fit()


def _features(model, X):
    h = model.layout.features(model.map_weights.unsqueeze(0), X)[0].numpy()
    return np.concatenate([h, np.ones((len(h), 1))], axis=1)


def test_predictive_is_function_space_bayesian_linear_regression(model):
    # Brute force, function-space view: f = Phi w with w ~ N(0, prior_var I) is a GP with kernel
    # prior_var Phi Phi^T; condition it on y = f + N(0, noise_var) at the training inputs. The
    # Laplace code works in weight space (A = Phi^T Phi / noise_var + I / prior_var); the two agree
    # exactly, to float64 round-off.
    prior_var, noise_var = 2.0, 0.05
    Xt = torch.rand(5, 2, dtype=DTYPE)
    Phi, Phi_t = _features(model, model.train_X), _features(model, Xt)
    y = model.train_Y_standardized.numpy()
    K = prior_var * Phi @ Phi.T + noise_var * np.eye(len(Phi))
    K_t = prior_var * Phi_t @ Phi.T
    mean = K_t @ np.linalg.solve(K, y)
    cov = prior_var * Phi_t @ Phi_t.T - K_t @ np.linalg.solve(K, K_t.T)
    got_mean, got_cov = model.predictive_moments(Xt)
    np.testing.assert_allclose(got_mean.numpy(), mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got_cov.numpy(), cov, rtol=1e-7, atol=1e-10)
    # ... and in the original units of train_Y, jointly over the q-batch
    posterior = model.posterior(Xt)
    assert isinstance(posterior, GPyTorchPosterior)
    mu, sd = model.outcome_transform.means.item(), model.outcome_transform.stdvs.item()
    np.testing.assert_allclose(posterior.mean[:, 0].numpy(), mu + sd * mean[:, 0], rtol=1e-8)
    np.testing.assert_allclose(posterior.mvn.covariance_matrix.numpy(), sd**2 * cov, rtol=1e-7, atol=1e-10)


def test_mean_is_the_map_network_whose_last_layer_is_the_exact_mode(model):
    Xt = torch.rand(6, 2, dtype=DTYPE)
    mean, _ = model.predictive_moments(Xt)
    torch.testing.assert_close(mean, model.layout.forward(model.map_weights, Xt))
    # the gradient of the log posterior with respect to the output layer vanishes at the MAP
    theta = model.map_weights.clone().requires_grad_(True)
    prior_var, noise_var = model.variances.tolist()
    X, Y = model.train_X, model.train_Y_standardized
    log_post = model.layout.log_prior(theta, prior_var) + model.layout.log_likelihood(theta, X, Y, noise_var)
    log_post.backward()
    assert theta.grad[-(model.config.width + 1) :].abs().max() < 1e-8


def test_jitter_and_observation_noise_add_to_the_diagonal():
    X, Y = _data()
    model = LaplaceBNN(X, Y, jitter=1e-3, **TINY).fit()
    Xt = torch.rand(2, 3, 2, dtype=DTYPE)
    _, cov = model.predictive_moments(Xt)
    var = model.outcome_transform.stdvs.item() ** 2
    eye = torch.eye(3, dtype=DTYPE)
    plain = model.posterior(Xt).mvn.covariance_matrix
    torch.testing.assert_close(plain, var * (cov + 1e-3 * eye))
    noisy = model.posterior(Xt, observation_noise=True).mvn.covariance_matrix
    torch.testing.assert_close(noisy, var * (cov + (1e-3 + 0.05) * eye))


def test_two_outputs_share_the_covariance_and_give_a_multitask_posterior():
    X, Y = _data(m=2)
    model = LaplaceBNN(X, Y, jitter=0.0, **TINY).fit()
    Xt = torch.rand(4, 3, 2, dtype=DTYPE)
    posterior = model.posterior(Xt)
    assert isinstance(posterior.distribution, MultitaskMultivariateNormal)
    assert posterior.mean.shape == (4, 3, 2) and posterior.rsample(torch.Size([5])).shape == (5, 4, 3, 2)
    _, cov = model.predictive_moments(Xt)
    stdvs = model.outcome_transform.stdvs[0]
    torch.testing.assert_close(
        posterior.variance, cov.diagonal(dim1=-2, dim2=-1).unsqueeze(-1) * stdvs.square()
    )
    second = model.posterior(Xt, output_indices=[1])
    torch.testing.assert_close(second.mean, posterior.mean[..., 1:])


def test_bad_options_raise():
    with pytest.raises(InputDataError):
        LaplaceBNNConfig(jitter=-1.0)
    with pytest.raises(InputDataError):
        LaplaceBNNConfig(map_steps=-1)
