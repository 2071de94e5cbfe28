r"""Monotone deep Boltzmann machines: a unique mean-field fixed point by construction.

Feng, Winston, Kolter, *Monotone deep Boltzmann machines* (TMLR 2023, arXiv 2307.04990);
shared/research/bayes.md section 8.

Categorical variables ``x_i in {0, ..., k_i - 1}`` are one-hot encoded into
``z in R^D, D = sum_i k_i``; the pairwise model is ``p(x) ∝ exp(z^T W z / 2 + b^T z)`` with a
symmetric coupling ``W`` that is *hollow* (zero on each variable's own ``k_i x k_i`` block) and
couples every pair of variables, within a layer too. Mean-field ``q = prod_i q_i`` has the
free energy

.. math::
    F(q) = -\tfrac12 q^\top W q - b^\top q - \sum_i H(q_i),

stationary exactly at ``q_i = softmax((W q + b)_i)``. Since ``-H`` is 1-strongly convex on the
simplex, ``F`` is m-strongly convex whenever ``I - W ⪰ m I``; the fixed point then exists and is
globally unique. The parameterisation (paper's ``MultiMonotoneHollowConv``, dense here)

.. math::
    W = -s\,(A^\top A - \mathrm{blkdiag}(A^\top A)), \qquad
    s = \min\bigl(1, (1 - m) / \max_i \|(A^\top A)_{ii}\|_2\bigr)

guarantees it: ``I - W ⪰ I - s blkdiag(A^T A) ⪰ m I``.

Inference is damped forward-backward splitting of the monotone operator ``(I - W) z - b`` and
``∂f`` with ``f(z) = sum_j z_j log z_j - |z|^2 / 2`` on the simplex (convex: its Hessian is
``diag(1/z) - I ⪰ 0``),

.. math::
    z \leftarrow \mathrm{prox}^\alpha_f\bigl((1 - \alpha) z + \alpha (W z + b)\bigr),

where the proximal softmax solves ``(1 - α) z_j + α log z_j = y_j - α - ν`` per block
(``ν``: the simplex multiplier); ``α = 1`` is the plain softmax. The smooth part is linear and
symmetric with spectrum in ``[λ_min, λ_max]`` of ``I - W``, so the map is a contraction with
factor ``max |1 - α λ|``; the default ``α = 2 / (λ_min + λ_max)`` minimises it. Anderson
acceleration (:mod:`probtheory.energy._anderson`) is optional. A solve that misses its
tolerance emits a ``RuntimeWarning`` carrying the residual ``max |z - softmax(W z + b)|`` —
never a silent wrong answer. Gradients go through the fixed point by the implicit function
theorem: the backward pass solves the adjoint fixed-point equation ``u = J^T u + v`` of the
same contraction (no unrolling).

Example (scikit-learn digits, binarised: 64 binary pixels and a 10-class label; ~10 s on one
thread; the paper calls the model "still largely conceptual", and mean-field completion of a
pairwise model is only about as good as the per-pixel majority)::

    import torch
    from sklearn.datasets import load_digits
    from probtheory.energy.monotone_dbm import MonotoneDBM

    digits = load_digits()
    pixels = torch.as_tensor(digits.data > 7, dtype=torch.long)       # 1797 x 64 in {0, 1}
    labels = torch.as_tensor(digits.target, dtype=torch.long)[:, None]
    x = torch.cat([pixels, labels], dim=1)                             # 1797 x 65
    train, test = x[:1500], x[1500:]
    model = MonotoneDBM([2] * 64 + [10], seed=0)
    model.fit(train, target=-1, observe_prob=0.7, target_weight=0.7, epochs=3, lr=0.05,
              batch_size=100, seed=0, progress=False)
    accuracy = (model.classify(test) == test[:, -1]).double().mean()  # all pixels observed
    mask = torch.ones_like(test, dtype=torch.bool)
    mask[:, :32] = False                                               # hide the top half
    completed = model.complete(test, mask)                             # 297 x 65
    pixel_error = (completed[:, :32] != test[:, :32]).double().mean()
    majority = (train[:, :32].double().mean(0) > 0.5).long()
    baseline = (majority != test[:, :32]).double().mean()
    print(f"accuracy {accuracy:.2f}, top-half pixel error {pixel_error:.2f} (majority {baseline:.2f})")
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.distributions import Categorical
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_real
from probtheory.energy._anderson import solve_fixed_point
from probtheory.errors import ConfigurationError, InputDataError

__all__ = [
    "MeanFieldSolution",
    "MonotoneDBM",
    "block_softmax",
    "default_step",
    "mean_field_free_energy",
    "mean_field_residual",
    "prox_softmax",
    "solve_mean_field",
]

_PROX_MAX_OUTER = 200
_PROX_MAX_INNER = 100


# ----------------------------------------------------------------------------------- groups


class _Groups:
    """Index bookkeeping of categorical groups laid out contiguously in ``R^D``."""

    def __init__(self, sizes: Sequence[int], device: torch.device | None = None) -> None:
        self.sizes = tuple(int(k) for k in sizes)
        self.n = len(self.sizes)
        self.dim = sum(self.sizes)
        self.gid = torch.repeat_interleave(
            torch.arange(self.n, device=device), torch.tensor(self.sizes, device=device)
        )
        self.offsets = torch.tensor((0, *self.sizes), device=device).cumsum(0)[:-1]
        self.kmax = max(self.sizes)

    def segment_sum(self, x: Tensor) -> Tensor:
        """`batch x D` -> `batch x n` block sums."""
        return x.new_zeros(x.shape[0], self.n).index_add_(1, self.gid, x)

    def segment_max(self, x: Tensor) -> Tensor:
        """`batch x D` -> `batch x n` block maxima."""
        out = x.new_full((x.shape[0], self.n), -math.inf)
        return out.scatter_reduce(1, self.gid.expand_as(x), x, "amax", include_self=True)

    def expand(self, per_group: Tensor) -> Tensor:
        """`batch x n` -> `batch x D`, each group's value repeated over its coordinates."""
        return per_group[:, self.gid]

    def softmax(self, y: Tensor) -> Tensor:
        e = torch.exp(y - self.expand(self.segment_max(y)))
        return e / self.expand(self.segment_sum(e))

    def log_softmax(self, y: Tensor) -> Tensor:
        shifted = y - self.expand(self.segment_max(y))
        return shifted - self.expand(torch.log(self.segment_sum(torch.exp(shifted))))

    def same_group(self) -> Tensor:
        """`D x D` boolean mask of the diagonal blocks."""
        return self.gid[:, None] == self.gid[None, :]


