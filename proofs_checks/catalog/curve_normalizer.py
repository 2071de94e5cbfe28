r"""Claim ``lcpfn.normaliser_change_of_variables`` (LC-PFN densities in the metric's own units).

Adriaensen, Rakotoarison, Müller & Hutter, *Efficient Bayesian Learning Curve Extrapolation
using Prior-Data Fitted Networks* (NeurIPS 2023), Sec. 3: the LC-PFN predicts curves on a
normalised scale, [0, 1] and higher-is-better, and a metric is mapped there by a strictly
monotone normalisation g (linear, or the soft-range sigmoid of the reference code's
``pfn_normalize``; flipped for minimised metrics). The predictive density of the metric itself
then follows from the change-of-variables formula for a strictly monotone differentiable map:

    log p_Y(y) = log p_Z(g(y)) + log |g'(y)|.

Checked on the public API: ``CurveExtrapolator.predict(..., normalizer)`` (a
``TransformedDistribution`` through ``CurveNormalizer.transform()``) and ``nll_loss``, against
the model's own density on the normalised scale (``predict_normalized`` at g(y_train)) plus
log |g'| from a central finite difference of ``CurveNormalizer.forward``. The Jacobian term of
the transform is also compared with the finite difference directly. Tolerance: the relative
error of the difference quotient, h^2 / (6 L^2) (Taylor remainder; |sigma'''| <= |sigma'| and
u' = 1/L for the sigmoid map with half-width L = (soft_upper - soft_lower) / 2; zero for a
linear map) plus its round-off, 8 eps (1 + (|y| + |c|) / L) / (h g'(y)) with c the map's
offset; plus 1e-12 (1 + |log p|) for the density itself (float64 throughout).

Every instance checks every kind of normaliser -- linear maximised, linear minimised, soft range
inside finite bounds, a loss on [0, inf) (soft range, minimised), and (-inf, inf) -- on the
shipped LC-PFN (bar-distribution predictive) and on the importance-sampling extrapolator
(Gaussian-mixture predictive), for one curve and a batch of two, with an observed prefix drawn
from 1 epoch to 99 (the models' range) and up to four future epochs. The prefix is the models'
context: its regimes are one epoch (the fewest accepted: an empty curve raises
``InputDataError``), 2 to 98, and 99 (the most, one future epoch left).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch.distributions import constraints
from torch.distributions.transforms import Transform

from probtheory.lcpfn import LCPFN, CurveNormalizer, ImportanceSamplingExtrapolator
from proofs_checks.catalog.bibliography import ADRIAENSEN_LCPFN_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import seeds

EPS = torch.finfo(torch.float64).eps
MAX_EPOCHS = 100
NORMALISER_KINDS = ("linear", "linear, minimised", "soft range", "loss on [0, inf), minimised", "(-inf, inf)")
EXTRAPOLATORS = ("LC-PFN", "importance sampling")


@dataclass(frozen=True)
class NormaliserInstance:
    prefix: int
    num_future: int
    offset: float
    log_width: float
    soft: tuple[float, float]
    seed: int


@st.composite
def _instances(draw) -> NormaliserInstance:
    lo, hi = sorted(draw(st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95))))
    return NormaliserInstance(
        prefix=draw(st.integers(1, MAX_EPOCHS - 1)),
        num_future=draw(st.integers(1, 4)),
        offset=draw(st.floats(-100.0, 100.0)),
        log_width=draw(st.floats(-2.0, 3.0)),
        soft=(lo, max(hi, lo + 0.05)),  # where the soft range sits inside [lower, upper]
        seed=draw(seeds()),
    )


def _prefix_regime(prefix: int) -> str:
    return {1: "1 epoch", MAX_EPOCHS - 1: f"{MAX_EPOCHS - 1} epochs (the most)"}.get(prefix, "2 to 98")


REGIMES = Regimes(
    of=lambda inst: {
        "observed prefix": _prefix_regime(inst.prefix),
        "normaliser": NORMALISER_KINDS,  # every instance checks each kind on each extrapolator
        "extrapolator": EXTRAPOLATORS,
    },
    cases={
        "observed prefix": {
            "1 epoch": {"prefix": 1},
            "2 to 98": {"prefix": st.integers(2, MAX_EPOCHS - 2)},
            f"{MAX_EPOCHS - 1} epochs (the most)": {"prefix": MAX_EPOCHS - 1},
        },
        "normaliser": dict.fromkeys(NORMALISER_KINDS),
        "extrapolator": dict.fromkeys(EXTRAPOLATORS),
    },
)


def _normalisers(inst: NormaliserInstance, subject) -> dict[str, tuple[CurveNormalizer, float, float]]:
    """Each kind of normaliser, with its length scale L and offset c (for the round-off bound)."""
    lower, width = inst.offset, 10**inst.log_width
    upper = lower + width
    soft_lower, soft_upper = lower + width * inst.soft[0], lower + width * inst.soft[1]
    half = (soft_upper - soft_lower) / 2
    return {  # keyed by NORMALISER_KINDS
        "linear": (subject(lower, upper), width, lower),
        "linear, minimised": (subject(lower, upper, minimize=True), width, lower),
        "soft range": (subject(lower, upper, soft_lower=soft_lower, soft_upper=soft_upper), half, soft_lower),
        "loss on [0, inf), minimised": (
            subject(0.0, math.inf, minimize=True, soft_lower=0.0, soft_upper=2 * half),
            half,
            0.0,
        ),
        "(-inf, inf)": (
            subject(-math.inf, math.inf, soft_lower=soft_lower, soft_upper=soft_upper),
            half,
            soft_lower,
        ),
    }


@functools.lru_cache(maxsize=1)
def _extrapolators() -> dict[str, object]:
    return {  # keyed by EXTRAPOLATORS
        "LC-PFN": LCPFN.from_pretrained(),
        "importance sampling": ImportanceSamplingExtrapolator(num_samples=1000, num_components=100, seed=0),
    }


def _log_derivative(normalizer: CurveNormalizer, y: torch.Tensor, scale: float, offset: float):
    """Log |g'(y)| by a central difference, and a bound on its error (see the module docstring)."""
    h = 1e-5 * scale
    plus, minus = y + h, y - h
    step = plus - minus  # the step between the points as float64 holds them
    slope = (normalizer.forward(plus) - normalizer.forward(minus)) / step
    taylor = 0.0 if normalizer.linear else h**2 / (6 * scale**2)
    roundoff = 8 * EPS * (1 + (y.abs() + abs(offset)) / scale) / (h * slope.abs())
    return slope.abs().log(), taylor + roundoff


