"""Claims ``local.gradient_isolation`` and ``tpsgd.delta_rule`` (local learning rules).

``local.gradient_isolation``: a local learning rule trains block k from its own objective on a
*detached* input (Hinton, *The Forward-Forward Algorithm*, 2022, Sec. 2: "the layers are
trained ... without propagating any derivatives backward"; the same holds for tpSGD, AugLocal,
ForwardGNN and PhyLL). So block k's gradient under
:class:`~probtheory.training.local.LocalUpdate` equals the gradient of objective_k(block_k(h))
with h a constant, computed on its own, and it is unchanged when every later block and head is
perturbed. Checked exactly (float64, same operations, zero tolerance) on random stacks of
blocks, each with a cross-entropy head or a tpSGD target. The mutant forgets the detach: later
objectives then backpropagate into earlier blocks.

``tpsgd.delta_rule``: Lomnitz, Daniels, Zhang and Piacentino, *Learning with Local Gradients at
the Edge* (AAAI 2023), Sec. 3: the local loss ``J = ||P y* - σ(W h + b)||`` of a hidden layer has
the gradient ``-2 (t - y) ⊙ σ'(z) hᵀ`` (l2) or ``-sign(t - y) ⊙ σ'(z) hᵀ`` (l1), with the target
``t = P y*`` the fixed projection of the one-hot label, averaged over the batch. Checked against
autograd to 1e-6 (float64). The mutant regresses onto the unprojected one-hot label.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import nn

from probtheory.training.local import LocalUpdate, TargetProjection
from probtheory.training.loop import TrainState
from proofs_checks.catalog.bibliography import FORWARD_FORWARD, TPSGD
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import seeds

_CLASSES = 3


@dataclass(frozen=True)
class StackInstance:
    widths: tuple[int, ...]
    heads: tuple[str, ...]
    batch: int
    seed: int


@st.composite
def _stacks(draw) -> StackInstance:
    depth = draw(st.integers(2, 4))
    widths = tuple(draw(st.lists(st.integers(3, 7), min_size=depth + 1, max_size=depth + 1)))
    heads = tuple(draw(st.sampled_from(["linear head", "target projection"])) for _ in range(depth))
    return StackInstance(widths=widths, heads=heads, batch=draw(st.integers(2, 6)), seed=draw(seeds()))


class _Head(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, _CLASSES).double()

    def forward(self, h, batch):
        return F.cross_entropy(self.linear(h), batch[1])


def _stack(inst: StackInstance):
    torch.manual_seed(inst.seed)
    blocks = [
        nn.Sequential(nn.Linear(a, b), nn.Tanh()).double()
        for a, b in zip(inst.widths[:-1], inst.widths[1:], strict=True)
    ]
    objectives = [
        _Head(w) if kind == "linear head" else TargetProjection(w, _CLASSES, seed=inst.seed % 1000 + k)
        for k, (w, kind) in enumerate(zip(inst.widths[1:], inst.heads, strict=True))
    ]
    g = torch.Generator().manual_seed(inst.seed)
    x = torch.randn(inst.batch, inst.widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, _CLASSES, (inst.batch,), generator=g)
    return blocks, objectives, (x, y)


def _local_gradients(subject, blocks, objectives, batch) -> list[torch.Tensor]:
    update = subject(blocks, objectives)
    state = TrainState(nn.ModuleList(blocks), torch.optim.SGD(list(update.parameters()), lr=0.0))
    update(state, batch)
    return [p.grad.clone() for block in blocks for p in block.parameters()]


def _check_isolation(inst: StackInstance, subject) -> list[Evidence]:
    blocks, objectives, batch = _stack(inst)
    reference_blocks, reference_objectives = copy.deepcopy(blocks), copy.deepcopy(objectives)
    perturbed_blocks, perturbed_objectives = copy.deepcopy(blocks), copy.deepcopy(objectives)
    local = _local_gradients(subject, blocks, objectives, batch)
    # each block's own local problem, solved apart: its input computed without autograd
    reference = []
    h = batch[0]
    for block, objective in zip(reference_blocks, reference_objectives, strict=True):
        objective(block(h), batch).backward()
        reference += [p.grad.clone() for p in block.parameters()]
        with torch.no_grad():
            h = block(h)
    error = max(float((a - b).abs().max()) for a, b in zip(local, reference, strict=True))
    # the first block's gradient with every later block and head perturbed
    g = torch.Generator().manual_seed(inst.seed + 1)
    with torch.no_grad():
        later = perturbed_blocks[1:] + [o for o in perturbed_objectives[1:] if isinstance(o, nn.Module)]
        for module in later:
            for p in module.parameters():
                p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    perturbed = _local_gradients(subject, perturbed_blocks, perturbed_objectives, batch)
    first = len(list(blocks[0].parameters()))
    change = max(float((a - b).abs().max()) for a, b in zip(local[:first], perturbed[:first], strict=True))
    exact = "the same float64 operations in the same order: no tolerance"
    return [
        Evidence.at_most("max |local gradient - gradient of the block's own problem|", error, 0.0, exact),
        Evidence.at_most("max change of block 0's gradient when later blocks/heads move", change, 0.0, exact),
    ]


class _WithoutDetach(LocalUpdate):
    """The update with the detach forgotten: each objective backpropagates into every earlier block."""

    def __call__(self, state, batch):
        h = self.inputs(batch)
        total = torch.zeros((), dtype=torch.float64)
        for block, objective in zip(self.blocks, self.objectives, strict=True):
            h = block(h)
            loss = objective(h, batch)
            loss.backward(retain_graph=True)
            total += loss.detach().double()
        return total


GRADIENT_ISOLATION_CLAIM = Claim(
    id="local.gradient_isolation",
    title="Under LocalUpdate each block's gradient is that of its own objective, blind to later blocks",
    paper=FORWARD_FORWARD,
    statement=(
        "A local learning rule trains block k by objective_k(block_k(h_{k-1})) with h_{k-1} detached: "
        "its gradient equals that of its own local problem solved apart, and it does not change "
        "when the weights of later blocks or their heads change."
    ),
    formula=(
        r"\nabla_{\theta_k} L_{\mathrm{local}} = \nabla_{\theta_k} \ell_k(f_k(\mathrm{sg}[h_{k-1}]; "
        r"\theta_k)),\quad \text{independent of } \theta_{j>k}"
    ),
    strategy=_stacks,
    check=_check_isolation,
    subject=LocalUpdate,
    mutants=(
        Mutant("without-detach", "the block input not detached (gradients cross blocks)", _WithoutDetach),
    ),
    examples={"ci": 6, "thorough": 60},
    mutant_examples=6,
    section="Sec. 2",
    related=(TPSGD,),
)


@dataclass(frozen=True)
class DeltaInstance:
    n: int
    d_in: int
    width: int
    loss: str
    activation: str
    seed: int


@st.composite
def _deltas(draw) -> DeltaInstance:
    return DeltaInstance(
        n=draw(st.integers(1, 6)),
        d_in=draw(st.integers(2, 7)),
        width=draw(st.integers(_CLASSES, 9)),
        loss=draw(st.sampled_from(["l2", "l1"])),
        activation=draw(st.sampled_from(["tanh", "sigmoid"])),
        seed=draw(seeds()),
    )


_ACTIVATIONS = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
}


def _check_delta(inst: DeltaInstance, subject) -> list[Evidence]:
    g = torch.Generator().manual_seed(inst.seed)
    h = torch.randn(inst.n, inst.d_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, _CLASSES, (inst.n,), generator=g)
    weight = torch.randn(inst.width, inst.d_in, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(inst.width, generator=g, dtype=torch.float64, requires_grad=True)
    activation, derivative = _ACTIVATIONS[inst.activation]
    objective = subject(inst.width, _CLASSES, loss=inst.loss, seed=inst.seed % 10_000)
    z = h @ weight.t() + bias
    objective(activation(z), (h, y)).backward()
    t = objective.projection.double().t()[y]  # the target t = P y*
    residual = t - activation(z.detach())
    signal = 2 * residual if inst.loss == "l2" else torch.sign(residual)
    delta = -signal * derivative(z.detach())
    weight_error = float((weight.grad - delta.t() @ h / inst.n).abs().max())
    bias_error = float((bias.grad - delta.sum(dim=0) / inst.n).abs().max())
    reason = "float64 autograd vs the closed form: rounding only"
    return [
        Evidence.at_most("max |dJ/dW - closed-form delta rule|", weight_error, 1e-6, reason),
        Evidence.at_most("max |dJ/db - closed-form delta rule|", bias_error, 1e-6, reason),
    ]


class _UnprojectedTarget(TargetProjection):
    """Regresses onto the one-hot label itself (zero-padded to the width), not its projection."""

    def forward(self, h, batch):
        target = F.one_hot(batch[1], self.classes).to(h.dtype)
        target = F.pad(target, (0, self.width - self.classes))
        error = target - h
        per_row = error.pow(2) if self.loss == "l2" else error.abs()
        return per_row.sum(dim=1).mean()


DELTA_RULE_CLAIM = Claim(
    id="tpsgd.delta_rule",
    title="tpSGD's local gradient is the delta rule toward the projected label",
    paper=TPSGD,
    statement=(
        "For a hidden layer y = σ(W h + b) with the local loss ||P y* - y||² (l2) or ||P y* - y||_1 "
        "(l1), summed over units and averaged over the batch, the gradient is "
        "-2 (t - y) ⊙ σ'(z) hᵀ (l2) or -sign(t - y) ⊙ σ'(z) hᵀ (l1), with t = P y* the fixed random "
        "projection of the one-hot label."
    ),
    formula=(
        r"\frac{\partial J}{\partial W} = -\frac{1}{n} \sum_b \rho(t_b - y_b) \odot \sigma'(z_b)\, "
        r"h_b^T,\quad \rho(r) = 2r\ (\ell_2),\ \operatorname{sign}(r)\ (\ell_1),\quad t = P y^*"
    ),
    strategy=_deltas,
    check=_check_delta,
    subject=TargetProjection,
    mutants=(Mutant("unprojected-target", "the one-hot label as the target, not P y*", _UnprojectedTarget),),
    examples={"ci": 8, "thorough": 80},
    mutant_examples=6,
    section="Sec. 3",
    # the rule's factor rho is 2r for l2 and sign(r) for l1; sigma' differs per activation
    regimes=Regimes(
        of=lambda inst: {"loss": inst.loss, "activation": inst.activation},
        cases={
            "loss": {loss: {"loss": loss} for loss in ("l2", "l1")},
            "activation": {name: {"activation": name} for name in _ACTIVATIONS},
        },
    ),
)
