"""Claim ``lanczos_lr.stable_step`` (the Lanczos learning rate of Granziol, Zohren & Roberts).

Granziol, Zohren, Roberts, *Learning rates as a function of batch size: a random matrix theory
approach to neural network training* (JMLR 2022; arXiv 2006.09092). The learner sets
the SGD step to c / lambda_max(H_B), lambda_max from Lanczos on double-backward Hessian-vector
products, because gradient descent on the batch's quadratic model is stable exactly when
alpha < 2 / lambda_max(H_B). Two exact consequences are checked:

* with a Krylov dimension equal to the parameter count, the Lanczos value equals the largest
  eigenvalue of the explicit (autograd) Hessian of a small tanh network's cross-entropy, to
  float64 round-off;
* on least squares (an exact quadratic) the step c / lambda_max computed that way decreases the
  batch loss after T steps for c < 2 and increases it for 4 - c > 2.

Mutants: a single Lanczos step (the Rayleigh quotient of the random start vector) and the
largest diagonal entry of the Hessian (a diagonal curvature estimate); both underestimate
lambda_max.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call

from probtheory.plugins.training import classification_loss
from probtheory.training.lanczos_lr import hessian_matvec, hessian_top_eigenvalue
from proofs_checks.catalog.bibliography import GRANZIOL_ZOHREN_ROBERTS_2022
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import BOUND, instance_label, label_axes
from proofs_checks.strategies import seeds

_STEPS = 300
_CURVE_SAFETY = tuple(0.25 * k for k in range(1, 16))  # c = 0.25 .. 3.75: the report's curve
_REL_TOL = 1e-8  # float64 Lanczos with full reorthogonalisation vs eigvalsh: round-off only


@dataclass(frozen=True)
class StepInstance:
    dim: int
    width: int
    batch: int
    safety: float
    seed: int


@st.composite
def _instances(draw) -> StepInstance:
    return StepInstance(
        dim=draw(st.integers(2, 5)),
        width=draw(st.integers(2, 5)),
        batch=draw(st.integers(4, 24)),
        safety=draw(st.floats(0.5, 1.9)),
        seed=draw(seeds()),
    )


def _explicit_top(net: nn.Module, batch) -> float:
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def loss(theta):
        params = {n: t.reshape(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes, strict=True)}
        return classification_loss(lambda x: functional_call(net, params, (x,)), batch)

    return float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat))[-1])


def _squared_loss(model, batch):
    x, y = batch
    return ((model(x)[:, 0] - y) ** 2).mean()


def _loss_ratio(x, y, w0, lr) -> float:
    """Batch loss after ``_STEPS`` gradient steps over the initial loss (an exact quadratic)."""
    w = w0.clone()
    loss0 = float(((x @ w - y) ** 2).mean())
    for _ in range(_STEPS):
        w = w - lr * 2.0 * x.T @ (x @ w - y) / x.shape[0]
    return float(((x @ w - y) ** 2).mean()) / loss0


def _check(inst: StepInstance, top_eigenvalue) -> list[Evidence]:
    g = torch.Generator().manual_seed(inst.seed)
    torch.manual_seed(inst.seed)
    net = nn.Sequential(nn.Linear(inst.dim, inst.width), nn.Tanh(), nn.Linear(inst.width, 3)).double()
    x = torch.randn(inst.batch, inst.dim, generator=g, dtype=torch.float64)
    batch = (x, torch.randint(0, 3, (inst.batch,), generator=g))
    params = sum(p.numel() for p in net.parameters())
    exact = _explicit_top(net, batch)
    lanczos = top_eigenvalue(net, classification_loss, batch, params, inst.seed)
    evidence = [
        Evidence.within(
            "Lanczos lambda_max(H_B) / eigvalsh lambda_max(H_B) - 1 (tanh MLP, cross-entropy, k = P)",
            lanczos / exact - 1.0, 0.0, _REL_TOL,
            "float64 round-off: with k = P the Krylov space is the whole parameter space",
            exact=exact, lanczos=lanczos, parameters=params,
        )
    ]  # fmt: skip
    # least squares: the loss is its own quadratic model, H_B = 2 X^T X / B
    linear = nn.Linear(inst.dim, 1, bias=False).double()
    w0 = torch.randn(inst.dim, generator=g, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(w0[None])
    y = torch.randn(inst.batch, generator=g, dtype=torch.float64)
    top = top_eigenvalue(linear, _squared_loss, (x, y), inst.dim, inst.seed)
    for safety, stable in ((inst.safety, True), (4.0 - inst.safety, False)):
        ratio = _loss_ratio(x, y, w0, safety / top)
        quantity = f"batch loss after {_STEPS} steps / initial, lr = {safety:.3g} / lambda_max"
        if stable:
            evidence.append(
                Evidence.at_most(quantity, ratio, 1.0, "GD on a quadratic with lr < 2/lambda_max", c=safety)
            )
        else:
            evidence.append(
                Evidence.at_least(quantity, ratio, 1.0, "GD on a quadratic with lr > 2/lambda_max", c=safety)
            )
    evidence[1].details["curve"] = {c: _loss_ratio(x, y, w0, c / top) for c in _CURVE_SAFETY}
    return evidence


def plot(records, ax) -> None:
    """Least-squares loss after the steps over the initial one against c in lr = c / lambda_max."""
    # beyond c = 2 the loss grows like (c - 1)^(2T), and with B <= d it falls to round-off below:
    # the axis spans at most [1e-8, 1e4], the instance's points beyond it sit on its edge
    values = [v for _, evidence in records for v in evidence[1].details["curve"].values() if v > 0]
    low, top = max(1e-8, 0.3 * min(values, default=1.0)), 1e4
    for i, (inst, evidence) in enumerate(records):
        curve = evidence[1].details["curve"]
        label = instance_label(i, f"d = {inst.dim}, B = {inst.batch}")
        line = ax.plot(list(curve), list(curve.values()), "-", lw=1, label=label)
        for e in evidence[1:]:
            marker = "^" if e.measured > top else "v" if e.measured < low else "o"
            ax.plot(e.details["c"], min(max(e.measured, low), top), marker, ms=5, color=line[0].get_color(),
                    clip_on=False)  # fmt: skip
    ax.axvline(2.0, label="c = 2: lr = 2 / lambda_max(H_B)", **BOUND)
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.plot([], [], "ko", ms=5, label="the instance's c and 4 - c (^ v: off the axis)")
    ax.set_yscale("log", nonpositive="mask")
    ax.set_ylim(low, top)
    label_axes(ax, "c (lr = c / Lanczos lambda_max)", f"batch loss after {_STEPS} GD steps / initial",
               legend="lower right")  # fmt: skip


def _rayleigh_quotient(model, loss, batch, k, seed) -> float:
    return hessian_top_eigenvalue(model, loss, batch, k=1, seed=seed)


def _largest_diagonal(model, loss, batch, k, seed) -> float:
    matvec = hessian_matvec(model, loss, batch)
    n = sum(p.numel() for p in model.parameters())
    return max(float(matvec(e)[i]) for i, e in enumerate(torch.eye(n, dtype=torch.float64)))


def _top_eigenvalue(model, loss, batch, k, seed) -> float:
    return hessian_top_eigenvalue(model, loss, batch, k=k, seed=seed)


STABLE_STEP_CLAIM = Claim(
    id="lanczos_lr.stable_step",
    title="The Lanczos learning rate c / lambda_max(H_B) is exact and stable exactly for c < 2",
    paper=GRANZIOL_ZOHREN_ROBERTS_2022,
    statement=(
        "Lanczos with double-backward Hessian-vector products and Krylov dimension P returns the "
        "largest eigenvalue of the batch Hessian; gradient descent on a quadratic with the step "
        "c / lambda_max(H_B) decreases the loss for c < 2 and blows up for c > 2."
    ),
    formula=(
        r"\mathrm{lanczos}_P(v \mapsto H_B v) = \lambda_{\max}(H_B);\quad "
        r"\frac{L(\theta_T)}{L(\theta_0)} \le 1 \text{ for } \alpha = c/\lambda_{\max},\ c < 2, "
        r"\text{ and } \ge 1 \text{ for } c > 2"
    ),
    strategy=_instances,
    check=_check,
    subject=_top_eigenvalue,
    mutants=(
        Mutant(
            "rayleigh-quotient",
            "a single Lanczos step: the random start's Rayleigh quotient",
            _rayleigh_quotient,
        ),
        Mutant(
            "diagonal",
            "the largest diagonal entry of H_B (a diagonal curvature estimate)",
            _largest_diagonal,
        ),
    ),
    examples={"ci": 4, "thorough": 40},
    mutant_examples=3,
    plot=plot,
)
