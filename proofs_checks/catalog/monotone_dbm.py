"""Claims ``dbm.unique_fixed_point`` and ``dbm.implicit_gradient`` (monotone deep Boltzmann machines).

Feng, Winston, Kolter, *Monotone deep Boltzmann machines* (TMLR 2023, arXiv 2307.04990): the
monotone parameterisation of the coupling makes mean-field inference a strongly monotone
operator splitting problem with a unique fixed point. Checked on small dense instances:

* with ``W = -s (A^T A - blkdiag(A^T A))``, ``I - W ⪰ m I`` and the mean-field free energy is
  m-strongly convex on the product of simplices: damped forward-backward splitting reaches the
  same fixed point from every start, that point solves ``q = softmax(W q + b)``, and it is the
  global minimiser of ``F`` with quadratic growth ``F(z) >= F(q) + m/2 |z - q|^2``;
* gradients through the fixed point by the implicit function theorem equal central finite
  differences of the solved fixed point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from probtheory.energy.categorical_mean_field import (
    _ImplicitMeanField,
    mean_field_free_energy,
    solve_mean_field,
)
from probtheory.energy.monotone_dbm import MonotoneDBM
from probtheory.energy.proximal_softmax import _prox_jacobian_apply, block_softmax
from proofs_checks.catalog.bibliography import FENG_WINSTON_KOLTER_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import BOUND, instance_label, label_axes
from proofs_checks.strategies import seeds

F64 = torch.float64
_STARTS = 16  # random starting points per instance
_SOLVER_TOL = 1e-10  # mean-field residual the solver must reach (float64)


@dataclass(frozen=True)
class DBMInstance:
    sizes: tuple[int, ...]
    m: float
    rank_ratio: float
    factor_scale: float
    bias_scale: float
    observe_prob: float
    seed: int


def _model(inst: DBMInstance, cls=MonotoneDBM, **options) -> MonotoneDBM:
    dim = sum(inst.sizes)
    model = cls(inst.sizes, m=inst.m, rank=max(1, round(inst.rank_ratio * dim)), seed=inst.seed, **options)
    g = torch.Generator().manual_seed(inst.seed + 1)
    with torch.no_grad():
        model.factor.mul_(inst.factor_scale)
        model.bias.copy_(inst.bias_scale * torch.randn(dim, generator=g, dtype=F64))
    return model


def _observation(inst: DBMInstance, model: MonotoneDBM, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(inst.seed + 2)
    x = torch.stack([torch.randint(0, k, (1,), generator=g) for k in inst.sizes], dim=-1).expand(rows, -1)
    mask = (torch.rand(len(inst.sizes), generator=g, dtype=F64) < inst.observe_prob).expand(rows, -1)
    return model._clamp(x, mask)


def _random_simplex_points(inst: DBMInstance, rows: int, seed: int) -> torch.Tensor:
    """Uniform (Dirichlet(1)) points on the product of simplices."""
    g = torch.Generator().manual_seed(seed)
    expo = -torch.log(torch.rand(rows, sum(inst.sizes), generator=g, dtype=F64))
    return block_softmax(torch.log(expo), inst.sizes)


# ------------------------------------------------------------------ (a) the unique fixed point


def monotone_coupling(inst: DBMInstance) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The claim's subject: the paper's parameterisation -> (W, b, clamp, free)."""
    model = _model(inst)
    with torch.no_grad():
        clamp, free = _observation(inst, model, _STARTS)
        return model.coupling(), model.bias.detach().clone(), clamp, free


