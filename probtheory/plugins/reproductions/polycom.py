"""PolyReLU / PolyNorm against ReLU and GELU in the same MLP on digits.

The paper's claim (Zhuo et al., ICLR 2025, Sec. 4) is that polynomial composition activations
train to lower loss and better downstream accuracy than ReLU/GELU-family activations at equal
parameter count. Here: one MLP ``64 - w - w - 10``, its two activations swapped for each of the
four candidates (:func:`probtheory.layers.swap_modules`); the PolyCom variants carry
``2 (r + 1) = 8`` extra scalars, so parameter counts are equal to 0.05%.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from torch import nn

from probtheory.layers import PolyNorm, PolyReLU, swap_modules
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import count_parameters
from probtheory.plugins.reproductions.classification import (
    Budget,
    compare_on_digits,
    digits_result,
    seeded_variant,
)

__all__ = ["reproduce"]

_WIDTH = 128
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "ReLU": nn.ReLU,
    "GELU": nn.GELU,
    "PolyReLU": PolyReLU,
    "PolyNorm": PolyNorm,
}


def _mlp(activation: Callable[[], nn.Module]) -> nn.Module:
    net = nn.Sequential(
        nn.Linear(64, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, 10)
    )
    swap_modules(net, nn.ReLU, lambda _: activation())
    return net


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """PolyNorm (and PolyReLU) vs the better of ReLU and GELU: test accuracy on digits.

    Args:
        quick: Three seeds and 20 epochs (else five seeds and 40 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``polycom.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=20 if quick else 40)
    seeds = [seed + i for i in range(3 if quick else 5)]
    scores = compare_on_digits(
        {name: seeded_variant(partial(_mlp, act), budget) for name, act in _ACTIVATIONS.items()}, seeds
    )
    baseline = max(("ReLU", "GELU"), key=lambda name: sum(s.accuracy for s in scores[name]))

    def mean(variant: str, field: str) -> float:
        return sum(getattr(s, field) for s in scores[variant]) / len(seeds)

    # the paper's headline is faster convergence (lower training loss); report it next to accuracy
    note = (
        f"PolyReLU {100 * mean('PolyReLU', 'accuracy'):.1f}%; last-epoch train loss PolyNorm "
        f"{mean('PolyNorm', 'train_loss'):.4f}, PolyReLU {mean('PolyReLU', 'train_loss'):.4f}, "
        f"ReLU {mean('ReLU', 'train_loss'):.4f}, GELU {mean('GELU', 'train_loss'):.4f}"
    )
    return digits_result(
        name="polycom",
        scores=scores,
        method="PolyNorm",
        baseline=baseline,
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_WIDTH}-{_WIDTH}-10 on digits, {budget.epochs} epochs, {len(seeds)} seed(s)",
        note=note,
        extra={
            f"{name} parameters": float(count_parameters(_mlp(act))) for name, act in _ACTIVATIONS.items()
        },
    )
