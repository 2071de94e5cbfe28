r"""BiPer against the sign / straight-through-estimator binary network on digits.

The paper's claim (Vargas et al., CVPR 2024, Sec. 5) is that binarising weights with a square
wave and differentiating through its sine beats the usual ``sign`` with a straight-through
estimator (STE). Here both binary networks are ``64 - w - [w - w] - 10`` MLPs whose two middle
layers have binary weights *and* binary activations (first and last layers full precision, as
is usual for BNNs), batch norm after every hidden layer, the same activation binarisation,
learnable scale :math:`\alpha` and optimizer; they differ only in the weight binarisation and
its gradient. BiPer trains half its epochs in stage 1 (sine weights) and half in stage 2
(binary weights); the STE network trains all epochs with binary weights. A full-precision
network of the same shape (ReLU in place of the binarisations) is reported as a reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd import Function

from probtheory.layers import BiPerLinear, set_biper_stage
from probtheory.plugins.data import ClassificationSplit
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.reproductions.classification import (
    Budget,
    Score,
    build_seeded,
    compare_on_digits,
    digits_result,
    seeded_variant,
    train_and_score,
)

__all__ = ["reproduce"]

_WIDTH = 256
_OMEGA = 20.0  # the paper's frequency for CIFAR-10


class _SignSTE(Function):
    """``sign(w)`` (+1 at 0) forward; the clipped straight-through gradient ``1{|w| <= 1}`` backward."""

    @staticmethod
    def forward(ctx: Any, w: Tensor) -> Tensor:
        ctx.save_for_backward(w)
        return torch.where(w >= 0, 1.0, -1.0).to(w.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


class _SignSTELinear(BiPerLinear):
    """The baseline: a BiPer layer whose weights are ``sign(w)`` with the straight-through estimator."""

    def binary_weight(self) -> Tensor:
        return _SignSTE.apply(self.weight)


def _mlp(hidden: Callable[[], nn.Module]) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, _WIDTH),
        nn.BatchNorm1d(_WIDTH),
        hidden(),
        nn.BatchNorm1d(_WIDTH),
        hidden(),
        nn.BatchNorm1d(_WIDTH),
        nn.Linear(_WIDTH, 10),
    )


def _full_precision() -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Linear(_WIDTH, _WIDTH))


def _biper_variant(budget: Budget, omega: float) -> Callable[[ClassificationSplit, int], Score]:
    stage_budget = Budget(epochs=max(1, budget.epochs // 2), batch_size=budget.batch_size, lr=budget.lr)

    def run(split: ClassificationSplit, seed: int) -> Score:
        model = build_seeded(lambda: _mlp(lambda: BiPerLinear(_WIDTH, _WIDTH, omega=omega, stage=1)), seed)
        train_and_score(model, split, stage_budget, seed=seed)
        set_biper_stage(model, 2)  # stage 2 starts from stage 1's weights, with a fresh optimizer
        return train_and_score(model, split, stage_budget, seed=seed + 1)

    return run


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """BiPer (two stages, omega = 20) vs sign + STE binary MLP: test accuracy on digits.

    Args:
        quick: Three seeds and 20 epochs (else five seeds, 40 epochs, and BiPer also at
            omega = 1, 5 and 50 to show the frequency's effect).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``biper.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=20 if quick else 40)
    seeds = [seed + i for i in range(3 if quick else 5)]
    variants = {
        "BiPer": _biper_variant(budget, _OMEGA),
        "sign+STE": seeded_variant(partial(_mlp, lambda: _SignSTELinear(_WIDTH, _WIDTH)), budget),
        "full precision": seeded_variant(partial(_mlp, _full_precision), budget),
    }
    if not quick:
        variants.update({f"BiPer w={omega:g}": _biper_variant(budget, omega) for omega in (1.0, 5.0, 50.0)})
    scores = compare_on_digits(variants, seeds)
    full_precision = sum(s.accuracy for s in scores["full precision"]) / len(seeds)
    return digits_result(
        name="biper",
        scores=scores,
        method="BiPer",
        baseline="sign+STE",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        note=f"full-precision reference {100 * full_precision:.1f}%",
        title=(
            f"binary MLP 64-{_WIDTH}-[{_WIDTH}-{_WIDTH}]-10 on digits, "
            f"{budget.epochs} epochs, {len(seeds)} seed(s)"
        ),
    )