def _curve(inst: NormaliserInstance, normalizer: CurveNormalizer, generator: torch.Generator):
    """A batch of two rising curves in metric units: epochs `2 x T`, values `2 x T`, future `2 x Q`."""
    t = torch.arange(1, inst.prefix + 1, dtype=torch.float64)
    rate = 0.02 + 0.2 * torch.rand(2, 1, generator=generator, dtype=torch.float64)
    z = 0.15 + 0.6 * (1 - torch.exp(-rate * t)) + 0.01 * torch.randn(2, inst.prefix, generator=generator)
    future = torch.stack(
        [torch.randperm(MAX_EPOCHS - inst.prefix, generator=generator)[: inst.num_future] for _ in range(2)]
    )
    future = (inst.prefix + 1 + future).to(torch.float64)
    future = future[:, : min(inst.num_future, MAX_EPOCHS - inst.prefix)]
    return t.expand(2, -1), normalizer.inverse(z.clamp(0.02, 0.98).to(torch.float64)), future


def _record(worst: dict, key: str, value: torch.Tensor, where: str) -> None:
    if float(value) > worst[key][0]:
        worst[key] = (float(value), where)


def _check(inst: NormaliserInstance, subject) -> list[Evidence]:
    g = torch.Generator().manual_seed(inst.seed)
    worst = {"density": (0.0, ""), "nll": (0.0, ""), "jacobian": (0.0, "")}
    for kind, (normalizer, scale, offset) in _normalisers(inst, subject).items():
        epochs, values, future = _curve(inst, normalizer, g)
        # evaluation points in metric units, `7 x 2 x Q`: normalised levels spread over (0, 1)
        levels = torch.linspace(0.05, 0.95, 7, dtype=torch.float64)
        y = normalizer.inverse(levels).view(-1, 1, 1).expand(-1, 2, future.shape[1])
        log_slope, rel_error = _log_derivative(normalizer, y, scale, offset)
        for name, model in _extrapolators().items():
            where = f"{name}, {kind}, prefix {inst.prefix}"
            with torch.no_grad():
                # a batch of two curves: the density through predict(normalizer=...)
                batch = (epochs.unsqueeze(-1), values.unsqueeze(-1), future.unsqueeze(-1))
                measured = model.predict(*batch, normalizer=normalizer).log_prob(y)
                base = model.predict_normalized(batch[0], normalizer.forward(batch[1]), batch[2])
                reference = base.log_prob(normalizer.forward(y)) + log_slope
                allowed = rel_error + 1e-12 * (1 + reference.abs())
                _record(worst, "density", ((measured - reference).abs() / allowed).max(), where)
                # one curve (the unbatched layout): the density through nll_loss
                one = (epochs[0], values[0], future[0])
                nll = model.nll_loss(*one, y[0, 0], normalizer=normalizer)
                base = model.predict_normalized(one[0], normalizer.forward(one[1]), one[2])
                reference = base.log_prob(normalizer.forward(y[0, 0])) + log_slope[0, 0]
                allowed = rel_error[0, 0] + 1e-12 * (1 + reference.abs())
                _record(worst, "nll", ((-nll - reference).abs() / allowed).max(), where)
        # the transform's own Jacobian term, log |dy/dz| = -log |g'(y)|
        jacobian = normalizer.transform().log_abs_det_jacobian(normalizer.forward(y), y)
        allowed = rel_error + 1e-12 * (1 + log_slope.abs())
        _record(worst, "jacobian", ((jacobian + log_slope).abs() / allowed).max(), kind)
    quantities = {
        "density": "max |log p_Y(y) - log p_Z(g(y)) - log|g'(y)|_FD| / allowed, predict(normalizer=...)",
        "nll": "max |-nll_loss(y) - log p_Z(g(y)) - log|g'(y)|_FD| / allowed",
        "jacobian": "max |log|dy/dz| (the transform's Jacobian term) + log|g'(y)|_FD| / allowed",
    }
    return [
        Evidence.at_most(
            quantities[key],
            value,
            1.0,
            "allowed: the finite difference's Taylor remainder h^2/(6 L^2) and round-off "
            "8 eps (1 + (|y| + |c|)/L) / (h g'), plus 1e-12 (1 + |log p|)",
            worst_case=where,
        )
        for key, (value, where) in worst.items()
    ]