def ferromagnetic_coupling(
    inst: DBMInstance,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mutant: an unconstrained ferromagnetic Potts coupling ``J [a = b]`` with ``J (n - 1) = 8``.

    Hollow and symmetric but far from monotone (``λ_max(W) = 8``): like a Curie-Weiss magnet below
    its critical temperature it has one mean-field fixed point per aligned state.
    """
    _, bias, clamp, free = monotone_coupling(inst)
    n = len(inst.sizes)
    group = torch.repeat_interleave(torch.arange(n), torch.tensor(inst.sizes))
    state = torch.cat([torch.arange(k) for k in inst.sizes])
    same_state = (state[:, None] == state[None, :]) & (group[:, None] != group[None, :])
    return (8.0 / (n - 1)) * same_state.to(F64), 0.3 * bias, clamp, free


def _check_unique_fixed_point(inst: DBMInstance, build) -> list[Evidence]:
    coupling, bias, clamp, free = build(inst)
    starts = _random_simplex_points(inst, _STARTS, inst.seed + 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # non-convergence shows in the residual
        sol = solve_mean_field(
            coupling, bias, inst.sizes, clamp=clamp, free=free, init=starts, tol=_SOLVER_TOL, max_iter=3000
        )
    q = sol.marginals
    spread = float((q[:, None, :] - q[None, :, :]).abs().amax(-1).max())
    residual = float(sol.residual.max())
    lam_min = float(torch.linalg.eigvalsh(torch.eye(coupling.shape[0], dtype=F64) - coupling)[0])
    # quadratic growth of the m-strongly convex F around the computed q_hat = q[0], valid at any
    # q_hat: F(z) - F(q_hat) - m/2 |z - q_hat|^2 >= <grad F(q_hat), z - q_hat> >= -|g_T| |z - q_hat|,
    # g_T the gradient projected on the simplices' tangent space (block means removed)
    q_hat = q[:1]
    t = torch.logspace(-4, 0, 9, dtype=F64)
    others = _random_simplex_points(inst, 9, inst.seed + 4)
    points = torch.cat([(1 - t[:, None]) * q_hat + t[:, None] * others, q[1:]])
    points = torch.where(free[:1], points, clamp[:1])
    # clamped blocks are one-hot (log 0 = -inf) and do not move: leave them out of the gradient
    grad = torch.where(free[:1], torch.log(q_hat) - (q_hat @ coupling.T + bias), 0.0)
    group = torch.repeat_interleave(torch.arange(len(inst.sizes)), torch.tensor(inst.sizes))
    means = torch.zeros(1, len(inst.sizes), dtype=F64).index_add_(1, group, grad)
    means = means / torch.tensor(inst.sizes, dtype=F64)
    g_t = ((grad - means[:, group]) * free[:1]).norm()
    dist = (points - q_hat).norm(dim=-1)
    f_hat = mean_field_free_energy(q_hat, coupling, bias)
    excess = mean_field_free_energy(points, coupling, bias) - f_hat + g_t * dist
    growth = excess - 0.5 * inst.m * dist**2
    roundoff = 1e-12 * (1.0 + float(f_hat.abs()))
    away = dist > 1e-6  # the segment points; the other solves sit at round-off distance from q_hat
    return [
        Evidence.at_most(
            f"max distance between the fixed points reached from {_STARTS} random starts", spread, 1e-6,
            "strong convexity: the minimiser is unique, and each solve is within |g_T|/m <~ 1e-9 of it",
            iterations=sol.iterations,
        ),
        Evidence.at_most(
            "mean-field residual max|q - softmax(Wq + b)| at the fixed points", residual, 1e-6,
            f"the solver was asked for {_SOLVER_TOL:g}; 1e-6 is our acceptance criterion",
        ),
        Evidence.at_least(
            "min over points z of F(z) - F(q) - m/2 |z - q|^2 + |g_T| |z - q|", float(growth.min()), 0.0,
            "m-strong convexity of F, exact up to float64 round-off of F", tolerance=roundoff,
            distance=dist[away].tolist(),
            growth_ratio=(excess[away] / (0.5 * inst.m * dist[away] ** 2)).tolist(),
        ),
        Evidence.at_least(
            "lambda_min(I - W) - m", lam_min - inst.m, 0.0, "the parameterisation's guarantee (eigvalsh "
            "round-off)", tolerance=1e-10,
        ),
    ]  # fmt: skip


def plot_growth(records, ax) -> None:
    """Growth of the free energy away from the fixed point over the quadratic m/2 |z - q|^2 it must exceed."""
    for i, (inst, evidence) in enumerate(records):
        d = evidence[2].details
        ax.plot(d["distance"], d["growth_ratio"], "o", ms=3.5, alpha=0.8,
                label=instance_label(i, f"{len(inst.sizes)} variables, m = {inst.m:.2f}"))  # fmt: skip
    ax.axhline(1.0, label="strong convexity: ratio >= 1", **BOUND)
    label_axes(ax, "|z - q*|", "(F(z) - F(q*) + |g_T| |z - q*|) / (m/2 |z - q*|^2)", xscale="log",
               yscale="log", fontsize=6, legend="lower right", columns=2)  # fmt: skip


# --------------------------------------------------------------- (b) implicit gradients vs FD


class _DirectGradient(torch.autograd.Function):
    """Mutant backward: drops the Jacobian term, ``u = grad`` instead of ``u = J^T u + grad``."""

    @staticmethod
    def forward(ctx, coupling, bias, setup, batch):
        return _ImplicitMeanField.forward(ctx, coupling, bias, setup, batch)

    @staticmethod
    def backward(ctx, grad):
        _, q = ctx.saved_tensors
        free = ctx.setup.free
        pu = _prox_jacobian_apply(q, grad if free is None else grad * free, ctx.alpha, ctx.setup.groups)
        grad_bias = ctx.alpha * pu
        return ctx.alpha * pu.T @ q, grad_bias.sum(0) if len(ctx.bias_shape) == 1 else grad_bias, None, None


class _DirectGradientDBM(MonotoneDBM):
    """Mutant: a MonotoneDBM whose backward pass ignores the fixed point's Jacobian."""

    def _fixed_point(self, coupling, bias, setup, batch):
        return _DirectGradient.apply(coupling, bias, setup, batch)


def _check_implicit_gradient(inst: DBMInstance, cls) -> Evidence:
    model = _model(inst, cls, tol=1e-13, max_iter=5000)
    rows = 3
    g = torch.Generator().manual_seed(inst.seed + 5)
    x = torch.stack([torch.randint(0, k, (rows,), generator=g) for k in inst.sizes], dim=-1)
    mask = torch.rand(rows, len(inst.sizes), generator=g, dtype=F64) < inst.observe_prob
    weights = torch.randn(rows, sum(inst.sizes), generator=g, dtype=F64)

    def loss() -> torch.Tensor:
        return (weights * model.mean_field(x, mask)).sum()

    params = [model.factor, model.bias]
    grads = torch.autograd.grad(loss(), params)
    gnorm = torch.cat([gr.reshape(-1) for gr in grads]).norm()
    directions = [[gr / gnorm for gr in grads]]  # the gradient direction, then two random ones
    for _ in range(2):
        d = [torch.randn(p.shape, generator=g, dtype=F64) for p in params]
        norm = torch.cat([v.reshape(-1) for v in d]).norm()
        directions.append([v / norm for v in d])
    eps, worst, pairs = 1e-5, 0.0, []
    for d in directions:
        analytic = float(sum((gr * v).sum() for gr, v in zip(grads, d, strict=True)))
        values = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, v in zip(params, d, strict=True):
                    p.add_(sign * eps * v)
                values.append(float(loss()))
                for p, v in zip(params, d, strict=True):
                    p.sub_(sign * eps * v)
        fd = (values[0] - values[1]) / (2 * eps)
        worst = max(worst, abs(analytic - fd) / max(abs(fd), abs(analytic), 1e-8))
        pairs.append((analytic, fd))
    return Evidence.at_most(
        "max relative error |implicit - central FD| / max(|implicit|, |FD|) over 3 directions", worst, 1e-4,
        "float64, eps = 1e-5: FD truncation ~eps^2 ~1e-10 and solver error ~tol/eps = 1e-8 are far below",
        pairs=pairs,
    )  # fmt: skip


_STRATEGY = lambda: st.builds(  # noqa: E731
    DBMInstance,
    st.lists(st.integers(2, 4), min_size=3, max_size=10).map(tuple),
    st.floats(0.05, 0.5),
    st.sampled_from([0.5, 1.0, 2.0]),
    st.floats(0.3, 3.0),
    st.floats(0.0, 2.0),
    st.floats(0.0, 0.5),
    seeds(),
)


UNIQUE_FIXED_POINT_CLAIM = Claim(
    id="dbm.unique_fixed_point",
    title="The monotone parameterisation gives one mean-field fixed point, the free-energy minimiser",
    paper=FENG_WINSTON_KOLTER_2023,
    statement=(
        "With W = -s (A^T A - blkdiag(A^T A)), s = min(1, (1 - m) / max_i |(A^T A)_ii|), I - W >= m I, "
        "so the mean-field free energy is m-strongly convex on the product of simplices (also with "
        "some variables clamped): forward-backward splitting reaches the same fixed point from every "
        "start, it solves q = softmax(W q + b), and F grows at least quadratically away from it."
    ),
    formula=(
        r"q^* = \mathrm{softmax}(W q^* + b) \text{ unique};\quad F(z) \ge F(q^*) + \frac{m}{2} |z - "
        r"q^*|^2,\quad F(q) = -q^T W q / 2 - b^T q - \sum_i H(q_i)"
    ),
    strategy=_STRATEGY,
    check=_check_unique_fixed_point,
    subject=monotone_coupling,
    mutants=(
        Mutant(
            "ferromagnetic-potts",
            "an unconstrained hollow coupling J [a = b], J (n - 1) = 8: several fixed points",
            ferromagnetic_coupling,
        ),
    ),  # fmt: skip
    examples={"ci": 10, "thorough": 100},
    mutant_examples=5,
    plot=plot_growth,
)

IMPLICIT_GRADIENT_CLAIM = Claim(
    id="dbm.implicit_gradient",
    title="Implicit-function gradients through the mean-field fixed point equal finite differences",
    paper=FENG_WINSTON_KOLTER_2023,
    statement=(
        "Differentiating q* = T(q*, theta) gives dL/dtheta = u^T dT/dtheta with u = J^T u + dL/dq*; "
        "solving this adjoint fixed-point equation reproduces the central finite differences of the "
        "solved fixed point (float64)."
    ),
    formula=(
        r"\frac{d}{de} L(q^*(\theta + e\, d)) = \langle \frac{dL}{d\theta}, d \rangle,\quad "
        r"\frac{dL}{d\theta} = u^T \frac{dT}{d\theta},\quad u = J^T u + \frac{dL}{dq^*}"
    ),
    strategy=_STRATEGY,
    check=_check_implicit_gradient,
    subject=MonotoneDBM,
    mutants=(
        Mutant(
            "direct-gradient-only",
            "backward returns u = dL/dq* (the Jacobian term of the adjoint equation dropped)",
            _DirectGradientDBM,
        ),
    ),  # fmt: skip
    examples={"ci": 6, "thorough": 60},
    mutant_examples=3,
)
