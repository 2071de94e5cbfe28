"""BT² against an independent new model, L2 compatibility and BCT: cross-model retrieval on digits.

The paper's claim (Zhou et al., ICCV 2023, Sec. 5): a new model trained with BT²'s basis
transformation and extra dimensions is backward compatible -- its queries retrieve from an old
model's gallery about as well as a BCT-style compatible model's -- while its own (new-to-new)
retrieval stays close to an independently trained new model, which compatibility alone degrades.

Our CPU-sized set-up of that protocol: the old model is a small MLP
``64 - 32 - 16`` trained on digits 0-6 only; every new model is an MLP ``64 - 128 - 16`` (BT²:
``16 + 8`` outputs and :class:`probtheory.training.bt2.BasisTransform` with k = 8, C = 3) trained
on all ten digits, all with :func:`probtheory.plugins.fit`:

* *independent*: cross-entropy only (also BT²'s phi_new');
* *L2 compatibility*: + 10 (1 - cos(f, phi_old)) = 5 ||f - phi_old||^2 on unit vectors;
* *BCT*: + 10 CE(P f, y), the influence loss with the old class means P;
* *BT²*: + all three BT² terms (weights 10, 1, 10).

Metrics: 1-NN retrieval accuracy (cosine) of test queries in the training-set gallery: old/old,
new/new and new-query vs old-gallery ("cross"); the new models' classifier accuracy; and the
nearest-old-class-mean accuracy of the cross embeddings. Verdicts compare with the binomial
standard error (:func:`probtheory.plugins.evaluation.accuracy_verdict`).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from torch import nn

from probtheory.plugins.data import ClassificationSplit, digits_split
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy_verdict
from probtheory.plugins.reproductions.classification import Budget, build_seeded, train_and_score
from probtheory.plugins.reproductions.figures import bar_chart
from probtheory.training.bt2 import (
    BackwardCompatibleLoss,
    BasisTransform,
    CompatibleEmbedder,
    old_class_means,
)
from probtheory.training.retrieval import nearest_mean_accuracy, nearest_neighbour_accuracy

__all__ = ["reproduce"]

_OLD_CLASSES = 7
_DIM = 16
_EXTRA = 8
_HIDDEN_OLD, _HIDDEN_NEW = 32, 128
_VARIANTS = ("independent", "L2 compatibility", "BCT", "BT2")


def _old_model() -> CompatibleEmbedder:
    backbone = nn.Sequential(nn.Linear(64, _HIDDEN_OLD), nn.ReLU(), nn.Linear(_HIDDEN_OLD, _DIM))
    return CompatibleEmbedder(backbone, _OLD_CLASSES, _DIM)


def _new_model(transform: bool, seed: int) -> CompatibleEmbedder:
    extra = _EXTRA if transform else 0
    backbone = nn.Sequential(nn.Linear(64, _HIDDEN_NEW), nn.ReLU(), nn.Linear(_HIDDEN_NEW, _DIM + extra))
    head = BasisTransform(_DIM, _DIM, _EXTRA, scale=3.0, seed=seed) if transform else None
    return CompatibleEmbedder(backbone, 10, _DIM, transform=head)


def _old_classes(split: ClassificationSplit) -> ClassificationSplit:
    keep_train, keep_test = split.y_train < _OLD_CLASSES, split.y_test < _OLD_CLASSES
    return ClassificationSplit(
        split.x_train[keep_train],
        split.y_train[keep_train],
        split.x_test[keep_test],
        split.y_test[keep_test],
        _OLD_CLASSES,
    )


def _embeddings(model: CompatibleEmbedder, x: torch.Tensor):
    model.eval()
    with torch.no_grad():
        return model.embed(x)


def _one_seed(seed: int, budget: Budget) -> dict[str, dict[str, float]]:
    split = digits_split(seed)
    old = build_seeded(_old_model, seed)
    train_and_score(old, _old_classes(split), budget, seed=seed)
    old_train = _embeddings(old, split.x_train).embedding
    old_old = nearest_neighbour_accuracy(
        _embeddings(old, split.x_test).embedding, split.y_test, old_train, split.y_train
    )
    classifier = old_class_means(old, split.x_train, split.y_train, 10)
    models: dict[str, CompatibleEmbedder] = {}
    callbacks = {
        "independent": lambda: [],
        "L2 compatibility": lambda: [
            BackwardCompatibleLoss(old, compatibility_weight=10.0, transfer_weight=0.0, influence_weight=0.0)
        ],
        "BCT": lambda: [
            BackwardCompatibleLoss(
                old,
                old_classifier=classifier,
                compatibility_weight=0.0,
                transfer_weight=0.0,
                influence_weight=10.0,
            )
        ],
        "BT2": lambda: [
            BackwardCompatibleLoss(old, new_model=models["independent"], old_classifier=classifier)
        ],
    }
    results: dict[str, dict[str, float]] = {}
    for name in _VARIANTS:
        model = build_seeded(lambda name=name: _new_model(name == "BT2", seed), seed)
        score = train_and_score(model, split, budget, seed=seed, callbacks=callbacks[name]())
        models[name] = model
        test, train = _embeddings(model, split.x_test), _embeddings(model, split.x_train)
        results[name] = {
            "cross": nearest_neighbour_accuracy(test.compatible, split.y_test, old_train, split.y_train),
            "new/new": nearest_neighbour_accuracy(
                test.embedding, split.y_test, train.embedding, split.y_train
            ),
            "classifier": score.accuracy,
            "cross prototype": nearest_mean_accuracy(test.compatible, split.y_test, old_train, split.y_train),
            "old/old": old_old,
            "n_test": float(split.y_test.numel()),
        }
    return results


def _verdict(mean: dict[tuple[str, str], float], n_test: int) -> str:
    """The paper's three claims, each against binomial noise: compatible, own accuracy kept, beats BCT/L2."""

    def compare(a: str, b: str, metric: str) -> tuple[str, str]:
        line = accuracy_verdict(
            f"BT2 {metric}", mean[(a, metric)], f"{b} {metric}", mean[(b, metric)], n_test
        )
        outcome = "better" if line.endswith("better") else "worse" if line.endswith("worse") else "same"
        return line, outcome

    cross, old_old = mean[("BT2", "cross")], mean[("BT2", "old/old")]
    compatible = cross > old_old
    parts = [
        f"BT2 {'IS' if compatible else 'is NOT'} backward compatible (new->old 1-NN {100 * cross:.1f}% "
        f"{'>' if compatible else '<='} old/old {100 * old_old:.1f}%; independent new->old "
        f"{100 * mean[('independent', 'cross')]:.1f}%)"
    ]
    keeps, keeps_outcome = compare("BT2", "independent", "new/new")
    over_l2, l2_outcome = compare("BT2", "L2 compatibility", "new/new")
    over_bct, bct_outcome = compare("BT2", "BCT", "new/new")
    cross_l2, _ = compare("BT2", "L2 compatibility", "cross")
    cross_bct, cross_bct_outcome = compare("BT2", "BCT", "cross")
    parts += [keeps, over_l2, cross_l2, over_bct, cross_bct]
    kept = keeps_outcome != "worse"
    parts.append(
        "claim vs L2 compatibility "
        + ("REPRODUCED" if compatible and kept and l2_outcome == "better" else "NOT reproduced")
        + "; claim vs BCT "
        + (
            "REPRODUCED"
            if compatible and kept and bct_outcome == "better" and cross_bct_outcome != "worse"
            else f"NOT reproduced (BCT new/new {100 * mean[('BCT', 'new/new')]:.1f}% vs independent "
            f"{100 * mean[('independent', 'new/new')]:.1f}%: compatibility through BCT's influence loss "
            f"costs {'little or nothing' if bct_outcome != 'better' else 'accuracy'} at this scale)"
        )
    )
    return "; ".join(parts)


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """BT² vs independent / L2-compatible / BCT new models: cross and new/new 1-NN retrieval on digits.

    Args:
        quick: Two seeds and 40 epochs (else five seeds and 60 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``bt2.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=40 if quick else 60)
    seeds = [seed + i for i in range(2 if quick else 5)]
    runs = [_one_seed(s, budget) for s in seeds]
    n_test = int(sum(r["BT2"]["n_test"] for r in runs))
    mean = {
        (name, metric): statistics.fmean(r[name][metric] for r in runs)
        for name in _VARIANTS
        for metric in ("cross", "new/new", "classifier", "cross prototype", "old/old")
    }
    old_old = mean[("BT2", "old/old")]
    verdict = _verdict(mean, n_test)
    details = {f"{name} {metric}": value for (name, metric), value in mean.items() if metric != "old/old"}
    details["old/old"] = old_old
    figure = None
    if out_dir is not None:
        labels = [f"{name}\n{metric}" for name in _VARIANTS for metric in ("cross", "new/new")]
        values = [mean[(name, metric)] for name in _VARIANTS for metric in ("cross", "new/new")]
        errors = [(v * (1 - v) / n_test) ** 0.5 for v in values]
        figure = bar_chart(
            out_dir / "bt2.png",
            labels,
            values,
            errors,
            ylabel="1-NN retrieval accuracy",
            title="BT² on digits",
        )
    return ReproductionResult(
        method="bt2",
        metric="new/new 1-NN retrieval accuracy (digits), at backward compatibility",
        value=mean[("BT2", "new/new")],
        baseline="L2 compatibility",
        baseline_value=mean[("L2 compatibility", "new/new")],
        seconds=time.perf_counter() - start,
        verdict=verdict,
        quick=quick,
        seed=seed,
        details=details,
        figure=figure,
    )
