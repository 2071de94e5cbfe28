r"""Inductive bias as information: ``-log P(test error <= eps)`` over a kernel hypothesis space.

Boopathy, Yue, Hwang, Iyer & Fiete, *Towards Exact Computation of Inductive Bias* (IJCAI 2024),
§3-4. The inductive bias needed to reach test error :math:`\varepsilon` with a hypothesis space
:math:`\mathcal H` that fits the training data is

.. math::
    I(\varepsilon) = -\log P_{h \sim \mathcal H}\big(e(h) \le \varepsilon\big) \quad \text{(nats)},

the information to add, on top of the data, to single out a good enough hypothesis. Here
:math:`\mathcal H` is the Gaussian-process posterior of a GPyTorch kernel conditioned on the
training data (noise-free: the hypotheses interpolate it), evaluated at the test inputs:

.. math::
    f_s(X_*) = m + C^{1/2}\xi_s, \quad m = K_{*X}K_{XX}^{-1}Y, \quad
    C = K_{**} - K_{*X}K_{XX}^{-1}K_{X*}, \quad \xi_s \sim N(0, I),

with test error :math:`e_s = \frac{1}{n_* k}\lVert f_s(X_*) - Y_*\rVert_F^2` (``k`` outputs). Good
hypotheses are rare, so :math:`P` is far below what counting samples can see (at most
:math:`1/S` for :math:`S` samples); the paper fits a *scaled noncentral* :math:`\chi^2` to the
sampled errors and reads :math:`P` off its CDF. When :math:`C = \sigma^2 I` that law is exact:
:math:`e = \frac{\sigma^2}{n_* k}\chi'^2_{n_* k}(\lVert m - Y_*\rVert^2/\sigma^2)`.

Choices (ours, stated): the fit is maximum likelihood over (df, noncentrality, scale) with location
0, as the authors' code does (``ncx2.fit(..., floc=0)``), started from the exact three-moment solution
and run by L-BFGS-B in (log mean, log variance, position along the df-noncentrality ridge); the posterior is
solved by Cholesky in float64 (the authors solve it by Adam for scale); where ``ncx2.logcdf``
underflows, Sankaran's cube-root normal approximation of the noncentral :math:`\chi^2` gives the
tail (the authors also fall back to a normal approximation there). The estimate's standard error at a
given ``S`` comes from the fit's Fisher information (delta method,
:meth:`NoncentralChi2Fit.log_cdf_standard_error`): df and noncentrality are weakly identified, so it
is large: about 0.16 nats at :math:`P = 10^{-3}` and 1.1-1.3 nats at :math:`10^{-8}` for
:math:`S = 10^4`, df 6-8 and noncentrality 12-18 times df.

Example::

    import torch
    from gpytorch.kernels import RBFKernel
    from probtheory.theory.inductive_bias import inductive_bias

    g = torch.Generator().manual_seed(0)
    x = torch.rand(30, 2, generator=g, dtype=torch.float64)
    y = torch.sin(4 * x).sum(-1)
    kernel = RBFKernel().double()
    kernel.lengthscale = 0.3
    result = inductive_bias(kernel, x[:20], y[:20], x[20:], y[20:], target_error=1e-3, seed=0)
    print(result.nats, result.bits, result.monte_carlo_nats)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from gpytorch.kernels import Kernel
from scipy import integrate, optimize, special, stats
from torch import Tensor

from probtheory._checks import check_finite, check_int, check_real, make_generator
from probtheory.errors import InputDataError

__all__ = [
    "MIN_HYPOTHESES",
    "InductiveBias",
    "NoncentralChi2Fit",
    "fit_scaled_noncentral_chi2",
    "hypothesis_test_errors",
    "inductive_bias",
]

MIN_HYPOTHESES = 100
"""Fewer sampled test errors than this cannot identify three parameters of the fit."""

_CHUNK_ENTRIES = 4_000_000  # sampled numbers held at once while drawing hypotheses


@dataclass(frozen=True)
class NoncentralChi2Fit:
    r"""A scaled noncentral :math:`\chi^2` law: ``scale * X`` with ``X ~ ncx2(df, noncentrality)``.

    Attributes:
        df: Degrees of freedom (> 0).
        noncentrality: Noncentrality (>= 0).
        scale: Scale (> 0).
    """

    df: float
    noncentrality: float
    scale: float

    def __post_init__(self) -> None:
        check_real("df", self.df, positive=True)
        check_real("noncentrality", self.noncentrality, nonnegative=True)
        check_real("scale", self.scale, positive=True)

    def log_cdf(self, x: float) -> float:
        """Natural log of ``P(scale * X <= x)``, with a normal tail approximation where scipy underflows."""
        x = check_real("x", x)
        if x <= 0:
            return -math.inf
        value = float(stats.ncx2.logcdf(x, self.df, self.noncentrality, scale=self.scale))
        if math.isfinite(value):
            return value
        return _sankaran_log_cdf(x / self.scale, self.df, self.noncentrality)

    def mean(self) -> float:
        """The law's mean, ``scale * (df + noncentrality)``."""
        return self.scale * (self.df + self.noncentrality)

    def log_cdf_standard_error(self, x: float, n_samples: int) -> float:
        r"""Asymptotic standard error of :meth:`log_cdf` at ``x`` when this law is fitted to its own draws.

        :func:`fit_scaled_noncentral_chi2` is maximum likelihood over
        :math:`\theta = (\mathrm{df}, \mathrm{nc}, \mathrm{scale})`, so for ``S`` draws of this law
        the fitted :math:`\log F(x)` is asymptotically normal with variance (delta method)

        .. math::
            \mathrm{se}^2 = \frac{1}{S}\, \nabla_\theta \log F(x)^\top\, \mathcal I(\theta)^{-1}\,
            \nabla_\theta \log F(x),

        :math:`\mathcal I` the Fisher information of one draw. df and nc are weakly identified (a
        ridge of nearly equal likelihood), so :math:`\mathcal I` is nearly singular and this error
        is much larger than the counting error a well-identified law would give; it is what makes
        the estimate of a tiny probability uncertain at a given ``S``.

        Args:
            x: Where the log-CDF is read (> 0).
            n_samples: Number ``S`` of draws the law is fitted to (>= 1).

        Returns:
            The standard error, in nats.

        Raises:
            InputDataError: For ``x <= 0``, ``n_samples < 1`` or a law on the boundary of the
                parameter space (``noncentrality == 0``), where the delta method does not apply.
        """
        x = check_real("x", x, positive=True)
        n_samples = check_int("n_samples", n_samples, minimum=1)
        if self.noncentrality <= 0:
            raise InputDataError(
                "noncentrality",
                "a value > 0 (the delta method needs a law inside the parameter space)",
                self.noncentrality,
            )
        theta = np.array([self.df, self.noncentrality, self.scale])
        gradient = _parameter_gradient(lambda t: NoncentralChi2Fit(*t).log_cdf(x), theta)
        information = _fisher_information(self.df, self.noncentrality) / np.outer(
            [1, 1, self.scale], [1, 1, self.scale]
        )
        return math.sqrt(float(gradient @ np.linalg.solve(information, gradient)) / n_samples)


