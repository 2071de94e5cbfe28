"""Shared axes formatting for the claims' report plots."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.ticker import FixedLocator, NullLocator

__all__ = ["width_axes"]


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
