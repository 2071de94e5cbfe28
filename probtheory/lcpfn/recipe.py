"""The LC-PFN's training recipe, registered as ``lcpfn`` in the ``probtheory.pfn_recipes`` group.

``probtheory pfn train lcpfn`` trains the shipped LC-PFN from it (Adriaensen et al., "Efficient
Bayesian Learning Curve Extrapolation using Prior-Data Fitted Networks", NeurIPS 2023).
"""

from __future__ import annotations

from probtheory.lcpfn.curves import CurvePrior
from probtheory.pfn.recipes import Recipe
from probtheory.pfn.training import TrainConfig
from probtheory.pfn.transformer import TransformerConfig

__all__ = ["LCPFN_RECIPE"]

LCPFN_RECIPE = Recipe(
    "lcpfn",
    CurvePrior(),
    # curves of 1..100 epochs; the context is the observed prefix, s uniform on 0..99
    TrainConfig(
        steps=30_000,
        batch_size=64,
        seq_len=100,
        max_context=99,
        lr=2e-3,  # the higher peak rate that paid for the GP PFNs (benchmarks/pfn_training_levers.py)
        checkpoint_every=250,
        # half the width of the earlier LC-PFN (embedding 128, feed-forward 256): less than half
        # its prediction time, for the speed bar against MCMC (docs/lcpfn.md, "The curve prior")
        transformer=TransformerConfig(
            num_features=1, num_buckets=500, emsize=64, nhead=4, nhid=128, nlayers=4
        ),
    ),
    "LC-PFN: learning curves of up to 100 epochs from the reference prior (pow3 + ilog2 + janoschek, "
    "peaked parameter priors, log sigma ~ N(-4, 1)); x = epoch / 100",
)
