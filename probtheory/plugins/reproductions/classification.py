"""The shared protocol of the classification reproductions: seed, build, train with ``fit``, score.

Every variant of every reproduction is trained by :func:`train_and_score`, so variants differ
only in the model and optimizer they are given.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from probtheory.plugins.data import ClassificationSplit, digits_split
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy, accuracy_verdict
from probtheory.plugins.reproductions.figures import bar_chart
from probtheory.training.loop import TrainingCallback, fit
from probtheory.training.minibatches import Minibatches

__all__ = [
    "Budget",
    "Score",
    "Variant",
    "seeded_variant",
    "build_seeded",
    "compare_on_digits",
    "digits_result",
    "train_and_score",
]

#: ``variant(split, seed) -> Score``: builds, trains and scores one model on one split.
Variant = Callable[[ClassificationSplit, int], "Score"]


@dataclass(frozen=True)
class Budget:
    """How long and with what step size a variant is trained.

    Attributes:
        epochs: Passes over the training set.
        batch_size: Minibatch size.
        lr: Learning rate of the default Adam optimizer.
    """

    epochs: int
    batch_size: int = 64
    lr: float = 1e-3


@dataclass(frozen=True)
class Score:
    """One trained variant's outcome.

    Attributes:
        accuracy: Test accuracy in [0, 1] (of whatever the weights are if training diverged).
        train_loss: Mean training loss of the last finished epoch.
        diverged: Whether training stopped at a non-finite loss.
        n_test: Number of test points behind ``accuracy``.
    """

    accuracy: float
    train_loss: float
    diverged: bool
    n_test: int


def build_seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Call ``build()`` with the global torch RNG seeded, restoring the RNG afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def seeded_variant(build: Callable[[], nn.Module], budget: Budget) -> Variant:
    """The variant that trains ``build()`` (seeded by the run's seed) and scores it."""

    def run(split: ClassificationSplit, seed: int) -> Score:
        return train_and_score(build_seeded(build, seed), split, budget, seed=seed)

    return run


def train_and_score(
    model: nn.Module,
    split: ClassificationSplit,
    budget: Budget,
    *,
    seed: int,
    optimizer: torch.optim.Optimizer | None = None,
    callbacks: Sequence[TrainingCallback] = (),
) -> Score:
    """Train ``model`` on ``split``'s training set with :func:`fit` and score it on the test set.

    Args:
        model: Maps `b x d` inputs to `b x c` logits.
        split: The data.
        budget: Epochs, batch size and the default optimizer's learning rate.
        seed: Seeds the minibatch order and the global RNG during training.
        optimizer: Overrides ``Adam(model.parameters(), lr=budget.lr)``.
        callbacks: Passed to :func:`fit`.
    """
    data = Minibatches(split.x_train, split.y_train, batch_size=budget.batch_size, seed=seed)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    state = fit(
        model,
        data,
        epochs=budget.epochs,
        optimizer=optimizer,
        callbacks=callbacks,
        seed=seed,
        stop_on_nonfinite=True,
        progress=False,
    )
    finished = [loss for loss in state.epoch_losses if loss == loss]  # drop a NaN from a diverged epoch
    return Score(
        accuracy=accuracy(model, split.x_test, split.y_test),
        train_loss=finished[-1] if finished else float("nan"),
        diverged=state.diverged,
        n_test=int(split.y_test.numel()),
    )


def compare_on_digits(variants: Mapping[str, Variant], seeds: Sequence[int]) -> dict[str, list[Score]]:
    """Run every variant on the digits split of every seed; the scores per variant, in seed order."""
    scores: dict[str, list[Score]] = {name: [] for name in variants}
    for seed in seeds:
        split = digits_split(seed)
        for name, variant in variants.items():
            scores[name].append(variant(split, seed))
    return scores


def digits_result(
    *,
    name: str,
    scores: Mapping[str, Sequence[Score]],
    method: str,
    baseline: str,
    seconds: float,
    quick: bool,
    seed: int,
    out_dir: Path | None,
    title: str,
    note: str = "",
    extra: Mapping[str, float] | None = None,
) -> ReproductionResult:
    """Assemble the :class:`ReproductionResult` of a digits comparison (and its bar chart).

    The metric is the test accuracy averaged over seeds; the verdict compares ``method`` with
    ``baseline`` by :func:`accuracy_verdict` over all test points of all seeds. ``details``
    holds every variant's mean accuracy, last training loss and number of diverged runs.
    """
    n_test = sum(s.n_test for s in scores[method])
    mean = {variant: statistics.fmean(s.accuracy for s in runs) for variant, runs in scores.items()}
    details: dict[str, float] = {}
    for variant, runs in scores.items():
        details[f"{variant} accuracy"] = mean[variant]
        details[f"{variant} train loss"] = statistics.fmean(s.train_loss for s in runs)
        details[f"{variant} diverged runs"] = float(sum(s.diverged for s in runs))
    details.update(extra or {})
    figure = None
    if out_dir is not None:
        errors = [math.sqrt(max(mean[v] * (1 - mean[v]), 1e-12) / n_test) for v in scores]
        figure = bar_chart(
            out_dir / f"{name}.png",
            list(scores),
            [mean[v] for v in scores],
            errors,
            ylabel="test accuracy (digits)",
            title=title,
        )
    verdict = accuracy_verdict(method, mean[method], baseline, mean[baseline], n_test)
    return ReproductionResult(
        method=name,
        metric="test accuracy (digits)",
        value=mean[method],
        baseline=baseline,
        baseline_value=mean[baseline],
        seconds=seconds,
        verdict=verdict + (f"; {note}" if note else ""),
        quick=quick,
        seed=seed,
        details=details,
        figure=figure,
    )
