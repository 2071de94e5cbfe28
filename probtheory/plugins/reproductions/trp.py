"""Trained Rank Pruning against post-hoc SVD truncation at equal ranks, on digits.

The paper's claim (Xu et al., IJCAI 2020, Sec. 4): a network trained with TRP loses little
accuracy when its weights are decomposed at the ranks it reached, while truncating a normally
trained network to the same ranks after training loses much more. Here: an MLP
``64 - 256 - 256 - 10`` trained with :class:`probtheory.training.TrainedRankPruning` (energy
0.9, truncation every 10 steps, small nuclear-norm weight), then decomposed; the baseline is the
same architecture trained without TRP and truncated post hoc to the ranks TRP reached on the
same seed. Both decomposed networks have the same parameter count, which the details report.
"""

from __future__ import annotations

import time
from pathlib import Path

from torch import nn

from probtheory.plugins.data import ClassificationSplit
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy, count_parameters
from probtheory.plugins.reproductions.classification import (
    Budget,
    Score,
    build_seeded,
    compare_on_digits,
    digits_result,
    train_and_score,
)
from probtheory.training import TrainedRankPruning, decompose_low_rank

__all__ = ["reproduce"]

_WIDTH = 256
_ENERGY = 0.9
_PERIOD = 10
_NUCLEAR = 1e-4


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, _WIDTH), nn.ReLU(), nn.Linear(_WIDTH, 10)
    )


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """TRP vs post-hoc truncation to the same ranks: test accuracy of the decomposed MLPs on digits.

    Args:
        quick: Two seeds and 15 epochs (else five seeds and 30 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``trained-rank-pruning.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=15 if quick else 30)
    seeds = [seed + i for i in range(2 if quick else 5)]
    ranks_by_seed: dict[int, list[int]] = {}
    sizes: dict[str, int] = {}

    def trp(split: ClassificationSplit, run_seed: int) -> Score:
        model = build_seeded(_mlp, run_seed)
        callback = TrainedRankPruning(energy=_ENERGY, period=_PERIOD, nuclear_weight=_NUCLEAR)
        score = train_and_score(model, split, budget, seed=run_seed, callbacks=[callback])
        ranks_by_seed[run_seed] = callback.history[-1]
        small = decompose_low_rank(model, callback.ranks())
        sizes["decomposed"] = count_parameters(small)
        return Score(
            accuracy(small, split.x_test, split.y_test), score.train_loss, score.diverged, score.n_test
        )

    def posthoc(split: ClassificationSplit, run_seed: int) -> Score:
        model = build_seeded(_mlp, run_seed)
        score = train_and_score(model, split, budget, seed=run_seed)
        layers = [model[0], model[2]]
        small = decompose_low_rank(model, dict(zip(layers, ranks_by_seed[run_seed], strict=True)))
        return Score(
            accuracy(small, split.x_test, split.y_test), score.train_loss, score.diverged, score.n_test
        )

    def dense(split: ClassificationSplit, run_seed: int) -> Score:
        return train_and_score(build_seeded(_mlp, run_seed), split, budget, seed=run_seed)

    # order matters: TRP runs first on each seed and records the ranks the baseline truncates to
    scores = compare_on_digits({"TRP": trp, "post-hoc SVD": posthoc, "dense (no truncation)": dense}, seeds)
    mean_ranks = [sum(r[i] for r in ranks_by_seed.values()) / len(seeds) for i in range(2)]
    dense_size = count_parameters(_mlp())
    note = (
        f"mean ranks reached {mean_ranks[0]:.0f} and {mean_ranks[1]:.0f} of {_WIDTH} (energy {_ENERGY}); "
        f"decomposed nets have {sizes['decomposed']} parameters vs {dense_size} dense"
    )
    return digits_result(
        name="trained-rank-pruning",
        scores=scores,
        method="TRP",
        baseline="post-hoc SVD",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_WIDTH}-{_WIDTH}-10 decomposed at TRP's ranks, {budget.epochs} epochs",
        note=note,
        extra={
            "rank layer 1 (mean)": mean_ranks[0],
            "rank layer 2 (mean)": mean_ranks[1],
            "decomposed parameters (last seed)": float(sizes["decomposed"]),
            "dense parameters": float(dense_size),
        },
    )
