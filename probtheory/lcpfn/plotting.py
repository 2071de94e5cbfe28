"""The quantile-fan plot of a learning-curve extrapolation."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402

__all__ = ["plot_quantile_fan"]


def plot_quantile_fan(
    epochs: Sequence[float],
    values: Sequence[float],
    future: Sequence[float],
    quantiles: Tensor,
    qs: Sequence[float],
    truth: Sequence[float] | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Observed prefix, predictive median and the central bands of symmetric quantile pairs.

    Args:
        epochs: Observed epochs.
        values: Observed values.
        future: Predicted epochs.
        quantiles: `len(future) x len(qs)` predictive quantiles.
        qs: Quantile levels (pairs q, 1 - q are shaded; 0.5 is drawn as a line).
        truth: The true continuation, if known.
        ax: Axes to draw into (default: a new figure).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    levels = [float(q) for q in qs]
    columns = {round(q, 6): quantiles[:, i].tolist() for i, q in enumerate(levels)}
    lows = sorted(q for q in columns if q < 0.5)
    for rank, q in enumerate(lows):
        upper = round(1 - q, 6)
        if upper in columns:
            alpha = 0.15 + 0.25 * rank / max(1, len(lows))
            ax.fill_between(
                future,
                columns[q],
                columns[upper],
                color="C0",
                alpha=alpha,
                lw=0,
                label=f"{100 * (1 - 2 * q):.0f}% interval",
            )
    if 0.5 in columns:
        ax.plot(future, columns[0.5], color="C0", lw=1.5, label="median")
    ax.plot(epochs, values, "k.", ms=3, label="observed")
    if truth is not None:
        ax.plot(future, truth, ".", color="C3", ms=2, label="held out")
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.legend(fontsize=8, loc="lower right")
    return ax.figure
