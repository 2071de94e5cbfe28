r"""Scaling laws of training runs: fit on small runs, predict loss, steps and critical batch size.

Su et al., "Unraveling the Mystery of Scaling Laws: Part I" (arXiv 2403.06563) re-derive and
validate the Kaplan-form laws below, and insist that their constants depend on the data, the
tokenizer, the schedule and the context, so they must always be refitted -- which is what
:func:`fit_scaling_law` does from a handful of small runs:

.. math::
    L(N) &= (N_c / N)^{\alpha_N}                       &&\text{converged loss, N parameters}\\
    B_{crit}(L) &= B_* / L^{1/\alpha_B}                &&\text{critical batch size}\\
    S_{min} &= S / (1 + B_{crit}(L) / B), \quad
    E_{min} = E / (1 + B / B_{crit}(L))                &&\text{steps / examples at } B \to \text{minimum}\\
    L(N, S, B) &= (N_c / N)^{\alpha_N} + (S_c / S_{min})^{\alpha_S}
                                                       &&\text{loss after S steps of batch B}

The loss curve is implicit (:math:`S_{min}` depends on :math:`B_{crit}(L)`); it has exactly one
root between the converged loss and an explicit upper bound and is solved by bisection,
vectorised over points. With :math:`E = BS` and :math:`E_{min} = B_{crit} S_{min}` the laws
satisfy :math:`(S/S_{min} - 1)(E/E_{min} - 1) = 1` (the trade-off curve of equal loss).

Fitting is a nonlinear least-squares fit of :math:`\log L` over every logged point of every
run (scipy ``least_squares``), in log-parameters, from several starting points (the converged-
loss law is first fitted by linear regression of the smallest loss of each model size).

Example:
    >>> law = ScalingLaw(n_c=1e4, alpha_n=0.3, s_c=50.0, alpha_s=0.6, b_star=20.0, alpha_b=0.4)
    >>> runs = [law.simulate(n, b, [50, 100, 200, 400, 800]) for n in (1e3, 4e3) for b in (8, 64)]
    >>> fitted = fit_scaling_law(runs)
    >>> round(fitted.alpha_n, 3), round(fitted.b_star, 2)
    (0.3, 20.0)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from probtheory._checks import check_real
from probtheory.errors import ConfigurationError, InputDataError

__all__ = ["RunLog", "ScalingLaw", "fit_scaling_law"]

_FIELDS = ("n_c", "alpha_n", "s_c", "alpha_s", "b_star", "alpha_b")


@dataclass(frozen=True)
class RunLog:
    """One training run: model size, batch size, and the loss logged at some steps.

    Attributes:
        params: Number N of (non-embedding) parameters.
        batch_size: Batch size B.
        steps: Increasing optimizer-step counts S at which the loss was logged.
        losses: The (smoothed) training loss at those steps, all positive.
    """

    params: float
    batch_size: float
    steps: tuple[float, ...]
    losses: tuple[float, ...]

    def __post_init__(self) -> None:
        check_real("params", self.params, positive=True)
        check_real("batch_size", self.batch_size, positive=True)
        steps, losses = np.asarray(self.steps, dtype=float), np.asarray(self.losses, dtype=float)
        if steps.ndim != 1 or steps.size == 0 or steps.shape != losses.shape:
            raise InputDataError("losses", f"one loss per step ({steps.size} steps)", f"{losses.size} losses")
        if not (np.isfinite(steps).all() and (steps > 0).all() and (np.diff(steps) > 0).all()):
            raise InputDataError("steps", "positive, increasing step counts", list(self.steps)[:6])
        if not (np.isfinite(losses).all() and (losses > 0).all()):
            raise InputDataError("losses", "positive finite losses", list(self.losses)[:6])


@dataclass(frozen=True)
class ScalingLaw:
    """The six constants of the laws (see the module docstring); all positive."""

    n_c: float
    alpha_n: float
    s_c: float
    alpha_s: float
    b_star: float
    alpha_b: float

    def __post_init__(self) -> None:
        for name in _FIELDS:
            check_real(name, getattr(self, name), positive=True)

    def converged_loss(self, params) -> np.ndarray:
        """L(N) = (N_c / N)^alpha_N."""
        return (self.n_c / np.asarray(params, dtype=float)) ** self.alpha_n

    def critical_batch_size(self, loss) -> np.ndarray:
        """B_crit(L) = B_* / L^(1 / alpha_B)."""
        return self.b_star / np.asarray(loss, dtype=float) ** (1.0 / self.alpha_b)

    def min_steps(self, steps, batch_size, loss) -> np.ndarray:
        """S_min = S / (1 + B_crit(L) / B): the steps the same loss needs at a very large batch."""
        return np.asarray(steps, dtype=float) / (1.0 + self.critical_batch_size(loss) / batch_size)

    def min_examples(self, examples, batch_size, loss) -> np.ndarray:
        """E_min = E / (1 + B / B_crit(L)): the examples the same loss needs at a very small batch."""
        return np.asarray(examples, dtype=float) / (1.0 + batch_size / self.critical_batch_size(loss))

    def loss(self, params, steps, batch_size) -> np.ndarray:
        """L(N, S, B), the root of L = L(N) + (S_c / S_min(S, B, L))^alpha_S (broadcast arrays)."""
        params, steps, batch_size = np.broadcast_arrays(
            np.asarray(params, float), np.asarray(steps, float), np.asarray(batch_size, float)
        )
        floor = self.converged_loss(params)

        def excess(loss):  # increasing in loss; negative at the floor
            return loss - floor - (self.s_c / self.min_steps(steps, batch_size, loss)) ** self.alpha_s

        low = floor.copy()
        # B_crit is largest at the floor, so this bound has a non-negative excess
        high = floor + (self.s_c / self.min_steps(steps, batch_size, floor)) ** self.alpha_s
        for _ in range(200):
            mid = 0.5 * (low + high)
            below = excess(mid) < 0
            low, high = np.where(below, mid, low), np.where(below, high, mid)
            if np.all(high - low <= 1e-15 * high):
                break
        return 0.5 * (low + high)

    def simulate(self, params: float, batch_size: float, steps: Sequence[float], noise: float = 0.0,
                 seed: int | None = None) -> RunLog:  # fmt: skip
        """A run whose logged losses follow the law (times log-normal noise of std ``noise``)."""
        steps_array = np.asarray(steps, dtype=float)
        losses = self.loss(params, steps_array, batch_size)
        if noise > 0:
            losses = losses * np.exp(noise * np.random.default_rng(seed).standard_normal(losses.shape))
        return RunLog(float(params), float(batch_size), tuple(steps_array), tuple(losses))

    def to_vector(self) -> np.ndarray:
        """The log-constants, in the order of the dataclass fields."""
        return np.log([getattr(self, name) for name in _FIELDS])

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> ScalingLaw:
        """Inverse of :meth:`to_vector`."""
        return cls(*(float(v) for v in np.exp(vector)))


def fit_scaling_law(runs: Sequence[RunLog], *, starts: int = 3) -> ScalingLaw:
    """Fit the six constants to logged runs by least squares on log-losses.

    Args:
        runs: At least two model sizes and two batch sizes among them, and at least six logged
            points in all (the constants are not identifiable otherwise).
        starts: Starting values per exponent tried (``starts^2`` fits; the best is kept).

    Returns:
        The fitted :class:`ScalingLaw`.

    Raises:
        InputDataError: Too few runs, sizes or points.
        ConfigurationError: If no fit converged.
    """
    runs = list(runs)
    for i, run in enumerate(runs):
        if not isinstance(run, RunLog):
            raise InputDataError(f"runs[{i}]", "a RunLog", type(run).__name__)
    sizes = {run.params for run in runs}
    batches = {run.batch_size for run in runs}
    params = np.concatenate([np.full(len(r.steps), r.params) for r in runs]) if runs else np.zeros(0)
    if len(sizes) < 2 or len(batches) < 2 or params.size < len(_FIELDS):
        raise InputDataError(
            "runs",
            "at least 2 model sizes, 2 batch sizes and 6 logged points",
            f"{len(sizes)} sizes, {len(batches)} batch sizes, {params.size} points",
        )
    batch = np.concatenate([np.full(len(r.steps), r.batch_size) for r in runs])
    steps = np.concatenate([np.asarray(r.steps, float) for r in runs])
    log_loss = np.log(np.concatenate([np.asarray(r.losses, float) for r in runs]))

    # converged-loss law from the smallest loss of each size: log L = a log N_c - a log N
    by_size = sorted(sizes)
    floors = np.array([min(min(r.losses) for r in runs if r.params == n) for n in by_size])
    slope, intercept = np.polyfit(np.log(by_size), np.log(floors), 1)
    alpha_n = max(-slope, 1e-2)
    log_n_c = intercept / alpha_n

    def residuals(vector: np.ndarray) -> np.ndarray:
        law = ScalingLaw.from_vector(vector)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # far-off trial constants
            out = np.log(law.loss(params, steps, batch)) - log_loss
        return np.where(np.isfinite(out), out, 1e3)

    # scales within 1e-8..1e12, exponents within 0.01..10: wide, but keeps every trial finite
    scale, exponent = (math.log(1e-8), math.log(1e12)), (math.log(0.01), math.log(10.0))
    lower, upper = zip(scale, exponent, scale, exponent, scale, exponent, strict=True)

    best = None
    grid = np.exp(np.linspace(math.log(0.2), math.log(1.0), starts))
    for alpha_s, alpha_b in itertools.product(grid, grid):
        start = [log_n_c, math.log(alpha_n), math.log(np.median(steps) / 10), math.log(alpha_s),
                 math.log(np.median(batch)), math.log(alpha_b)]  # fmt: skip
        try:
            start = np.clip(start, lower, upper)
            result = scipy.optimize.least_squares(residuals, start, bounds=(lower, upper), xtol=1e-15,
                                                  ftol=1e-15, gtol=1e-15, max_nfev=4000)  # fmt: skip
        except (ValueError, FloatingPointError):
            continue
        if np.all(np.isfinite(result.x)) and (best is None or result.cost < best.cost):
            best = result
    if best is None:
        raise ConfigurationError("fit_scaling_law: no starting point converged; check the runs")
    return ScalingLaw.from_vector(best.x)