_RELATIVE_STEP = 1e-4  # central differences in the parameters; the error is stable to 1e-6 from 1e-3 to 1e-6
_QUADRATURE_POINTS = 2001  # Simpson nodes in log x; 501 already gives the same standard errors to 1e-5
_TAIL_PROBABILITY = 1e-12  # quadrature range: the law's quantiles at this and 1 minus this


def _parameter_gradient(function, theta: np.ndarray) -> np.ndarray:
    """Central differences of ``function(theta)`` (a number or an array) in each parameter, steps relative."""
    rows = []
    for i, step in enumerate(_RELATIVE_STEP * theta):
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        rows.append((function(up) - function(down)) / (2 * step))
    return np.array(rows)


def _fisher_information(k: float, lam: float) -> np.ndarray:
    """Fisher information of one draw of ``ncx2(k, lam)`` (scale 1) in (df, noncentrality, scale).

    ``E[score score^T]`` by Simpson's rule in ``t = log x`` (``dx = x dt`` keeps the integrand smooth
    where the density diverges at 0, df < 2), scores by central differences of ``ncx2.logpdf``.
    """
    low, high = stats.ncx2.ppf(_TAIL_PROBABILITY, k, lam), stats.ncx2.isf(_TAIL_PROBABILITY, k, lam)
    t = np.linspace(math.log(low), math.log(high), _QUADRATURE_POINTS)
    x = np.exp(t)
    scores = _parameter_gradient(
        lambda p: stats.ncx2.logpdf(x, p[0], p[1], scale=p[2]), np.array([k, lam, 1.0])
    )
    weight = stats.ncx2.pdf(x, k, lam) * x
    return integrate.simpson(weight * scores[:, None] * scores[None], x=t)


