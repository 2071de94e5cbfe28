r"""Low-load theory of dense Hebbian networks trained on examples: exact and mean-field overlaps.

Agliari et al., *Dense Hebbian neural networks: a replica symmetric picture of supervised
learning* (Physica A 2023, arXiv 2212.00606); formulas derived in docs/derivations.md, §8,
for the energy :math:`H = -\frac{N}{2}\sum_\mu n_\mu^P` of :mod:`probtheory.energy.hebbian`.

At low load (``K`` fixed, ``N -> inf``) the model is of Curie-Weiss type and mean field is
exact. Retrieving class 1 in the gauge :math:`\xi = +1`, the site variable is the normalised
prototype :math:`\hat\eta = (2k - M) / c` with :math:`k \sim \mathrm{Bin}(M, (1 + r)/2)` and
:math:`c = \sqrt{M(1 + (M-1) r^2)}` (so :math:`E\hat\eta^2 = 1`). The overlaps solve

.. math:: n = E\big[\hat\eta \tanh(\beta \tfrac{P}{2} n^{P-1} \hat\eta)\big], \qquad
    m = E\big[\tanh(\beta \tfrac{P}{2} n^{P-1} \hat\eta)\big],

stationary points of :math:`f(n) = \frac{P-1}{2} n^P - \beta^{-1} E \log 2\cosh(\beta
\frac{P}{2} n^{P-1} \hat\eta)`. The expectation is an exact sum over the binomial. At zero
temperature the fixed point is :math:`\sigma_i = \mathrm{sign}(\hat\eta_i)`, giving the exact
:math:`m = E\,\mathrm{sign}(2k - M)` (:math:`= 2 P[k > M/2] - 1` for odd ``M``) and
:math:`n = E|\hat\eta|`; for large ``M``, :math:`m \approx \mathrm{erf}(1/\sqrt{2\rho})`,
:math:`\rho = (1 - r^2)/(M r^2)`. ``M = inf`` (with ``r > 0``) is the big-data limit
:math:`\hat\eta = 1`: the dense associative memory :math:`m = \tanh(\beta \frac{P}{2} m^{P-1})`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, stats

from probtheory._checks import check_int_or_inf, check_name, check_real
from probtheory.energy.hebbian import _check_beta, _check_order, _check_quality, prototype_normalisation
from probtheory.errors import InputDataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "MeanFieldSolution",
    "PhaseDiagram",
    "ZeroTemperatureOverlaps",
    "dataset_entropy",
    "erf_overlap",
    "phase_diagram",
    "plot_phase_diagram",
    "solve_mean_field",
    "zero_temperature_overlaps",
]

#: grid points of the scan for the largest fixed point of the mean-field map
_SCAN_POINTS = 2000


def dataset_entropy(r: float, M: float) -> float:
    r""":math:`\rho = (1 - r^2) / (M r^2)` (``inf`` at ``r = 0``, 0 at ``M = inf``)."""
    r, M = _check_quality(r), check_int_or_inf("M", M, minimum=1)
    if math.isinf(M):
        return 0.0 if r > 0 else math.inf
    return math.inf if r == 0 else (1.0 - r * r) / (M * r * r)


def erf_overlap(r: float, M: float) -> float:
    r"""Large-``M`` (CLT) zero-temperature overlap :math:`\mathrm{erf}(1/\sqrt{2\rho})`."""
    rho = dataset_entropy(r, M)
    return 1.0 if rho == 0 else math.erf(1.0 / math.sqrt(2.0 * rho))


def _site_distribution(r: float, M: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Support and probabilities of :math:`\hat\eta` in the gauge :math:`\xi = +1`."""
    if math.isinf(M):
        if r == 0:
            raise InputDataError("r", "r > 0 in the big-data limit M = inf", r)
        return np.ones(1), np.ones(1)
    M = int(M)
    k = np.arange(M + 1)
    return (2.0 * k - M) / prototype_normalisation(r, M), stats.binom.pmf(k, M, 0.5 * (1.0 + r))


@dataclass(frozen=True)
class ZeroTemperatureOverlaps:
    r"""Exact zero-temperature, low-load retrieval overlaps and their per-site spreads.

    Attributes:
        mattis: :math:`m = E\,\mathrm{sign}(\hat\eta)`, archetype overlap.
        example: :math:`n = E|\hat\eta|`, overlap with the normalised class prototype.
        mattis_std: Standard deviation of one site's :math:`\mathrm{sign}(\hat\eta_i)`; the
            overlap of N sites has standard error ``mattis_std / sqrt(N)``.
        example_std: Standard deviation of one site's :math:`|\hat\eta_i|`.
    """

    mattis: float
    example: float
    mattis_std: float
    example_std: float


