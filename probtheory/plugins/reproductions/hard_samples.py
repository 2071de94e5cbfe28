"""Top-delta hard minibatches against standard training at an equal number of backward passes, on digits.

The paper's claim (Sahayam et al., 2023): training only on the highest-loss minibatches of each
epoch converges faster, to equal or better accuracy. Compared at equal compute -- the same
number of backward passes (optimizer steps) -- which is the fair comparison: standard minibatch
training for E epochs against :class:`probtheory.training.HardBatches` with delta = 0.5 for 2E
epochs and delta = 0.25 for 4E epochs (the scoring forward passes come on top and are reported).
An honest negative check is included: with 20% of the training labels flipped, the
hardest batches hold the noise, and the details report both methods under that noise too.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from probtheory.plugins.data import ClassificationSplit
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy
from probtheory.plugins.reproductions.classification import (
    Budget,
    Score,
    build_seeded,
    compare_on_digits,
    digits_result,
)
from probtheory.training import HardBatches
from probtheory.training.loop import classification_loss, fit
from probtheory.training.minibatches import Minibatches

__all__ = ["reproduce"]

_WIDTH = 64
_BATCH = 32
_LR = 0.05  # plain SGD: the step count is the compute, no adaptive rescaling of rare batches


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, 10))


def _noisy(split: ClassificationSplit, seed: int, fraction: float = 0.2) -> ClassificationSplit:
    g = torch.Generator().manual_seed(10_000 + seed)
    y = split.y_train.clone()
    flip = torch.rand(y.shape, generator=g) < fraction
    y[flip] = torch.randint(0, split.num_classes, (int(flip.sum()),), generator=g)
    return ClassificationSplit(split.x_train, y, split.x_test, split.y_test, split.num_classes)


def _variant(epochs: int, delta: float | None, noise: bool):
    def run(split: ClassificationSplit, seed: int) -> Score:
        if noise:
            split = _noisy(split, seed)
        model = build_seeded(_mlp, seed)
        data = Minibatches(split.x_train, split.y_train, batch_size=_BATCH, seed=seed)
        if delta is not None:
            data = HardBatches(data, model, classification_loss, delta=delta)
        optimizer = torch.optim.SGD(model.parameters(), lr=_LR)
        state = fit(model, data, epochs=epochs, optimizer=optimizer, seed=seed, progress=False)
        return Score(
            accuracy(model, split.x_test, split.y_test),
            state.epoch_losses[-1],
            state.diverged,
            int(split.y_test.numel()),
        )

    return run


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """Top-50% hard batches vs standard SGD at equal backward passes: test accuracy on digits.

    Args:
        quick: Two seeds, 4 epochs of standard training (else five seeds, 8 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``hard-sample-batches.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    epochs = Budget(epochs=4 if quick else 8).epochs
    seeds = [seed + i for i in range(2 if quick else 5)]
    variants = {
        "standard": _variant(epochs, None, noise=False),
        "top-50%": _variant(2 * epochs, 0.5, noise=False),
        "top-25%": _variant(4 * epochs, 0.25, noise=False),
        "standard, 20% label noise": _variant(epochs, None, noise=True),
        "top-50%, 20% label noise": _variant(2 * epochs, 0.5, noise=True),
    }
    scores = compare_on_digits(variants, seeds)

    def mean(name: str) -> float:
        return sum(s.accuracy for s in scores[name]) / len(seeds)

    noisy_hard, noisy_standard = mean("top-50%, 20% label noise"), mean("standard, 20% label noise")
    note = (
        f"equal backward passes ({epochs} epochs of all batches); top-25% {100 * mean('top-25%'):.1f}%; "
        f"with 20% label noise: top-50% {100 * noisy_hard:.1f}% vs standard {100 * noisy_standard:.1f}%"
    )
    return digits_result(
        name="hard-sample-batches",
        scores=scores,
        method="top-50%",
        baseline="standard",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_WIDTH}-10, SGD, equal backward passes ({epochs} epochs of all batches)",
        note=note,
    )
