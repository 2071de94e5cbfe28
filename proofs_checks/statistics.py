"""Statistics the claims share: z-tests against standard errors, log-log slope fits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from probtheory.errors import InputDataError

__all__ = ["Z", "SlopeFit", "fit_loglog_slope", "second_moment_ratio"]

#: z-score of every Monte-Carlo tolerance (two-sided false-alarm rate ~6e-7 per test).
Z = 5.0


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit of ``log y = slope * log x + intercept``."""

    slope: float
    intercept: float
    standard_error: float


def fit_loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> SlopeFit:
    """Fit a line to ``(log x, log y)`` through >= 3 points with positive ``xs``.

    A non-positive or non-finite ``y`` (a measurement that broke down) gives a NaN fit, which
    fails any evidence built from it; bad arguments (too few points, lengths that differ,
    non-positive ``xs``) raise :class:`probtheory.errors.InputDataError`.
    """
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if x.ndim != 1 or len(x) < 3:
        raise InputDataError("xs", "a sequence of at least 3 numbers", f"shape {x.shape}")
    if y.shape != x.shape:
        raise InputDataError("ys", f"as many values as `xs` ({len(x)})", f"shape {y.shape}")
    if not (np.isfinite(x).all() and (x > 0).all()):
        raise InputDataError("xs", "finite positive numbers (their logarithms are fitted)", x.tolist())
    with np.errstate(divide="ignore", invalid="ignore"):
        lx, ly = np.log(x), np.log(y)
    if not np.all(np.isfinite(ly)):
        return SlopeFit(float("nan"), float("nan"), float("nan"))
    slope, intercept = np.polyfit(lx, ly, 1)
    residuals = ly - (slope * lx + intercept)
    sxx = float(((lx - lx.mean()) ** 2).sum())
    se = math.sqrt(float((residuals**2).sum()) / (len(lx) - 2) / sxx)
    return SlopeFit(float(slope), float(intercept), se)


def second_moment_ratio(samples: np.ndarray) -> tuple[float, float]:
    """``E[X^2] / E[X]^2`` of i.i.d. samples and its delta-method standard error.

    Args:
        samples: At least 2 finite samples, in a 1-d array.
    """
    x = np.asarray(samples, float)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise InputDataError("samples", "a 1-d array of at least 2 finite samples", f"shape {x.shape}")
    m1, m2 = x.mean(), (x**2).mean()
    cov = np.cov(np.stack([x**2, x]))
    grad = np.array([1 / m1**2, -2 * m2 / m1**3])  # d(m2 / m1^2) / d(m2, m1)
    return float(m2 / m1**2), float(math.sqrt(max(grad @ cov @ grad, 0.0) / len(x)))