# --------------------------------------------------------------------------------- mutants


class _ScaledJacobian(Transform):
    """The normaliser's transform with its log-Jacobian multiplied by ``factor`` (0: dropped, -1: sign)."""

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, inner: Transform, factor: float) -> None:
        super().__init__()
        self.inner, self.factor = inner, factor

    @property
    def sign(self) -> int:
        return self.inner.sign

    def _call(self, z):
        return self.inner(z)

    def _inverse(self, y):
        return self.inner.inv(y)

    def log_abs_det_jacobian(self, z, y):
        return self.factor * self.inner.log_abs_det_jacobian(z, y)


class _JacobianDropped(CurveNormalizer):
    """Mutant: the metric-unit density is the normalised one (the log-Jacobian term is dropped)."""

    def transform(self) -> Transform:  # noqa: D102
        return _ScaledJacobian(super().transform(), 0.0)


class _JacobianWrongSign(CurveNormalizer):
    """Mutant: log |dz/dy| where log |dy/dz| belongs (the Jacobian of the wrong direction)."""

    def transform(self) -> Transform:  # noqa: D102
        return _ScaledJacobian(super().transform(), -1.0)


NORMALISER_CLAIM = Claim(
    id="lcpfn.normaliser_change_of_variables",
    title="LC-PFN densities in metric units follow the change of variables through the normaliser",
    paper=ADRIAENSEN_LCPFN_2023,
    section="Sec. 3",
    statement=(
        "For every normaliser g (linear or soft-range sigmoid, maximised or minimised, finite or infinite "
        "bounds), the predictive log-density of the metric is the model's log-density on the normalised "
        "scale at g(y) plus log |g'(y)|, on every public path (predict with a normaliser, nll_loss), for the "
        "LC-PFN and the importance-sampling extrapolator, one curve or a batch."
    ),
    formula=r"\log p_Y(y) = \log p_Z(g(y)) + \log |g'(y)|",
    strategy=_instances,
    check=_check,
    subject=CurveNormalizer,
    mutants=(
        Mutant(
            "jacobian-dropped", "log p_Y(y) = log p_Z(g(y)): the log |g'| term is missing", _JacobianDropped
        ),
        Mutant(
            "jacobian-wrong-sign",
            "log p_Z(g(y)) - log |g'(y)|: the inverse map's Jacobian",
            _JacobianWrongSign,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
    regimes=REGIMES,
)
