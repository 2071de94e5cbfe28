"""Statistics the claims share: z-tests against standard errors, log-log slope fits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
    """Fit a line to ``(log x, log y)``; needs >= 3 points with positive values."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    if len(lx) < 3 or not np.all(np.isfinite(ly)):
        return SlopeFit(float("nan"), float("nan"), float("nan"))
    slope, intercept = np.polyfit(lx, ly, 1)
    residuals = ly - (slope * lx + intercept)
    sxx = float(((lx - lx.mean()) ** 2).sum())
    se = math.sqrt(float((residuals**2).sum()) / (len(lx) - 2) / sxx)
    return SlopeFit(float(slope), float(intercept), se)


def second_moment_ratio(samples: np.ndarray) -> tuple[float, float]:
    """``E[X^2] / E[X]^2`` of i.i.d. samples and its delta-method standard error."""
    x = np.asarray(samples, float)
    m1, m2 = x.mean(), (x**2).mean()
    cov = np.cov(np.stack([x**2, x]))
    grad = np.array([1 / m1**2, -2 * m2 / m1**3])  # d(m2 / m1^2) / d(m2, m1)
    return float(m2 / m1**2), float(math.sqrt(max(grad @ cov @ grad, 0.0) / len(x)))
