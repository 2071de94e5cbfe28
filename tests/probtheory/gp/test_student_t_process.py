"""Student-t process: closed forms against scipy's multivariate t, fitting, limits, bad input."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from probtheory.errors import InputDataError
from probtheory.gp import StudentTProcess
from probtheory.kernels import NNGPKernel


def _data(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64)
    return x, torch.sin(4 * x[:, 0]) + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)


def _tp(x, y, a=2.5, b=1.7, noise=0.1):
    return StudentTProcess(x, y, NNGPKernel(depth=2, weight_variance=1.5, bias_variance=0.1), a, b, noise)


def _shape(tp, x):
    with torch.no_grad():
        k = tp.kernel(x).to_dense() + tp.noise * torch.eye(len(x), dtype=torch.float64)
    return (tp.rate / tp.concentration).item() * k.numpy()


def test_marginal_likelihood_is_scipy_multivariate_t():
    x, y = _data()
    tp = _tp(x, y)
    ref = stats.multivariate_t(loc=np.zeros(8), shape=_shape(tp, x), df=5.0).logpdf(y.numpy())
    assert tp.marginal_log_likelihood().item() == pytest.approx(ref, abs=1e-10)


def test_predictive_is_the_conditional_of_the_joint_t():
    """log p(y* | y) = log t_{n+1}([y, y*]) - log t_n(y), with the joint built independently."""
    x, y = _data()
    xs = torch.rand(3, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    tp = _tp(x, y)
    pred = tp.posterior(xs)
    assert pred.df[0].item() == 2 * 2.5 + 8
    for i in range(3):
        ys = 0.3 * i - 0.2
        joint_x = torch.cat([x, xs[i : i + 1]])
        joint = stats.multivariate_t(loc=np.zeros(9), shape=_shape(tp, joint_x), df=5.0)
        marginal = stats.multivariate_t(loc=np.zeros(8), shape=_shape(tp, x), df=5.0)
        ref = joint.logpdf(np.append(y.numpy(), ys)) - marginal.logpdf(y.numpy())
        assert pred.log_prob(torch.tensor(ys, dtype=torch.float64))[i].item() == pytest.approx(ref, abs=1e-9)


def test_large_a_b_recovers_the_gaussian_process():
    """a = b -> infinity: the predictive tends to the GP with kernel K + noise, gap O(1/a)."""
    x, y = _data()
    xs = torch.rand(4, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    gaps = []
    for a in (10.0, 100.0, 1000.0):
        tp = _tp(x, y, a=a, b=a)
        with torch.no_grad():
            k = tp.kernel(x).to_dense() + tp.noise * torch.eye(8, dtype=torch.float64)
            ks = tp.kernel(xs, x).to_dense()
            mean = ks @ torch.linalg.solve(k, y)
            var = tp.kernel(xs, diag=True) + tp.noise - (ks * torch.linalg.solve(k, ks.T).T).sum(-1)
            gp = torch.distributions.Normal(mean, var.sqrt())
            pred = tp.posterior(xs)
            ys = mean + 0.5
            gaps.append((pred.log_prob(ys) - gp.log_prob(ys)).abs().max().item())
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-2
    assert gaps[1] / gaps[2] > 5  # ~10x per decade of a


def test_fit_improves_the_marginal_likelihood_and_learns_heavy_tails():
    g = torch.Generator().manual_seed(1)
    x = torch.linspace(0, 1, 40, dtype=torch.float64)[:, None]
    noise = torch.distributions.StudentT(1.0).sample((40,)).double() * 0.05
    y = torch.sin(6 * x[:, 0]) + noise + 0.01 * torch.randn(40, generator=g, dtype=torch.float64)
    tp = StudentTProcess(x, (y - y.mean()) / y.std(), NNGPKernel(depth=2, bias_variance=0.1))
    history = tp.fit(steps=60, lr=0.05, progress=False)
    assert history[-1] < history[0] - 0.02
    assert all(math.isfinite(h) for h in history)


def test_rejects_bad_input():
    x, y = _data()
    with pytest.raises(InputDataError, match="concentration"):
        StudentTProcess(x, y, concentration=0.0)
    with pytest.raises(InputDataError, match="rate"):
        StudentTProcess(x, y, rate=-1.0)
    with pytest.raises(InputDataError, match="train_y"):
        StudentTProcess(x, y[:3])
    with pytest.raises(InputDataError, match="test_x"):
        _tp(x, y).posterior(torch.rand(2, 3, dtype=torch.float64))
    bad = y.clone()
    bad[0] = float("nan")
    with pytest.raises(InputDataError, match="train_y"):
        StudentTProcess(x, bad)


@pytest.mark.parametrize(("name", "n"), [("syn-normal", 100), ("syn-t", 300)])
def test_synthetic_regression_sets(name, n):
    from probtheory.gp import synthetic_regression

    d = synthetic_regression(name)
    assert len(d.train_y) + len(d.valid_y) + len(d.test_y) == n
    assert d.train_x.shape == (len(d.train_y), 1)
    assert abs(d.train_y.mean().item()) < 1e-12 and abs(d.train_y.std(unbiased=False).item() - 1) < 1e-12
    assert torch.equal(synthetic_regression(name).test_y, d.test_y)
    with pytest.raises(InputDataError, match="name"):
        synthetic_regression("boston")


def test_joint_posterior_is_the_conditional_of_the_joint_t():
    """log p(y*_1, y*_2 | y) = log t_{n+2}([y, y*]) - log t_n(y): the joint over two test points."""
    x, y = _data()
    xs = torch.rand(2, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    tp = _tp(x, y)
    with torch.no_grad():
        joint = tp.joint_posterior(xs, observation_noise=True)
    assert joint.mean.shape == (2,) and joint.unit_covariance.shape == (2, 2)
    assert joint.df.item() == pytest.approx(2 * 2.5 + 8, rel=1e-12)  # a is stored via a softplus
    conditional = stats.multivariate_t(joint.mean.numpy(), joint.shape_matrix.numpy(), df=joint.df.item())
    marginal = stats.multivariate_t(loc=np.zeros(8), shape=_shape(tp, x), df=5.0)
    full = stats.multivariate_t(loc=np.zeros(10), shape=_shape(tp, torch.cat([x, xs])), df=5.0)
    for ys in ([0.1, -0.4], [1.5, 1.2], [-2.0, 0.7]):
        ref = full.logpdf(np.append(y.numpy(), ys)) - marginal.logpdf(y.numpy())
        assert conditional.logpdf(np.array(ys)) == pytest.approx(ref, abs=1e-9)


def test_joint_posterior_is_a_normal_inverse_gamma_mixture_of_the_gaussian_conditional():
    """mean and unit covariance are the GP conditional's; concentration a + n/2, rate b + y^T S^-1 y / 2."""
    x, y = _data()
    xs = torch.rand(3, 2, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    tp = _tp(x, y)
    with torch.no_grad():
        latent, noisy = tp.joint_posterior(xs), tp.joint_posterior(xs, observation_noise=True)
        k = tp.kernel(x).to_dense() + tp.noise * torch.eye(8, dtype=torch.float64)
        ks = tp.kernel(xs, x).to_dense()
        gaussian = tp.kernel(xs).to_dense() - ks @ torch.linalg.solve(k, ks.T)
        torch.testing.assert_close(latent.mean, ks @ torch.linalg.solve(k, y), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(latent.unit_covariance, gaussian, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(
            noisy.unit_covariance, gaussian + tp.noise * torch.eye(3, dtype=torch.float64)
        )
        torch.testing.assert_close(latent.concentration, tp.concentration + 4)
        torch.testing.assert_close(latent.rate, tp.rate + y @ torch.linalg.solve(k, y) / 2)
        torch.testing.assert_close(latent.shape_matrix, latent.rate / latent.concentration * gaussian)


def test_posterior_is_the_joint_posteriors_marginals_with_noise():
    x, y = _data()
    xs = torch.rand(5, 2, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    tp = _tp(x, y)
    with torch.no_grad():
        predictive, joint = tp.posterior(xs), tp.joint_posterior(xs, observation_noise=True)
    torch.testing.assert_close(predictive.df, joint.df.expand(5))
    torch.testing.assert_close(predictive.loc, joint.mean, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(predictive.scale**2, joint.shape_matrix.diagonal(), rtol=1e-12, atol=1e-14)


def test_joint_posterior_batches_are_independent_q_batches():
    """A `b x q x d` input gives per batch element the joint posterior of its own q points."""
    x, y = _data()
    xs = torch.rand(4, 3, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    tp = _tp(x, y)
    with torch.no_grad():
        batched = tp.joint_posterior(xs)
        assert batched.mean.shape == (4, 3) and batched.unit_covariance.shape == (4, 3, 3)
        for i in range(4):
            alone = tp.joint_posterior(xs[i])
            torch.testing.assert_close(batched.mean[i], alone.mean, rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(
                batched.unit_covariance[i], alone.unit_covariance, rtol=1e-12, atol=1e-14
            )


def test_joint_posterior_is_differentiable_in_the_inputs_and_in_training_mode_the_hyperparameters():
    x, y = _data()
    xs = torch.rand(
        3, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64, requires_grad=True
    )
    tp = _tp(x, y)
    joint = tp.joint_posterior(xs)
    (joint.mean.sum() + joint.shape_matrix.sum()).backward()
    assert xs.grad is not None and torch.isfinite(xs.grad).all() and xs.grad.abs().sum() > 0
    assert all(p.grad is not None for p in tp.raw.values())


def test_eval_mode_factorises_the_training_data_once_until_train_or_new_hyperparameters():
    """In eval mode the factor of K + eps I is cached (GPyTorch's test-time caches); train() drops it."""
    x, y = _data()
    xs = torch.rand(3, 2, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    tp = _tp(x, y)
    training = tp.joint_posterior(xs)
    tp.eval()
    evaluated = tp.joint_posterior(xs)
    torch.testing.assert_close(evaluated.mean, training.mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(evaluated.unit_covariance, training.unit_covariance, rtol=1e-10, atol=1e-12)
    factor = tp._eval_factor
    tp.eval()  # eval() again (as BoTorch models do on every posterior call) keeps it
    tp.joint_posterior(xs)
    assert tp._eval_factor is factor
    # new hyperparameters through load_state_dict, still in eval mode: the cache is dropped
    other = _tp(x, y, a=4.0, b=0.5, noise=0.3)
    tp.load_state_dict(other.state_dict())
    torch.testing.assert_close(tp.joint_posterior(xs).rate, other.joint_posterior(xs).rate)
    torch.testing.assert_close(tp.posterior(xs).scale, other.posterior(xs).scale)
    tp.train()
    assert tp._eval_factor is None