def _groups_of(group_sizes: Sequence[int] | _Groups, device: torch.device | None = None) -> _Groups:
    if isinstance(group_sizes, _Groups):
        return group_sizes
    return _Groups(_check_sizes("group_sizes", group_sizes), device)


def _check_sizes(name: str, sizes: Sequence[int], *, allow_empty: bool = False) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise InputDataError(name, "a sequence of category counts k_i >= 2", repr(sizes))
    if not sizes and not allow_empty:
        raise InputDataError(name, "at least one categorical variable", "an empty sequence")
    return tuple(check_int(f"{name}[{i}]", k, minimum=2) for i, k in enumerate(sizes))


def _flat(name: str, t: Tensor, dim: int) -> Tensor:
    if t.dim() < 1 or t.shape[-1] != dim:
        raise InputDataError(name, f"a `... x {dim}` tensor", f"shape {tuple(t.shape)}")
    return t.reshape(-1, dim)


def block_softmax(y: Tensor, group_sizes: Sequence[int]) -> Tensor:
    """Softmax within each categorical block.

    Args:
        y: A `... x D` tensor of logits, ``D = sum(group_sizes)``.
        group_sizes: The category counts ``k_i`` of the blocks.

    Returns:
        A `... x D` tensor whose blocks each lie on the probability simplex.
    """
    groups = _groups_of(group_sizes, y.device)
    return groups.softmax(_flat("y", y, groups.dim)).reshape(y.shape)


