"""Claim ``sara.sparse_adapter`` (SaRA: only the small-magnitude parameters are fine-tuned).

Hu et al., *SaRA: High-Efficient Diffusion Model Fine-tuning with Progressive Sparse Low-Rank
Adaptation* (ICLR 2025), Sec. 3: SaRA trains exactly the entries whose pretrained magnitude lies
below the threshold, :math:`M = 1[|theta_0| < t]`; every other entry keeps its pretrained value, so
the fine-tuned model is the pretrained one plus a sparse adapter on M, which is all that is saved.

Checked exactly (float64, no tolerance): after fine-tuning with AdamW (decoupled weight decay,
which moves every parameter it sees) the entries outside M are bit-identical to the pretrained
ones; the adapter holds exactly |M| entries; writing it into the pretrained model reproduces the
fine-tuned model bit for bit; and with a zero learning rate the model does not change at all (no
re-parametrisation of the pretrained function at the start).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import nn

from probtheory.plugins.training import fit
from probtheory.training.sara import SaRA, load_state_delta
from proofs_checks.catalog.bibliography import SARA
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.strategies import seeds


@dataclass(frozen=True)
class SaRAInstance:
    widths: tuple[int, ...]
    fraction: float
    weight_decay: float
    steps: int
    seed: int


@st.composite
def _instances(draw) -> SaRAInstance:
    widths = tuple(draw(st.lists(st.integers(3, 12), min_size=2, max_size=4)))
    return SaRAInstance(
        widths=widths,
        fraction=draw(st.floats(0.05, 0.6)),
        weight_decay=draw(st.floats(0.01, 1.0)),
        steps=draw(st.integers(2, 8)),
        seed=draw(seeds()),
    )


def _model(inst: SaRAInstance) -> nn.Module:
    torch.manual_seed(inst.seed)
    layers: list[nn.Module] = []
    for a, b in zip(inst.widths[:-1], inst.widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1]).double()


def _data(inst: SaRAInstance) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(inst.seed)
    x = torch.randn(inst.steps, 8, inst.widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, inst.widths[-1], (inst.steps, 8), generator=g)
    return list(zip(x, y, strict=True))


def _check(inst: SaRAInstance, subject) -> list[Evidence]:
    model = _model(inst)
    pretrained = copy.deepcopy(model)
    sara = subject(
        model, fraction=inst.fraction, nuclear_weight=1e-3, progressive_step=max(1, inst.steps // 2)
    )
    initial = {name: mask.clone() for name, mask in sara.masks.items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=inst.weight_decay)
    fit(model, _data(inst), epochs=1, optimizer=optimizer, callbacks=[sara], progress=False)
    frozen_change = max(
        float(((p.detach() - q.detach()).abs() * ~initial[name]).max())
        for (name, p), q in zip(model.named_parameters(), pretrained.parameters(), strict=True)
    )
    expected_count = sum(int((q.detach().abs() < sara.threshold).sum()) for q in pretrained.parameters())
    delta = sara.state_delta()
    stored = sum(v.numel() for k, v in delta.items() if k.endswith(".value"))
    rebuilt = load_state_delta(copy.deepcopy(pretrained), delta)
    rebuild_error = max(
        float((a - b).detach().abs().max())
        for a, b in zip(rebuilt.parameters(), model.parameters(), strict=True)
    )
    still = _model(inst)
    idle = subject(still, fraction=inst.fraction)
    fit(still, _data(inst), epochs=1, optimizer=torch.optim.SGD(still.parameters(), lr=0.0),
        callbacks=[idle], progress=False)  # fmt: skip
    idle_change = max(
        float((a - b).detach().abs().max())
        for a, b in zip(still.parameters(), pretrained.parameters(), strict=True)
    )
    exact = "an exact structural identity: frozen entries are copied, not computed"
    return [
        Evidence.at_most("max |theta - theta_0| over entries with |theta_0| >= t", frozen_change, 0.0, exact),
        Evidence.within(
            "adapter entries stored minus #{|theta_0| < t}",
            stored - expected_count,
            0.0,
            0.0,
            "counts are integers",
        ),  # fmt: skip
        Evidence.at_most("max |load(pretrained, adapter) - fine-tuned|", rebuild_error, 0.0, exact),
        Evidence.at_most("max |theta - theta_0| after steps with learning rate 0", idle_change, 0.0, exact),
    ]


class _GradientMaskOnly(SaRA):
    """Masks gradients but does not write the frozen entries back: weight decay moves them."""

    def on_step_end(self, state) -> None:
        self.steps += 1


class _AbsQuirk(SaRA):
    """The reference code's ``trainable.abs()``: masked slots start at |theta| (negatives flipped)."""

    def on_fit_start(self, state) -> None:
        super().on_fit_start(state)
        with torch.no_grad():
            for name, p in self._params.items():
                p.copy_(torch.where(self.masks[name], p.abs(), p))


SPARSE_ADAPTER_CLAIM = Claim(
    id="sara.sparse_adapter",
    title="SaRA changes only the pretrained entries below the threshold; its adapter rebuilds the model",
    paper=SARA,
    statement=(
        "Fine-tuning with SaRA updates only the entries whose pretrained magnitude is below the "
        "threshold t; all others stay at their pretrained values under any optimizer, the saved "
        "sparse adapter has exactly #{|theta_0| < t} entries, and pretrained + adapter equals the "
        "fine-tuned model."
    ),
    formula=r"\theta_T = \theta_0 + M \odot (\theta_T - \theta_0),\quad M = \mathbf{1}[|\theta_0| < t]",
    strategy=_instances,
    check=_check,
    subject=SaRA,
    mutants=(
        Mutant(
            "gradient-mask-only",
            "masked gradients without restoring frozen entries (AdamW decay)",
            _GradientMaskOnly,
        ),  # fmt: skip
        Mutant("abs-quirk", "the reference code's abs() written into the masked slots", _AbsQuirk),
    ),
    examples={"ci": 4, "thorough": 40},
    mutant_examples=4,
)
