r"""Linear bound propagation through a network and through its Clarke-Jacobian graph.

Shi, Wang, Zhang, Kolter, Hsieh, *Efficiently Computing Local Lipschitz Constants of Neural
Networks via Bound Propagation* (NeurIPS 2022); see also docs/derivations.md, §1.

The network is an :class:`~probtheory.bounds.affine_chain.AffineChain`
``f(x) = A_L s_{L-1}(A_{L-1} ... s_1(A_1 x))`` of dense affine maps ``A_k z = W_k z + b_k`` and
elementwise activations ``s_k``. Pre-activation bounds over the box come from IBP or CROWN
(:func:`preactivation_bounds`). Row ``j`` of the Jacobian is then (Shi et al., Sec. 3: the
backward graph of the chain rule)

.. math::

    \nabla f_j(x)^\top = e_j^\top W_L D_{L-1} W_{L-1} \cdots D_1 W_1, \qquad
    D_k = \mathrm{diag}(s_k'(z_k(x))),

and over the ball every Clarke derivative ``s_k'(z)`` lies in an interval ``[dl, du]`` that the
pre-activation bounds give (ReLU: ``{0}``, ``{1}`` or ``[0, 1]``; LeakyReLU ``[alpha, 1]``; tanh:
``1 - tanh^2`` over the pre-activation interval). Three upper bounds on
``max_j sup ||\nabla f_j||_q`` (``q`` the dual of the input norm ``p``) are computed here:

* :func:`interval_jacobian_bound`: interval arithmetic on the Jacobian product, backward from
  the output (Fast-Lip / RecurJac without the recursion);
* :func:`crown_jacobian_bound`: CROWN-style backward linear bound propagation through the
  gradient graph, with CROWN-refined intermediate intervals of the backward vectors. The final
  dual norm is relaxed by chords (``|t|`` for ``p = inf``, ``t^2``
  for ``p = 2``), and each product node ``v * d`` (``d`` in its box, ``v`` in its interval) by the
  chord of ``max_{d in [dl, du]} beta d v``, the exact upper envelope in ``d``, over the interval
  of ``v``;
* :func:`global_bound`: the product of operator norms (the cheapest baseline).

All arithmetic is float64. The floating-point error of every computed bound is bounded by
``gamma_m * S`` (Higham, *Accuracy and Stability of Numerical Algorithms*, Sec. 3.1: the error
of a sum of products is at most ``gamma_m`` times the sum of absolute products; ``S`` is the
absolute Jacobian chain, at most the global bound), so :func:`rounding_slack` is added to every
upper bound: the bounds are sound in float64 arithmetic, not only in exact arithmetic.
"""

from __future__ import annotations

import torch
from torch import Tensor

from probtheory._checks import check_finite, check_name, check_real
from probtheory.bounds.affine_chain import Activation, AffineChain
from probtheory.errors import InputDataError

__all__ = [
    "NORMS",
    "crown_jacobian_bound",
    "derivative_ranges",
    "dual_norm",
    "global_bound",
    "interval_jacobian_bound",
    "preactivation_bounds",
    "rounding_slack",
]

#: supported input norms ``p`` of the perturbation; the gradient rows are measured in the dual norm
NORMS = ("inf", "2", "1")
_UNIT_ROUNDOFF = 2.0**-53


# --------------------------------------------------------------------------------------------
# Pre-activation bounds over the box (IBP and CROWN, intersected)
# --------------------------------------------------------------------------------------------


def _check_norm(norm: object) -> str:
    """One of :data:`NORMS` (an unknown name would silently fall through to the last branch)."""
    if not isinstance(norm, str) or norm not in NORMS:
        raise InputDataError("norm", f"one of {NORMS}", repr(norm))
    return norm


def _check_chain(chain: object) -> AffineChain:
    if not isinstance(chain, AffineChain):
        raise InputDataError("chain", "an AffineChain (from affine_chain)", type(chain).__name__)
    return chain


