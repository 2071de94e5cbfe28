"""GaussianEmbedding / PhysicsInformedGaussians (Kang et al., ICLR 2025): exact mixtures and derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from probtheory.layers import GaussianEmbedding, PhysicsInformedGaussians


def _random_mixture(n: int, d: int, k: int, *, full: bool, seed: int):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-1, 1, (n, d))
    if full:
        a = rng.normal(size=(n, d, d)) * 0.3
        covariances = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(d)
    else:
        covariances = np.stack([np.diag(s) for s in rng.uniform(0.05, 0.5, (n, d))])
    features = rng.normal(size=(n, k))
    return means, covariances, features


def _analytic(x, means, covariances, features):
    """Value, gradient and Hessian of sum_i f_i exp(-q_i / 2), written out by hand in numpy.

    The value goes through scipy's normalised density times sqrt((2 pi)^d det Sigma), an
    independent route to exp(-q / 2); the derivatives are d G = -G P r and
    d^2 G = G (P r r^T P - P) with P = Sigma^{-1}, r = x - mu.
    """
    n_points, d = x.shape
    k = features.shape[1]
    value = np.zeros((n_points, k))
    grad = np.zeros((n_points, k, d))
    hess = np.zeros((n_points, k, d, d))
    for mu, cov, f in zip(means, covariances, features, strict=True):
        g = multivariate_normal(mu, cov).pdf(x).reshape(n_points) * np.sqrt(
            (2 * np.pi) ** d * np.linalg.det(cov)
        )
        precision = np.linalg.inv(cov)
        pr = (x - mu) @ precision  # n x d (P symmetric)
        value += g[:, None] * f
        grad += -(g[:, None, None] * pr[:, None, :]) * f[None, :, None]
        outer = pr[:, :, None] * pr[:, None, :] - precision
        hess += g[:, None, None, None] * outer[:, None] * f[None, :, None, None]
    return value, grad, hess


@pytest.mark.parametrize(("d", "full"), [(1, False), (2, False), (2, True), (3, True)])
def test_reproduces_a_known_mixture_with_its_derivatives(d, full):
    n, k = 5, 3
    means, covariances, features = _random_mixture(n, d, k, full=full, seed=d)
    embedding = GaussianEmbedding(d, n, k, full_covariance=full, seed=0).double()
    embedding.set_mixture(*(torch.from_numpy(a) for a in (means, covariances, features)))
    torch.testing.assert_close(embedding.covariance(), torch.from_numpy(covariances), rtol=0, atol=1e-14)

    x_np = np.random.default_rng(10 + d).uniform(-1.2, 1.2, (40, d))
    value, grad, hess = _analytic(x_np, means, covariances, features)
    x = torch.from_numpy(x_np).requires_grad_(True)
    out = embedding(x)
    assert np.abs(out.detach().numpy() - value).max() <= 1e-12
    for c in range(k):
        (g,) = torch.autograd.grad(out[:, c].sum(), x, create_graph=True)
        assert np.abs(g.detach().numpy() - grad[:, c]).max() <= 1e-12
        for j in range(d):
            (h,) = torch.autograd.grad(g[:, j].sum(), x, retain_graph=True)
            assert np.abs(h.numpy() - hess[:, c, j]).max() <= 1e-12


def test_covariance_stays_positive_definite_under_arbitrary_parameters():
    embedding = GaussianEmbedding(3, 20, 2, full_covariance=True, seed=1).double()
    with torch.no_grad():
        embedding.log_scales.normal_(0, 2)
        embedding.off_diagonal.normal_(0, 5)
    eigenvalues = torch.linalg.eigvalsh(embedding.covariance())
    assert bool((eigenvalues > 0).all())


def test_parameters_all_receive_gradients_and_batch_dims_broadcast():
    embedding = GaussianEmbedding(2, 6, 4, full_covariance=True, seed=0)
    x = torch.rand(3, 5, 2)
    out = embedding(x)
    assert out.shape == (3, 5, 4)
    torch.testing.assert_close(out[1], embedding(x[1]))
    out.square().sum().backward()
    for name, p in embedding.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_initialisation_follows_the_code_and_is_seeded():
    a = GaussianEmbedding(2, 500, 4, scale=0.2, low=0.0, high=2.0, seed=3)
    b = GaussianEmbedding(2, 500, 4, scale=0.2, low=0.0, high=2.0, seed=3)
    torch.testing.assert_close(a.means, b.means)
    assert float(a.means.detach().min()) >= 0.0 and float(a.means.detach().max()) <= 2.0
    torch.testing.assert_close(a.log_scales.exp(), torch.full((500, 2), 0.2))
    assert 0.008 < float(a.features.detach().std()) < 0.012


def test_float32_input_keeps_its_dtype_in_a_float64_module():
    embedding = GaussianEmbedding(1, 4, 2, seed=0).double()
    assert embedding(torch.rand(3, 1)).dtype == torch.float32


def test_pig_model_is_the_embedding_then_a_tanh_mlp():
    model = PhysicsInformedGaussians(2, 16, features=4, hidden_features=8, seed=0).double()
    x = torch.rand(10, 2, dtype=torch.float64)
    head = model.head
    expected = head[2](torch.tanh(head[0](model.embedding(x))))
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    assert model(x).shape == (10, 1)
    linear = PhysicsInformedGaussians(1, 4, depth=0, seed=0)
    assert len(linear.head) == 1
    other = PhysicsInformedGaussians(2, 16, features=4, hidden_features=8, seed=0).double()
    torch.testing.assert_close(model(x), other(x))
