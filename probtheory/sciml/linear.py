r"""Linear solvers for symmetric positive definite systems: CG, geometric multigrid and DCDM.

Every solver has one method, ``solve(matvec, b, x0=None, *, tol, maxiter) -> SolveResult``, and
stops when the relative residual :math:`\|b - Ax_k\|_2 / \|b\|_2` reaches ``tol``. A run that
does not get there returns ``converged=False`` and warns (:class:`NotConvergedWarning`) with the
final relative residual. ``matvec`` is the operator :math:`A`: a square matrix (a dense or sparse
torch tensor, a numpy array, a scipy sparse matrix) or a function mapping an `n` vector to
:math:`Av`. Every solve first probes it with two random vectors and refuses an operator that is
not symmetric (:math:`u^\top Av \ne v^\top Au`); a non-positive curvature :math:`p^\top Ap \le 0`
met during the iteration is refused too.

* :func:`conjugate_gradient`: (preconditioned) conjugate gradients (Hestenes and Stiefel, 1952).
* :class:`MultigridPoisson`: a geometric V-cycle for the finite-volume matrix of
  :func:`probtheory.sciml.problems.poisson2d_matrix` (constant or variable coefficient); a
  solver on its own and, called on a residual, a symmetric positive definite preconditioner.
* :class:`DCDMSolver`, :func:`dcdm_loss`, :class:`RitzRightHandSides`, :class:`DirectionCNN`:
  the deep conjugate direction method of Kaneda, Akar, Chen, Kim and Teran, *A Deep Conjugate
  Direction Method for Iteratively Solving Linear Systems* (ICML 2023), Algorithm 1 and Sec. 3.
  A network maps the normalised residual to a search direction :math:`q`, which is
  A-orthogonalised against the last two directions; the step is the exact line search in the
  A-norm, so the A-norm error never increases whatever the network returns. With
  :math:`q = r` the iteration is CG, with :math:`q = M^{-1}r` preconditioned CG.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_finite, check_int, check_interval, check_real
from probtheory.errors import InputDataError

__all__ = [
    "DCDMSolver",
    "DirectionCNN",
    "LinearSolver",
    "MultigridPoisson",
    "NotConvergedWarning",
    "RitzRightHandSides",
    "SolveResult",
    "conjugate_gradient",
    "dcdm_loss",
]

Operator = Callable[[Tensor], Tensor]


class NotConvergedWarning(RuntimeWarning):
    """A solve stopped at ``maxiter`` above the requested relative residual."""


@dataclass(frozen=True)
class SolveResult:
    r"""The outcome of one solve.

    Attributes:
        x: The `n` solution estimate, in the dtype of ``b``.
        residual_norms: `iterations + 1` residual 2-norms :math:`\|b - Ax_k\|_2`, ``x0`` first
            (the recursively updated residual, as the iteration sees it).
        iterations: Number of iterations (operator applications after the first residual).
        converged: Whether the relative residual reached ``tol``.
    """

    x: Tensor
    residual_norms: Tensor
    iterations: int
    converged: bool


class LinearSolver(ABC):
    """A solver for symmetric positive definite systems :math:`Ax = b`."""

    @abstractmethod
    def solve(
        self, matvec: object, b: Tensor, x0: Tensor | None = None, *, tol: float = 1e-6, maxiter: int = 1000
    ) -> SolveResult:
        """Solve :math:`Ax = b` to relative residual ``tol``.

        Args:
            matvec: The operator: a square matrix (torch dense/sparse, numpy, scipy sparse) or a
                function mapping an `n` vector to :math:`Av`.
            b: The `n` right-hand side.
            x0: The `n` initial guess; ``None``: zero.
            tol: Relative residual to reach, in (0, 1).
            maxiter: Most iterations.

        Returns:
            A :class:`SolveResult`.
        """


# --- the shared checks -------------------------------------------------------------------------


def as_operator(matvec: object, n: int, dtype: torch.dtype) -> Operator:
    """``matvec`` as a function of an `n` (or `n x k`) tensor of ``dtype``, after shape checks.

    Raises:
        InputDataError: If ``matvec`` is neither a square `n x n` matrix nor a callable.
    """
    if isinstance(matvec, np.ndarray) or scipy.sparse.issparse(matvec):
        matvec = _torch_matrix(matvec)
    if isinstance(matvec, Tensor):
        if matvec.dim() != 2 or tuple(matvec.shape) != (n, n):
            raise InputDataError(
                "matvec", f"a square {n} x {n} matrix (b has {n} entries)", tuple(matvec.shape)
            )
        matrix = matvec.to(dtype)
        return lambda v: matrix @ v
    if not callable(matvec):
        raise InputDataError("matvec", "a square matrix or a function v -> A v", type(matvec).__name__)
    user = matvec

    def apply(v: Tensor) -> Tensor:
        if v.dim() == 2:  # a user's function takes vectors: apply it column by column
            return torch.stack([apply(c) for c in v.T], dim=1)
        out = user(v)
        if not isinstance(out, Tensor) or tuple(out.shape) != (n,):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise InputDataError("matvec", f"a function returning an `{n}` vector A v", shape)
        return out.to(dtype)

    return apply


def _torch_matrix(matrix: object) -> Tensor:
    """A numpy array or scipy sparse matrix as a float64 torch tensor (sparse COO if sparse)."""
    if isinstance(matrix, np.ndarray):
        return torch.as_tensor(matrix, dtype=torch.float64)
    coo = scipy.sparse.coo_matrix(matrix)
    indices = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
    values = torch.as_tensor(coo.data, dtype=torch.float64)
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False).coalesce()


def check_symmetric(operator: Operator, n: int, dtype: torch.dtype) -> None:
    r"""Probe :math:`u^\top Av = v^\top Au` with two random vectors (fixed seed).

    The tolerance is :math:`100\sqrt n` machine epsilons of
    :math:`\|Au\|\|v\| + \|Av\|\|u\|`, far above rounding in a symmetric matrix's products
    and far below the asymmetry of a non-symmetric one.

    Raises:
        InputDataError: Naming ``matvec`` if the operator is not symmetric or not finite.
    """
    generator = torch.Generator().manual_seed(0)
    u, v = torch.randn(2, n, generator=generator, dtype=torch.float64).to(dtype)
    au, av = operator(u), operator(v)
    if not (torch.isfinite(au).all() and torch.isfinite(av).all()):
        raise InputDataError("matvec", "an operator with finite values", "NaN or inf in A v for a random v")
    gap = float((u @ av - v @ au).abs())
    scale = float(au.norm() * v.norm() + av.norm() * u.norm())
    if gap > 100 * math.sqrt(n) * torch.finfo(dtype).eps * scale:
        raise InputDataError(
            "matvec",
            "a symmetric operator (u^T A v = v^T A u); these solvers need A symmetric positive definite",
            f"|u^T A v - v^T A u| = {gap:.3g} for random u, v (relative {gap / scale:.3g})",
        )


def _prepare(
    matvec: object, b: Tensor, x0: Tensor | None, tol: float, maxiter: int
) -> tuple[Operator, Tensor, Tensor, float, int]:
    b = check_finite("b", b)
    if b.dim() != 1 or b.numel() == 0:
        raise InputDataError("b", "a non-empty `n` vector", tuple(b.shape))
    n = b.numel()
    operator = as_operator(matvec, n, b.dtype)
    check_symmetric(operator, n, b.dtype)
    if x0 is None:
        x = torch.zeros_like(b)
    else:
        x = check_finite("x0", x0)
        if tuple(x.shape) != (n,):
            raise InputDataError("x0", f"an `{n}` vector like b", tuple(x.shape))
        x = x.to(b.dtype).clone()
    tol = check_interval("tol", tol, 0.0, 1.0, closed=(False, False), meaning="a relative residual")
    return operator, b, x, tol, check_int("maxiter", maxiter, minimum=1)


def _finish(solver: str, x: Tensor, norms: list[float], b_norm: float, tol: float) -> SolveResult:
    converged = norms[-1] <= tol * b_norm
    if not converged:
        warnings.warn(
            f"{solver} stopped after {len(norms) - 1} iterations at relative residual "
            f"{norms[-1] / b_norm:.3g} > tol = {tol:.3g}",
            NotConvergedWarning,
            stacklevel=3,
        )
    return SolveResult(x, torch.tensor(norms, dtype=torch.float64), len(norms) - 1, converged)


def _curvature(p: Tensor, ap: Tensor, iteration: int) -> float:
    curvature = float(p @ ap)
    if not curvature > 0:
        raise InputDataError(
            "matvec",
            "a positive definite operator (q^T A q > 0 for every direction q != 0)",
            f"q^T A q = {curvature:.3g} at iteration {iteration}",
        )
    return curvature


# --- conjugate gradients -----------------------------------------------------------------------


def conjugate_gradient(
    matvec: object,
    b: Tensor,
    x0: Tensor | None = None,
    *,
    tol: float = 1e-6,
    maxiter: int = 1000,
    preconditioner: Operator | None = None,
) -> SolveResult:
    r"""Conjugate gradients, preconditioned when ``preconditioner`` is given.

    The textbook recurrence (Saad, *Iterative Methods for Sparse Linear Systems*, Alg. 9.1):
    :math:`z = M^{-1}r`, :math:`\alpha = r^\top z / p^\top Ap`,
    :math:`\beta = r_{k+1}^\top z_{k+1} / r_k^\top z_k`, :math:`p \leftarrow z + \beta p`.

    Args:
        matvec: The symmetric positive definite operator (see :class:`LinearSolver`).
        b: The `n` right-hand side.
        x0: The `n` initial guess; ``None``: zero.
        tol: Relative residual to reach, in (0, 1).
        maxiter: Most iterations.
        preconditioner: A symmetric positive definite :math:`M^{-1}`: a function of an `n`
            residual (e.g. ``lambda r: r / diagonal`` for Jacobi, or a :class:`MultigridPoisson`).

    Returns:
        A :class:`SolveResult`; warns :class:`NotConvergedWarning` if ``tol`` was not reached.

    Raises:
        InputDataError: Naming ``matvec`` (not square, not symmetric, :math:`p^\top Ap \le 0`),
            ``b`` / ``x0`` (shape, NaN), ``tol``, ``maxiter`` or ``preconditioner`` (not a
            callable, a wrong shape, or :math:`r^\top M^{-1} r \le 0`).
    """
    operator, b, x, tol, maxiter = _prepare(matvec, b, x0, tol, maxiter)
    if preconditioner is not None and not callable(preconditioner):
        raise InputDataError("preconditioner", "a function r -> M^{-1} r", type(preconditioner).__name__)

    def precondition(r: Tensor) -> Tensor:
        if preconditioner is None:
            return r
        z = preconditioner(r)
        if not isinstance(z, Tensor) or z.shape != r.shape or not torch.isfinite(z).all():
            received = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise InputDataError("preconditioner", f"a finite `{r.numel()}` vector M^-1 r", received)
        return z.to(r.dtype)

    r = b - operator(x) if x0 is not None else b.clone()
    b_norm = float(b.norm())
    norms = [float(r.norm())]
    if b_norm == 0.0:
        return SolveResult(torch.zeros_like(b), torch.zeros(1, dtype=torch.float64), 0, True)
    z = precondition(r)
    p, rz = z.clone(), float(r @ z)
    for iteration in range(maxiter):
        if norms[-1] <= tol * b_norm:
            break
        ap = operator(p)
        alpha = rz / _curvature(p, ap, iteration)
        x += alpha * p
        r -= alpha * ap
        norms.append(float(r.norm()))
        z = precondition(r)
        rz_next = float(r @ z)
        if not rz_next > 0 and norms[-1] > 0:
            raise InputDataError(
                "preconditioner", "a positive definite M^-1 (r^T M^-1 r > 0)", f"r^T M^-1 r = {rz_next:.3g}"
            )
        p = z + (rz_next / rz) * p
        rz = rz_next
    return _finish("conjugate_gradient", x, norms, b_norm, tol)


# --- geometric multigrid -----------------------------------------------------------------------


def _interpolation_1d(coarse: int) -> scipy.sparse.csr_matrix:
    """Cell-centred linear interpolation from ``coarse`` to ``2 coarse`` cells, zero Dirichlet ghosts."""
    rows, cols, vals = [], [], []
    for c in range(coarse):
        for fine, neighbour in ((2 * c, c - 1), (2 * c + 1, c + 1)):
            if 0 <= neighbour < coarse:
                rows += [fine, fine]
                cols += [c, neighbour]
                vals += [0.75, 0.25]
            else:  # the ghost cell beyond the wall holds -u_c (zero value on the wall)
                rows.append(fine)
                cols.append(c)
                vals.append(0.5)
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(2 * coarse, coarse))


class MultigridPoisson(LinearSolver):
    r"""Geometric multigrid V-cycles for the finite-volume Poisson matrix on an `n x n` grid.

    The fine matrix is :func:`probtheory.sciml.problems.poisson2d_matrix` ``(n, coefficient)``.
    Coarse grids halve the cells per side; prolongation :math:`P` is cell-centred bilinear
    interpolation, restriction :math:`P^\top`, and the coarse matrices are Galerkin products
    :math:`A_{l+1} = P^\top A_l P` (so a variable coefficient needs no rule for coarsening
    it). Smoothing is damped Jacobi, ``smoothing`` sweeps before and after the coarse
    correction; the coarsest system is solved by Cholesky. Same smoother before and after and
    :math:`R = P^\top` make one V-cycle from a zero guess a symmetric positive definite
    operator :math:`r \mapsto B r \approx A^{-1} r`, so the instance, called on a residual, is a
    preconditioner for :func:`conjugate_gradient` (Trottenberg, Oosterlee and Schüller,
    *Multigrid*, 2001, Sec. 2.4 and 7.8).

    Args:
        coefficient: An `n x n` tensor of positive cell values :math:`k`; ``None``: 1 (then
            ``n`` is required).
        n: Cells per side when ``coefficient`` is ``None``.
        levels: Number of grids, at least 2; ``n`` must be divisible by :math:`2^{levels-1}`
            with at least 2 cells per side on the coarsest. ``None``: coarsen while the grid
            halves evenly down to at most 4 cells per side.
        smoothing: Jacobi sweeps before and after the coarse correction.
        omega: Jacobi damping, in (0, 1].

    Attributes:
        matrix: The fine `n^2 x n^2` matrix, a float64 sparse torch tensor.

    Raises:
        InputDataError: If ``coefficient`` is not `n x n` positive, or ``n`` is not divisible by
            :math:`2^{levels-1}` (naming ``levels``), or another argument is out of range.
    """

    def __init__(
        self,
        coefficient: Tensor | None = None,
        *,
        n: int | None = None,
        levels: int | None = None,
        smoothing: int = 2,
        omega: float = 0.8,
    ) -> None:
        from probtheory.sciml.problems import poisson2d_matrix  # same layer; kept out of import time

        if coefficient is None:
            if n is None:
                raise InputDataError("n", "the cells per side when no coefficient is given", None)
            n = check_int("n", n, minimum=2)
        else:
            coefficient = check_finite("coefficient", torch.as_tensor(coefficient, dtype=torch.float64))
            if coefficient.dim() != 2 or coefficient.shape[0] != coefficient.shape[1]:
                raise InputDataError(
                    "coefficient", "an `n x n` tensor of cell values", tuple(coefficient.shape)
                )
            n = coefficient.shape[0]
        if levels is None:
            levels = 1
            while n % 2**levels == 0 and n // 2 ** (levels - 1) > 4:
                levels += 1
        levels = check_int("levels", levels, minimum=2)
        if n % 2 ** (levels - 1) != 0 or n // 2 ** (levels - 1) < 2:
            raise InputDataError(
                "levels",
                f"a grid of n = {n} cells per side divisible by 2^(levels - 1) with >= 2 cells left",
                f"levels = {levels} (2^{levels - 1} = {2 ** (levels - 1)})",
            )
        self.n, self.levels = n, levels
        self.smoothing = check_int("smoothing", smoothing, minimum=1)
        self.omega = check_interval(
            "omega", omega, 0.0, 1.0, closed=(False, True), meaning="a damping factor"
        )
        matrix = poisson2d_matrix(n, None if coefficient is None else coefficient.numpy())
        self._matrices, self._prolongations, self._inverse_diagonals = [], [], []
        size = n
        for _ in range(levels - 1):
            p1 = _interpolation_1d(size // 2)
            prolongation = scipy.sparse.kron(p1, p1).tocsr()
            self._matrices.append(_torch_matrix(matrix))
            self._inverse_diagonals.append(torch.as_tensor(1.0 / matrix.diagonal()))
            self._prolongations.append((_torch_matrix(prolongation), _torch_matrix(prolongation.T)))
            matrix = (prolongation.T @ matrix @ prolongation).tocsr()
            size //= 2
        self._coarse_factor = torch.linalg.cholesky(torch.as_tensor(matrix.toarray()))
        self.matrix = self._matrices[0]

    def __call__(self, residual: Tensor) -> Tensor:
        r"""One V-cycle from a zero guess: :math:`B r \approx A^{-1} r` for an `n^2` residual ``r``."""
        residual = check_finite("residual", residual)
        if tuple(residual.shape) != (self.n**2,):
            raise InputDataError("residual", f"an `{self.n**2}` vector (n = {self.n})", tuple(residual.shape))
        return self._cycle(0, residual.to(torch.float64)).to(residual.dtype)

    def _cycle(self, level: int, f: Tensor) -> Tensor:
        if level == self.levels - 1:
            return torch.cholesky_solve(f[:, None], self._coarse_factor)[:, 0]
        a, d = self._matrices[level], self.omega * self._inverse_diagonals[level]
        prolong, restrict = self._prolongations[level]
        x = d * f
        for _ in range(self.smoothing - 1):
            x = x + d * (f - a @ x)
        x = x + prolong @ self._cycle(level + 1, restrict @ (f - a @ x))
        for _ in range(self.smoothing):
            x = x + d * (f - a @ x)
        return x

    def solve(
        self, matvec: object, b: Tensor, x0: Tensor | None = None, *, tol: float = 1e-6, maxiter: int = 100
    ) -> SolveResult:
        r"""Stationary V-cycle iteration :math:`x \leftarrow x + B(b - Ax)` (see :class:`LinearSolver`).

        ``matvec`` computes the residuals (pass :attr:`matrix`); the cycles use the hierarchy
        built from the coefficient, so ``matvec`` must be that same operator.
        """
        operator, b, x, tol, maxiter = _prepare(matvec, b, x0, tol, maxiter)
        b_norm = float(b.norm())
        r = b - operator(x)
        norms = [float(r.norm())]
        if b_norm == 0.0:
            return SolveResult(torch.zeros_like(b), torch.zeros(1, dtype=torch.float64), 0, True)
        for _ in range(maxiter):
            if norms[-1] <= tol * b_norm:
                break
            x = x + self(r)
            r = b - operator(x)
            norms.append(float(r.norm()))
        return _finish("MultigridPoisson", x, norms, b_norm, tol)


# --- the deep conjugate direction method ---------------------------------------------------------


class DCDMSolver(LinearSolver):
    r"""Conjugate directions with search directions from a network (DCDM, Kaneda et al., Alg. 1).

    Each iteration maps the normalised residual :math:`r/\|r\|` to :math:`q` = ``direction``,
    A-orthogonalises it against the last two directions,
    :math:`p = q - \sum_{j\in\{k-1,k-2\}} \frac{q^\top Ap_j}{p_j^\top Ap_j} p_j`, and takes the
    exact A-norm line search :math:`x \leftarrow x + \frac{p^\top r}{p^\top Ap}p`. The
    Gram–Schmidt pass runs twice ("twice is enough": Giraud, Langou and Rozložník, 2005), so
    the conjugacy holds to rounding even when :math:`q` nearly lies in the span of the
    previous two directions. Only the last two are kept, as in the paper: for a perfect
    network (:math:`q \propto A^{-1}r`) one step solves the system, and for :math:`q = r`
    the directions are CG's.

    Args:
        direction: A function (typically an ``nn.Module``, e.g. :class:`DirectionCNN`) mapping a
            `k x n` batch of unit residuals to `k x n` directions. It runs under
            ``torch.no_grad`` in its own dtype (that of its first parameter).
        record: Keep the directions and iterates of the last solve in :attr:`directions` and
            :attr:`iterates` (for tests and plots).

    Attributes:
        directions: `iterations x n` directions :math:`p_k` of the last solve (``record=True``).
        iterates: `(iterations + 1) x n` iterates :math:`x_k`, ``x0`` first (``record=True``).
    """

    def __init__(self, direction: Callable[[Tensor], Tensor], *, record: bool = False) -> None:
        if not callable(direction):
            raise InputDataError("direction", "a function (an nn.Module) r -> q", type(direction).__name__)
        self.direction = direction
        self.record = bool(record)
        self.directions: Tensor | None = None
        self.iterates: Tensor | None = None

    def solve(
        self, matvec: object, b: Tensor, x0: Tensor | None = None, *, tol: float = 1e-6, maxiter: int = 1000
    ) -> SolveResult:
        """Solve :math:`Ax = b` (see :class:`LinearSolver`).

        Raises:
            InputDataError: As :func:`conjugate_gradient` for ``matvec``, ``b``, ``x0``, ``tol``,
                ``maxiter``; naming ``direction`` if it returns a wrong shape, NaN, or a
                direction in the span of the previous two (zero after orthogonalisation).
        """
        operator, b, x, tol, maxiter = _prepare(matvec, b, x0, tol, maxiter)
        b_norm = float(b.norm())
        r = b - operator(x) if x0 is not None else b.clone()
        norms = [float(r.norm())]
        if b_norm == 0.0:
            return SolveResult(torch.zeros_like(b), torch.zeros(1, dtype=torch.float64), 0, True)
        previous: list[tuple[Tensor, Tensor, float]] = []
        directions, iterates = [], [x.clone()]
        for iteration in range(maxiter):
            if norms[-1] <= tol * b_norm:
                break
            q = self._direction(r / norms[-1])
            p = self._orthogonalise(q, previous)
            if float(p.norm()) <= 1e3 * torch.finfo(p.dtype).eps * float(q.norm()):
                raise InputDataError(
                    "direction",
                    "directions outside the span of the previous two",
                    f"a direction that A-orthogonalisation reduced to zero at iteration {iteration}",
                )
            ap = operator(p)
            curvature = _curvature(p, ap, iteration)
            step = float(p @ r) / curvature
            x = x + step * p
            r = r - step * ap
            norms.append(float(r.norm()))
            previous = [*previous[-1:], (p, ap, curvature)]
            if self.record:
                directions.append(p)
                iterates.append(x.clone())
        if self.record:
            self.directions = torch.stack(directions) if directions else b.new_zeros(0, b.numel())
            self.iterates = torch.stack(iterates)
        return _finish("DCDMSolver", x, norms, b_norm, tol)

    def _direction(self, unit_residual: Tensor) -> Tensor:
        dtype = unit_residual.dtype
        if isinstance(self.direction, nn.Module):
            parameter = next(self.direction.parameters(), None)
            dtype = parameter.dtype if parameter is not None else dtype
        with torch.no_grad():
            q = self.direction(unit_residual.to(dtype)[None])
        if not isinstance(q, Tensor) or tuple(q.shape) != (1, unit_residual.numel()):
            received = tuple(q.shape) if isinstance(q, Tensor) else type(q).__name__
            raise InputDataError("direction", f"a `1 x {unit_residual.numel()}` direction", received)
        if not torch.isfinite(q).all():
            raise InputDataError("direction", "finite directions", "NaN or inf in the network's output")
        return q[0].to(unit_residual.dtype)

    def _orthogonalise(self, q: Tensor, previous: list[tuple[Tensor, Tensor, float]]) -> Tensor:
        """A-orthogonalise ``q`` against the stored ``(p, Ap, p^T A p)``: classical Gram-Schmidt, twice."""
        for _ in range(2):
            for p, ap, curvature in previous:
                q = q - (float(q @ ap) / curvature) * p
        return q


def dcdm_loss(matvec: object) -> Callable[[nn.Module, Tensor], Tensor]:
    r"""The DCDM training loss for one matrix, as a ``loss(model, batch)`` for :func:`fit`.

    For each right-hand side :math:`b` of the batch, normalised to :math:`\|b\| = 1`, and the
    network's direction :math:`q = f(b)` (Kaneda et al., Sec. 3.2):

    .. math:: L = \Bigl\| b - \frac{q^\top b}{q^\top Aq} Aq \Bigr\|_2^2,

    the residual after one exact line search along :math:`q` from :math:`x = 0`; the batch mean
    is returned. It is invariant to :math:`q \to cq` (:math:`c \ne 0`) and zero exactly when
    :math:`q \propto A^{-1}b`.

    Args:
        matvec: The symmetric positive definite operator (see :class:`LinearSolver`); checked
            for symmetry at the first batch.

    Returns:
        ``loss(model, batch)`` where ``batch`` is a `k x n` tensor of right-hand sides (as
        :class:`RitzRightHandSides` yields) and ``model`` maps it to `k x n` directions.

    Raises:
        InputDataError: At the first batch, naming ``matvec`` if it is not symmetric; at every
            batch, naming ``batch`` for a wrong shape or NaN, ``matvec`` for
            :math:`q^\top Aq \le 0`.
    """
    operators: dict[tuple[int, torch.dtype], Operator] = {}

    def loss(model: nn.Module, batch: Tensor) -> Tensor:
        batch = check_finite("batch", batch)
        if batch.dim() != 2:
            raise InputDataError("batch", "a `k x n` tensor of right-hand sides", tuple(batch.shape))
        key = (batch.shape[1], batch.dtype)
        if key not in operators:
            operators[key] = as_operator(matvec, *key)
            check_symmetric(operators[key], *key)
        rhs = batch / batch.norm(dim=1, keepdim=True).clamp_min(torch.finfo(batch.dtype).tiny)
        q = model(rhs)
        aq = operators[key](q.T).T
        curvature = (q * aq).sum(dim=1)
        if not bool((curvature > 0).all()):
            raise InputDataError(
                "matvec",
                "a positive definite operator (q^T A q > 0)",
                f"q^T A q = {float(curvature.min()):.3g} (is the network's output zero?)",
            )
        alpha = (q * rhs).sum(dim=1) / curvature
        return ((rhs - alpha[:, None] * aq) ** 2).sum(dim=1).mean()

    return loss


class RitzRightHandSides:
    r"""Training right-hand sides for DCDM: random combinations of Ritz vectors of :math:`A`.

    Kaneda et al., Sec. 3.3: :math:`b = \sum_j c_j v_j / \|\cdot\|` over Ritz vectors
    :math:`v_j` of :math:`A` from Lanczos, with the coefficients of the low end of the spectrum
    drawn ``low_weight`` (9) times larger, because the low modes are those Krylov methods resolve
    last. Here the Ritz vectors are ``scipy.sparse.linalg.eigsh`` (implicitly restarted Lanczos)
    with ``which="BE"``: half from each end of the spectrum; the lower half gets the weight.

    An endless data policy: iterate it (``fit(..., steps_per_epoch=...)``) for `batch_size x n`
    float32 batches drawn from a seeded generator.

    Args:
        matvec: The operator (see :class:`LinearSolver`).
        n: Its size; needed only when ``matvec`` is a function.
        num_vectors: Ritz vectors, at least 2 and below ``n``.
        batch_size: Right-hand sides per batch.
        low_weight: Scale of the coefficients of the low half of the spectrum.
        seed: Seed of the coefficients (and of Lanczos' start vector).

    Attributes:
        ritz_values: The ``num_vectors`` Ritz values, ascending.
        ritz_vectors: The `num_vectors x n` float64 Ritz vectors.
    """

    def __init__(
        self,
        matvec: object,
        *,
        n: int | None = None,
        num_vectors: int = 64,
        batch_size: int = 32,
        low_weight: float = 9.0,
        seed: int = 0,
    ) -> None:
        if isinstance(matvec, np.ndarray) or scipy.sparse.issparse(matvec) or isinstance(matvec, Tensor):
            n = int(matvec.shape[0])
        elif n is None:
            raise InputDataError("n", "the operator's size when matvec is a function", None)
        n = check_int("n", n, minimum=3)
        operator = as_operator(matvec, n, torch.float64)
        check_symmetric(operator, n, torch.float64)
        self.num_vectors = check_int("num_vectors", num_vectors, minimum=2)
        if self.num_vectors >= n:
            raise InputDataError("num_vectors", f"fewer Ritz vectors than unknowns ({n})", num_vectors)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.low_weight = check_real("low_weight", low_weight, positive=True)
        self.seed = check_int("seed", seed, minimum=0)
        linear = scipy.sparse.linalg.LinearOperator(
            (n, n), matvec=lambda v: operator(torch.as_tensor(np.ravel(v), dtype=torch.float64)).numpy()
        )
        start = np.random.default_rng(self.seed).standard_normal(n)
        values, vectors = scipy.sparse.linalg.eigsh(linear, k=self.num_vectors, which="BE", v0=start)
        order = np.argsort(values)
        self.ritz_values = torch.as_tensor(values[order])
        self.ritz_vectors = torch.as_tensor(vectors[:, order].T.copy())
        half = self.num_vectors // 2
        self._scale = torch.ones(self.num_vectors, dtype=torch.float64)
        self._scale[:half] = self.low_weight

    def __iter__(self) -> Iterator[Tensor]:
        """Endless `batch_size x n` float32 batches of unit-norm right-hand sides."""
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            coefficients = torch.randn(
                self.batch_size, self.num_vectors, generator=generator, dtype=torch.float64
            )
            rhs = (coefficients * self._scale) @ self.ritz_vectors
            yield (rhs / rhs.norm(dim=1, keepdim=True)).float()


class DirectionCNN(nn.Module):
    r"""A small convolutional network from `k x n^2` residuals on an `n x n` grid to directions.

    :math:`q = G^\top G r`, where :math:`G` is a linear convolutional U-Net (per level two 3x3
    convolutions without bias and zero padding, the Dirichlet wall; average pooling down,
    bilinear upsampling up, skip connections by concatenation; a final 1x1 convolution) and
    :math:`G^\top` its adjoint, applied by autograd. The map :math:`r \mapsto q` is therefore
    linear, symmetric and positive semi-definite: a learned approximate inverse
    :math:`M \approx A^{-1}` in factored form, with which DCDM's iteration is exactly
    preconditioned CG (conjugate to *all* previous directions, guaranteed to converge).
    Fully convolutional, so the same weights run on any grid whose side is divisible by
    :math:`2^{levels-1}`. The input is scaled to unit root-mean-square entries (DCDM's
    directions are scale-free).

    This departs from the paper, whose networks are nonlinear CNNs trained for hours on GPUs.
    With the few minutes of CPU training of our reproduction, unconstrained networks (nonlinear,
    or linear but not symmetric) fitted the training right-hand sides but made DCDM stagnate on
    others: with only two previous directions kept, a direction with :math:`p^\top r \approx 0`
    makes no progress and the next residual is nearly the same. A symmetric positive
    definite map cannot do that.

    A convolution cannot tell where on the grid it is, so a variable-coefficient matrix is
    invisible to it unless given: with ``coefficient`` set (an `n x n` tensor of the cell
    values :math:`k`), :math:`r \log k` is a second input channel of :math:`G` (still linear in
    :math:`r`). The paper's networks see only the residual because their matrix is fixed;
    this is what lets the same weights run on a finer grid (set :attr:`coefficient` to the
    finer field).

    Args:
        channels: Channels at the finest level (doubling per level).
        levels: Resolution levels, at least 1.
        coefficient: Optional `n x n` positive cell values of the operator.
    """

    def __init__(self, channels: int = 16, levels: int = 3, coefficient: Tensor | None = None) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        self.levels = check_int("levels", levels, minimum=1)
        self.coefficient = coefficient
        inputs = 2 if coefficient is not None else 1
        widths = [channels * 2**level for level in range(self.levels)]
        self.down = nn.ModuleList()
        for level, width in enumerate(widths):
            self.down.append(_double_conv(inputs if level == 0 else widths[level - 1], width))
        self.up = nn.ModuleList(
            _double_conv(widths[level + 1] + widths[level], widths[level]) for level in range(self.levels - 1)
        )
        self.out = nn.Conv2d(widths[0], channels, 1, bias=False)

    def forward(self, residual: Tensor) -> Tensor:
        r"""Directions :math:`G^\top G r` for a `k x n^2` batch of residuals (an `n x n` grid, row-major)."""
        batch, size = residual.shape
        side = math.isqrt(size)
        if side * side != size or side % 2 ** (self.levels - 1) != 0:
            raise InputDataError(
                "residual", f"`k x n^2` with n divisible by 2^{self.levels - 1}", tuple(residual.shape)
            )
        log_k = None
        if self.coefficient is not None:
            log_k = torch.as_tensor(self.coefficient).log().to(residual.dtype)
            if tuple(log_k.shape) != (side, side):
                expected = f"an `{side} x {side}` field like the grid"
                raise InputDataError("coefficient", expected, tuple(log_k.shape))
        # unit root-mean-square entries: the scale of r is irrelevant to DCDM
        scale = residual.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(torch.finfo(residual.dtype).tiny)
        differentiable = torch.is_grad_enabled()  # training: keep the graph of G^T G r
        with torch.enable_grad():  # G^T y by autograd, also inside the solver's no_grad
            r = (residual / scale).reshape(batch, 1, side, side)
            if not r.requires_grad:
                r = r.detach().requires_grad_()
            features = self._linear(r, log_k)
            (q,) = torch.autograd.grad(features, r, grad_outputs=features, create_graph=differentiable)
        return q.reshape(batch, size)

    def _linear(self, r: Tensor, log_k: Tensor | None) -> Tensor:
        """The linear map G of the `k x 1 x n x n` residual."""
        h = r if log_k is None else torch.cat([r, r * log_k], dim=1)
        skips = []
        for level, block in enumerate(self.down):
            h = block(h if level == 0 else F.avg_pool2d(h, 2))
            skips.append(h)
        for level in range(self.levels - 2, -1, -1):
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = self.up[level](torch.cat([h, skips[level]], dim=1))
        return self.out(h)


def _double_conv(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
    )
