"""Shared drawing for the claims' report plots: axes, theory guides, distributions against a bound.

A claim's ``plot(records, ax)`` draws the evidence of one run on one matplotlib axes; the helpers
here are what two or more of those plots share. Theory guides are dashed black, bounds dotted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator

__all__ = [
    "BOUND",
    "GUIDE",
    "geometric_guide",
    "identity_line",
    "instance_label",
    "label_axes",
    "power_law_guide",
    "strip_against_bound",
    "width_axes",
    "z_score_histogram",
]

#: How the guides (what the theory predicts) and the bounds (what the check allows) are drawn.
GUIDE = {"color": "k", "ls": "--", "lw": 0.9}
BOUND = {"color": "k", "ls": ":", "lw": 1.0}
#: Instances a legend names; the others are drawn unnamed (a thorough run checks up to hundreds).
NAMED_INSTANCES = 6


def instance_label(index: int, text: str) -> str | None:
    """``text`` as the legend label of the ``index``-th instance drawn, None past :data:`NAMED_INSTANCES`."""
    return text if index < NAMED_INSTANCES else None


def width_axes(ax, widths: Sequence[int], ylabel: str) -> None:
    """Log-log axes with one labelled tick per width and a small legend."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(list(widths)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(w) for w in widths])
    ax.set_xlabel("width n")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def label_axes(
    ax,
    xlabel: str,
    ylabel: str,
    *,
    xscale: str | None = None,
    yscale: str | None = None,
    fontsize: int = 7,
    legend: str = "best",
    columns: int = 1,
) -> None:
    """Axis labels, optional scales (None leaves one as it is), and a small legend if anything is labelled.

    ``legend`` is the legend's matplotlib ``loc``, ``columns`` its number of columns.
    """
    if xscale is not None:
        ax.set_xscale(xscale)
    if yscale is not None:
        ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=fontsize, loc=legend, ncols=columns)


def power_law_guide(
    ax,
    xs: Sequence[float],
    anchor: tuple[float, float],
    exponent: float,
    label: str | None = None,
    linestyle: str = "--",
) -> None:
    """The theory's power law ``y0 (x / x0)^exponent`` through ``anchor = (x0, y0)``, over ``xs``'s span."""
    x0, y0 = anchor
    grid = np.geomspace(min(xs), max(xs), 50)
    ax.plot(grid, y0 * (grid / x0) ** exponent, label=label, **{**GUIDE, "ls": linestyle})


def geometric_guide(
    ax, ks: Sequence[float], anchor: tuple[float, float], ratio: float, label: str | None = None
) -> None:
    """The geometric decay ``y0 ratio^(k - k0)`` through ``anchor = (k0, y0)``, over the span of ``ks``."""
    k0, y0 = anchor
    grid = np.linspace(min(ks), max(ks), 50)
    ax.plot(grid, y0 * ratio ** (grid - k0), label=label, **GUIDE)


def identity_line(ax, values: Sequence[float], label: str = "measured = predicted") -> None:
    """The diagonal ``y = x`` over the range of ``values`` (the finite ones)."""
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        ax.plot([min(finite), max(finite)], [min(finite), max(finite)], label=label, **GUIDE)


def strip_against_bound(
    ax, groups: Mapping[str, Sequence[float]], bound: float, bound_label: str, *, marker: str = "o"
) -> None:
    """Each group's values as a column of points, with the bound the check allows as a line.

    The points of a column are spread sideways in the order given (no random jitter: the same
    records give the same figure).
    """
    for position, values in enumerate(groups.values()):
        values = np.asarray(values, dtype=float)
        offsets = np.linspace(-0.22, 0.22, len(values)) if len(values) > 1 else np.zeros(len(values))
        ax.plot(position + offsets, values, marker, ms=4, alpha=0.75, ls="none")
    ax.axhline(bound, label=bound_label, **BOUND)
    ax.set_xticks(range(len(groups)), list(groups), fontsize=7)
    ax.set_xlim(-0.6, len(groups) - 0.4)


def z_score_histogram(ax, groups: Mapping[str, Sequence[float]], bound: float) -> None:
    """Histograms (as densities) of signed z-scores, the standard normal density, and +-``bound``.

    An unbiased Monte-Carlo estimate gives z-scores close to N(0, 1); a bias shifts or widens them
    towards the bound.
    """
    values = [np.asarray(v, dtype=float) for v in groups.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    reach = max(1.2 * bound, 1.05 * float(np.abs(finite).max())) if finite.size else 1.2 * bound
    per_group = finite.size / max(len(values), 1)
    bins = np.linspace(-reach, reach, int(np.clip(2 * math.sqrt(per_group), 10, 40)) + 1)
    for name, v in zip(groups, values, strict=True):
        v = v[np.isfinite(v)]
        if v.size:
            ax.hist(v, bins=bins, density=True, histtype="step", lw=1.2, label=f"{name} ({v.size})")
    grid = np.linspace(-reach, reach, 200)
    ax.plot(grid, np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi), label="N(0, 1)", **GUIDE)
    ax.axvline(-bound, **BOUND)
    ax.axvline(bound, label=f"+-{bound:g} (bound)", **BOUND)
