"""Claims ``sltt.exact_limits`` and ``sltt.constant_memory`` (spatial learning through time).

Meng et al., *Towards Memory- and Time-Efficient Backpropagation for Training Spiking Neural
Networks* (ICCV 2023), Sec. 4. SLTT drops the gradient along the membrane's temporal edge
``v[t-1] -> v[t]`` and backpropagates each time step's loss at once.

* ``sltt.exact_limits``: the per-step backward passes add up to exactly the gradient of the one
  graph over all T steps with the temporal edge cut; where there is no temporal edge to cut
  (T = 1, or a membrane that keeps nothing, tau = 1) that is BPTT's gradient, bit for bit up to
  float64 summation order. Only the temporal path is cut: a variant that also cuts the spatial
  path (the input current of each neuron) gives the earlier layers no gradient and is rejected.
* ``sltt.constant_memory``: the peak bytes held for backward in one SLTT training step do not
  depend on T (one step's graph at a time); BPTT holds T steps' graphs, so its bytes grow
  linearly in T and it is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import nn

from probtheory.layers.spiking import LIFNeuron, rate_code, temporal_detach
from probtheory.plugins.evaluation import saved_tensor_bytes
from probtheory.training.loop import fit
from probtheory.training.sltt import SLTT, bptt_loss
from proofs_checks.catalog.bibliography import MENG_SLTT_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import instance_label, label_axes
from proofs_checks.strategies import seeds


@dataclass(frozen=True)
class SpikingInstance:
    widths: tuple[int, ...]
    steps: int
    tau: float
    batch: int
    seed: int


def _net(inst: SpikingInstance, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    torch.manual_seed(inst.seed)
    layers: list[nn.Module] = []
    for a, b in zip(inst.widths[:-2], inst.widths[1:-1], strict=True):
        layers += [nn.Linear(a, b), LIFNeuron(tau=inst.tau, v_th=0.5)]
    layers.append(nn.Linear(inst.widths[-2], inst.widths[-1]))
    net = nn.Sequential(*layers).to(dtype)
    with torch.no_grad():
        for module in net:
            if isinstance(module, nn.Linear):
                module.weight.mul_(2.0)  # enough drive that units fire and reset
    return net


def _batch(inst: SpikingInstance, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(inst.seed)
    rates = torch.rand(inst.batch, inst.widths[0], generator=g, dtype=dtype)
    return rate_code(rates, inst.steps, generator=g), torch.randint(
        0, inst.widths[-1], (inst.batch,), generator=g
    )


def _grads(net: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in net.parameters()]


def _strategy_grads(inst: SpikingInstance, subject) -> list[torch.Tensor]:
    net = _net(inst)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    fit(net, [_batch(inst)], epochs=1, update=subject(inst.steps), optimizer=optimizer, progress=False)
    return _grads(net)


def _autograd_grads(inst: SpikingInstance, cut: bool) -> list[torch.Tensor]:
    net = _net(inst)
    with temporal_detach(net, cut):
        bptt_loss(net, _batch(inst)).backward()
    return _grads(net)


def _max_gap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((g - h).abs().max()) for g, h in zip(a, b, strict=True))


@st.composite
def _limit_instances(draw) -> SpikingInstance:
    hidden = draw(st.lists(st.integers(3, 8), min_size=1, max_size=3))
    no_memory = draw(st.booleans())
    return SpikingInstance(
        widths=(draw(st.integers(2, 6)), *hidden, draw(st.integers(2, 4))),
        steps=draw(st.integers(2, 6)) if no_memory else 1,
        tau=1.0 if no_memory else draw(st.floats(1.5, 8.0)),
        batch=draw(st.integers(2, 6)),
        seed=draw(seeds()),
    )


def _check_limits(inst: SpikingInstance, subject) -> list[Evidence]:
    sltt, bptt = _strategy_grads(inst, subject), _autograd_grads(inst, cut=False)
    scale = max(float(g.abs().max()) for g in bptt) or 1.0
    tolerance = 1e-12 * max(1.0, scale)
    reason = "float64, the same sums in another order"
    return [
        Evidence.at_most(
            "max |SLTT grad - BPTT grad| (T = 1 or tau = 1)",
            _max_gap(sltt, bptt),
            0.0,
            reason,
            tolerance=tolerance,
        ),
        Evidence.at_most(
            "max |SLTT grad - autograd of the cut one-graph computation|",
            _max_gap(sltt, _autograd_grads(inst, cut=True)),
            0.0,
            reason,
            tolerance=tolerance,
        ),
    ]


class _SpatialPathCut(SLTT):
    """Also detaches each neuron's input current: the earlier layers get no gradient."""

    def __call__(self, state, batch):
        neurons = [m for m in state.model.modules() if isinstance(m, LIFNeuron)]
        handles = [n.register_forward_pre_hook(lambda module, args: (args[0].detach(),)) for n in neurons]
        try:
            return super().__call__(state, batch)
        finally:
            for handle in handles:
                handle.remove()


