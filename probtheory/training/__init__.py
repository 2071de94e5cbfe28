"""Training-time methods: callbacks on the plug-in training loop, data policies, and convex reformulations.

* :class:`TrainedRankPruning` / :func:`decompose_low_rank` -- low-rank weights reached during
  training (Xu et al., IJCAI 2020);
* :class:`HardBatches` -- train each epoch on the top-delta share of minibatches by loss
  (Sahayam et al., 2023);
* :class:`ScalingLaw` / :func:`fit_scaling_law` -- loss, steps and critical batch size laws
  fitted on small runs (Su et al., 2024).
"""

from probtheory.training.hard_batches import HardBatches
from probtheory.training.rank_pruning import (
    TrainedRankPruning,
    decompose_low_rank,
    energy_rank,
    low_rank_matrix,
    matricize,
)
from probtheory.training.scaling_laws import RunLog, ScalingLaw, fit_scaling_law

__all__ = [
    "HardBatches",
    "RunLog",
    "ScalingLaw",
    "TrainedRankPruning",
    "decompose_low_rank",
    "energy_rank",
    "fit_scaling_law",
    "low_rank_matrix",
    "matricize",
]