def _sankaran_log_cdf(x: float, k: float, lam: float) -> float:
    # Sankaran (1959): (X/(k+lam))^h is nearly normal; used only where ncx2.logcdf underflows.
    a, b, c = k + lam, k + 2 * lam, k + 3 * lam
    h = 1 - 2 * a * c / (3 * b * b)
    p = b / (a * a)
    m = (h - 1) * (1 - 3 * h)
    mu = 1 + h * p * (h - 1 - 0.5 * (2 - h) * m * p)
    sigma = h * math.sqrt(2 * p) * (1 + 0.5 * m * p)
    return float(stats.norm.logcdf(((x / a) ** h - mu) / sigma))


@dataclass(frozen=True)
class InductiveBias:
    r"""The inductive bias needed to reach a target test error, with the evidence behind it.

    Attributes:
        nats: ``-log P(error <= target_error)`` under the fitted law, in nats.
        target_error: The test error :math:`\varepsilon` aimed at.
        fit: The scaled noncentral chi-square fitted to the sampled errors.
        errors: The sampled test errors, an ``S``-dim tensor.
        monte_carlo_nats: ``-log`` of the fraction of samples at or below the target (``inf`` when
            none is: direct counting cannot see probabilities below ``1/S``).
    """

    nats: float
    target_error: float
    fit: NoncentralChi2Fit
    errors: Tensor
    monte_carlo_nats: float

    @property
    def bits(self) -> float:
        """The same information in bits (``nats / ln 2``)."""
        return self.nats / math.log(2.0)


def _check_targets(name: str, y: object, n: int) -> Tensor:
    if not isinstance(y, Tensor) or y.dim() not in (1, 2) or y.shape[0] != n:
        raise InputDataError(name, f"an `{n}` or `{n} x k` tensor", getattr(y, "shape", type(y).__name__))
    check_finite(name, y)
    return (y if y.dim() == 2 else y.unsqueeze(-1)).to(torch.float64)


def _check_points(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] < 1:
        raise InputDataError(name, "an `n x d` tensor with n >= 1", getattr(x, "shape", type(x).__name__))
    return check_finite(name, x).to(torch.float64)