EXACT_LIMITS_CLAIM = Claim(
    id="sltt.exact_limits",
    title="SLTT's gradient is the cut graph's, and BPTT's where nothing temporal is cut",
    paper=MENG_SLTT_2023,
    section="Sec. 4.1",
    statement=(
        "Backpropagating every time step's loss at once, with the membrane's temporal edge "
        "v[t-1] -> v[t] detached, gives exactly the gradient of the whole T-step computation "
        "with that edge cut; with T = 1 or a membrane that keeps nothing between steps (tau = 1) "
        "this is BPTT's gradient."
    ),
    formula=(
        r"\sum_t \frac{d}{d\theta} L_t(\theta; v[t-1] \text{ fixed}) = \frac{d}{d\theta} \sum_t L_t "
        r"\Big|_{dv[t]/dv[t-1] := 0}"
    ),
    strategy=_limit_instances,
    check=_check_limits,
    subject=SLTT,
    mutants=(
        Mutant("spatial-path-cut", "the input current detached as well as the membrane", _SpatialPathCut),
    ),
    examples={"ci": 4, "thorough": 40},
    mutant_examples=4,
)


@st.composite
def _memory_instances(draw) -> SpikingInstance:
    return SpikingInstance(
        widths=(draw(st.integers(3, 8)), draw(st.integers(4, 16)), draw(st.integers(2, 4))),
        steps=draw(st.integers(2, 6)),
        tau=draw(st.floats(1.5, 8.0)),
        batch=draw(st.integers(2, 8)),
        seed=draw(seeds()),
    )


def _peak_bytes(inst: SpikingInstance, subject, steps: int) -> int:
    inst = SpikingInstance(inst.widths, steps, inst.tau, inst.batch, inst.seed)
    net = _net(inst, torch.float32)
    batch = _batch(inst, torch.float32)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)

    def step() -> None:
        fit(net, [batch], epochs=1, update=subject(steps), optimizer=optimizer, progress=False)

    return saved_tensor_bytes(step, exclude=net.parameters())


def _check_memory(inst: SpikingInstance, subject) -> list[Evidence]:
    short, long = _peak_bytes(inst, subject, inst.steps), _peak_bytes(inst, subject, 3 * inst.steps)
    # BPTT on the same instance, for the report's comparison (not judged)
    bptt = [_peak_bytes(inst, _BPTT, inst.steps), _peak_bytes(inst, _BPTT, 3 * inst.steps)]
    return [
        Evidence.within(
            f"saved bytes at T = {3 * inst.steps} minus at T = {inst.steps}",
            long - short,
            0.0,
            0.0,
            "byte counts of the same one-step graph are equal exactly",
            short=short,
            long=long,
            bptt=bptt,
        )
    ]


def plot_memory(records, ax) -> None:
    """Peak bytes saved for backward against the number of time steps T: SLTT flat, BPTT linear."""
    for i, (inst, evidence) in enumerate(records):
        d = evidence[0].details
        steps = [inst.steps, 3 * inst.steps]
        label = instance_label(i, f"widths {'-'.join(map(str, inst.widths))}, batch {inst.batch}")
        unit = d["short"]  # instances differ in size: SLTT's bytes at the smaller T are the unit
        line = ax.plot(steps, [d["short"] / unit, d["long"] / unit], "o-", ms=4, label=label)
        ax.plot(steps, [b / unit for b in d["bptt"]], "s--", ms=4, mfc="none", color=line[0].get_color())
    ax.plot([], [], "ko-", ms=4, label="SLTT")
    ax.plot([], [], "ks--", ms=4, mfc="none", label="BPTT (for comparison)")
    label_axes(ax, "time steps T", "peak saved bytes / SLTT's at the smaller T")


class _BPTT:
    """BPTT as an update strategy: one graph over all T steps, one backward at the end."""

    def __init__(self, T: int) -> None:
        self.T = T

    def __call__(self, state, batch):
        loss = bptt_loss(state.model, batch)
        loss.backward()
        return loss.detach()


CONSTANT_MEMORY_CLAIM = Claim(
    id="sltt.constant_memory",
    title="SLTT holds one time step's activations for backward, whatever T",
    paper=MENG_SLTT_2023,
    section="Sec. 4.2",
    statement=(
        "The peak bytes held for backward in one SLTT training step are the same for T and 3T "
        "time steps: each step's graph is freed before the next step runs. BPTT holds all T "
        "steps' graphs, so its peak grows linearly in T."
    ),
    formula=r"\mathrm{peak\_saved\_bytes}(\mathrm{SLTT}, 3T) = \mathrm{peak\_saved\_bytes}(\mathrm{SLTT}, T)",
    strategy=_memory_instances,
    check=_check_memory,
    subject=SLTT,
    mutants=(Mutant("bptt", "backpropagation through time: one graph over all steps", _BPTT),),
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    plot=plot_memory,
)
