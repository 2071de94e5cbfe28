"""tpSGD against backpropagation and DRTP on digits, with the memory each holds for backward.

Lomnitz, Daniels, Zhang and Piacentino, *Learning with Local Gradients at the Edge* (AAAI 2023,
arXiv 2208.08503): each hidden layer is trained by SGD on its own loss against a fixed random
projection of the one-hot label (:class:`~probtheory.training.local.TargetProjection`), the output
layer on the task loss; the paper reports accuracy within 5% of backpropagation for shallow
networks, above DRTP (Frenkel et al. 2021), with less memory, since only one layer's activations
are held at a time.

Here: an MLP ``64 - 256 - 256 - 10`` (tanh) on digits, trained by tpSGD (l2 and l1), by DRTP
(the projected label used directly as the error signal, ``-(P y*) ⊙ σ'(z) hᵀ``) and by
backpropagation, all with the same Adam optimizer, learning rate, batch size and epochs. Memory
is the peak of bytes held for backward during one training step of a 64-image batch
(:func:`~probtheory.plugins.evaluation.saved_tensor_bytes`, weights and fixed projections
excluded); a layer's *share* of backprop's is what that layer alone holds for backward in the
end-to-end graph.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory.plugins.data import ClassificationSplit, digits_split
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy, saved_tensor_bytes
from probtheory.plugins.reproductions.classification import (
    Budget,
    Score,
    build_seeded,
    compare_on_digits,
    digits_result,
    seeded_variant,
)
from probtheory.training.local import LocalUpdate, TargetProjection
from probtheory.training.loop import TrainState, classification_loss, fit
from probtheory.training.minibatches import Minibatches

__all__ = ["DRTP", "reproduce"]

_WIDTH = 256
_CLASSES = 10


def _mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Sequential(nn.Linear(64, _WIDTH), nn.Tanh()),
        nn.Sequential(nn.Linear(_WIDTH, _WIDTH), nn.Tanh()),
        nn.Linear(_WIDTH, _CLASSES),
    )


def _task_loss(h: Tensor, batch: Any) -> Tensor:
    return F.cross_entropy(h, batch[1])


class DRTP(TargetProjection):
    """Direct random target projection (Frenkel, Lefebvre and Bol, Front. Neurosci. 2021).

    The projected label is the layer's error signal itself, not a target to reach: the local
    loss ``-mean_b <P y*, y>`` has the gradient ``-(P y*) ⊙ σ'(z) hᵀ``, independent of the
    layer's output.
    """

    def forward(self, h: Tensor, batch: Any) -> Tensor:
        """``-mean_b <P y*, h>``."""
        return -(h * self.target(batch[1]).to(h.dtype)).sum(dim=1).mean()


def _local(kind: str, seed: int) -> list:
    objective = DRTP if kind == "drtp" else TargetProjection
    loss = "l2" if kind == "drtp" else kind
    return [objective(_WIDTH, _CLASSES, loss=loss, seed=1000 * seed + k) for k in range(2)] + [_task_loss]


def _local_variant(kind: str, budget: Budget):
    def run(split: ClassificationSplit, seed: int) -> Score:
        model = build_seeded(_mlp, seed)
        state = fit(
            model,
            Minibatches(split.x_train, split.y_train, batch_size=budget.batch_size, seed=seed),
            epochs=budget.epochs,
            update=LocalUpdate(model, _local(kind, seed)),
            optimizer=torch.optim.Adam(model.parameters(), lr=budget.lr),
            seed=seed,
            stop_on_nonfinite=True,
            progress=False,
        )
        return Score(accuracy(model, split.x_test, split.y_test), state.epoch_losses[-1], state.diverged,
                     int(split.y_test.numel()))  # fmt: skip

    return run


def memory(batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """Peak bytes held for backward in one training step: tpSGD, backprop, and each layer's share."""
    split = digits_split(seed)
    batch = (split.x_train[:batch_size], split.y_train[:batch_size])
    model = build_seeded(_mlp, seed)
    fixed = [*model.parameters()]
    update = LocalUpdate(model, _local("l2", seed))
    excluded = fixed + [o.projection for o in update.objectives if isinstance(o, TargetProjection)]
    state = TrainState(model, torch.optim.SGD(model.parameters(), lr=0.0))
    tpsgd = saved_tensor_bytes(lambda: update(state, batch), exclude=excluded)
    backprop = saved_tensor_bytes(lambda: classification_loss(model, batch).backward(), exclude=fixed)
    shares = []
    h = batch[0]
    for k, block in enumerate(model):
        h_in = h.detach().requires_grad_(k > 0)  # in the end-to-end graph, hidden inputs need grads
        is_last = k == len(model) - 1

        def forward(block=block, h_in=h_in, last=is_last) -> None:
            out = block(h_in)
            if last:
                F.cross_entropy(out, batch[1])

        shares.append(saved_tensor_bytes(forward, exclude=fixed))
        with torch.no_grad():
            h = block(h)
    return {"tpSGD": float(tpsgd), "backprop": float(backprop), "largest layer share": float(max(shares))}


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """TpSGD vs backprop (and DRTP): test accuracy of ``64-256-256-10`` MLPs on digits, and memory.

    Args:
        quick: Three seeds and 10 epochs (else five seeds and 30 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``tpsgd.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=10 if quick else 30)
    seeds = [seed + i for i in range(3 if quick else 5)]
    variants = {
        "tpSGD (l2)": _local_variant("l2", budget),
        "tpSGD (l1)": _local_variant("l1", budget),
        "DRTP": _local_variant("drtp", budget),
        "backprop": seeded_variant(_mlp, budget),
    }
    scores = compare_on_digits(variants, seeds)
    mean = {name: statistics.fmean(s.accuracy for s in runs) for name, runs in scores.items()}
    bytes_held = memory(budget.batch_size, seed)
    gap = 100 * (mean["backprop"] - mean["tpSGD (l2)"])
    over_drtp = 100 * (mean["tpSGD (l2)"] - mean["DRTP"])
    bound = 1.1 * bytes_held["largest layer share"]
    n = sum(s.n_test for s in scores["DRTP"])
    p, q = mean["tpSGD (l2)"], mean["DRTP"]
    se = 100 * math.sqrt((p * (1 - p) + q * (1 - q)) / n)
    if over_drtp >= 0:
        versus_drtp = "met"
    elif over_drtp > -2 * se:
        versus_drtp = f"met within noise: not significantly below, SE {se:.1f}"
    else:
        versus_drtp = f"not met, SE {se:.1f}"
    note = (
        f"tpSGD is {gap:.1f} points below backprop (bar: within 5, {'met' if gap <= 5 else 'not met'}) and "
        f"{over_drtp:+.2f} vs DRTP (bar: not below, {versus_drtp}); peak saved "
        f"bytes {bytes_held['tpSGD'] / 1024:.0f} KiB vs backprop {bytes_held['backprop'] / 1024:.0f} KiB, "
        f"largest layer share {bytes_held['largest layer share'] / 1024:.0f} KiB (bar: <= share +10%, "
        f"{'met' if bytes_held['tpSGD'] <= bound else 'not met'})"
    )
    return digits_result(
        name="tpsgd",
        scores=scores,
        method="tpSGD (l2)",
        baseline="backprop",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_WIDTH}-{_WIDTH}-10, {budget.epochs} epochs: tpSGD vs DRTP vs backprop",
        note=note,
        extra={
            "peak saved bytes tpSGD": bytes_held["tpSGD"],
            "peak saved bytes backprop": bytes_held["backprop"],
            "largest layer share of backprop (bytes)": bytes_held["largest layer share"],
            "saved-bytes ratio tpSGD / backprop": bytes_held["tpSGD"] / bytes_held["backprop"],
        },
    )
