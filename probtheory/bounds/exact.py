r"""Exact local Lipschitz constants of tiny piecewise-linear nets by activation-region enumeration.

After Jordan & Dimakis, *Exactly computing the local Lipschitz constant of ReLU networks*
(NeurIPS 2020); derivation and a worked example in docs/derivations.md, §1. A ReLU / LeakyReLU
network is affine on each activation region ``{x : sign z_k(x) = s_k for every neuron}``. The
Clarke Jacobian at any point is in the convex hull of the Jacobians ``J_s`` of the
full-dimensional regions that touch it, and a norm is convex, so

.. math::

    L(f, B) = \max_j \max_{s:\ \mathrm{int}(R_s) \cap B \neq \emptyset} \|(J_s)_j\|_q .

The regions meeting the box are enumerated depth-first, neuron by neuron, layer by layer: a
neuron whose sign is fixed over the box (exact interval arithmetic on the region's affine
pre-activation) adds no branch; otherwise each sign is kept if the linear programme
``max t s.t. s_i (a_i^T y + c_i) >= t ||a_i||_1`` over the box (scipy ``linprog``, HiGHS) has
``t > 0``. A branch whose parent's witness point already satisfies the new sign strictly needs no LP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_real
from probtheory.bounds.affine_chain import AffineChain
from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError

__all__ = ["RegionEnumeration", "enumerate_regions"]

#: LP margins (in the unit box coordinates ``y = (x - c) / r``, rows normalised to unit l1 norm)
#: within +-MARGIN_TOLERANCE of 0 are treated as ambiguous: HiGHS' feasibility tolerance is 1e-7.
MARGIN_TOLERANCE = 1e-7


@dataclass
class RegionEnumeration:
    """The Jacobians of the activation regions meeting the box.

    Attributes:
        witnessed: `K x d` Jacobians of regions with a verified interior witness point: the
            float64 forward pass at the witness reproduces the region's pattern with every
            pre-activation nonzero, so the network is differentiable there with this Jacobian.
        ambiguous: Jacobians of regions whose LP margin is within the solver's tolerance of 0,
            or whose witness failed verification (they may or may not exist).
        witnesses: One `d` point in the box per witnessed region.
        linear_programs: Number of LPs solved.
    """

    witnessed: list[Tensor] = field(default_factory=list)
    ambiguous: list[Tensor] = field(default_factory=list)
    witnesses: list[Tensor] = field(default_factory=list)
    linear_programs: int = 0


class _Search:
    def __init__(self, chain: AffineChain, center: Tensor, radius: float, max_regions: int, bar) -> None:
        self.chain, self.center, self.radius = chain, center, radius
        self.max_regions, self.bar = max_regions, bar
        self.result = RegionEnumeration()
        self.dim = chain.in_features

    def margin(self, rows: list[tuple[np.ndarray, float]]) -> tuple[float, np.ndarray]:
        """Largest ``t`` with ``g y + h >= t`` for every (signed, normalised) row, ``y`` in the box."""
        self.result.linear_programs += 1
        a_ub = np.array([np.append(-g, 1.0) for g, _ in rows])
        b_ub = np.array([h for _, h in rows])
        cost = np.zeros(self.dim + 1)
        cost[-1] = -1.0
        bounds = [(-1.0, 1.0)] * self.dim + [(None, 1.0)]
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if res.status != 0:  # the LP is always feasible and bounded; treat a failure as ambiguous
            return 0.0, np.zeros(self.dim)
        return float(-res.fun), res.x[:-1]

    def run(self) -> RegionEnumeration:
        w1, b1 = self.chain.weights[0], self.chain.biases[0]
        affine = (self.radius * w1, w1 @ self.center + b1)  # z_1 = A y + a in box coordinates y
        self.layer(0, affine, [], np.zeros(self.dim), 1.0, [], False)
        return self.result

    def layer(self, k, affine, rows, witness, margin, derivs, ambiguous) -> None:
        if k == len(self.chain.activations):
            self.leaf(affine, derivs, witness, ambiguous)
            return
        self.neuron(k, 0, affine, rows, witness, margin, derivs, [], ambiguous)

    def neuron(self, k, i, affine, rows, witness, margin, derivs, current, ambiguous) -> None:
        a_mat, a_vec = affine
        act = self.chain.activations[k]
        if i == a_mat.shape[0]:
            d = torch.tensor(current, dtype=torch.float64)
            w, b = self.chain.weights[k + 1], self.chain.biases[k + 1]
            nxt = (w @ (d[:, None] * a_mat), w @ (d * a_vec) + b)
            self.layer(k + 1, nxt, rows, witness, margin, [*derivs, d], ambiguous)
            return
        g = a_mat[i].numpy()
        scale = float(np.abs(g).sum())
        h = float(a_vec[i])
        if scale == 0.0 or abs(h) > scale * (1 + 1e-12):  # sign fixed over the whole box
            sign = 1.0 if h > 0 else -1.0
            slope = 1.0 if sign > 0 else act.slope
            self.neuron(k, i + 1, affine, rows, witness, margin, derivs, [*current, slope], ambiguous)
            return
        g, h = g / scale, h / scale
        value = float(g @ witness + h)
        for sign in (1.0, -1.0):
            new_rows = [*rows, (sign * g, sign * h)]
            if sign * value > MARGIN_TOLERANCE and margin > MARGIN_TOLERANCE:
                child_margin, child_witness = min(margin, sign * value), witness
            else:
                child_margin, child_witness = self.margin(new_rows)
            if child_margin <= -MARGIN_TOLERANCE:
                continue
            vague = ambiguous or child_margin < MARGIN_TOLERANCE
            slope = 1.0 if sign > 0 else act.slope
            self.neuron(
                k, i + 1, affine, new_rows, child_witness, child_margin, derivs, [*current, slope], vague
            )

    def leaf(self, affine, derivs, witness, ambiguous) -> None:
        jacobian = affine[0] / self.radius  # K x d, in x units
        result = self.result
        if len(result.witnessed) + len(result.ambiguous) >= self.max_regions:
            raise ConfigurationError(
                f"max_regions: more than {self.max_regions} activation regions meet the box; "
                "use a smaller radius or network, or raise max_regions"
            )
        self.bar.update(1)
        if not ambiguous:
            x = self.center + self.radius * torch.as_tensor(witness, dtype=torch.float64)
            pre = self.chain.preactivations(x.unsqueeze(0))
            ok = all(
                bool((z != 0).all()) and torch.equal(act.derivative(z[0]), d)
                for z, act, d in zip(pre, self.chain.activations, derivs, strict=True)
            )
            if ok:
                result.witnessed.append(jacobian)
                result.witnesses.append(x)
                return
        result.ambiguous.append(jacobian)


def enumerate_regions(
    chain: AffineChain,
    center: Tensor,
    radius: float,
    *,
    max_regions: int = 100_000,
    progress: bool = False,
) -> RegionEnumeration:
    """Enumerate the activation regions of a ReLU/LeakyReLU chain meeting the box.

    Args:
        chain: A piecewise-linear network (no tanh).
        center: A `d` float64 tensor, the centre of ``||x - center||_inf <= radius``.
        radius: The half-width ``r > 0``.
        max_regions: Stop with :class:`~probtheory.errors.ConfigurationError` beyond this many.
        progress: Show a progress bar over the regions found.

    Returns:
        The region Jacobians, split into witnessed and ambiguous ones.
    """
    if not isinstance(chain, AffineChain):
        raise InputDataError("chain", "an AffineChain (from affine_chain)", type(chain).__name__)
    radius = check_real("radius", radius, positive=True)
    check_finite("center", center)
    if center.shape != (chain.in_features,):
        raise InputDataError(
            "center", f"a flattened `{chain.in_features}` input", f"shape {tuple(center.shape)}"
        )
    center = center.to(torch.float64)
    max_regions = check_int("max_regions", max_regions, minimum=1)
    if not all(act.piecewise_linear for act in chain.activations):
        raise UnsupportedError(
            "model", "a piecewise-linear network (ReLU / LeakyReLU) for exact enumeration", "a Tanh layer"
        )
    with tqdm(desc="activation regions", unit="region", disable=not progress) as bar:
        return _Search(chain, center, radius, max_regions, bar).run()
