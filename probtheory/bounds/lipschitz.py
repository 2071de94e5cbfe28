r"""Certified local Lipschitz constants: sound upper bounds, attained lower bounds, exact values.

Shi, Wang, Zhang, Kolter, Hsieh, *Efficiently Computing Local Lipschitz Constants of Neural
Networks via Bound Propagation* (NeurIPS 2022); the exact values and the hierarchy of bounds are
derived in docs/derivations.md, §1.

**What is bounded.** For a network ``f: R^d -> R^K`` (an ``nn.Sequential`` of Linear, Conv2d,
Flatten, ReLU, LeakyReLU and Tanh layers), the box ``B = {x : ||x - center||_inf <= radius}``
and an input norm ``p`` (``"inf"``, ``"2"`` or ``"1"``, with dual ``q`` = 1, 2, inf):

.. math::

    L_p(f, B) = \max_j \sup_{x \in B} \sup_{J \in \partial f(x)} \|J_j\|_q
              = \sup_{x \ne y \in B} \frac{\|f(x) - f(y)\|_\infty}{\|x - y\|_p},

the Lipschitz constant on ``B`` from ``(R^d, ||.||_p)`` to ``(R^K, ||.||_inf)`` (``\partial f`` is
Clarke's generalised Jacobian, ``J_j`` its row ``j``; the equality is Lebourg's mean value
theorem on the convex set ``B``). With ``output_index=j`` only the scalar output ``f_j`` is
bounded. The box is always an l-inf box; ``p`` only chooses how perturbations are measured.

Methods, tightest first (for ``p = inf`` each is never looser than the next, on every network,
up to float64 rounding of equal values; ``propagation`` is never looser than the other two):

* ``exact_local_lipschitz``: enumeration of activation regions (tiny ReLU/LeakyReLU nets);
* ``method="propagation"``: CROWN pre-activation bounds, then linear bound propagation through
  the Clarke-Jacobian graph (:mod:`probtheory.bounds.propagation`);
* ``method="interval"``: interval pre-activation bounds and interval arithmetic on the Jacobian
  product;
* ``method="global"``: the product of the layers' operator norms.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.bounds.lipschitz import lipschitz_bracket, local_lipschitz_bound
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3))
    >>> x0 = torch.randn(4)
    >>> tight = local_lipschitz_bound(net, x0, radius=0.05).upper
    >>> loose = local_lipschitz_bound(net, x0, radius=0.05, method="global").upper
    >>> bracket = lipschitz_bracket(net, x0, radius=0.05, seed=0)
    >>> bracket.lower <= tight <= loose
    True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_name, check_real
from probtheory.bounds.affine_chain import AffineChain, affine_chain, jacobian_rows
from probtheory.bounds.exact import enumerate_regions
from probtheory.bounds.propagation import (
    NORMS,
    crown_jacobian_bound,
    derivative_ranges,
    dual_norm,
    global_bound,
    interval_jacobian_bound,
    preactivation_bounds,
    rounding_slack,
)
from probtheory.errors import InputDataError, UnsupportedError

__all__ = [
    "METHODS",
    "LipschitzBound",
    "exact_local_lipschitz",
    "lipschitz_bracket",
    "lipschitz_lower_bound",
    "local_lipschitz_bound",
]

#: the upper-bound methods of :func:`local_lipschitz_bound`, tightest first
METHODS = ("propagation", "interval", "global")
_CHUNK = 1024


@dataclass(frozen=True)
class LipschitzBound:
    r"""A bracket ``lower <= L_p(f, B) <= upper`` on a local Lipschitz constant.

    Attributes:
        lower: A value attained by ``||\nabla f_j(x)||_q`` at a point ``x`` of the box (for the
            upper-bound methods: at the centre).
        upper: A sound upper bound (``inf`` when only a lower bound was computed).
        method: ``"propagation"``, ``"interval"``, ``"global"``, ``"exact"``, ``"lower"`` or
            ``"bracket"``.
        seconds: Wall-clock time of the computation.
        norm: The input norm ``p``.
        output_index: The output row bounded, or None for the max over all rows.
        details: Method-specific extras (per-row bounds, the maximising point, region counts).
    """

    lower: float
    upper: float
    method: str
    seconds: float
    norm: str = "inf"
    output_index: int | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ratio(self) -> float:
        """``upper / lower``: how far the bracket is from certifying the exact value (>= 1)."""
        return self.upper / self.lower if self.lower > 0 else math.inf


def _norm_name(norm: object) -> str:
    if isinstance(norm, str) and norm in NORMS:
        return norm
    if isinstance(norm, int | float) and not isinstance(norm, bool):
        for name, value in (("inf", math.inf), ("2", 2), ("1", 1)):
            if norm == value:
                return name
    raise InputDataError("norm", f"one of {NORMS} (or math.inf, 2, 1)", repr(norm))


@dataclass(frozen=True)
class _Problem:
    chain: AffineChain
    center: Tensor  # d, float64
    radius: float
    norm: str
    rows: Tensor  # output indices bounded
    output_index: int | None


def _problem(model: nn.Module, center: Tensor, radius: float, norm: object, output_index) -> _Problem:
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "an nn.Sequential of supported layers", type(model).__name__)
    radius = check_real("radius", radius, positive=True)
    norm = _norm_name(norm)
    check_finite("center", center)
    if center.dim() == 0 or center.numel() == 0:
        shape = "a scalar" if center.dim() == 0 else f"shape {tuple(center.shape)}"
        raise InputDataError(
            "center", "one non-empty input without batch dimension (`d` or `C x H x W`)", shape
        )
    chain = affine_chain(model, tuple(center.shape))
    if chain.in_features != center.numel():
        raise InputDataError("center", f"an input with {chain.in_features} entries", tuple(center.shape))
    for k, w in enumerate(chain.weights):
        if not (torch.isfinite(w).all() and torch.isfinite(chain.biases[k]).all()):
            raise InputDataError("model", "finite weights and biases", f"non-finite values in layer {k}")
    if output_index is None:
        rows = torch.arange(chain.out_features)
    else:
        index = check_int("output_index", output_index, minimum=0)
        if index >= chain.out_features:
            raise InputDataError("output_index", f"an index < {chain.out_features} (the outputs)", index)
        rows = torch.tensor([index])
    flat = center.detach().to(torch.float64).reshape(-1)
    _check_reproduces(model, chain, center, flat)
    return _Problem(chain, flat, radius, norm, rows, output_index)


def _check_reproduces(model: nn.Module, chain: AffineChain, center: Tensor, flat: Tensor) -> None:
    """The chain must compute what the model computes (catches layers with a customised forward)."""
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else center.dtype
    with torch.no_grad():
        theirs = model(center.detach().to(dtype).unsqueeze(0)).reshape(-1).to(torch.float64)
        ours = chain.forward(flat.unsqueeze(0)).reshape(-1)
    eps = torch.finfo(dtype).eps
    scale = 1.0 + float(theirs.abs().max()) if theirs.numel() else 1.0
    if theirs.shape != ours.shape or float((theirs - ours).abs().max()) > 1e3 * eps * scale:
        raise UnsupportedError(
            "model", "layers computing the standard Linear/Conv2d/activation forward", "a different output"
        )


def _gradient_norms(problem: _Problem, x: Tensor) -> Tensor:
    r"""``max_j ||\nabla f_j(x)||_q`` at `N x d` points, in chunks."""
    out = [
        dual_norm(jacobian_rows(problem.chain, chunk, problem.rows), problem.norm).amax(-1)
        for chunk in x.split(_CHUNK)
    ]
    return torch.cat(out)


def local_lipschitz_bound(
    model: nn.Module,
    center: Tensor,
    radius: float,
    norm: str | float = "inf",
    method: str = "propagation",
    output_index: int | None = None,
) -> LipschitzBound:
    r"""A sound upper bound on the local Lipschitz constant ``L_p(f, B)`` (see the module docstring).

    Args:
        model: An ``nn.Sequential`` of Linear, Conv2d, Flatten, ReLU, LeakyReLU (slope >= 0)
            and Tanh layers (evaluated in float64; Conv2d layers become dense matrices, so keep
            CNNs small).
        center: One input without batch dimension: a `d` tensor for an MLP, `C x H x W` for a CNN.
        radius: Half-width ``r > 0`` of the box ``||x - center||_inf <= r``.
        norm: Input norm ``p``: ``"inf"`` (default), ``"2"`` or ``"1"``; gradient rows are measured
            in the dual norm.
        method: ``"propagation"`` (tightest: never looser than ``"interval"`` or ``"global"``),
            ``"interval"`` or ``"global"`` (product of operator norms). For ``p = inf`` and ``1``
            also ``interval <= global`` (up to float64 rounding); for ``p = 2`` the spectral
            global bound can beat interval arithmetic.
        output_index: Bound only the scalar output ``f_j``; default: the max over all outputs.

    Returns:
        A :class:`LipschitzBound` whose ``upper`` is the bound (sound in float64: it includes the
        rounding slack of :func:`~probtheory.bounds.propagation.rounding_slack`) and whose
        ``lower`` is the gradient norm at the centre.

    Raises:
        UnsupportedError: A layer type other than the supported ones (named in the message).
        InputDataError: ``radius <= 0``, a ``center`` shape that does not fit the model,
            non-finite values, an unknown ``norm`` / ``method`` or a bad ``output_index``.
    """
    check_name("method", method, METHODS, meaning="an upper-bound method")
    start = time.perf_counter()
    problem = _problem(model, center, radius, norm, output_index)
    chain, rows, p = problem.chain, problem.rows, problem.norm
    details: dict[str, Any] = {}
    with torch.no_grad():
        if method == "global":
            per_row = global_bound(chain, rows, p)
            slack = rounding_slack(chain, rows, p)
        else:
            kind = "crown" if method == "propagation" else "ibp"
            bounds = preactivation_bounds(chain, problem.center, problem.radius, method=kind)
            ranges = derivative_ranges(chain, bounds)
            details["unstable_neurons"] = _unstable(bounds)
            if method == "propagation":
                # CROWN's pre-activation bounds are intersected with IBP's, so its derivative
                # ranges and refined intervals lie inside those of method="interval": the
                # minimum of the two sound bounds below is never looser than method="interval"
                linear, interval = crown_jacobian_bound(chain, ranges, rows, p)
                details["crown_rows"] = linear
                per_row = torch.minimum(linear, interval)
            else:
                per_row, _ = interval_jacobian_bound(chain, ranges, rows, p)
            slack = rounding_slack(chain, rows, p, ranges)
        upper_rows = per_row + slack
        if method == "propagation":  # for p = 2 the spectral global bound can be tighter
            cheap = global_bound(chain, rows, p) + rounding_slack(chain, rows, p)
            upper_rows = torch.minimum(upper_rows, cheap)
        lower = float(_gradient_norms(problem, problem.center.unsqueeze(0))[0])
    details["rows"] = upper_rows
    return LipschitzBound(
        lower, float(upper_rows.max()), method, time.perf_counter() - start, p, output_index, details
    )


def _unstable(bounds: list[tuple[Tensor, Tensor]]) -> int:
    return int(sum(((lo <= 0) & (hi >= 0)).sum() for lo, hi in bounds))


def lipschitz_lower_bound(
    model: nn.Module,
    center: Tensor,
    radius: float,
    norm: str | float = "inf",
    output_index: int | None = None,
    *,
    steps: int = 100,
    restarts: int = 8,
    samples: int = 1024,
    seed: int | None = None,
    progress: bool = False,
) -> LipschitzBound:
    r"""A lower bound on ``L_p(f, B)``: the largest gradient norm found at points of the box.

    Three searches, each evaluating the true ``max_j ||\nabla f_j(x)||_q`` at points ``x`` in the box
    (so every value is attained, hence a valid lower bound):

    * ``sampled``: ``samples`` uniform points and the centre;
    * ``vertex``: all ``2^d`` vertices if ``d <= 12``, else ``samples`` random vertices;
    * ``ascent``: multi-start projected (sign-)gradient ascent on ``||\nabla f_j(x)||_q``, one run per
      output row and restart. ReLU gradients are piecewise constant, so the ascent follows a
      sigmoid-smoothed surrogate of ``s'`` whose sharpness grows 1000-fold over the run, and
      scores the true gradient at every iterate.

    Args:
        model: As in :func:`local_lipschitz_bound`.
        center: One input (`d` or `C x H x W`).
        radius: Half-width ``r > 0`` of the box.
        norm: Input norm ``p``.
        output_index: Only row ``j``; default all rows (max).
        steps: Ascent steps per restart (0 disables the ascent).
        restarts: Random starts per output row.
        samples: Uniform samples (and random vertices when ``d > 12``).
        seed: Seed of the random points (None: nondeterministic).
        progress: Show a progress bar over the ascent steps.

    Returns:
        A :class:`LipschitzBound` with ``upper = inf``; ``details`` holds the value of each search
        and ``argmax``, the `d`-dim (flattened) point attaining ``lower``.
    """
    steps = check_int("steps", steps, minimum=0)
    restarts = check_int("restarts", restarts, minimum=1)
    samples = check_int("samples", samples, minimum=1)
    start = time.perf_counter()
    problem = _problem(model, center, radius, norm, output_index)
    # seed None draws the seed from the global generator (reproducible under torch.manual_seed)
    seed = int(torch.randint(2**62, ())) if seed is None else check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    c, r, d = problem.center, problem.radius, problem.chain.in_features
    found: dict[str, tuple[float, Tensor]] = {}
    with torch.no_grad():
        points = c + r * (2 * torch.rand(samples, d, generator=generator, dtype=torch.float64) - 1)
        found["sampled"] = _best(problem, torch.cat([c.unsqueeze(0), points]))
        if d <= 12:
            corners = torch.cartesian_prod(*[torch.tensor([-1.0, 1.0], dtype=torch.float64)] * d)
            corners = corners.reshape(-1, d)
        else:
            corners = torch.randint(0, 2, (samples, d), generator=generator).to(torch.float64) * 2 - 1
        found["vertex"] = _best(problem, c + r * corners)
    if steps > 0:
        found["ascent"] = _ascent(problem, steps, restarts, generator, progress)
    name, (value, point) = max(found.items(), key=lambda item: item[1][0])
    details = {key: v for key, (v, _) in found.items()}
    details.update(argmax=point, best_search=name)
    return LipschitzBound(
        value, math.inf, "lower", time.perf_counter() - start, problem.norm, output_index, details
    )


def _best(problem: _Problem, x: Tensor) -> tuple[float, Tensor]:
    norms = _gradient_norms(problem, x)
    i = int(norms.argmax())
    return float(norms[i]), x[i]


def _ascent(problem: _Problem, steps: int, restarts: int, generator, progress: bool) -> tuple[float, Tensor]:
    chain, rows, c, r = problem.chain, problem.rows, problem.center, problem.radius
    d = chain.in_features
    starts = rows.repeat_interleave(restarts)  # one run per (row, restart)
    x = c + r * (2 * torch.rand(len(starts), d, generator=generator, dtype=torch.float64) - 1)
    ibp = preactivation_bounds(chain, c, r, method="ibp")
    widths = [(hi - lo).clamp(min=1e-12) for lo, hi in ibp]
    best_value, best_point = -math.inf, c
    for t in tqdm(range(steps), desc="gradient ascent", disable=not progress):
        fraction = t / max(steps - 1, 1)
        sharpness = [4.0 * 1000.0**fraction / w for w in widths]
        x = x.detach().requires_grad_(True)
        surrogate = jacobian_rows(chain, x, starts, smooth=sharpness, per_point=True)
        (grad,) = torch.autograd.grad(dual_norm(surrogate, problem.norm).sum(), x)
        with torch.no_grad():
            step = 0.5 * (0.02 / 0.5) ** fraction
            x = torch.minimum(torch.maximum(x + step * r * grad.sign(), c - r), c + r)
            # each run scores its own row's true gradient: a lower bound on the max over rows
            values = dual_norm(jacobian_rows(chain, x, starts, per_point=True), problem.norm)[:, 0]
            i = int(values.argmax())
            if values[i] > best_value:
                best_value, best_point = float(values[i]), x[i]
    return best_value, best_point


def lipschitz_bracket(
    model: nn.Module,
    center: Tensor,
    radius: float,
    norm: str | float = "inf",
    method: str = "propagation",
    output_index: int | None = None,
    *,
    steps: int = 100,
    restarts: int = 8,
    samples: int = 1024,
    seed: int | None = None,
) -> LipschitzBound:
    """``[lower, upper]``: :func:`lipschitz_lower_bound` and :func:`local_lipschitz_bound` together.

    Arguments as in those two functions. ``details`` holds both results (``"lower"``, ``"upper"``).
    """
    start = time.perf_counter()
    low = lipschitz_lower_bound(
        model, center, radius, norm, output_index, steps=steps, restarts=restarts, samples=samples, seed=seed
    )
    up = local_lipschitz_bound(model, center, radius, norm, method, output_index)
    return LipschitzBound(
        max(low.lower, up.lower), up.upper, "bracket", time.perf_counter() - start, up.norm, output_index,
        {"lower": low, "upper": up},
    )  # fmt: skip


def exact_local_lipschitz(
    model: nn.Module,
    center: Tensor,
    radius: float,
    norm: str | float = "inf",
    output_index: int | None = None,
    *,
    max_unstable: int = 24,
    max_regions: int = 100_000,
    progress: bool = False,
) -> LipschitzBound:
    r"""The exact ``L_p(f, B)`` of a tiny ReLU / LeakyReLU network, by activation-region enumeration.

    See :mod:`probtheory.bounds.exact`. ``lower`` is the max over regions with a verified interior
    witness point (a value the gradient attains); ``upper`` also counts regions whose LP margin is
    within the solver's tolerance (normally none: then ``lower == upper`` is the exact value).
    Regions thinner than about ``1e-7 * radius`` may be missed by the LP solver.

    Args:
        model: A piecewise-linear network (as in :func:`local_lipschitz_bound`, without Tanh).
        center: One input.
        radius: Half-width ``r > 0`` of the box.
        norm: Input norm ``p``.
        output_index: Only row ``j``; default all rows (max).
        max_unstable: Refuse (UnsupportedError) networks with more neurons whose interval bounds
            straddle 0 over the box: the number of regions can grow like ``2^unstable``.
        max_regions: Stop (ConfigurationError) beyond this many regions.
        progress: Show a progress bar over the regions.

    Returns:
        A :class:`LipschitzBound`; ``details`` has ``regions``, ``ambiguous``, ``linear_programs`` and
        ``argmax`` (the witness point of the maximising region).
    """
    start = time.perf_counter()
    problem = _problem(model, center, radius, norm, output_index)
    max_unstable = check_int("max_unstable", max_unstable, minimum=0)
    max_regions = check_int("max_regions", max_regions, minimum=1)
    chain = problem.chain
    if not all(act.piecewise_linear for act in chain.activations):
        raise UnsupportedError("model", "a piecewise-linear network (ReLU / LeakyReLU)", "a Tanh layer")
    unstable = _unstable(preactivation_bounds(chain, problem.center, problem.radius, method="ibp"))
    if unstable > max_unstable:
        raise UnsupportedError(
            "model", f"at most max_unstable={max_unstable} neurons unstable over the box", unstable
        )
    regions = enumerate_regions(
        chain, problem.center, problem.radius, max_regions=max_regions, progress=progress
    )

    def row_norm(jacobian: Tensor) -> float:
        return float(dual_norm(jacobian[problem.rows], problem.norm).max())

    witnessed = [row_norm(j) for j in regions.witnessed]
    lower = max(witnessed, default=0.0)
    upper = max([lower] + [row_norm(j) for j in regions.ambiguous])
    argmax = regions.witnesses[witnessed.index(lower)] if witnessed else None
    details = {
        "regions": len(regions.witnessed),
        "ambiguous": len(regions.ambiguous),
        "linear_programs": regions.linear_programs,
        "argmax": argmax,
    }
    return LipschitzBound(
        lower, upper, "exact", time.perf_counter() - start, problem.norm, output_index, details
    )