def _check_rows(chain: AffineChain, rows: object) -> Tensor:
    if not isinstance(rows, Tensor) or rows.dtype != torch.long or rows.dim() != 1 or rows.numel() == 0:
        raise InputDataError(
            "rows", "a non-empty 1-d long tensor of output indices", getattr(rows, "shape", rows)
        )
    if int(rows.min()) < 0 or int(rows.max()) >= chain.out_features:
        raise InputDataError("rows", f"output indices in [0, {chain.out_features})", rows.tolist()[:8])
    return rows


def _check_ranges(chain: AffineChain, ranges: object) -> None:
    if not isinstance(ranges, list | tuple) or len(ranges) != len(chain.activations):
        raise InputDataError(
            "ranges",
            f"{len(chain.activations)} (low, high) pairs from derivative_ranges",
            type(ranges).__name__,
        )


def _gamma(m: int) -> float:
    """Higham's ``gamma_m = m u / (1 - m u)``: relative error bound of a length-``m`` dot product."""
    return m * _UNIT_ROUNDOFF / (1.0 - m * _UNIT_ROUNDOFF)


def _relaxation(act: Activation, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Linear bounds ``aL z + bL <= s(z) <= aU z + bU`` valid for ``z`` in ``[lo, hi]`` (CROWN)."""
    if act.kind == "tanh":
        return _parallel_relaxation(lo, hi)
    alpha = act.slope
    # s(z) = max(z, alpha z) (alpha <= 1, convex) or min(z, alpha z) (alpha > 1, concave)
    straddle = (lo < 0) & (hi > 0)
    width = torch.where(straddle, hi - lo, torch.ones_like(lo))
    chord = torch.where(straddle, (hi - alpha * lo) / width, torch.zeros_like(lo))
    chord_b = torch.where(straddle, alpha * lo - chord * lo, torch.zeros_like(lo))
    # through-origin line: slope 1 or alpha, whichever is closer to the chord (CROWN's adaptive choice)
    big = hi >= -lo
    tangent = torch.where(big, torch.ones_like(lo), torch.full_like(lo, alpha))
    stable_slope = torch.where(hi <= 0, torch.full_like(lo, alpha), torch.ones_like(lo))
    zero = torch.zeros_like(lo)
    if alpha <= 1.0:
        a_l = torch.where(straddle, tangent, stable_slope)
        b_l = zero
        a_u = torch.where(straddle, chord, stable_slope)
        b_u = torch.where(straddle, chord_b, zero)
    else:
        a_u = torch.where(straddle, tangent, stable_slope)
        b_u = zero
        a_l = torch.where(straddle, chord, stable_slope)
        b_l = torch.where(straddle, chord_b, zero)
    return a_l, b_l, a_u, b_u


def _parallel_relaxation(lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Tanh between two parallel lines of the chord's slope ``k`` (exact offsets).

    The offsets are the extrema of ``tanh(z) - k z`` over ``[lo, hi]``: at the endpoints or where
    ``tanh'(z) = k``, i.e. ``z = +-atanh(sqrt(1 - k))``.
    """
    width = hi - lo
    tiny = width <= 1e-12 * (1.0 + lo.abs())
    safe = torch.where(tiny, torch.ones_like(width), width)
    k = torch.where(tiny, 1.0 - torch.tanh(lo).square(), (torch.tanh(hi) - torch.tanh(lo)) / safe)
    k = k.clamp(min=0.0, max=1.0)
    crit = torch.atanh(torch.sqrt(1.0 - k).clamp(max=1.0 - 1e-16))
    candidates = torch.stack([lo, hi, crit.clamp(lo, hi), (-crit).clamp(lo, hi)])
    offset = torch.tanh(candidates) - k * candidates
    low, high = offset.min(0).values, offset.max(0).values
    # rounding of tanh and of k * z: a few ulps of the magnitudes involved
    slack = 8 * _UNIT_ROUNDOFF * (1.0 + k * torch.maximum(lo.abs(), hi.abs()))
    return k, low - slack, k, high + slack


def _interval_affine(w: Tensor, b: Tensor, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """``[W x + b]`` over the box ``[lo, hi]``, widened by its rounding error."""
    wp, wn = w.clamp(min=0), w.clamp(max=0)
    zl = lo @ wp.T + hi @ wn.T + b
    zh = hi @ wp.T + lo @ wn.T + b
    scale = torch.maximum(lo.abs(), hi.abs()) @ w.abs().T + b.abs()
    err = _gamma(w.shape[1] + 2) * scale
    return zl - err, zh + err


def preactivation_bounds(
    chain: AffineChain, center: Tensor, radius: float, method: str = "crown"
) -> list[tuple[Tensor, Tensor]]:
    """Bounds ``[l_k, u_k]`` on the pre-activations ``z_1, ..., z_{L-1}`` over the box.

    Args:
        chain: The network.
        center: A `d` tensor, the centre of the box ``||x - center||_inf <= radius``.
        radius: Half-width of the box.
        method: ``"ibp"`` (interval bound propagation) or ``"crown"`` (backward linear bound
            propagation with CROWN's relaxations, intersected with IBP: both are sound, so is
            their intersection).

    Returns:
        One `(l_k, u_k)` pair of `n_k` tensors per activation layer.
    """
    _check_chain(chain)
    check_name("method", method, ("ibp", "crown"), meaning="a bound-propagation method")
    radius = check_real("radius", radius, positive=True)
    check_finite("center", center)
    if center.shape != (chain.in_features,):
        raise InputDataError(
            "center", f"a flattened `{chain.in_features}` input", f"shape {tuple(center.shape)}"
        )
    center = center.to(torch.float64)
    lo, hi = center - radius, center + radius
    bounds: list[tuple[Tensor, Tensor]] = []
    relaxations: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
    magnitude = torch.maximum(lo.abs(), hi.abs())  # |values| of the current layer's input, for rounding
    for k, act in enumerate(chain.activations):
        w, b = chain.weights[k], chain.biases[k]
        zl, zh = _interval_affine(w, b, lo, hi)
        if method == "crown" and k > 0:
            cl, ch = _crown_layer(chain, k, relaxations, center, radius)
            err = _gamma(4 * sum(x.shape[1] + 2 for x in chain.weights[: k + 1])) * (
                magnitude @ w.abs().T + b.abs()
            )
            zl, zh = torch.maximum(zl, cl - err), torch.minimum(zh, ch + err)
        bounds.append((zl, zh))
        relaxations.append(_relaxation(act, zl, zh))
        lo, hi = act(zl), act(zh)
        magnitude = torch.maximum(lo.abs(), hi.abs())
    return bounds


def _crown_layer(chain: AffineChain, k: int, relaxations: list, center: Tensor, radius: float):
    """CROWN bounds on ``z_{k+1} = W a_k + b`` (0-based ``k``) back to the input box."""
    upper = chain.weights[k]
    lower = chain.weights[k]
    c_upper = chain.biases[k].clone()
    c_lower = chain.biases[k].clone()
    for j in range(k - 1, -1, -1):
        a_l, b_l, a_u, b_u = relaxations[j]
        up, un = upper.clamp(min=0), upper.clamp(max=0)
        c_upper = c_upper + up @ b_u + un @ b_l
        upper = up * a_u + un * a_l
        lp, ln = lower.clamp(min=0), lower.clamp(max=0)
        c_lower = c_lower + lp @ b_l + ln @ b_u
        lower = lp * a_l + ln * a_u
        c_upper = c_upper + upper @ chain.biases[j]
        c_lower = c_lower + lower @ chain.biases[j]
        upper = upper @ chain.weights[j]
        lower = lower @ chain.weights[j]
    high = upper @ center + radius * upper.abs().sum(1) + c_upper
    low = lower @ center - radius * lower.abs().sum(1) + c_lower
    return low, high


def derivative_ranges(chain: AffineChain, bounds: list[tuple[Tensor, Tensor]]) -> list[tuple[Tensor, Tensor]]:
    """Intervals ``[dl_k, du_k]`` holding every Clarke derivative ``s_k'(z)`` for ``z`` in ``[l_k, u_k]``.

    ReLU: ``{1}`` if ``l > 0``, ``{0}`` if ``u < 0``, else ``[0, 1]`` (a pre-activation that can
    reach 0 has Clarke derivative ``[0, 1]`` there). LeakyReLU: the same with ``alpha`` for 0.
    tanh: ``1 - tanh^2`` is unimodal with its peak at 0, so its range over ``[l, u]`` is spanned by
    the endpoints and, if ``0`` is inside, the value 1 (widened by a few ulps for rounding).
    """
    _check_chain(chain)
    if not isinstance(bounds, list | tuple) or len(bounds) != len(chain.activations):
        raise InputDataError(
            "bounds",
            f"{len(chain.activations)} (low, high) pairs from preactivation_bounds",
            type(bounds).__name__,
        )
    out = []
    for act, (lo, hi) in zip(chain.activations, bounds, strict=True):
        if act.kind == "tanh":
            d_lo, d_hi = act.derivative(lo), act.derivative(hi)
            peak = act.derivative(torch.where(lo > 0, lo, torch.where(hi < 0, hi, torch.zeros_like(lo))))
            dl = (torch.minimum(d_lo, d_hi) - 4 * _UNIT_ROUNDOFF).clamp(min=0.0)
            du = (peak + 4 * _UNIT_ROUNDOFF).clamp(max=1.0)
        else:
            low_slope, high_slope = min(act.slope, 1.0), max(act.slope, 1.0)
            # full_like keeps float64: a python-scalar torch.where would round alpha to float32
            one, alpha = torch.ones_like(lo), torch.full_like(lo, act.slope)
            straddle = (lo <= 0) & (hi >= 0)
            on = torch.where(lo > 0, one, alpha)
            dl = torch.where(straddle, torch.full_like(lo, low_slope), on)
            du = torch.where(straddle, torch.full_like(lo, high_slope), on)
        out.append((dl, du))
    return out


# --------------------------------------------------------------------------------------------
# Bounds on the Jacobian rows
# --------------------------------------------------------------------------------------------


def _abs_max(lo: Tensor, hi: Tensor) -> Tensor:
    return torch.maximum(lo.abs(), hi.abs())


def dual_norm(g: Tensor, norm: str) -> Tensor:
    """The dual of the input norm ``p`` over the last dimension (``inf -> 1``, ``2 -> 2``, ``1 -> inf``)."""
    _check_norm(norm)
    if norm == "inf":
        return g.abs().sum(-1)
    if norm == "2":
        return g.square().sum(-1).sqrt()
    return g.abs().amax(-1)


def interval_jacobian_bound(
    chain: AffineChain, ranges: list[tuple[Tensor, Tensor]], rows: Tensor, norm: str
) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    r"""Interval arithmetic on ``e_j^T W_L D_{L-1} ... D_1 W_1``, backward from the output.

    Args:
        chain: The network.
        ranges: The derivative intervals of :func:`derivative_ranges`.
        rows: A `K'` tensor of output indices ``j``.
        norm: The input norm ``p`` (the rows are measured in its dual).

    Returns:
        The per-row bounds (a `K'` tensor, before :func:`rounding_slack`) and the intervals of
        the backward vectors ``V_k = e_j^T W_L D_{L-1} ... W_{k+1}`` (`K' x n_k` pairs,
        ``V_{L-1}`` first, ``V_0 = \nabla f_j`` last).
    """
    _check_norm(norm)
    _check_ranges(_check_chain(chain), ranges)
    rows = _check_rows(chain, rows)
    v = chain.weights[-1][rows]
    lo, hi = v, v
    intervals = [(lo, hi)]
    for k in range(len(chain.activations) - 1, -1, -1):
        lo, hi = _interval_step(lo, hi, *ranges[k], chain.weights[k])
        intervals.append((lo, hi))
    return dual_norm(_abs_max(lo, hi), norm), intervals


def _norm_objective(lo: Tensor, hi: Tensor, norm: str) -> tuple[Tensor, Tensor]:
    """Linear functionals ``lam`` (`K' x M x d`) and constants (`K' x M`) bounding the dual norm.

    ``inf``: ``sum_p |g_p| <= sum_p lam_p g_p + mu_p`` with the chord of ``|t|`` over ``[l_p, u_p]``.
    ``2``: ``sum_p g_p^2 <= sum_p (l_p + u_p) g_p - l_p u_p`` (chord of ``t^2``).
    ``1``: ``max_p |g_p| = max over the 2d functionals +-e_p``.
    """
    if norm == "inf":
        straddle = (lo < 0) & (hi > 0)
        width = torch.where(straddle, hi - lo, torch.ones_like(lo))
        lam = torch.where(straddle, (hi + lo) / width, torch.where(hi <= 0, -1.0, 1.0).to(lo))
        mu = torch.where(straddle, -2 * hi * lo / width, torch.zeros_like(lo))
        return lam.unsqueeze(1), mu.sum(-1, keepdim=True)
    if norm == "2":
        return (lo + hi).unsqueeze(1), (-(lo * hi)).sum(-1, keepdim=True)
    eye = torch.eye(lo.shape[-1], dtype=lo.dtype)
    lam = torch.cat([eye, -eye]).expand(lo.shape[0], -1, -1)
    return lam, torch.zeros(lam.shape[:2], dtype=lo.dtype)


def _backward(
    chain: AffineChain,
    ranges: list[tuple[Tensor, Tensor]],
    vint: list[tuple[Tensor, Tensor] | None],
    start: int,
    coef: Tensor,
    const: Tensor,
    rows: Tensor,
) -> Tensor:
    """Upper bounds of ``coef . V_start + const`` by backward propagation to the exact ``V_{L-1}``.

    ``V_k = G_{k+1} W_{k+1}`` and ``G_{k+1} = V_{k+1} * D_{k+1}``: a coefficient ``beta`` on the
    product ``v d`` is replaced by the chord, over ``v``'s interval, of the convex function
    ``h(v) = max_{d in [dl, du]} beta d v`` (exact for ``v`` of one sign). ``coef``: `K' x M x n`.
    """
    for k in range(start, len(chain.activations)):
        beta = coef @ chain.weights[k].T  # coefficient on G_{k+1}: K' x M x n_{k+1}
        dl, du = ranges[k]
        vl, vh = (v.unsqueeze(1) for v in vint[k + 1])
        up, down = torch.maximum(beta * dl, beta * du), torch.minimum(beta * dl, beta * du)
        straddle = (vl < 0) & (vh > 0)
        width = torch.where(straddle, vh - vl, torch.ones_like(vl))
        chord = (vh * up - vl * down) / width
        coef = torch.where(straddle, chord, torch.where(vl >= 0, up, down))
        const = const + torch.where(straddle, vl * down - chord * vl, torch.zeros_like(chord)).sum(-1)
    top = chain.weights[-1][rows].unsqueeze(1)  # V_{L-1} = e_j^T W_L, exact
    return (coef * top).sum(-1) + const


def crown_jacobian_bound(
    chain: AffineChain,
    ranges: list[tuple[Tensor, Tensor]],
    rows: Tensor,
    norm: str,
    refine: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""CROWN-style backward linear bound propagation through the gradient graph.

    The backward vectors ``V_k`` are bounded from the output down: interval arithmetic from
    ``V_{k+1}``, then (``refine=True``) intersected with linear bound propagation of ``+-e_p``
    from ``V_k`` up to the exact ``V_{L-1}`` (CROWN's intermediate bounds, one backward pass per
    layer with `2 n_k` objectives). The dual norm of ``V_0 = \nabla f_j`` is then relaxed by a
    chord and propagated the same way.

    Args:
        chain: The network.
        ranges: Derivative intervals (:func:`derivative_ranges`).
        rows: A `K'` tensor of output indices.
        norm: The input norm ``p``.
        refine: Refine the intermediate intervals by linear bound propagation.

    Returns:
        Two `K'` tensors (before :func:`rounding_slack`): the linear-propagation bound on
        ``sup ||\nabla f_j||_q`` and the interval bound from the refined intervals of ``V_0``.
    """
    _check_norm(norm)
    _check_ranges(_check_chain(chain), ranges)
    rows = _check_rows(chain, rows)
    num_act = len(chain.activations)
    top = chain.weights[-1][rows]
    vint: list[tuple[Tensor, Tensor] | None] = [None] * num_act + [(top, top)]
    magnitude = top.abs()  # the absolute chain |V_k|, for the rounding error of a refined bound
    m = 4 * sum(w.shape[1] + 2 for w in chain.weights) + 16
    for k in range(num_act - 1, -1, -1):
        dl, du = ranges[k]
        w = chain.weights[k]
        lo, hi = _interval_step(*vint[k + 1], dl, du, w)
        magnitude = (magnitude * _abs_max(dl, du)) @ w.abs()
        if refine and k < num_act - 1:  # V_{L-2} is exact already: independent d's, exact V_{L-1}
            n = lo.shape[-1]
            eye = torch.eye(n, dtype=lo.dtype)
            coef = torch.cat([eye, -eye]).expand(lo.shape[0], -1, -1)
            value = _backward(chain, ranges, vint, k, coef, torch.zeros(coef.shape[:2], dtype=lo.dtype), rows)
            err = 2 * _gamma(m) * magnitude
            lo = torch.maximum(lo, -value[:, n:] - err)
            hi = torch.minimum(hi, value[:, :n] + err)
        vint[k] = (lo, hi)
    g_lo, g_hi = vint[0]
    lam, const = _norm_objective(g_lo, g_hi, norm)
    value = _backward(chain, ranges, vint, 0, lam, const, rows)  # K' x M
    if norm == "inf":
        linear = value[:, 0]
    elif norm == "2":
        linear = value[:, 0].clamp(min=0).sqrt()
    else:
        linear = value.amax(-1)
    return linear, dual_norm(_abs_max(g_lo, g_hi), norm)


def global_bound(chain: AffineChain, rows: Tensor, norm: str) -> Tensor:
    """Product of operator norms: ``||W_L||_{p -> inf} prod_{k<L} ||W_k||_{p -> p} * max|s_k'|``.

    The first factor, per output row, is ``||W_L[j]||_q``; ``p = inf``: row sums (Shi et al.'s
    ``global_lip.py``), ``p = 2``: spectral norms, ``p = 1``: column sums. Returns a `K'` tensor.
    """
    _check_norm(norm)
    rows = _check_rows(_check_chain(chain), rows)
    factor = 1.0
    for w, act in zip(chain.weights[:-1], chain.activations, strict=True):
        if norm == "inf":
            op = w.abs().sum(1).max()
        elif norm == "2":
            op = torch.linalg.matrix_norm(w, ord=2)
        else:
            op = w.abs().sum(0).max()
        factor = factor * float(op) * act.max_derivative
    return dual_norm(chain.weights[-1][rows], norm) * factor


def rounding_slack(
    chain: AffineChain, rows: Tensor, norm: str, ranges: list[tuple[Tensor, Tensor]] | None = None
) -> Tensor:
    """``2 gamma_m S``: a bound on the float64 rounding error of any Jacobian-row computation.

    ``S`` is the dual norm of the absolute chain ``|W_L[j]| |D_{L-1}| ... |W_1|`` with ``|D_k|`` the
    largest derivative magnitude over the box (from ``ranges``; without them, over the real
    line): it dominates every sum of products formed by the bounds, by an exact region Jacobian
    and by a gradient evaluated in the box. ``m`` is four times the number of accumulated terms
    (``sum_k n_{k-1}`` plus two per layer); the factor 2 covers both the bound and a float
    evaluation of the true Jacobian, so ``bound + slack >= any computed gradient norm``.
    """
    _check_norm(norm)
    rows = _check_rows(_check_chain(chain), rows)
    if ranges is not None:
        _check_ranges(chain, ranges)
    v = chain.weights[-1][rows].abs()
    for k in range(len(chain.activations) - 1, -1, -1):
        if ranges is None:
            top = chain.activations[k].max_derivative
        else:
            top = _abs_max(*ranges[k])
        v = (v * top) @ chain.weights[k].abs()
    m = 4 * sum(w.shape[1] + 2 for w in chain.weights) + 16
    return 2 * _gamma(m) * dual_norm(v, norm) * (1 + _gamma(m))


def _interval_step(lo: Tensor, hi: Tensor, dl: Tensor, du: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Interval of ``(g * d) @ w`` for ``g`` in [lo, hi] and derivatives ``d`` in [dl, du] (elementwise)."""
    products = torch.stack([lo * dl, lo * du, hi * dl, hi * du])
    gl, gh = products.min(0).values, products.max(0).values
    wp, wn = w.clamp(min=0), w.clamp(max=0)
    return gl @ wp + gh @ wn, gh @ wp + gl @ wn