def prox_softmax(y: Tensor, group_sizes: Sequence[int], alpha: float) -> Tensor:
    r"""Proximal softmax ``argmin_z |z - y|^2 / 2 + α f(z)`` over a product of simplices.

    ``f(z) = sum_j z_j log z_j - |z|^2 / 2``; per block the optimality conditions are
    ``(1 - α) z_j + α log z_j = y_j - α - ν`` with ``sum_j z_j = 1``. With ``z_j = e^{g_j}`` the
    inner equation ``α g + (1 - α) e^g = t`` (a Lambert-W form) is solved by Newton from the
    upper bound ``g = min(t / α, 0)``; the multiplier ``ν`` by Newton on the convex decreasing
    ``φ(ν) = sum_j z_j(ν) - 1`` from its lower bound ``max_j y_j - (1 - α)``. Both Newton
    sequences are monotone (convexity), so the solve needs no line search and no bracketing.

    Args:
        y: A `... x D` tensor.
        group_sizes: The category counts ``k_i`` of the blocks.
        alpha: Step in ``(0, 1]``; ``alpha = 1`` is exactly the block softmax.

    Returns:
        A `... x D` tensor on the product of simplices.
    """
    alpha = check_real("alpha", alpha, positive=True)
    if alpha > 1:
        raise InputDataError("alpha", "a step in (0, 1]", alpha)
    groups = _groups_of(group_sizes, y.device)
    return _prox(_flat("y", y, groups.dim), alpha, groups).reshape(y.shape)


def _prox(c: Tensor, alpha: float, groups: _Groups, warm: dict[str, Tensor] | None = None) -> Tensor:
    """Proximal softmax of `batch x D` ``c``; ``warm`` carries (g, nu) between calls.

    Newton on a convex monotone function converges from any start: from the far side of the
    root one step lands on the near side, from where the iterates are monotone. The warm start
    from the previous forward-backward iterate is therefore safe; ``g`` is kept below its upper
    bound ``min(t / α, 0)`` and ``ν`` above its lower bound ``max_j c_j - (1 - α)``.
    """
    if alpha >= 1.0:
        return groups.softmax(c)
    eps = torch.finfo(c.dtype).eps
    a, a1 = alpha, 1.0 - alpha
    nu_low = groups.segment_max(c) - a1  # the largest coordinate of each block starts at z = 1
    if warm is not None and "nu" in warm and warm["nu"].shape == nu_low.shape:
        nu, g = torch.maximum(warm["nu"], nu_low), warm["g"]
    else:
        nu, g = nu_low, torch.zeros_like(c)
    for _ in range(_PROX_MAX_OUTER):
        t = c - groups.expand(nu)
        upper = torch.clamp(t / a, max=0.0)
        g = torch.minimum(g, upper)
        for _ in range(_PROX_MAX_INNER):
            eg = torch.exp(g)
            delta = (a * g + a1 * eg - t) / (a + a1 * eg)
            g = torch.minimum(g - delta, upper)
            if bool((delta.abs() <= 16 * eps * (1.0 + g.abs())).all()):
                break
        z = torch.exp(g)
        phi = groups.segment_sum(z) - 1.0
        if float(phi.abs().max()) <= 16 * eps * groups.kmax:
            break
        nu = torch.maximum(nu + phi / groups.segment_sum(z / (a + a1 * z)), nu_low)
    if warm is not None:
        warm["nu"], warm["g"] = nu, g
    z = torch.exp(g)
    return z / groups.expand(groups.segment_sum(z))


def _prox_jacobian_apply(z: Tensor, v: Tensor, alpha: float, groups: _Groups) -> Tensor:
    """``P v`` with ``P`` the (symmetric) Jacobian of the proximal softmax at output ``z``.

    Differentiating the optimality conditions: ``dz = d ⊙ (dy - dν)`` with
    ``d = z / ((1 - α) z + α)`` and ``dν = <d, dy> / sum(d)`` per block (``α = 1``: the softmax
    Jacobian ``diag(z) - z z^T``).
    """
    d = z / ((1.0 - alpha) * z + alpha)
    dv = d * v
    mean = groups.segment_sum(dv) / groups.segment_sum(d).clamp_min(torch.finfo(z.dtype).tiny)
    return dv - d * groups.expand(mean)


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
    groups = _groups_of(group_sizes, q.device)
    diff = (q - groups.softmax(q @ coupling.T + bias)).abs()
    if free is not None:
        diff = diff * free
    return diff.amax(-1)


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
    energy = -0.5 * ((q @ coupling.T) * q).sum(-1) - (q * bias).sum(-1)
    return energy + torch.special.xlogy(q, q).sum(-1)


