"""The bar chart every classification reproduction draws (matplotlib, non-interactive)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["bar_chart"]


def bar_chart(
    path: Path,
    labels: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float],
    *,
    ylabel: str,
    title: str,
) -> str:
    """Draw one bar per variant with an error bar, save it to ``path`` (PNG), return the path."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe to call repeatedly
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1.4 * len(labels) + 2, 3.2))
    ax.bar(list(labels), list(values), yerr=list(errors), capsize=4, color="tab:blue", alpha=0.8)
    low = min(v - e for v, e in zip(values, errors, strict=True))
    high = max(v + e for v, e in zip(values, errors, strict=True))
    margin = max(0.02, 0.15 * (high - low))
    ax.set_ylim(max(0.0, low - margin), min(1.0, high + margin) if high <= 1 else high + margin)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
