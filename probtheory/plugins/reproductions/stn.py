"""Self-Tuning Networks against a grid of fixed dropout rates, on a deliberately small digits split.

The paper's claims (MacKay et al., ICLR 2019, Sec. 5): one STN run, tuning its regularisation
hyperparameters online, reaches a validation/test performance at least as good as fixed
hyperparameters found by search at several times the compute, and the dropout rates it learns
*rise* over training (a schedule, not a constant). Our CPU-sized set-up: an MLP
``64 - 256 - 256 - 10`` overfits 300 digits images; 300 more are the validation set and the
rest (1197) the test set. The STN (:class:`probtheory.training.self_tuning.networks.STNMLP` with
:class:`~probtheory.training.self_tuning.SelfTuning`) tunes both hidden layers' dropout rates and
the input-noise std from 0.05 each. Baselines:

* **grid**: plain MLPs with fixed dropout in {0, 0.2, 0.4, 0.6}, the one with the lowest
  validation loss chosen (4 full runs; the STN run takes 1.5 times the passes of one run, each on
  twice the weights, so about 3/4 of the grid's compute -- the details report both wall times);
* **fixed at init**: the same STN network trained without hyper steps, i.e. its
  hyperparameters kept at their initial values (same weight steps as the STN run).

All runs: Adam (lr 1e-3) on the weights, batch 32, the same epochs; the STN's hyper steps are
Adam (lr 0.03, larger than the paper's 3e-3 because the CPU run is ~100 times shorter) on a
validation batch after every 2 weight steps, after a 5-epoch warm-up.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory.plugins.data import ClassificationSplit, digits_split
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy
from probtheory.plugins.reproductions.classification import Score, build_seeded, digits_result
from probtheory.training.loop import TrainingCallback, fit
from probtheory.training.minibatches import Minibatches
from probtheory.training.self_tuning import SelfTuning
from probtheory.training.self_tuning.networks import STNMLP

__all__ = ["reproduce"]

_WIDTH = 256
_N_TRAIN = _N_VAL = 300
_BATCH = 32
_LR = 1e-3
_HYPER_LR = 0.03
_WARMUP_EPOCHS = 5
_GRID = (0.0, 0.2, 0.4, 0.6)
_INIT = 0.05


def _split(seed: int) -> tuple[ClassificationSplit, Tensor, Tensor]:
    """300 training, 300 validation and 1197 test images (standardised with train+val statistics)."""
    split = digits_split(seed, test_fraction=1 - (_N_TRAIN + _N_VAL) / 1797)
    order = torch.randperm(split.x_train.shape[0], generator=torch.Generator().manual_seed(seed))
    train, val = order[:_N_TRAIN], order[_N_TRAIN : _N_TRAIN + _N_VAL]
    small = ClassificationSplit(
        split.x_train[train], split.y_train[train], split.x_test, split.y_test, split.num_classes
    )
    return small, split.x_train[val], split.y_train[val]


def _mlp(p: float) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, _WIDTH), nn.ReLU(), nn.Dropout(p),
        nn.Linear(_WIDTH, _WIDTH), nn.ReLU(), nn.Dropout(p),
        nn.Linear(_WIDTH, 10),
    )  # fmt: skip


def _evaluate(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of a finished model, which is left in eval mode."""
    model.eval()
    with torch.no_grad():
        loss = float(F.cross_entropy(model(x), y))
    return accuracy(model, x, y), loss