def zero_temperature_overlaps(r: float, M: float) -> ZeroTemperatureOverlaps:
    r"""Exact binomial overlaps of the zero-temperature fixed point :math:`\mathrm{sign}(\hat\eta^1)`.

    ``m = 2 P[Bin(M, (1+r)/2) > M/2] - 1`` for odd ``M``; for even ``M`` the ties
    :math:`\hat\eta_i = 0` contribute 0 on average, ``m = P[k > M/2] - P[k < M/2]``.
    """
    r, M = _check_quality(r), check_int_or_inf("M", M, minimum=1)
    values, probs = _site_distribution(r, M)
    m = float(probs @ np.sign(values))
    n = float(probs @ np.abs(values))
    m_var = float(probs @ np.sign(values) ** 2) - m * m
    n_var = float(probs @ values**2) - n * n
    return ZeroTemperatureOverlaps(m, n, math.sqrt(max(m_var, 0.0)), math.sqrt(max(n_var, 0.0)))


@dataclass(frozen=True)
class MeanFieldSolution:
    """A solution of the low-load self-consistency equations.

    Attributes:
        example: Overlap ``n`` with the class prototype.
        mattis: Overlap ``m`` with the archetype.
        free_energy: ``f(n)`` per spin.
        paramagnetic_free_energy: ``f(0) = -log(2) / beta``.
        is_global_minimum: Whether this state has the lowest free energy (else metastable).
    """

    example: float
    mattis: float
    free_energy: float
    paramagnetic_free_energy: float
    is_global_minimum: bool


def _log2cosh(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a + np.log1p(np.exp(-2.0 * a))


def solve_mean_field(
    r: float, M: float, beta: float, P: int = 4, *, branch: str = "retrieval"
) -> MeanFieldSolution:
    r"""Solve the low-load mean-field (replica-symmetric) equations for ``n`` and ``m``.

    The map :math:`g(n) = E[\hat\eta\tanh(\beta\frac{P}{2}n^{P-1}\hat\eta)]` is increasing on
    :math:`n \ge 0` and bounded by :math:`E|\hat\eta|`, so the largest fixed point (the
    retrieval state) is the last down-crossing of ``g(n) - n``: found on a grid of
    2000 points, then refined with Brent's method to machine precision.

    Args:
        r: Quality in [0, 1].
        M: Examples per class (int >= 1, or ``math.inf`` for the big-data limit).
        beta: Inverse temperature >= 0, ``math.inf`` for zero temperature (the exact
            binomial overlaps of :func:`zero_temperature_overlaps`).
        P: Even interaction order.
        branch: ``"retrieval"``: the largest fixed point, stable, possibly metastable (what
            dynamics started near an example sees for ``N`` large); ``"global"``: the
            fixed point of lowest free energy (``n = 0`` when it beats the retrieval one).

    Returns:
        A :class:`MeanFieldSolution`.
    """
    r, M, P = _check_quality(r), check_int_or_inf("M", M, minimum=1), _check_order(P)
    beta = _check_beta(beta)
    check_name("branch", branch, ("retrieval", "global"), meaning="a branch of fixed points")
    values, probs = _site_distribution(r, M)
    if math.isinf(beta):
        exact = zero_temperature_overlaps(r, M)
        energy = -0.5 * exact.example**P  # f = H / N at T = 0: ((P-1)/2) n^P - (P/2) n^(P-1) E|eta|
        return MeanFieldSolution(exact.example, exact.mattis, energy, 0.0, True)
    half_p = 0.5 * P

    def field(n: float | np.ndarray) -> np.ndarray:
        return beta * half_p * np.multiply.outer(np.asarray(n, dtype=float) ** (P - 1), values)

    def excess(n: float | np.ndarray) -> np.ndarray:  # g(n) - n
        return np.tanh(field(n)) @ (probs * values) - n

    def free_energy(n: float) -> float:
        if beta == 0:
            return -math.inf
        return 0.5 * (P - 1) * n**P - float(_log2cosh(field(n)) @ probs) / beta

    top = float(probs @ np.abs(values))
    grid = np.linspace(0.0, top, _SCAN_POINTS + 1)[1:]
    positive = np.flatnonzero(excess(grid) > 0)
    n = 0.0
    if positive.size:
        last = positive[-1]
        n = top if last == grid.size - 1 else optimize.brentq(excess, grid[last], grid[last + 1], xtol=1e-15)
    m = float(np.tanh(field(n)) @ probs) if n > 0 else 0.0
    f_para = -math.log(2.0) / beta if beta > 0 else -math.inf
    f_n = free_energy(n) if n > 0 else f_para
    is_global = n == 0 or f_n <= f_para
    if branch == "global" and not is_global:
        return MeanFieldSolution(0.0, 0.0, f_para, f_para, True)
    return MeanFieldSolution(float(n), m, f_n, f_para, bool(is_global))


@dataclass(frozen=True)
class PhaseDiagram:
    """Mean-field overlaps on a grid of two control parameters.

    Attributes:
        x_name, y_name: The swept parameters (two of ``"r"``, ``"M"``, ``"beta"``).
        x, y: Their values (lengths ``nx`` and ``ny``).
        mattis: ``ny x nx`` archetype overlaps of the retrieval branch.
        example: ``ny x nx`` prototype overlaps of the retrieval branch.
        global_minimum: ``ny x nx`` booleans: the retrieval state is thermodynamically stable.
        fixed: The parameters held fixed.
    """

    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    mattis: np.ndarray
    example: np.ndarray
    global_minimum: np.ndarray
    fixed: dict[str, float] = field(default_factory=dict)


def phase_diagram(
    *,
    r: float | Sequence[float],
    M: float | Sequence[float],
    beta: float | Sequence[float],
    P: int = 4,
) -> PhaseDiagram:
    """Sweep the mean-field retrieval overlaps over two of ``r``, ``M``, ``beta``.

    Exactly two of ``r``, ``M``, ``beta`` are sequences (the axes, first one on x in the
    order r, M, beta); the third is a number. E.g. ``phase_diagram(r=rs, M=Ms, beta=math.inf)``
    (the exact zero-temperature overlaps over quality and quantity) or
    ``phase_diagram(r=0.6, M=Ms, beta=betas)``.
    """
    P = _check_order(P)
    given = {"r": r, "M": M, "beta": beta}
    axes = [k for k, v in given.items() if isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, str)]
    if len(axes) != 2:
        raise InputDataError("r, M, beta", "exactly two sequences (the axes) and one number", f"axes {axes}")
    (x_name, y_name), fixed_name = axes, next(k for k in given if k not in axes)
    xs, ys = np.asarray(given[x_name], dtype=float), np.asarray(given[y_name], dtype=float)
    for name, vals in ((x_name, xs), (y_name, ys)):
        if vals.ndim != 1 or vals.size == 0:
            raise InputDataError(name, "a non-empty 1-d sequence", f"shape {vals.shape}")
    shape = (ys.size, xs.size)
    mattis, example, stable = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=bool)
    for iy, yv in enumerate(ys):
        for ix, xv in enumerate(xs):
            point = {fixed_name: given[fixed_name], x_name: xv, y_name: yv}
            if not math.isinf(point["M"]):
                point["M"] = _as_int(point["M"])
            sol = solve_mean_field(point["r"], point["M"], point["beta"], P)
            mattis[iy, ix], example[iy, ix], stable[iy, ix] = sol.mattis, sol.example, sol.is_global_minimum
    fixed = {fixed_name: float(given[fixed_name]), "P": float(P)}
    return PhaseDiagram(x_name, y_name, xs, ys, mattis, example, stable, fixed)


