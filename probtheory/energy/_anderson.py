"""Batched fixed-point iteration with optional Anderson acceleration.

Anderson (type II, Walker & Ni 2011) keeps the last ``memory`` iterates ``x_i`` and map values
``f_i = T(x_i)`` and takes the next iterate as the affine combination
``x+ = sum_i c_i (beta f_i + (1 - beta) x_i)`` whose coefficients (``sum_i c_i = 1``) minimise
``|| sum_i c_i (f_i - x_i) ||``. The bordered normal equations are solved with
``torch.linalg.solve`` (the locuslab/MonotoneDBM reference code uses the removed ``torch.solve``).

The Tikhonov term is *relative* to the size of the residuals: the absolute ``lambda = 1e-4`` of
the DEQ reference code swamps the normal equations once residuals fall below ~1e-2 and turns
the extrapolation into a plain average, which stalls convergence at tight tolerances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_int

__all__ = ["FixedPointResult", "solve_fixed_point"]


@dataclass(frozen=True)
class FixedPointResult:
    """Outcome of :func:`solve_fixed_point`.

    Attributes:
        solution: A `batch x d` tensor: per batch row, the map value ``T(x)`` with the smallest
            residual seen.
        residual: A `batch` tensor of the residuals of ``solution`` (the caller's criterion).
        iterations: Number of evaluations of the map.
        converged: Whether every row reached ``residual <= tol``.
    """

    solution: Tensor
    residual: Tensor
    iterations: int
    converged: bool


def solve_fixed_point(
    step: Callable[[Tensor], tuple[Tensor, Tensor]],
    x0: Tensor,
    *,
    tol: float,
    max_iter: int,
    memory: int = 5,
    regularization: float = 1e-8,
    mixing: float = 1.0,
) -> FixedPointResult:
    """Iterate ``x <- T(x)``, with Anderson acceleration when ``memory >= 1``.

    Args:
        step: ``step(x) -> (T(x), residual)`` for a `batch x d` tensor ``x``; ``residual`` is a
            `batch` tensor measuring how far ``T(x)`` is from a fixed point (the caller's
            stopping criterion, e.g. the mean-field residual evaluated at ``T(x)``).
        x0: A `batch x d` starting point.
        tol: Stop once every row has ``residual <= tol``.
        max_iter: Maximum number of evaluations of ``step``.
        memory: Anderson memory; ``0`` gives the plain (Picard) iteration ``x <- T(x)``.
        regularization: Tikhonov term relative to the mean squared residual of the memory.
        mixing: Anderson damping ``beta`` in ``(0, 1]``.

    Returns:
        A :class:`FixedPointResult`; rows keep their best iterate, so a row that has converged
        is never spoiled by later extrapolations of the others.
    """
    check_int("max_iter", max_iter, minimum=1)
    check_int("memory", memory, minimum=0)
    batch, dim = x0.shape
    x = x0
    best = best_res = None
    if memory > 0:
        xs = x0.new_zeros(batch, memory, dim)
        fs = x0.new_zeros(batch, memory, dim)
    iterations = 0
    for k in range(max_iter):
        f, res = step(x)
        iterations = k + 1
        res = torch.where(torch.isfinite(res), res, torch.full_like(res, float("inf")))
        if best is None:
            best, best_res = f.clone(), res.clone()
        else:
            better = res < best_res
            best = torch.where(better[:, None], f, best)
            best_res = torch.where(better, res, best_res)
        if bool((best_res <= tol).all()) or not torch.isfinite(f).all():
            break
        if memory == 0:
            x = f
            continue
        slot = k % memory
        xs[:, slot], fs[:, slot] = x, f
        used = min(k + 1, memory)
        g = fs[:, :used] - xs[:, :used]  # batch x used x d
        gram = g @ g.transpose(1, 2)  # batch x used x used
        scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(torch.finfo(x0.dtype).tiny)
        eye = torch.eye(used, dtype=x0.dtype, device=x0.device)
        bordered = x0.new_zeros(batch, used + 1, used + 1)
        bordered[:, 0, 1:] = bordered[:, 1:, 0] = 1.0
        bordered[:, 1:, 1:] = gram + regularization * scale[:, None, None] * eye
        rhs = x0.new_zeros(batch, used + 1)
        rhs[:, 0] = 1.0
        coef = torch.linalg.solve(bordered, rhs)[:, 1:]  # batch x used, sums to one
        mixed = mixing * fs[:, :used] + (1.0 - mixing) * xs[:, :used]
        x = (coef[:, None, :] @ mixed).squeeze(1)
        if not torch.isfinite(x).all():  # a singular extrapolation: fall back to a plain step
            x = f
    return FixedPointResult(best, best_res, iterations, bool((best_res <= tol).all()))