def _train(
    model: nn.Module, split: ClassificationSplit, epochs: int, seed: int, callbacks: list[TrainingCallback]
) -> float:
    """Train with the shared loop; returns the last epoch's training loss."""
    weights = [p for name, p in model.named_parameters() if not name.startswith("hyperparameters.")]
    data = Minibatches(split.x_train, split.y_train, batch_size=_BATCH, seed=seed)
    state = fit(
        model,
        data,
        epochs=epochs,
        optimizer=torch.optim.Adam(weights, lr=_LR),
        callbacks=callbacks,
        seed=seed,
        progress=False,
    )
    return state.epoch_losses[-1]


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """One STN run vs the validation-selected best of a 4-point dropout grid: test accuracy on digits.

    Args:
        quick: One seed and 60 epochs (else three seeds and 100 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``self-tuning-networks.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    out_dir = None if out_dir is None else Path(out_dir)
    epochs = 60 if quick else 100
    seeds = [seed + i for i in range(1 if quick else 3)]
    names = ("STN", "grid best (val)", "fixed at init")
    scores: dict[str, list[Score]] = {name: [] for name in names}
    test_loss: dict[str, list[float]] = {name: [] for name in names}
    chosen, first, last, rises = [], [], [], []
    seconds = {"grid": 0.0, "STN": 0.0}
    for run_seed in seeds:
        split, x_val, y_val = _split(run_seed)
        n_test = int(split.y_test.numel())

        def record(name: str, model: nn.Module, train_loss: float, split=split, n_test=n_test) -> None:
            acc, loss = _evaluate(model, split.x_test, split.y_test)
            scores[name].append(Score(acc, train_loss, False, n_test))
            test_loss[name].append(loss)

        grid, tic = [], time.perf_counter()
        for p in _GRID:
            model = build_seeded(lambda p=p: _mlp(p), run_seed)
            train_loss = _train(model, split, epochs, run_seed, [])
            grid.append((_evaluate(model, x_val, y_val)[1], p, model, train_loss))
        seconds["grid"] += time.perf_counter() - tic
        _, best_p, best_model, best_train = min(grid, key=lambda item: item[0])
        chosen.append(best_p)
        record("grid best (val)", best_model, best_train)

        tic = time.perf_counter()
        model = STNMLP(64, (_WIDTH, _WIDTH), 10, dropout=_INIT, input_noise=_INIT, seed=run_seed)
        val_batches = Minibatches(x_val, y_val, batch_size=_BATCH, seed=run_seed + 1)
        warmup = _WARMUP_EPOCHS * len(Minibatches(split.x_train, batch_size=_BATCH))
        stn = SelfTuning(
            model.hyperparameters, val_batches, hyper_lr=_HYPER_LR, scale_lr=_HYPER_LR, warmup_steps=warmup
        )
        train_loss = _train(model, split, epochs, run_seed, [stn])
        seconds["STN"] += time.perf_counter() - tic
        record("STN", model, train_loss)
        dropout = [
            (a + b) / 2 for a, b in zip(stn.history["dropout_0"], stn.history["dropout_1"], strict=True)
        ]
        quarter = max(1, len(dropout) // 4)
        first.append(statistics.fmean(dropout[:quarter]))
        last.append(statistics.fmean(dropout[-quarter:]))
        rises.append(last[-1] > first[-1])

        fixed = STNMLP(64, (_WIDTH, _WIDTH), 10, dropout=_INIT, input_noise=_INIT, seed=run_seed)
        record("fixed at init", fixed, _train(fixed, split, epochs, run_seed, []))

    mean_acc = {name: statistics.fmean(s.accuracy for s in scores[name]) for name in names}
    mean_loss = {name: statistics.fmean(test_loss[name]) for name in names}
    gap = 100 * (mean_acc["STN"] - mean_acc["grid best (val)"])
    within = gap >= -1.0
    rise = all(rises)
    note = (
        f"claim 'one STN run within ~1 pt of the best grid point': {'shown' if within else 'NOT shown'} "
        f"({gap:+.1f} pts); claim 'learned dropout rises during training': "
        f"{'shown' if rise else 'NOT shown'} (mean of the two rates {statistics.fmean(first):.2f} -> "
        f"{statistics.fmean(last):.2f}, first vs last quarter of hyper steps, rises on "
        f"{sum(rises)}/{len(seeds)} seeds); test loss STN {mean_loss['STN']:.3f}, grid best "
        f"{mean_loss['grid best (val)']:.3f}, fixed at init {mean_loss['fixed at init']:.3f}; "
        f"grid chose dropout {chosen}; compute: STN 1 run (twice the weights) + 1 validation step per "
        f"2 weight steps, {seconds['STN']:.0f} s; grid 4 runs, {seconds['grid']:.0f} s"
    )
    extra = {f"{name} test loss": value for name, value in mean_loss.items()}
    extra |= {
        "STN mean dropout, first quarter": statistics.fmean(first),
        "STN mean dropout, last quarter": statistics.fmean(last),
        "grid chosen dropout (mean)": statistics.fmean(chosen),
        "epochs": float(epochs),
        "STN seconds": seconds["STN"],
        "grid seconds (4 runs)": seconds["grid"],
    }
    return digits_result(
        name="self-tuning-networks",
        scores=scores,
        method="STN",
        baseline="grid best (val)",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_WIDTH}-{_WIDTH}-10 on 300 digits, {epochs} epochs",
        note=note,
        extra=extra,
    )