def default_step(coupling: Tensor) -> float:
    """Step ``α = min(1, 2 / (λ_min + λ_max))`` of ``I - W``: the fastest contraction.

    ``λ_min`` is floored at 0 so that a (non-monotone) coupling still gets a finite step.
    """
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
    _check_finite_cheaply("coupling", coupling)
    if coupling.shape != (groups.dim, groups.dim):
        raise InputDataError(
            "coupling", f"a {groups.dim} x {groups.dim} matrix", f"shape {tuple(coupling.shape)}"
        )
    check_finite("bias", bias)
    if bias.shape[-1:] != (groups.dim,) or bias.dim() > 2:
        raise InputDataError("bias", f"a `{groups.dim}` or `batch x {groups.dim}` tensor", tuple(bias.shape))
    if alpha is not None:
        alpha = check_real("alpha", alpha, positive=True)
        if alpha > 1:
            raise InputDataError("alpha", "a step in (0, 1]", alpha)
    if (clamp is None) != (free is None):
        raise ConfigurationError("`clamp` and `free` must be given together (clamped values and where)")
    if clamp is not None:
        check_finite("clamp", clamp)
        if clamp.dim() != 2 or clamp.shape[1] != groups.dim:
            raise InputDataError("clamp", f"a `batch x {groups.dim}` tensor", f"shape {tuple(clamp.shape)}")
        if free.shape != clamp.shape:
            raise InputDataError(
                "free", f"the shape of `clamp` {tuple(clamp.shape)}", f"shape {tuple(free.shape)}"
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


# ------------------------------------------------------------------------------------ model


class MonotoneDBM(nn.Module):
    r"""Monotone deep Boltzmann machine over categorical variables (dense couplings).

    Visible variables (the data columns) come first, hidden ones after; every pair of
    variables is coupled through ``W = -s (A^T A - blkdiag(A^T A))`` (see the module
    docstring), which makes the mean-field free energy m-strongly convex and its fixed point
    unique. A binary variable is a group of size 2.

    Args:
        visible_sizes: Category counts ``k_i >= 2`` of the visible variables (one per data column).
        hidden_sizes: Category counts of the hidden variables (never observed).
        rank: Rows of the factor ``A`` (default ``D``, the one-hot dimension).
        m: Strong-monotonicity parameter in ``(0, 1)``: ``I - W ⪰ m I``.
        alpha: Forward-backward step in ``(0, 1]``; default ``2 / (λ_min + λ_max)`` of ``I - W``.
        tol: Tolerance of the mean-field residual ``max |q - softmax(W q + b)|``.
        max_iter: Maximum solver iterations (forward and adjoint).
        anderson_memory: Anderson memory; 0 turns acceleration off.
        seed: Seed of the initial factor ``A``.
        dtype: Parameter dtype (float64 default: the solver tolerances assume it).
    """

    def __init__(
        self,
        visible_sizes: Sequence[int],
        hidden_sizes: Sequence[int] = (),
        *,
        rank: int | None = None,
        m: float = 0.1,
        alpha: float | None = None,
        tol: float = 1e-6,
        max_iter: int = 2000,
        anderson_memory: int = 5,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.visible_sizes = _check_sizes("visible_sizes", visible_sizes)
        self.hidden_sizes = _check_sizes("hidden_sizes", hidden_sizes, allow_empty=True)
        self.m = check_real("m", m, positive=True)
        if self.m >= 1:
            raise InputDataError("m", "a strong-monotonicity parameter in (0, 1)", m)
        if alpha is not None:
            alpha = check_real("alpha", alpha, positive=True)
            if alpha > 1:
                raise InputDataError("alpha", "a step in (0, 1]", alpha)
        self.alpha = alpha
        self.tol = check_real("tol", tol, positive=True)
        self.max_iter = check_int("max_iter", max_iter, minimum=1)
        self.anderson_memory = check_int("anderson_memory", anderson_memory, minimum=0)
        self._groups = _Groups(self.visible_sizes + self.hidden_sizes)
        dim = self._groups.dim
        rank = dim if rank is None else check_int("rank", rank, minimum=1)
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(check_int("seed", seed))
        else:
            generator.seed()
        self.factor = nn.Parameter(torch.randn(rank, dim, generator=generator, dtype=dtype) / math.sqrt(rank))
        self.bias = nn.Parameter(torch.zeros(dim, dtype=dtype))
        # paper: readout logits (W q* + b) * tau^2 with a learned temperature per visible variable
        self.log_temperature = nn.Parameter(torch.zeros(len(self.visible_sizes), dtype=dtype))
        self.last_solution: MeanFieldSolution | None = None

    # -- structure -------------------------------------------------------------------------

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """Category counts of all variables, visible first."""
        return self._groups.sizes

    @property
    def num_visible(self) -> int:
        """Number of visible variables (data columns)."""
        return len(self.visible_sizes)

    def coupling(self) -> Tensor:
        """The `D x D` hollow symmetric coupling ``W`` with ``I - W ⪰ m I``."""
        gram = self.factor.T @ self.factor
        gram = 0.5 * (gram + gram.T)  # exactly symmetric (matmul round-off is not)
        block_norm = torch.stack(
            [self._largest_block_eigenvalue(gram, k) for k in set(self.group_sizes)]
        ).max()
        scale = torch.clamp((1.0 - self.m) / block_norm, max=1.0)
        return -scale * gram.masked_fill(self._groups.same_group().to(gram.device), 0.0)

    def _largest_block_eigenvalue(self, gram: Tensor, k: int) -> Tensor:
        starts = self._groups.offsets[torch.tensor(self.group_sizes) == k]
        idx = (starts[:, None] + torch.arange(k)).to(gram.device)  # groups x k
        blocks = gram[idx[:, :, None], idx[:, None, :]]
        return torch.linalg.eigvalsh(blocks)[:, -1].max()

    # -- inference -------------------------------------------------------------------------

    def mean_field(
        self, x: Tensor | None = None, mask: Tensor | None = None, *, init: Tensor | None = None
    ) -> Tensor:
        """Mean-field marginals given the observed variables, differentiable (implicitly).

        Args:
            x: A `... x n x V` tensor of visible states (integers ``0 <= x_i < k_i``); ``None``
                infers every variable (one row).
            mask: A `... x n x V` boolean tensor, True where ``x`` is observed (clamped);
                default: all visible variables observed.
            init: Optional `D` or `N x D` starting point (block-wise distributions).

        Returns:
            A `... x n x D` tensor (one row of `D` without ``x``): the one-hot marginals of all
            variables, visible then hidden; observed blocks are their one-hot values.
        """
        coupling, bias = self.coupling(), self.bias
        if x is None:
            if mask is not None:
                raise InputDataError("mask", "None when `x` is None", f"shape {tuple(mask.shape)}")
            clamp = free = None
            batch = init.shape[0] if init is not None and init.dim() == 2 else 1
            lead = (batch,) if init is not None and init.dim() == 2 else ()
        else:
            x, mask, lead = self._states_and_mask(x, mask)
            clamp, free = self._clamp(x, mask)
            batch = x.shape[0]
        setup = _make_setup(
            coupling, bias, self._groups, clamp, free, self._step(coupling), self.tol, self.max_iter,
            self.anderson_memory, init,
        )  # fmt: skip
        q = self._fixed_point(coupling, bias, setup, batch)
        self.last_solution = setup.solution
        return q.reshape(*lead, self._groups.dim)

    def _step(self, coupling: Tensor) -> float:
        """The user's step, or the default one cached until the factor changes (it costs an eigvalsh)."""
        if self.alpha is not None:
            return self.alpha
        key = (self.factor._version, self.factor.data_ptr(), self.m)
        if getattr(self, "_step_cache", (None,))[0] != key:
            self._step_cache = (key, default_step(coupling))
        return self._step_cache[1]

    def _fixed_point(self, coupling: Tensor, bias: Tensor, setup: _Setup, batch: int) -> Tensor:
        return _ImplicitMeanField.apply(coupling, bias, setup, batch)

    def free_energy(self, q: Tensor) -> Tensor:
        """Mean-field free energy ``F(q)`` of `... x D` marginals ``q`` (see the module docstring)."""
        return mean_field_free_energy(
            _flat("q", q, self._groups.dim).reshape(q.shape), self.coupling(), self.bias
        )

    def marginals(self, x: Tensor, mask: Tensor | None = None) -> list[Tensor]:
        """Mean-field marginals of the visible variables: a list of `... x n x k_i` tensors."""
        q = self.mean_field(x, mask)
        return list(q[..., : sum(self.visible_sizes)].split(self.visible_sizes, dim=-1))

    def readout_log_proba(self, q: Tensor) -> Tensor:
        """Tempered readout ``log softmax(tau_i^2 (W q + b)_i)`` of the visible variables.

        At the fixed point and ``tau = 1`` this is ``log q_i`` itself (the mean-field equation);
        the learned per-variable temperature ``tau_i`` (paper's ``tau``/``clftau``) calibrates it.

        Args:
            q: A `N x D` tensor of mean-field marginals.

        Returns:
            A `N x D_v` tensor (``D_v = sum(visible_sizes)``) of per-block log-probabilities.
        """
        dv = sum(self.visible_sizes)
        field = (q @ self.coupling().T + self.bias)[..., :dv]
        tau2 = torch.exp(2.0 * self.log_temperature)[self._groups.gid[:dv]]
        return (
            _Groups(self.visible_sizes, q.device)
            .log_softmax(field.reshape(-1, dv) * tau2)
            .reshape(field.shape)
        )

    def _predictive(self, x: Tensor, mask: Tensor | None) -> list[Tensor]:
        q = self.mean_field(x, mask)
        logp = self.readout_log_proba(q.reshape(-1, self._groups.dim)).exp()
        return list(logp.reshape(*q.shape[:-1], -1).split(self.visible_sizes, dim=-1))

    def complete(self, x: Tensor, mask: Tensor) -> Tensor:
        """Fill in the unobserved visible variables with their most probable state.

        Args:
            x: A `... x n x V` tensor of states (unobserved entries are ignored but must be in range).
            mask: A `... x n x V` boolean tensor, True where observed.

        Returns:
            A `... x n x V` long tensor: observed entries unchanged, the others the argmax of
            their mean-field marginals (the same as that of the tempered readout).
        """
        with torch.no_grad():
            states = torch.stack([p.argmax(-1) for p in self._predictive(x, mask)], dim=-1)
        x_long, mask_bool, _ = self._states_and_mask(x, mask)
        return torch.where(mask_bool, x_long, states.reshape(x_long.shape)).reshape(states.shape)

    def predict_proba(self, x: Tensor, mask: Tensor | None = None, variable: int = -1) -> Tensor:
        """Readout probabilities of one visible variable (always treated as unobserved).

        Args:
            x: A `... x n x V` tensor of states; the entry of ``variable`` is ignored.
            mask: A `... x n x V` boolean tensor of observed entries (default: all but ``variable``).
            variable: Index of the visible variable to predict (default: the last, e.g. a label).

        Returns:
            A `... x n x k` tensor of probabilities, ``k = visible_sizes[variable]``.
        """
        v = self._variable_index(variable)
        x = self._check_x_tensor(x)
        if mask is None:
            mask = torch.ones(x.shape, dtype=torch.bool, device=x.device)
        else:
            mask = self._check_mask_tensor(mask, x.shape)
        mask = mask.clone()
        mask[..., v] = False
        with torch.no_grad():
            return self._predictive(x, mask)[v]

    def predictive(self, x: Tensor, mask: Tensor | None = None, variable: int = -1) -> Categorical:
        """The readout distribution of one visible variable, as a ``torch.distributions.Categorical``.

        Args:
            x: A `... x n x V` tensor of states; the entry of ``variable`` is ignored.
            mask: A `... x n x V` boolean tensor of observed entries (default: all but ``variable``).
            variable: Index of the visible variable to predict.

        Returns:
            A ``Categorical`` with batch shape `... x n`.
        """
        return Categorical(probs=self.predict_proba(x, mask, variable))

    def classify(self, x: Tensor, mask: Tensor | None = None, variable: int = -1) -> Tensor:
        """Most probable state of ``variable`` given the observed entries: a `... x n` long tensor."""
        return self.predict_proba(x, mask, variable).argmax(-1)

    # -- training --------------------------------------------------------------------------

    def fit(
        self,
        x: Tensor,
        *,
        target: int | None = -1,
        mask_strategy: str = "bernoulli",
        observe_prob: float = 0.5,
        target_weight: float = 0.9,
        focal_gamma: float = 0.0,
        epochs: int = 10,
        lr: float = 1e-2,
        batch_size: int = 64,
        seed: int | None = None,
        progress: bool = True,
    ) -> list[float]:
        """Train by the paper's conditional loss: mean-field marginals vs held-out variables.

        Each batch draws which visible variables are observed; the mean-field marginals ``q``
        of the others are scored by the (focal) log loss of their true states,
        ``(1 - w) recon + w clf`` with ``clf`` the loss of the ``target`` variable (always held
        out) and ``recon`` that of the other held-out variables (paper: focal loss, ``w = 0.9``).

        Args:
            x: An `n x V` tensor of visible states.
            target: Index of the class-label variable, or None (completion only).
            mask_strategy: ``"bernoulli"`` (each non-target variable observed with probability
                ``observe_prob``, the paper's) or ``"target"`` (all observed but the target).
            observe_prob: Observation probability of the ``"bernoulli"`` strategy, in ``[0, 1)``.
            target_weight: ``w`` in ``[0, 1]``.
            focal_gamma: Focal-loss exponent (0: cross-entropy; the paper uses 2).
            epochs: Passes over the data.
            lr: Adam learning rate.
            batch_size: Mini-batch size.
            seed: Seed of shuffling and masks.
            progress: Show a progress bar.

        Returns:
            The mean training loss of each epoch. Solver non-convergence during training is
            reported once, at the end, as a ``RuntimeWarning`` with the largest residual.
        """
        x = self._check_x_tensor(x)
        if x.dim() != 2:
            raise InputDataError("x", f"an `n x {self.num_visible}` tensor", f"shape {tuple(x.shape)}")
        x, _, _ = self._states_and_mask(x, None)
        v = None if target is None else self._variable_index(target)
        if mask_strategy not in ("bernoulli", "target"):
            raise InputDataError("mask_strategy", "'bernoulli' or 'target'", repr(mask_strategy))
        if mask_strategy == "target" and v is None:
            raise ConfigurationError("mask_strategy='target' needs a `target` variable")
        observe_prob = check_real("observe_prob", observe_prob, nonnegative=True)
        if observe_prob >= 1:
            raise InputDataError("observe_prob", "a probability in [0, 1)", observe_prob)
        target_weight = check_real("target_weight", target_weight, nonnegative=True)
        if target_weight > 1:
            raise InputDataError("target_weight", "a weight in [0, 1]", target_weight)
        focal_gamma = check_real("focal_gamma", focal_gamma, nonnegative=True)
        epochs = check_int("epochs", epochs, minimum=1)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        lr = check_real("lr", lr, positive=True)
        generator = torch.Generator()
        generator.manual_seed(check_int("seed", seed)) if seed is not None else generator.seed()
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        losses: list[float] = []
        failures, worst = 0, 0.0
        bar = tqdm(range(epochs), desc="MonotoneDBM.fit", disable=not progress, unit="epoch")
        try:
            for _ in bar:
                total, count = 0.0, 0
                for idx in torch.randperm(x.shape[0], generator=generator).split(batch_size):
                    batch = x[idx]
                    mask = self._training_mask(batch, v, mask_strategy, observe_prob, generator)
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", RuntimeWarning)
                        loss = self._conditional_loss(batch, mask, v, target_weight, focal_gamma)
                        optimizer.zero_grad()
                        loss.backward()
                    for w in caught:
                        if "did not converge" in str(w.message):
                            failures += 1
                        else:
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                    if self.last_solution is not None and not self.last_solution.converged:
                        worst = max(worst, float(self.last_solution.residual.max()))
                    optimizer.step()
                    total, count = total + float(loss.detach()) * len(idx), count + len(idx)
                losses.append(total / count)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        except KeyboardInterrupt:  # keep what was learnt so far
            warnings.warn(
                f"MonotoneDBM.fit interrupted after {len(losses)} epochs", RuntimeWarning, stacklevel=2
            )
        if failures:
            warnings.warn(
                f"MonotoneDBM.fit: {failures} mean-field or adjoint solves did not reach "
                f"tol = {self.tol:.1e} (largest forward residual {worst:.3e}); raise max_iter",
                RuntimeWarning,
                stacklevel=2,
            )
        return losses

    def _training_mask(self, batch: Tensor, v: int | None, strategy: str, p: float, generator) -> Tensor:
        if strategy == "target":
            mask = torch.ones(batch.shape, dtype=torch.bool)
        else:
            mask = torch.rand(batch.shape, generator=generator, dtype=torch.float64) < p
        if v is not None:
            mask[:, v] = False
        return mask.to(batch.device)

    def _conditional_loss(self, batch: Tensor, mask: Tensor, v: int | None, w: float, gamma: float) -> Tensor:
        logp = self.readout_log_proba(self.mean_field(batch, mask))
        idx = self._groups.offsets[: self.num_visible].to(batch.device) + batch  # n x V
        logp = logp.gather(1, idx)
        nll = -logp * (1.0 - logp.exp()).pow(gamma)
        held = ~mask
        if v is None:
            return (nll * held).sum() / held.sum().clamp_min(1)
        others = held.clone()
        others[:, v] = False
        recon = (nll * others).sum() / others.sum().clamp_min(1)
        return (1.0 - w) * recon + w * nll[:, v].mean()

    # -- validation ------------------------------------------------------------------------

    def _variable_index(self, variable: int) -> int:
        v = check_int("variable", variable)
        if not -self.num_visible <= v < self.num_visible:
            raise InputDataError(
                "variable", f"a visible-variable index in [-{self.num_visible}, {self.num_visible})", v
            )
        return v % self.num_visible

    def _check_x_tensor(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise InputDataError("x", "a torch.Tensor of states", type(x).__name__)
        if x.dim() < 2 or x.shape[-1] != self.num_visible:
            raise InputDataError(
                "x", f"a `... x n x {self.num_visible}` tensor of states", f"shape {tuple(x.shape)}"
            )
        return x

    def _check_mask_tensor(self, mask: Tensor, shape: torch.Size) -> Tensor:
        if not isinstance(mask, Tensor):
            raise InputDataError("mask", "a boolean torch.Tensor", type(mask).__name__)
        if mask.shape != shape:
            raise InputDataError("mask", f"the shape of `x` {tuple(shape)}", f"shape {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            if not ((mask == 0) | (mask == 1)).all():  # NaN fails this too
                raise InputDataError("mask", "a boolean (or 0/1) tensor", "other values")
            mask = mask.bool()
        return mask

    def _states_and_mask(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, tuple[int, ...]]:
        """Validate and flatten to `N x V` long states and `N x V` bool mask."""
        x = self._check_x_tensor(x)
        lead = tuple(x.shape[:-1])
        if x.is_floating_point():
            check_finite("x", x)
            if not (x == x.round()).all():
                raise InputDataError("x", "integer category indices", "non-integer values")
        elif x.dtype == torch.bool or x.is_complex():
            raise InputDataError("x", "an integer or floating tensor of category indices", f"dtype {x.dtype}")
        x = x.long().reshape(-1, self.num_visible)
        sizes = torch.tensor(self.visible_sizes, device=x.device)
        bad = (x < 0) | (x >= sizes)
        if bad.any():
            col = int(bad.any(0).nonzero()[0])
            raise InputDataError(
                "x", f"states in [0, {self.visible_sizes[col]}) in column {col}",
                f"values {sorted(set(x[:, col][bad[:, col]].tolist()))[:5]}",
            )  # fmt: skip
        if mask is None:
            mask = torch.ones(x.shape, dtype=torch.bool, device=x.device)
        else:
            mask = self._check_mask_tensor(mask, torch.Size((*lead, self.num_visible))).reshape(x.shape)
        return x, mask, lead

    def _clamp(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        groups = self._groups
        dtype = self.factor.dtype
        clamp = torch.zeros(x.shape[0], groups.dim, dtype=dtype, device=x.device)
        clamp.scatter_(1, groups.offsets[: self.num_visible].to(x.device) + x, 1.0)
        observed = torch.zeros(x.shape[0], groups.n, dtype=torch.bool, device=x.device)
        observed[:, : self.num_visible] = mask
        return clamp, ~observed[:, groups.gid.to(x.device)]
