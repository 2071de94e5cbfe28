r"""Claim ``pfn.bar_distribution`` (the PFN output head is a proper, self-consistent distribution).

Müller, Hollmann, Pineda Arango, Grabocka & Hutter, *Transformers Can Do Bayesian Inference*
(ICLR 2022), Sec. 4.3 ("Riemann distribution"): borders b_0 < ... < b_K cut the line into
buckets, the softmax of the logits gives each bucket's mass p_k, spread uniformly, density
p_k / w_k; the full-support variant replaces the two end buckets by half-normals anchored at the
inner borders b_1 and b_{K-1}, scaled so that half of each end bucket's mass stays inside it.
So, for every border set and every logit vector:

* the density integrates to 1, the mass of bucket k is softmax(logits)_k, and each end bucket
  of the full-support variant holds p/2 inside [b_0, b_1] (resp. [b_{K-1}, b_K]) and p/2 beyond;
* the density is the derivative of the CDF, inside buckets and in the tails;
* the quantile function inverts the CDF: cdf(icdf(q)) = q and icdf(cdf(y)) = y on the support.

References, independent of the library: masses by scipy's softmax of the logits; integrals by
Gauss-Legendre quadrature of ``exp(log_prob)`` with breakpoints at the borders (exact for the
constant density inside a bucket; the tails over 24 half-normal scales in 1-scale panels of 16
nodes, the mass left beyond erfc(24/sqrt 2) < 1e-120); derivatives by central finite differences
of ``cdf``. Tolerances follow the dtype: a density evaluated as exp(log p) carries a relative
error of about eps (1 + |log p|), summed over nodes of total weight <= 1; a difference quotient
with step h carries 16 eps / (2h) from the CDF's round-off (a cumulative sum of at most ten
masses plus an interpolation), 4 eps p(y) from the density's, and, in the tails, the Taylor
remainder h^2/6 max|F'''| = h^2/6 max|f''| <= h^2 p / (3 sqrt(2 pi) s^3) (|phi''| <= phi(0)).

Every instance draws borders (K from 2 to 10 buckets, widths log-uniform over three decades),
a `2 x 3 x K` logit tensor (scale up to 6, so masses down to ~1e-10) and checks it in every
layout: unbatched (logits[0, 0]), batch (3,), batch (2, 3); float64 and float32; with and
without full support -- twelve distributions per instance. K = 2 is a regime of its own: with full
support both buckets are half-normal end buckets and no inner bucket is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st
from scipy.special import erfc, softmax

from probtheory.pfn import BarDistribution
from proofs_checks.catalog.bibliography import MULLER_PFN_2022
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import seeds

_HALF_NORMAL_MEDIAN = 0.6744897501960817  # Phi^{-1}(3/4): the half-normal's median is this times its scale
_TAIL_SCALES = 24  # quadrature range of a tail, in half-normal scales
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
LAYOUTS = ((), (3,), (2, 3))
DTYPES = (torch.float64, torch.float32)


@dataclass(frozen=True)
class BarInstance:
    num_buckets: int
    logit_scale: float
    seed: int


def _instances() -> st.SearchStrategy[BarInstance]:
    return st.builds(BarInstance, st.integers(2, 10), st.floats(0.0, 6.0), seeds())


REGIMES = Regimes(
    of=lambda inst: {
        "buckets": "2 (end buckets only)" if inst.num_buckets == 2 else "3 to 10",
        "support": ("full (half-normal tails)", "bounded"),  # every instance checks each
        "dtype": ("float64", "float32"),
        "batch shape": tuple(str(layout) for layout in LAYOUTS),
    },
    cases={
        "buckets": {
            "2 (end buckets only)": {"num_buckets": 2},
            "3 to 10": {"num_buckets": st.integers(3, 10)},
        },
        "support": {"full (half-normal tails)": None, "bounded": None},
        "dtype": {"float64": None, "float32": None},
        "batch shape": dict.fromkeys((str(layout) for layout in LAYOUTS), None),
    },
)


def _gauss_legendre(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of 16-point Gauss-Legendre on each interval [lo_i, hi_i] (flattened)."""
    half = (hi - lo)[:, None] / 2
    nodes = (lo + hi)[:, None] / 2 + half * _NODES
    return nodes.ravel(), (half * _WEIGHTS).ravel()


