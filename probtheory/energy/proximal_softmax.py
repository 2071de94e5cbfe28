r"""The proximal softmax of the monotone DBM's forward-backward splitting, and its Jacobian.

Feng, Winston, Kolter, *Monotone deep Boltzmann machines* (TMLR 2023, arXiv 2307.04990);
reference code ``ProxSoftmax`` in locuslab/MonotoneDBM. With ``f(z) = sum_j z_j log z_j - |z|^2 / 2`` on each
categorical block's simplex (convex: its Hessian is ``diag(1/z) - I ⪰ 0``), the proximal map

.. math::
    \mathrm{prox}^\alpha_f(y) = \arg\min_z \tfrac12 \lVert z - y\rVert^2 + \alpha f(z)

solves ``(1 - α) z_j + α log z_j = y_j - α - ν`` per block (``ν``: the simplex multiplier);
``α = 1`` is the plain block softmax. The Jacobian of the map (``_prox_jacobian_apply``) is what
the implicit-function backward pass of :mod:`probtheory.energy.categorical_mean_field` needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from probtheory._checks import check_finite, check_interval
from probtheory.energy._categorical_groups import _flat, _Groups, _groups_of

__all__ = ["block_softmax", "prox_softmax"]

_PROX_MAX_OUTER = 200
_PROX_MAX_INNER = 100


def block_softmax(y: Tensor, group_sizes: Sequence[int]) -> Tensor:
    """Softmax within each categorical block.

    Args:
        y: A `... x D` tensor of logits, ``D = sum(group_sizes)``.
        group_sizes: The category counts ``k_i`` of the blocks.

    Returns:
        A `... x D` tensor whose blocks each lie on the probability simplex.
    """
    check_finite("y", y)
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
    alpha = check_interval("alpha", alpha, 0.0, 1.0, closed=(False, True), meaning="a forward-backward step")
    check_finite("y", y)  # NaN would run every Newton loop to its cap and come out NaN
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
