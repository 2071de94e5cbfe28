"""Fit the scaling laws on small teacher-student runs and predict a larger model's loss curve.

A CPU-sized set-up: "infinite data" from a fixed random teacher MLP (fresh
inputs every step, so nothing overfits), student MLPs of several widths trained at two batch
sizes; the laws of :mod:`probtheory.training.scaling_laws` are fitted on the smaller widths and
predict the held-out width's loss at the end of training at both batch sizes. The paper's
practical claim (Su et al., 2024): the laws, refitted on small runs of the same setup, predict
the loss of a larger model. Metric: the mean relative error of the predicted final loss of the
held-out width; baseline: the naive prediction "as good as the largest fitted width".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from probtheory.plugins.entry import ReproductionResult
from probtheory.training import fit_scaling_law
from probtheory.training.loop import TrainingCallback, TrainState, fit
from probtheory.training.scaling_laws import RunLog

__all__ = ["reproduce"]

_DIM = 8


class _TeacherStream:
    """``steps`` fresh batches ``(x, teacher(x))`` of size ``batch_size``, reproducible from ``seed``."""

    def __init__(self, teacher: nn.Module, batch_size: int, steps: int, seed: int) -> None:
        self.teacher, self.batch_size, self.steps, self.seed = teacher, batch_size, steps, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            x = torch.randn(self.batch_size, _DIM, generator=g)
            with torch.no_grad():  # not around the yield: the consumer trains with gradients
                y = self.teacher(x)
            yield x, y


class _LogAtSteps(TrainingCallback):
    """Held-out loss at the given optimizer steps."""

    def __init__(self, steps: set[int], x: torch.Tensor, y: torch.Tensor) -> None:
        self.steps, self.x, self.y, self.log = steps, x, y, {}

    def on_step_end(self, state: TrainState) -> None:
        if state.step in self.steps:
            with torch.no_grad():
                self.log[state.step] = F.mse_loss(state.model(self.x), self.y).item()


def _mlp(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(_DIM, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1)
    )


def _run(teacher, width, batch_size, total_steps, logged, held_out, seed) -> RunLog:
    torch.manual_seed(seed)
    student = _mlp(width)
    logger = _LogAtSteps(set(logged), *held_out)
    fit(student, _TeacherStream(teacher, batch_size, total_steps, seed), epochs=1,
        loss=lambda model, batch: F.mse_loss(model(batch[0]), batch[1]),
        optimizer=torch.optim.Adam(student.parameters(), lr=3e-3),
        callbacks=[logger], seed=seed, progress=False)  # fmt: skip
    params = sum(p.numel() for p in student.parameters())
    return RunLog(float(params), float(batch_size), tuple(float(s) for s in logged),
                  tuple(logger.log[s] for s in logged))  # fmt: skip


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """Predict the held-out width's final loss from the laws fitted on smaller widths.

    Args:
        quick: Widths {4, 8, 16} -> 32 and 400 steps (else {4, 8, 16, 32} -> 64 and 1500 steps).
        seed: Seed of the teacher, the students and the data.
        out_dir: Where to write ``scaling-laws-part1.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    widths, held_out_width = ((4, 8, 16), 32) if quick else ((4, 8, 16, 32), 64)
    total = 400 if quick else 1500
    logged = sorted({int(s) for s in np.geomspace(10, total, 12)})
    batch_sizes = (8, 64)
    torch.manual_seed(10_000 + seed)
    teacher = nn.Sequential(nn.Linear(_DIM, 64), nn.Tanh(), nn.Linear(64, 1)).requires_grad_(False)
    g = torch.Generator().manual_seed(20_000 + seed)
    x_test = torch.randn(4096, _DIM, generator=g)
    held_out = (x_test, teacher(x_test))
    runs = [_run(teacher, w, b, total, logged, held_out, seed) for w in widths for b in batch_sizes]
    targets = [_run(teacher, held_out_width, b, total, logged, held_out, seed) for b in batch_sizes]
    law = fit_scaling_law(runs)
    predicted = [float(law.loss(t.params, total, t.batch_size)) for t in targets]
    observed = [t.losses[-1] for t in targets]
    naive = [max((r for r in runs if r.batch_size == t.batch_size), key=lambda r: r.params).losses[-1]
             for t in targets]  # fmt: skip
    error = float(np.mean([abs(p / o - 1) for p, o in zip(predicted, observed, strict=True)]))
    naive_error = float(np.mean([abs(p / o - 1) for p, o in zip(naive, observed, strict=True)]))
    figure = None
    if out_dir is not None:
        figure = _plot(out_dir / "scaling-laws-part1.png", law, runs + targets, held_out_width, total)
    verdict = (
        f"fitted laws predict the width-{held_out_width} final loss within {100 * error:.0f}% "
        f"(naive 'no gain from size' {100 * naive_error:.0f}%): "
        + (
            "the laws extrapolate clearly better"
            if error < naive_error / 2
            else "only marginally better than the naive guess"
            if error < naive_error
            else "the laws do not beat the naive guess"
        )
    )
    details = {f"law {name}": float(getattr(law, name)) for name in ("n_c", "alpha_n", "s_c", "alpha_s",
                                                                       "b_star", "alpha_b")}  # fmt: skip
    for b, p, o in zip(batch_sizes, predicted, observed, strict=True):
        details[f"B={b}: predicted final loss"], details[f"B={b}: observed final loss"] = p, o
    return ReproductionResult(
        method="scaling-laws-part1",
        metric=f"relative error of the predicted final loss (held-out width {held_out_width})",
        value=error,
        baseline="largest fitted width's loss",
        baseline_value=naive_error,
        seconds=time.perf_counter() - start,
        verdict=verdict,
        higher_is_better=False,
        quick=quick,
        seed=seed,
        details=details,
        figure=figure,
    )


def _plot(path: Path, law, runs, held_out_width: int, total: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, ax = plt.subplots(figsize=(6, 4))
    dense = np.geomspace(10, total, 50)
    for i, run in enumerate(runs):
        color = f"C{i % 10}"
        ax.loglog(run.steps, run.losses, "o", color=color, ms=3)
        ax.loglog(dense, law.loss(run.params, dense, run.batch_size), "-", color=color, lw=1,
                  label=f"N={int(run.params)}, B={int(run.batch_size)}")  # fmt: skip
    ax.set_xlabel("steps")
    ax.set_ylabel("held-out MSE")
    ax.set_title(f"laws fitted without width {held_out_width} (last two curves: predicted)")
    ax.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return str(path)