def _pieces(borders: np.ndarray, full_support: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, nodes, weights) of the quadrature of each region whose mass the paper fixes."""
    k = len(borders) - 1
    pieces = []
    for i in range(k):
        nodes, weights = _gauss_legendre(borders[i : i + 1], borders[i + 1 : i + 2])
        pieces.append((f"bucket {i}", nodes, weights))
    if full_support:
        # the half-normal tails, anchored at the inner borders b_1 and b_{K-1}: the part inside the
        # end bucket, and the part beyond the outer border in panels of one half-normal scale
        for name, inner, outer, side in (("left tail", borders[1], borders[0], -1.0),
                                         ("right tail", borders[-2], borders[-1], 1.0)):  # fmt: skip
            scale = abs(inner - outer) / _HALF_NORMAL_MEDIAN
            nodes, weights = _gauss_legendre(np.array([min(inner, outer)]), np.array([max(inner, outer)]))
            pieces.append((f"{name} inside the end bucket", nodes, weights))
            edges = outer + side * scale * np.arange(_TAIL_SCALES + 1)
            nodes, weights = _gauss_legendre(
                np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
            )
            pieces.append((f"{name} beyond the outer border", nodes, weights))
        pieces = [p for p in pieces if p[0] not in ("bucket 0", f"bucket {k - 1}")]
    return pieces


def bar_quadrature(borders: np.ndarray, full_support: bool) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights integrating a bar distribution's density over its whole support.

    Gauss-Legendre on each bucket (exact for the constant density) and, with full support, on
    24 one-scale panels of each half-normal tail (the mass left beyond is below 1e-120).
    """
    pieces = _pieces(borders, full_support)
    return np.concatenate([p[1] for p in pieces]), np.concatenate([p[2] for p in pieces])


def _expected_masses(p: np.ndarray, full_support: bool) -> dict[str, np.ndarray]:
    """The mass of each region by the paper's construction (``p``: `... x K` bucket masses)."""
    k = p.shape[-1]
    expected = {f"bucket {i}": p[..., i] for i in range(k)}
    if full_support:
        for name, index in (("left tail", 0), ("right tail", k - 1)):
            expected[f"{name} beyond the outer border"] = p[..., index] / 2
            expected[f"{name} inside the end bucket"] = p[..., index] / 2
        del expected["bucket 0"], expected[f"bucket {k - 1}"]
    return expected


def _density(dist: BarDistribution, y: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, float]:
    """Density at the points ``y`` (`N`), `N x batch`, and the largest |log density| seen."""
    batch = dist.batch_shape
    value = torch.as_tensor(y, dtype=dtype).reshape(-1, *[1] * len(batch))
    with torch.no_grad():
        log_p = dist.log_prob(value).double()
    finite = log_p[torch.isfinite(log_p)]
    return log_p.exp().numpy().reshape(len(y), -1), float(finite.abs().max()) if finite.numel() else 0.0


