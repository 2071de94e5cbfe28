"""Inductive bias over a GP hypothesis space (Boopathy et al., IJCAI 2024) against exact laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gpytorch.kernels import RBFKernel, ScaleKernel
from scipy import special, stats

from probtheory.theory.inductive_bias import (
    NoncentralChi2Fit,
    fit_scaled_noncentral_chi2,
    hypothesis_test_errors,
    inductive_bias,
)

F64 = torch.float64


def isotropic_case(n_test=5, outputs=1, outputscale=0.5, level=3.0):
    """Training and test points 100 lengthscales apart: K_*X = 0 and K_** = outputscale * I exactly.

    The posterior mean is 0 and its covariance sigma^2 I, so the test error is exactly
    (sigma^2 / (n k)) * ncx2(df = n k, nc = ||y_*||^2 / sigma^2).
    """
    kernel = ScaleKernel(RBFKernel()).double()
    kernel.outputscale = outputscale
    kernel.base_kernel.lengthscale = 1.0
    train_x = -100.0 * torch.arange(1, 4, dtype=F64)[:, None]
    train_y = torch.zeros(3, outputs, dtype=F64)
    test_x = 100.0 * torch.arange(1, n_test + 1, dtype=F64)[:, None]
    test_y = torch.full((n_test, outputs), level, dtype=F64)
    df = n_test * outputs
    law = NoncentralChi2Fit(df, float(test_y.square().sum()) / outputscale, outputscale / df)
    return kernel, train_x, train_y, test_x, test_y, law


def test_isotropic_errors_are_the_scaled_noncentral_chi2():
    kernel, tx, ty, sx, sy, law = isotropic_case(outputs=2)
    errors = hypothesis_test_errors(kernel, tx, ty, sx, sy, n_hypotheses=20_000, seed=3).numpy()
    ks = stats.kstest(errors, lambda v: stats.ncx2.cdf(v, law.df, law.noncentrality, scale=law.scale))
    assert ks.pvalue > 1e-3
    # mean and variance within 5 standard errors of the exact ones
    mean, var = law.mean(), 2 * law.scale**2 * (law.df + 2 * law.noncentrality)
    assert abs(errors.mean() - mean) <= 5 * math.sqrt(var / errors.size)
    assert abs(errors.var() / var - 1) <= 5 * math.sqrt(2 / errors.size) * 3  # kurtosis <= 6 here


def test_fitted_cdf_matches_the_exact_law_where_p_is_at_least_1e_3():
    kernel, tx, ty, sx, sy, law = isotropic_case()
    errors = hypothesis_test_errors(kernel, tx, ty, sx, sy, n_hypotheses=10_000, seed=0)
    fit = fit_scaled_noncentral_chi2(errors)
    # df and nc are weakly identified: compare CDFs, not parameters
    probabilities = np.geomspace(1e-3, 0.99, 10)
    eps = law.scale * stats.ncx2.ppf(probabilities, law.df, law.noncentrality)
    fitted = np.array([math.exp(fit.log_cdf(e)) for e in eps])
    assert np.max(np.abs(fitted - probabilities)) <= 0.01  # DKW at S = 1e4: sup gap <~ 0.014 w.p. 0.99
    # in the tail, within 0.2 nats (the counting estimate alone has ~0.3 nats of noise at P = 1e-3)
    tail = probabilities <= 0.5
    assert np.max(np.abs(np.log(fitted[tail]) - np.log(probabilities[tail]))) <= 0.2


def test_nats_agree_with_direct_counting_where_it_can_see_and_bits_convert():
    kernel, tx, ty, sx, sy, law = isotropic_case()
    eps = law.scale * stats.ncx2.ppf(0.05, law.df, law.noncentrality)
    result = inductive_bias(kernel, tx, ty, sx, sy, eps, n_hypotheses=10_000, seed=1)
    assert abs(result.nats - result.monte_carlo_nats) <= 0.1
    assert abs(result.nats + math.log(0.05)) <= 0.1
    assert result.bits == pytest.approx(result.nats / math.log(2))


def test_bias_decreases_with_the_target_error():
    kernel, tx, ty, sx, sy, law = isotropic_case()
    errors = hypothesis_test_errors(kernel, tx, ty, sx, sy, n_hypotheses=2000, seed=0)
    fit = fit_scaled_noncentral_chi2(errors)
    nats = [-fit.log_cdf(e) for e in np.geomspace(0.01, 10, 30) * law.mean()]
    assert all(a >= b for a, b in zip(nats, nats[1:], strict=False))
    assert nats[0] > 30 and nats[-1] < 1e-6


def test_posterior_mean_error_matches_the_exact_quadratic_form_mean():
    # non-isotropic: E e = (||m - y||^2 + k tr C) / (n k), exactly
    g = torch.Generator().manual_seed(0)
    x = torch.rand(25, 2, generator=g, dtype=F64)
    y = torch.nn.functional.one_hot((x.sum(-1) * 1.5).long().clamp_max(2), 3).to(F64)
    kernel = RBFKernel().double()
    kernel.lengthscale = 0.4
    errors = hypothesis_test_errors(kernel, x[:15], y[:15], x[15:], y[15:], n_hypotheses=20_000, seed=2)
    with torch.no_grad():
        kxx = kernel(x[:15]).to_dense() + 1e-8 * torch.eye(15, dtype=F64)
        ksx = kernel(x[15:], x[:15]).to_dense()
        kss = kernel(x[15:]).to_dense()
    m = ksx @ torch.linalg.solve(kxx, y[:15])
    c = kss - ksx @ torch.linalg.solve(kxx, ksx.T)
    exact = float(((m - y[15:]).square().sum() + 3 * torch.trace(c)) / (10 * 3))
    assert abs(errors.mean().item() - exact) <= 5 * errors.std().item() / math.sqrt(errors.numel())


def test_interpolation_hypotheses_are_deterministic_at_training_points():
    # at the training inputs the posterior is the data: every hypothesis has zero error there
    g = torch.Generator().manual_seed(1)
    x = torch.rand(10, 1, generator=g, dtype=F64)
    y = torch.cos(3 * x[:, 0])
    kernel = RBFKernel().double()
    kernel.lengthscale = 0.5
    errors = hypothesis_test_errors(kernel, x, y, x, y, n_hypotheses=100, jitter=1e-10, seed=0)
    assert errors.max().item() <= 1e-8


def test_isotropic_errors_are_the_noncentral_chi2_quadratic_form_draw_by_draw():
    # C = sigma^2 I and m = 0 exactly, so each error is mean((sigma xi - y)^2) for the seed's xi
    kernel, tx, ty, sx, sy, law = isotropic_case(outputs=2)
    errors = hypothesis_test_errors(kernel, tx, ty, sx, sy, n_hypotheses=300, seed=7)
    xi = torch.randn(300, *sy.shape, generator=torch.Generator().manual_seed(7), dtype=F64)
    expected = (0.5**0.5 * xi - sy).square().mean(dim=(1, 2))
    assert torch.allclose(errors, expected, rtol=1e-12, atol=0)


def test_log_cdf_falls_back_to_a_finite_normal_tail_where_scipy_underflows():
    fit = NoncentralChi2Fit(100.0, 2000.0, 1.0)
    assert stats.ncx2.logcdf(100.0, 100.0, 2000.0) == -math.inf
    values = [fit.log_cdf(x) for x in (100.0, 300.0, 500.0)]
    assert all(math.isfinite(v) for v in values) and values[0] < values[1] < values[2]
    # where both are finite, the fallback (Sankaran 1959) is within 1% of scipy's tail
    scipy_value = stats.ncx2.logcdf(500.0, 100.0, 2000.0)
    assert abs(values[2] / scipy_value - 1) <= 1e-9  # scipy's own value is used there
    from probtheory.theory.inductive_bias import _sankaran_log_cdf

    assert abs(_sankaran_log_cdf(500.0, 100.0, 2000.0) / scipy_value - 1) <= 0.01


def test_fisher_information_tends_to_the_closed_form_of_the_central_limit():
    # at nc -> 0 the law is Gamma(k/2, 2): I_kk = psi'(k/2)/4, I_ks = 1/2, I_ss = k/2 (scale 1), and
    # the nc-score is (x/k - 1)/2, giving I_nn = I_kn = 1/(2k), I_ns = 1/2
    from probtheory.theory.inductive_bias import _fisher_information

    for k in (1.0, 3.0, 7.5):
        info = _fisher_information(k, 1e-9)
        exact = np.array(
            [
                [special.polygamma(1, k / 2) / 4, 1 / (2 * k), 0.5],
                [1 / (2 * k), 1 / (2 * k), 0.5],
                [0.5, 0.5, k / 2],
            ]
        )
        # the (df, scale) block to quadrature accuracy; the nc row to its central difference
        # over a step of 1e-13 (round-off ~1e-3 relative)
        assert np.allclose(info[np.ix_([0, 2], [0, 2])], exact[np.ix_([0, 2], [0, 2])], rtol=1e-6, atol=0)
        assert np.allclose(info[1], exact[1], rtol=1e-2, atol=0)


def test_log_cdf_standard_error_scales_as_one_over_root_s_and_ignores_the_unit():
    law = NoncentralChi2Fit(6.0, 72.0, 0.5 / 6)
    x = law.scale * stats.ncx2.ppf(1e-3, 6.0, 72.0)
    se = law.log_cdf_standard_error(x, 10_000)
    assert law.log_cdf_standard_error(x, 40_000) == pytest.approx(se / 2, rel=1e-9)
    rescaled = NoncentralChi2Fit(6.0, 72.0, 1.0)
    assert rescaled.log_cdf_standard_error(x / law.scale, 10_000) == pytest.approx(se, rel=1e-6)
    # deeper in the tail the fit extrapolates along its weakly identified df-nc ridge
    assert law.log_cdf_standard_error(law.scale * stats.ncx2.ppf(1e-8, 6.0, 72.0), 10_000) > 5 * se


@pytest.mark.slow
def test_log_cdf_standard_error_is_the_spread_of_refitted_laws():
    # 60 maximum-likelihood refits to S = 5000 draws of the law. The sd of 60 normal draws has a
    # relative standard error of 1/sqrt(2 * 59) = 9%, so 5 of them allow +-46%; the asymptotic
    # (delta-method) error itself was within 0.88-1.13 of 100 refits at these sizes.
    law = NoncentralChi2Fit(5.0, 20.0, 0.1)
    x = law.scale * stats.ncx2.ppf(1e-2, 5.0, 20.0)
    rng = np.random.default_rng(0)
    fitted = [
        fit_scaled_noncentral_chi2(
            torch.tensor(law.scale * stats.ncx2.rvs(5.0, 20.0, size=5000, random_state=rng))
        ).log_cdf(x)
        for _ in range(60)
    ]
    ratio = np.std(fitted, ddof=1) / law.log_cdf_standard_error(x, 5000)
    assert 1 / 1.6 <= ratio <= 1.6