def _as_int(value: float) -> int:
    value = check_real("M", value)
    if float(value) != int(value):
        raise InputDataError("M", "integer numbers of examples", value)
    return int(value)


def plot_phase_diagram(diagram: PhaseDiagram, ax: Axes | None = None) -> Figure:
    """Colour map of the archetype overlap ``m`` with the retrieval / stability boundaries.

    Solid line: ``m = 0.5``; dashed: where the retrieval state stops being the global
    free-energy minimum (metastable region on its low side). ``M`` axes are logarithmic.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(diagram, PhaseDiagram):
        raise InputDataError("diagram", "a PhaseDiagram (from phase_diagram)", type(diagram).__name__)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 4.0))
    else:
        fig = ax.figure
    mesh = ax.pcolormesh(
        diagram.x, diagram.y, diagram.mattis, shading="nearest", vmin=0.0, vmax=1.0, cmap="viridis"
    )
    fig.colorbar(mesh, ax=ax, label="archetype overlap m")
    if diagram.x.size > 1 and diagram.y.size > 1:
        if diagram.mattis.min() < 0.5 < diagram.mattis.max():
            ax.contour(diagram.x, diagram.y, diagram.mattis, levels=[0.5], colors="white", linewidths=1.2)
        if diagram.global_minimum.any() and not diagram.global_minimum.all():
            ax.contour(
                diagram.x, diagram.y, diagram.global_minimum.astype(float), levels=[0.5],
                colors="red", linestyles="--", linewidths=1.0,
            )  # fmt: skip
    labels = {"r": "quality r", "M": "examples per class M", "beta": "inverse temperature beta"}
    ax.set_xlabel(labels[diagram.x_name])
    ax.set_ylabel(labels[diagram.y_name])
    for name, setter in ((diagram.x_name, ax.set_xscale), (diagram.y_name, ax.set_yscale)):
        if name == "M":
            setter("log")
    fixed = ", ".join(f"{k} = {v:g}" for k, v in diagram.fixed.items())
    ax.set_title(f"dense Hebbian retrieval, {fixed}")
    return fig
