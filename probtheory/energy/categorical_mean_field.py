r"""Mean-field fixed point of a categorical pairwise model by damped forward-backward splitting.

Feng, Winston, Kolter, *Monotone deep Boltzmann machines* (TMLR 2023, arXiv 2307.04990);
reference code locuslab/MonotoneDBM. The mean-field marginals ``q`` of
``p(x) ∝ exp(z^T W z / 2 + b^T z)`` (one-hot ``z``) are stationary points of the free energy

.. math::
    F(q) = -\tfrac12 q^\top W q - b^\top q - \sum_i H(q_i),

unique when ``I - W ⪰ m I`` (the parameterisation of
:class:`probtheory.energy.monotone_dbm.MonotoneDBM`).

Inference is damped forward-backward splitting of the monotone operator ``(I - W) z - b`` and
``∂f`` with ``f(z) = sum_j z_j log z_j - |z|^2 / 2`` on the simplex (convex: its Hessian is
``diag(1/z) - I ⪰ 0``),

.. math::
    z \leftarrow \mathrm{prox}^\alpha_f\bigl((1 - \alpha) z + \alpha (W z + b)\bigr),

where the proximal softmax (:mod:`probtheory.energy.proximal_softmax`) solves
``(1 - α) z_j + α log z_j = y_j - α - ν`` per block (``ν``: the simplex multiplier); ``α = 1`` is
the plain softmax. The smooth part is linear and symmetric with spectrum in ``[λ_min, λ_max]``
of ``I - W``, so the map is a contraction with factor ``max |1 - α λ|``; the default
``α = 2 / (λ_min + λ_max)`` minimises it. Anderson acceleration
(:mod:`probtheory.energy._anderson`) is optional. A solve that misses its tolerance emits a
``RuntimeWarning`` carrying the residual ``max |z - softmax(W z + b)|`` — never a silent wrong
answer. Gradients go through the fixed point by the implicit function theorem: the backward
pass solves the adjoint fixed-point equation ``u = J^T u + v`` of the same contraction (no
unrolling).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from probtheory._checks import check_finite, check_int, check_interval, check_real
from probtheory.energy._anderson import solve_fixed_point
from probtheory.energy._categorical_groups import _flat, _Groups, _groups_of
from probtheory.energy.proximal_softmax import _prox, _prox_jacobian_apply
from probtheory.errors import ConfigurationError, InputDataError

__all__ = [
    "MeanFieldSolution",
    "default_step",
    "mean_field_free_energy",
    "mean_field_residual",
    "solve_mean_field",
]


def mean_field_residual(
    q: Tensor, coupling: Tensor, bias: Tensor, group_sizes: Sequence[int], free: Tensor | None = None
) -> Tensor:
    """Mean-field residual ``max_j |q_j - softmax(W q + b)_j|`` over the free coordinates.

    Args:
        q: A `batch x D` tensor of block-wise distributions.
        coupling: The `D x D` coupling matrix ``W``.
        bias: A `D` (or `batch x D`) bias ``b``.
        group_sizes: The category counts ``k_i`` (or internal group bookkeeping).
        free: Optional `batch x D` boolean tensor of the coordinates not clamped.

    Returns:
        A `batch` tensor.
    """
    groups = _groups_of(group_sizes, getattr(q, "device", None))
    _check_model(coupling, bias, groups)
    q = _flat("q", check_finite("q", q), groups.dim)
    if free is not None and (not isinstance(free, Tensor) or free.shape != q.shape):
        raise InputDataError(
            "free", f"a boolean tensor of the shape of `q` {tuple(q.shape)}", getattr(free, "shape", free)
        )
    diff = (q - groups.softmax(q @ coupling.T + bias)).abs()
    if free is not None:
        diff = diff * free
    return diff.amax(-1)


def _check_model(coupling: object, bias: object, groups: _Groups) -> None:
    """A finite `D x D` coupling and a finite `D` (or `batch x D`) bias."""
    _check_finite_cheaply("coupling", coupling)
    if coupling.shape != (groups.dim, groups.dim):
        raise InputDataError(
            "coupling", f"a {groups.dim} x {groups.dim} matrix", f"shape {tuple(coupling.shape)}"
        )
    check_finite("bias", bias)
    if bias.shape[-1:] != (groups.dim,) or bias.dim() > 2:
        raise InputDataError("bias", f"a `{groups.dim}` or `batch x {groups.dim}` tensor", tuple(bias.shape))


def mean_field_free_energy(q: Tensor, coupling: Tensor, bias: Tensor) -> Tensor:
    r"""Mean-field free energy ``F(q) = -q^T W q / 2 - b^T q - sum_i H(q_i)``.

    Args:
        q: A `... x D` tensor of block-wise distributions (clamped blocks are one-hot and add
            no entropy, so ``F`` is then the conditional free energy up to a constant).
        coupling: The `D x D` coupling matrix ``W``.
        bias: A `D` bias ``b``.

    Returns:
        A `...` tensor.
    """
    check_finite("q", q)
    _check_finite_cheaply("coupling", coupling)
    check_finite("bias", bias)
    dim = q.shape[-1] if q.dim() else 0
    if coupling.shape != (dim, dim) or bias.shape != (dim,):
        raise InputDataError(
            "coupling", f"a {dim} x {dim} matrix with a `{dim}` bias (D from `q`)",
            f"shapes {tuple(coupling.shape)} and {tuple(bias.shape)}",
        )  # fmt: skip
    energy = -0.5 * ((q @ coupling.T) * q).sum(-1) - (q * bias).sum(-1)
    return energy + torch.special.xlogy(q, q).sum(-1)


def default_step(coupling: Tensor) -> float:
    """Step ``α = min(1, 2 / (λ_min + λ_max))`` of ``I - W``: the fastest contraction.

    ``λ_min`` is floored at 0 so that a (non-monotone) coupling still gets a finite step.
    """
    _check_finite_cheaply("coupling", coupling)
    if coupling.dim() != 2 or coupling.shape[0] != coupling.shape[1] or coupling.shape[0] == 0:
        raise InputDataError("coupling", "a square `D x D` matrix (D >= 1)", f"shape {tuple(coupling.shape)}")
    with torch.no_grad():
        sym = 0.5 * (coupling + coupling.T)
        eig = torch.linalg.eigvalsh(torch.eye(sym.shape[0], dtype=sym.dtype, device=sym.device) - sym)
        low, high = max(float(eig[0]), 0.0), float(eig[-1])
    return 1.0 if low + high <= 2.0 else 2.0 / (low + high)


# ----------------------------------------------------------------------------------- solver


@dataclass
class MeanFieldSolution:
    """A mean-field fixed point and how the solver got there.

    Attributes:
        marginals: A `batch x D` tensor of block-wise distributions.
        residual: A `batch` tensor ``max_j |q_j - softmax(W q + b)_j|`` (free coordinates).
        iterations: Number of forward-backward steps taken.
        converged: Whether every row reached the tolerance.
        alpha: The forward-backward step used.
    """

    marginals: Tensor
    residual: Tensor
    iterations: int
    converged: bool
    alpha: float


@dataclass
class _Setup:
    groups: _Groups
    clamp: Tensor | None  # batch x D one-hot values of the observed variables
    free: Tensor | None  # batch x D, True where not clamped
    alpha: float | None
    tol: float
    max_iter: int
    memory: int
    init: Tensor | None
    solution: MeanFieldSolution | None = field(default=None)


def _solve(coupling: Tensor, bias: Tensor, setup: _Setup, batch: int) -> MeanFieldSolution:
    groups = setup.groups
    alpha = default_step(coupling) if setup.alpha is None else setup.alpha
    if setup.init is None:
        z0 = coupling.new_empty(batch, groups.dim)
        z0[:] = 1.0 / torch.tensor(groups.sizes, dtype=coupling.dtype, device=coupling.device)[groups.gid]
    else:
        z0 = setup.init.to(coupling).expand(batch, groups.dim).clone()
    free = setup.free
    if free is not None:
        z0 = torch.where(free, z0, setup.clamp)
    warm: dict[str, Tensor] = {}
    dim = groups.dim

    # The iterate carries (z, W z + b): Anderson's combinations are affine (coefficients sum to
    # one), so mixing the second half gives W x + b of the mixed x exactly, and a step needs one
    # product with W (at the new point, for the residual) instead of two.
    def step(state: Tensor) -> tuple[Tensor, Tensor]:
        x, y = state[:, :dim], state[:, dim:]
        f = _prox((1.0 - alpha) * x + alpha * y, alpha, groups, warm)
        if free is not None:
            f = torch.where(free, f, setup.clamp)
        wf = f @ coupling.T + bias
        diff = (f - groups.softmax(wf)).abs()
        res = (diff * free if free is not None else diff).amax(-1)
        return torch.cat([f, wf.expand_as(f)], dim=1), res

    start = torch.cat([z0, (z0 @ coupling.T + bias).expand_as(z0)], dim=1)
    result = solve_fixed_point(step, start, tol=setup.tol, max_iter=setup.max_iter, memory=setup.memory)
    solution = MeanFieldSolution(
        result.solution[:, :dim].contiguous(), result.residual, result.iterations, result.converged, alpha
    )
    if not result.converged:
        warnings.warn(
            f"mean-field solver did not converge: residual max|q - softmax(Wq + b)| = "
            f"{float(result.residual.max()):.3e} > tol = {setup.tol:.1e} after {result.iterations} "
            f"iterations (alpha = {alpha:.3g}); raise max_iter or check that I - W is positive definite",
            RuntimeWarning,
            stacklevel=4,
        )
    setup.solution = solution
    return solution


class _ImplicitMeanField(torch.autograd.Function):
    """``q* = fixed point(W, b)``; backward by the implicit function theorem.

    With ``T(z) = prox((1 - α) z + α (W z + b))`` on the free coordinates and ``J = ∂T/∂z`` at
    ``q*``, ``dL/dθ = u^T ∂T/∂θ`` where ``u = J^T u + ∂L/∂q*`` — the adjoint fixed-point equation,
    solved by the same (Anderson-accelerated) iteration. ``J^T = M P F`` with ``M = (1 - α) I +
    α W^T``, ``P`` the symmetric prox Jacobian and ``F`` the projection on free coordinates, a
    contraction with the forward map's factor.
    """

    @staticmethod
    def forward(ctx, coupling: Tensor, bias: Tensor, setup: _Setup, batch: int) -> Tensor:  # noqa: D102
        solution = _solve(coupling.detach(), bias.detach(), setup, batch)
        ctx.setup, ctx.alpha, ctx.bias_shape = setup, solution.alpha, bias.shape
        ctx.save_for_backward(coupling.detach(), solution.marginals)
        return solution.marginals

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        coupling, q = ctx.saved_tensors
        pu = _adjoint_direction(coupling, q, grad, ctx.setup, ctx.alpha)
        grad_coupling = ctx.alpha * pu.T @ q
        grad_bias = ctx.alpha * pu
        if len(ctx.bias_shape) == 1:
            grad_bias = grad_bias.sum(0)
        return grad_coupling, grad_bias, None, None


def _adjoint_direction(coupling: Tensor, q: Tensor, grad: Tensor, setup: _Setup, alpha: float) -> Tensor:
    """``P F u`` with ``u`` solving ``u = J^T u + grad`` (see :class:`_ImplicitMeanField`)."""
    groups, free = setup.groups, setup.free

    def apply_jt(u: Tensor) -> tuple[Tensor, Tensor]:
        pu = _prox_jacobian_apply(q, u if free is None else u * free, alpha, groups)
        return (1.0 - alpha) * pu + alpha * (pu @ coupling), pu

    def step(u: Tensor) -> tuple[Tensor, Tensor]:
        f = apply_jt(u)[0] + grad
        # residual at u bounds the one at f = T(u) (contraction)
        return f, (f - u).abs().amax(-1) / (1.0 + grad.abs().amax(-1))

    result = solve_fixed_point(
        step, grad.clone(), tol=setup.tol, max_iter=setup.max_iter, memory=setup.memory
    )
    if not result.converged:
        warnings.warn(
            f"adjoint (implicit-gradient) solver did not converge: relative residual "
            f"{float(result.residual.max()):.3e} > tol = {setup.tol:.1e} "
            f"after {result.iterations} iterations",
            RuntimeWarning,
            stacklevel=3,
        )
    return apply_jt(result.solution)[1]


def solve_mean_field(
    coupling: Tensor,
    bias: Tensor,
    group_sizes: Sequence[int],
    *,
    batch: int = 1,
    clamp: Tensor | None = None,
    free: Tensor | None = None,
    alpha: float | None = None,
    tol: float = 1e-6,
    max_iter: int = 1000,
    anderson_memory: int = 5,
    init: Tensor | None = None,
) -> MeanFieldSolution:
    """Mean-field fixed point ``q = softmax(W q + b)`` by damped forward-backward splitting.

    No gradients (see :meth:`MonotoneDBM.mean_field` for the differentiable version). Warns
    (``RuntimeWarning``, with the residual) when the tolerance is not reached.

    Args:
        coupling: The `D x D` coupling matrix ``W``.
        bias: A `D` (or `batch x D`) bias ``b``.
        group_sizes: The category counts ``k_i``, ``sum(k_i) = D``.
        batch: Number of rows to solve when neither ``clamp`` nor ``init`` fixes it.
        clamp: Optional `batch x D` tensor with the clamped (observed) values on clamped coordinates.
        free: Optional `batch x D` boolean tensor, True on the coordinates that are inferred.
        alpha: Step in ``(0, 1]``; default ``2 / (λ_min + λ_max)`` of ``I - W``.
        tol: Tolerance on the mean-field residual ``max |q - softmax(W q + b)|``.
        max_iter: Maximum number of iterations.
        anderson_memory: Anderson memory (0: plain forward-backward iteration).
        init: Optional `batch x D` (or `D`) starting point on the product of simplices.

    Returns:
        A :class:`MeanFieldSolution`.
    """
    groups = _groups_of(group_sizes, coupling.device)
    setup = _make_setup(coupling, bias, groups, clamp, free, alpha, tol, max_iter, anderson_memory, init)
    batch = _batch_of(batch, clamp, init, bias)
    with torch.no_grad():
        return _solve(coupling, bias, setup, batch)


def _check_finite_cheaply(name: str, tensor: Tensor) -> None:
    """A finite sum proves every entry finite (a D x D elementwise check costs as much as a solve)."""
    if not isinstance(tensor, Tensor) or not tensor.is_floating_point() or not torch.isfinite(tensor.sum()):
        check_finite(name, tensor)  # raises naming the problem (or passes on a mere overflow of the sum)


def _make_setup(coupling, bias, groups, clamp, free, alpha, tol, max_iter, memory, init) -> _Setup:
    _check_model(coupling, bias, groups)
    if alpha is not None:
        alpha = check_interval(
            "alpha", alpha, 0.0, 1.0, closed=(False, True), meaning="a forward-backward step"
        )
    if (clamp is None) != (free is None):
        raise ConfigurationError("`clamp` and `free` must be given together (clamped values and where)")
    if clamp is not None:
        check_finite("clamp", clamp)
        if clamp.dim() != 2 or clamp.shape[1] != groups.dim:
            raise InputDataError("clamp", f"a `batch x {groups.dim}` tensor", f"shape {tuple(clamp.shape)}")
        if not isinstance(free, Tensor) or free.shape != clamp.shape:
            raise InputDataError(
                "free", f"the shape of `clamp` {tuple(clamp.shape)}", getattr(free, "shape", free)
            )
    if init is not None:
        check_finite("init", init)
        init = _flat("init", init, groups.dim)
    return _Setup(
        groups, clamp, None if free is None else free.bool(), alpha, check_real("tol", tol, positive=True),
        check_int("max_iter", max_iter, minimum=1), check_int("anderson_memory", memory, minimum=0), init,
    )  # fmt: skip


def _batch_of(batch: int, clamp: Tensor | None, init: Tensor | None, bias: Tensor) -> int:
    for t in (clamp, init, bias if bias.dim() == 2 else None):
        if t is not None and t.dim() == 2:
            return t.shape[0]
    return check_int("batch", batch, minimum=1)