def hypothesis_test_errors(
    kernel: Kernel,
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    *,
    n_hypotheses: int = 10_000,
    jitter: float = 1e-8,
    seed: int | None = None,
) -> Tensor:
    """Test errors of hypotheses drawn from a kernel's posterior given the training data.

    Args:
        kernel: A GPyTorch kernel; its hyperparameters are used as they are.
        train_x: An `n x d` tensor of training inputs.
        train_y: An `n` or `n x k` tensor of training targets (one-hot for classification).
        test_x: An `n_* x d` tensor of test inputs.
        test_y: An `n_*` or `n_* x k` tensor of test targets.
        n_hypotheses: Number ``S`` of hypotheses to draw (at least 100).
        jitter: Added to the diagonal of :math:`K_{XX}` before its Cholesky factorisation (> 0).
        seed: Seed of the Gaussian draws.

    Returns:
        An `S`-dim float64 tensor: each hypothesis's mean squared error over test points and outputs.

    Raises:
        InputDataError: For a non-kernel, mismatched shapes, non-finite data, ``n_hypotheses < 100``
            or ``jitter <= 0``.
    """
    if not isinstance(kernel, Kernel):
        raise InputDataError("kernel", "a gpytorch.kernels.Kernel", type(kernel).__name__)
    train_x, test_x = _check_points("train_x", train_x), _check_points("test_x", test_x)
    if test_x.shape[1] != train_x.shape[1]:
        raise InputDataError("test_x", f"{train_x.shape[1]} features like `train_x`", tuple(test_x.shape))
    y = _check_targets("train_y", train_y, train_x.shape[0])
    y_star = _check_targets("test_y", test_y, test_x.shape[0])
    if y_star.shape[1] != y.shape[1]:
        raise InputDataError("test_y", f"{y.shape[1]} outputs like `train_y`", tuple(test_y.shape))
    n_hypotheses = check_int("n_hypotheses", n_hypotheses, minimum=MIN_HYPOTHESES)
    jitter = check_real("jitter", jitter, positive=True)
    generator = make_generator(seed)

    kernel = copy.deepcopy(kernel).double()  # float64 solves, without changing the caller's kernel
    with torch.no_grad():
        k_xx = kernel(train_x, train_x).to_dense()
        k_sx = kernel(test_x, train_x).to_dense()
        k_ss = kernel(test_x, test_x).to_dense()
    eye = torch.eye(k_xx.shape[0], dtype=torch.float64)
    chol, info = torch.linalg.cholesky_ex(k_xx + jitter * eye)
    if int(info) != 0:
        raise InputDataError("jitter", "a jitter that makes K(train_x, train_x) positive definite", jitter)
    a = torch.cholesky_solve(k_sx.T, chol)  # K_XX^{-1} K_X*
    mean = a.T @ y
    cov = k_ss - k_sx @ a
    evals, evecs = torch.linalg.eigh(0.5 * (cov + cov.T))
    root = evecs * evals.clamp_min(0.0).sqrt()  # C^{1/2} up to a rotation, which leaves xi's law alone
    offset = mean - y_star  # n_* x k
    n_star, k = offset.shape
    errors = torch.empty(n_hypotheses, dtype=torch.float64)
    chunk = max(1, _CHUNK_ENTRIES // (n_star * k))
    for start in range(0, n_hypotheses, chunk):
        stop = min(n_hypotheses, start + chunk)
        xi = torch.randn(stop - start, n_star, k, generator=generator, dtype=torch.float64)
        errors[start:stop] = (offset + root @ xi).square().mean(dim=(1, 2))
    return errors


def _moment_start(x: np.ndarray) -> np.ndarray:
    # mean = s(k+l), var = 2 s^2 (k+2l), third central moment = 8 s^3 (k+3l): three equations,
    # which reduce to 8 m s^2 - 8 v s + m3 = 0 for the scale s.
    m = x.mean()
    c = x - m
    v, m3 = (c**2).mean(), (c**3).mean()
    disc = 64 * v * v - 32 * m * m3
    s = (8 * v - math.sqrt(disc)) / (16 * m) if disc > 0 and m3 > 0 else v / (2 * m)
    u = min(max(2 * s / (v / (2 * m)) - 1, 1e-6), 1 - 1e-6)
    return np.array([math.log(m), math.log(v), math.log(u / (1 - u))])


def _from_moments(theta: np.ndarray) -> tuple[float, float, float]:
    # (log mean, log variance, t) -> (df, noncentrality, scale). Mean and variance are well
    # identified; t moves along the weakly identified df-nc ridge, s in (v/4m, v/2m] keeps df > 0
    # and nc >= 0. This decorrelates the parameters that a direct (df, nc, scale) search zigzags on.
    m, v = math.exp(theta[0]), math.exp(theta[1])
    s = v / (2 * m) * (0.5 + 0.5 * float(special.expit(theta[2])))
    lam = v / (2 * s * s) - m / s
    k = 2 * m / s - v / (2 * s * s)
    return max(k, 1e-12), max(lam, 0.0), s


def fit_scaled_noncentral_chi2(errors: Tensor) -> NoncentralChi2Fit:
    r"""Maximum-likelihood scaled noncentral :math:`\chi^2` (location 0) for positive samples.

    Args:
        errors: An `S`-dim tensor of positive samples (test errors), ``S >= 100``.

    Returns:
        The fitted :class:`NoncentralChi2Fit`. df and noncentrality trade off against each other and
        are only weakly identified; the CDF they give is what is well determined.

    Raises:
        InputDataError: For fewer than 100 samples, non-finite or non-positive ones, or all equal.
    """
    if not isinstance(errors, Tensor) or errors.dim() != 1:
        raise InputDataError("errors", "a 1-d tensor", getattr(errors, "shape", type(errors).__name__))
    check_int("len(errors)", errors.shape[0], minimum=MIN_HYPOTHESES)
    check_finite("errors", errors)
    e = errors.detach().to(torch.float64).cpu().numpy()
    if (e <= 0).any():
        raise InputDataError("errors", "positive values (squared errors)", f"min {e.min():g}")
    if e.std() <= 1e-12 * e.mean():
        raise InputDataError("errors", "samples that vary (all hypotheses have the same error)", e.mean())
    # Work in units of the sample mean so the optimiser sees O(1) numbers.
    unit = e.mean()
    x = e / unit

    def negative_log_likelihood(theta: np.ndarray) -> float:
        k, lam, s = _from_moments(theta)
        value = -stats.ncx2.logpdf(x, k, lam, scale=s).sum()
        return float(value) if np.isfinite(value) else 1e300

    start = _moment_start(x)
    # L-BFGS-B: a few dozen likelihood evaluations (each ~10 ms at S = 1e4).
    result = optimize.minimize(negative_log_likelihood, start, method="L-BFGS-B", options={"ftol": 1e-10})
    best = result.x if result.fun <= negative_log_likelihood(start) else start
    k, lam, s = _from_moments(best)
    return NoncentralChi2Fit(df=k, noncentrality=lam, scale=float(s * unit))


def inductive_bias(
    kernel: Kernel,
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    target_error: float,
    *,
    n_hypotheses: int = 10_000,
    jitter: float = 1e-8,
    seed: int | None = None,
) -> InductiveBias:
    r"""Inductive bias, in nats, to reach ``target_error`` with a kernel's hypothesis space.

    Boopathy et al. (IJCAI 2024), §4: draw hypotheses that fit the training data from the kernel's
    GP posterior (:func:`hypothesis_test_errors`), fit a scaled noncentral :math:`\chi^2` to their
    test errors (:func:`fit_scaled_noncentral_chi2`) and return :math:`-\log P(e \le \varepsilon)`.

    Args:
        kernel: A GPyTorch kernel (e.g. ``RBFKernel`` with a chosen lengthscale).
        train_x: An `n x d` tensor of training inputs.
        train_y: An `n` or `n x k` tensor of training targets (one-hot for classification).
        test_x: An `n_* x d` tensor of test inputs.
        test_y: An `n_*` or `n_* x k` tensor of test targets.
        target_error: The target mean squared test error :math:`\varepsilon` (> 0).
        n_hypotheses: Number of hypotheses drawn (at least 100; the paper uses about 1e4).
        jitter: Diagonal jitter of the training kernel matrix (> 0).
        seed: Seed of the hypothesis draws.

    Returns:
        An :class:`InductiveBias` (``nats``, ``bits``, the fit, the errors and the direct count).

    Raises:
        InputDataError: For ``target_error <= 0`` and every bad input of :func:`hypothesis_test_errors`.
    """
    target_error = check_real("target_error", target_error, positive=True)
    errors = hypothesis_test_errors(
        kernel, train_x, train_y, test_x, test_y, n_hypotheses=n_hypotheses, jitter=jitter, seed=seed
    )
    fit = fit_scaled_noncentral_chi2(errors)
    hits = int((errors <= target_error).sum())
    monte_carlo = -math.log(hits / errors.shape[0]) if hits else math.inf
    return InductiveBias(
        nats=-fit.log_cdf(target_error), target_error=target_error, fit=fit, errors=errors,
        monte_carlo_nats=monte_carlo,
    )  # fmt: skip