def _cdf(dist: BarDistribution, y: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    batch = dist.batch_shape
    value = torch.as_tensor(y, dtype=dtype).reshape(-1, *[1] * len(batch))
    with torch.no_grad():
        return dist.cdf(value).double().numpy().reshape(len(y), -1)


def _difference_quotient(dist: BarDistribution, y: np.ndarray, h: float, dtype: torch.dtype) -> np.ndarray:
    """(cdf(y + h) - cdf(y - h)) / step, with the step between the points as the dtype holds them."""
    plus, minus = (torch.as_tensor(y + h, dtype=dtype).double().numpy(),
                   torch.as_tensor(y - h, dtype=dtype).double().numpy())  # fmt: skip
    return (_cdf(dist, plus, dtype) - _cdf(dist, minus, dtype)) / (plus - minus)[:, None]


def _check_one(subject, borders: np.ndarray, logits: torch.Tensor, full_support: bool, dtype) -> dict:
    """The four measured errors and their tolerances for one distribution."""
    eps = torch.finfo(dtype).eps
    dist = subject(torch.as_tensor(borders), logits.to(dtype), full_support=full_support)
    stored = torch.as_tensor(borders).to(dtype).double().numpy()  # the borders as the dtype holds them
    p = softmax(logits.to(dtype).double().numpy(), axis=-1).reshape(-1, len(stored) - 1)  # batch x K
    out = {}

    # masses of the regions and total mass, by quadrature
    worst_log = 0.0
    errors, total = [], np.zeros(p.shape[0])
    expected = _expected_masses(p, full_support)
    for name, nodes, weights in _pieces(stored, full_support):
        density, largest = _density(dist, nodes, dtype)
        worst_log = max(worst_log, largest)
        mass = weights @ density
        total += mass
        errors.append(np.abs(mass - expected[name]).max())
    if full_support:  # the mass beyond the quadrature range, analytic (< 1e-120)
        total += (p[:, 0] + p[:, -1]) / 2 * erfc(_TAIL_SCALES / math.sqrt(2))
    tol = 16 * eps * (1 + worst_log)
    out["total"] = (float(np.abs(total - 1).max()), tol)
    out["masses"] = (float(max(errors)), tol)
    if not full_support:  # zero density outside [b_0, b_K]
        width = stored[-1] - stored[0]
        outside, _ = _density(dist, np.array([stored[0] - width, stored[-1] + width]), dtype)
        out["total"] = (max(out["total"][0], float(np.abs(outside).max())), tol)

    # density = d cdf / dy: inside buckets (cdf linear: round-off only) and in the tails
    widths = np.diff(stored)
    inner = range(1, len(widths) - 1) if full_support else range(len(widths))
    fd_errors = []
    for i in inner:
        y = stored[i] + widths[i] * np.array([0.3, 0.5, 0.7])
        h = 0.2 * widths[i]
        fd = _difference_quotient(dist, y, h, dtype)
        density = _density(dist, y, dtype)[0]
        fd_errors.append((np.abs(fd - density) / (16 * eps / (2 * h) + 4 * eps * density)).max())
    if full_support:
        for anchor, width, side, mass in ((stored[1], widths[0], -1.0, p[:, 0]),
                                          (stored[-2], widths[-1], 1.0, p[:, -1])):  # fmt: skip
            scale = width / _HALF_NORMAL_MEDIAN
            h = scale * (1e-4 if dtype == torch.float64 else 1e-2)
            y = anchor + side * scale * np.array([0.25, 1.0, 2.5])
            fd = _difference_quotient(dist, y, h, dtype)
            density = _density(dist, y, dtype)[0]
            taylor = h**2 / 6 * 2 * mass / (math.sqrt(2 * math.pi) * scale**3)  # h^2/6 max |f''|
            bound = taylor + 16 * eps / (2 * h) + 4 * eps * density
            fd_errors.append((np.abs(fd - density) / bound).max())
    out["derivative"] = (float(max(fd_errors)), 1.0)

    # icdf inverts cdf
    cumulative = np.concatenate([np.zeros((p.shape[0], 1)), np.cumsum(p, -1)], -1)
    q = (cumulative[:, :-1, None] + p[:, :, None] * np.array([0.1, 0.5, 0.9])).reshape(p.shape[0], -1)
    q_t = torch.as_tensor(q.T.reshape(-1, *dist.batch_shape), dtype=dtype)
    with torch.no_grad():
        x = dist.icdf(q_t)
        roundtrip = dist.cdf(x).double().numpy().reshape(q.shape[1], -1)
        slope = (dist.log_prob(x).exp() * x.abs()).double().numpy().reshape(q.shape[1], -1)
    # the quantile x is held to |x| eps, which the cdf maps back with slope p(x)
    inversion = float((np.abs(roundtrip - q.T) / (64 * eps * (1 + slope))).max())
    # icdf(cdf(y)) = y on the support (error of the cdf divided by the density), tails included
    y = (stored[:-1, None] + widths[:, None] * np.array([0.25, 0.75])).ravel()
    if full_support:
        y = np.concatenate([y, [stored[0] - widths[0], stored[-1] + widths[-1]]])
    with torch.no_grad():
        back = dist.icdf(
            torch.as_tensor(_cdf(dist, y, dtype).reshape(len(y), *dist.batch_shape), dtype=dtype)
        )
    back = back.double().numpy().reshape(len(y), -1)
    density = _density(dist, y, dtype)[0]
    allowed = 64 * eps * (1 / np.maximum(density, 1e-300) + np.abs(y)[:, None])
    out["inverse"] = (max(inversion, float((np.abs(back - y[:, None]) / allowed).max())), 1.0)
    return out


def _check(inst: BarInstance, subject) -> list[Evidence]:
    rng = np.random.default_rng(inst.seed)
    widths = 10 ** rng.uniform(-2, 1, size=inst.num_buckets)
    borders = rng.uniform(-3, 3) + np.concatenate([[0.0], np.cumsum(widths)])
    logits = torch.as_tensor(inst.logit_scale * rng.standard_normal((2, 3, inst.num_buckets)))
    worst: dict[str, tuple[float, float, str]] = {}
    for full_support in (True, False):
        for dtype in DTYPES:
            for layout in LAYOUTS:
                index = (0,) * (2 - len(layout))
                measured = _check_one(subject, borders, logits[index], full_support, dtype)
                where = f"full_support={full_support}, {str(dtype).removeprefix('torch.')}, batch {layout}"
                for key, (value, tol) in measured.items():
                    ratio = value / tol
                    if key not in worst or not ratio <= worst[key][0] / worst[key][1]:
                        worst[key] = (value, tol, where)
    reasons = {
        "total": ("|integral of the density - 1| (tails included; 0 outside [b_0, b_K] without full support)",
                  "16 eps (1 + max |log p|): round-off of exp(log p) summed with weights <= 1"),
        "masses": ("max |mass of a region - softmax(logits)| (half of an end bucket's mass beyond its outer "
                   "border with full support)", "16 eps (1 + max |log p|), as for the total"),
        "derivative": ("max |(cdf(y+h) - cdf(y-h)) / 2h - density| / allowed, in buckets and tails",
                       "allowed = 16 eps / 2h + 4 eps p(y) + (tails) h^2 p / (3 sqrt(2 pi) s^3): round-off "
                       "of the cdf (a sum of <= 10 masses) and of the density, plus the Taylor remainder"),
        "inverse": ("max of |cdf(icdf(q)) - q| / (64 eps (1 + p(x) |x|)), x = icdf(q), and "
                    "|icdf(cdf(y)) - y| / (64 eps (1 / p(y) + |y|))",
                    "a few eps of the cdf, and |x| eps of a quantile, each mapped through the slope"),
    }  # fmt: skip
    return [
        Evidence.at_most(reasons[key][0], value, tol, reasons[key][1], worst_case=where)
        for key, (value, tol, where) in worst.items()
    ]


# --------------------------------------------------------------------------------- mutants


class _DensityNotDividedByWidth(BarDistribution):
    """Mutant: the density inside a bucket is its mass p_k, not p_k / w_k."""

    def log_prob(self, value):  # noqa: D102
        out = super().log_prob(value)
        value = torch.as_tensor(value, dtype=out.dtype).expand_as(out)
        k = (torch.searchsorted(self.borders, value.contiguous(), right=True) - 1).clamp(
            0, len(self.widths) - 1
        )
        lo, hi = (
            (self.borders[1], self.borders[-2]) if self.full_support else (self.borders[0], self.borders[-1])
        )
        return torch.where((value >= lo) & (value <= hi), out + self.widths.log()[k], out)


class _TailScaleIsWidth(BarDistribution):
    """Mutant: the half-normal scale is the end bucket's width (the division by Phi^{-1}(3/4) forgotten)."""

    def __init__(self, borders, logits, full_support=True, validate_args=None):  # noqa: D107
        super().__init__(borders, logits, full_support, validate_args)
        if full_support:
            self.left_scale, self.right_scale = self.widths[0], self.widths[-1]


class _QuantileOneBucketHigh(BarDistribution):
    """Mutant: icdf looks q up in the cumulative masses with the leading 0, one bucket too far."""

    def icdf(self, value):  # noqa: D102
        q = torch.as_tensor(value, dtype=self.logits.dtype).expand(
            torch.broadcast_shapes(torch.as_tensor(value).shape, self.batch_shape)
        )
        masses = self.masses.expand(*q.shape, self.masses.shape[-1])
        starts = torch.cat([torch.zeros_like(masses[..., :1]), masses.cumsum(-1)], -1)
        k = torch.searchsorted(starts.contiguous(), q.unsqueeze(-1).contiguous()).squeeze(-1)  # no "- 1"
        k = k.clamp(0, len(self.widths) - 1)
        below, mass = (
            starts.gather(-1, k.unsqueeze(-1)).squeeze(-1),
            masses.gather(-1, k.unsqueeze(-1)).squeeze(-1),
        )
        out = self.borders[k] + ((q - below) / mass).clamp(0, 1) * self.widths[k]
        if self.full_support:  # the tails are right
            exact = super().icdf(value)
            tails = (q < masses[..., 0]) | (q > 1 - masses[..., -1])
            out = torch.where(tails, exact, out)
        return out


BAR_DISTRIBUTION_CLAIM = Claim(
    id="pfn.bar_distribution",
    title="The bar distribution integrates to 1, its density is the CDF's derivative, icdf inverts cdf",
    paper=MULLER_PFN_2022,
    section="Sec. 4.3",
    statement=(
        "For any borders and logits the PFN's bar (Riemann) distribution puts mass softmax(logits)_k on "
        "bucket k (half of an end bucket's mass beyond its outer border with half-normal tails), so its "
        "density integrates to 1; the density is the derivative of its CDF, inside buckets and in the "
        "tails; and the quantile function inverts the CDF -- batched or not, float32 or float64, with or "
        "without full support."
    ),
    formula=(
        r"\int p = 1,\quad \int_{\text{bucket } k} p = \mathrm{softmax}(l)_k,\quad p = "
        r"\frac{dF}{dy},\quad F(F^{-1}(q)) = q,\quad F^{-1}(F(y)) = y"
    ),
    strategy=_instances,
    check=_check,
    subject=BarDistribution,
    mutants=(
        Mutant(
            "density-not-divided-by-width",
            "density p_k inside bucket k instead of p_k / w_k",
            _DensityNotDividedByWidth,
        ),
        Mutant(
            "tail-scale-is-width",
            "half-normal scale w instead of w / Phi^{-1}(3/4) (in every method)",
            _TailScaleIsWidth,
        ),
        Mutant(
            "icdf-one-bucket-high", "icdf picks the bucket after the one holding q", _QuantileOneBucketHigh
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
    regimes=REGIMES,
)
