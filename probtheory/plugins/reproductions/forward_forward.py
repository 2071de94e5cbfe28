"""Forward-forward against backpropagation on digits: the baseline of the local learning rules.

Hinton, *The Forward-Forward Algorithm: Some Preliminary Investigations* (2022), Sec. 3: each
layer learns to give positive data (the input with its true label) a high goodness (sum of
squared activities) and negative data (a wrong label) a low one; a layer's input is
length-normalised; a test input is classified by the label whose overlay gives the largest
goodness. On MNIST, a 4 x 2000 ReLU network reached 1.36% test error against about 1.4% for
backpropagation (Sec. 3.3).

Here: an MLP ``64 - 500 - 500`` on digits, the one-hot label appended to the input (74 inputs),
trained by :class:`~probtheory.training.local.LocalUpdate` with
:class:`~probtheory.training.local.FFGoodness` per layer; prediction sums both layers' goodness.
The baseline is the same ``64 - 500 - 500`` network with a linear readout, trained by
backpropagation with the same optimizer, learning rate, batch size and epochs. The secondary
figure is the area under the ROC curve of layer 1's goodness, positives against negatives, on
the test set.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from probtheory.plugins.data import ClassificationSplit
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.reproductions.classification import (
    Budget,
    Score,
    build_seeded,
    compare_on_digits,
    digits_result,
    seeded_variant,
)
from probtheory.training.local import (
    FFGoodness,
    LabelOverlay,
    LengthNormalization,
    LocalUpdate,
    predict_by_goodness,
)
from probtheory.training.loop import fit
from probtheory.training.minibatches import Minibatches

__all__ = ["reproduce"]

_WIDTH = 500
_THETA = 2.0
_CLASSES = 10


def _ff_network() -> nn.Sequential:
    return nn.Sequential(
        nn.Sequential(LengthNormalization(), nn.Linear(64 + _CLASSES, _WIDTH), nn.ReLU()),
        nn.Sequential(LengthNormalization(), nn.Linear(_WIDTH, _WIDTH), nn.ReLU()),
    )


def _backprop_network() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, _CLASSES)
    )


def roc_auc(positive: Tensor, negative: Tensor) -> float:
    """P(a positive scores above a negative), ties counted half (the Mann-Whitney AUC)."""
    difference = positive.double().view(-1, 1) - negative.double().view(1, -1)
    return float((difference > 0).double().mean() + 0.5 * (difference == 0).double().mean())


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """Forward-forward vs backprop: test accuracy of ``64-500-500`` MLPs on digits.

    Args:
        quick: Three seeds and 12 epochs (else five seeds and 30 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``forward-forward.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=12 if quick else 30)
    seeds = [seed + i for i in range(3 if quick else 5)]
    aucs: list[float] = []

    def forward_forward(split: ClassificationSplit, run_seed: int) -> Score:
        model = build_seeded(_ff_network, run_seed)
        overlay = LabelOverlay(_CLASSES, seed=run_seed)
        objective = FFGoodness(_THETA)
        state = fit(
            model,
            Minibatches(split.x_train, split.y_train, batch_size=budget.batch_size, seed=run_seed),
            epochs=budget.epochs,
            update=LocalUpdate(model, [objective, objective], inputs=overlay),
            optimizer=torch.optim.Adam(model.parameters(), lr=budget.lr),
            seed=run_seed,
            stop_on_nonfinite=True,
            progress=False,
        )
        predicted = predict_by_goodness(model, [objective.goodness] * 2, split.x_test, overlay)
        with torch.no_grad():
            both = overlay((split.x_test, split.y_test))
            goodness = objective.goodness(model[0](both))
        n = split.y_test.numel()
        aucs.append(roc_auc(goodness[:n], goodness[n:]))
        return Score(
            accuracy=float((predicted == split.y_test).float().mean()),
            train_loss=state.epoch_losses[-1],
            diverged=state.diverged,
            n_test=n,
        )

    scores = compare_on_digits(
        {"forward-forward": forward_forward, "backprop": seeded_variant(_backprop_network, budget)}, seeds
    )
    ff = statistics.fmean(s.accuracy for s in scores["forward-forward"])
    bp = statistics.fmean(s.accuracy for s in scores["backprop"])
    auc = statistics.fmean(aucs)
    gap = 100 * (bp - ff)
    note = (
        f"forward-forward is {gap:.1f} points below backprop (bar: within 8, "
        f"{'met' if gap <= 8 else 'not met'}); layer-1 goodness AUC of positives vs negatives "
        f"{auc:.3f} (bar: >= 0.95, {'met' if auc >= 0.95 else 'not met'}). Hinton's MNIST result "
        "(1.36% vs about 1.4% error) used far larger nets and ~60 epochs"
    )
    return digits_result(
        name="forward-forward",
        scores=scores,
        method="forward-forward",
        baseline="backprop",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_WIDTH}-{_WIDTH}, {budget.epochs} epochs: forward-forward vs backprop",
        note=note,
        extra={"layer-1 goodness AUC": auc, "accuracy gap to backprop (points)": gap},
    )
