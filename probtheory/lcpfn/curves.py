"""Parametric learning-curve families (Domhan et al., 2015) and the LC-PFN curve prior.

Each basis curve is a formula ``f(t; theta)`` of the epoch ``t >= 1``. The LC-PFN prior
(Adriaensen et al., NeurIPS 2023), exactly as the reference ``lcpfn`` code defines it:

1. for each component k of (pow3, ilog2, janoschek) draw parameters from its "peaked" prior
   and an *unnormalised* weight w_k ~ U(0, 1);
2. the noiseless curve is y(t) = sum_k w_k f_k(t; theta_k), t = 1..T;
3. the noise scale is sigma = exp(N(-4, 1)); observations are y(t) + N(0, sigma^2);
4. a draw is rejected (and redrawn) unless y(T) > y(1), every noiseless y(t) is in [0, 1]
   (the range constraint) and nothing is NaN. Curves need not be monotone.

The noise is added after the range constraint, so observations do leave [0, 1] (about one
curve in nine of the reference prior does somewhere). :meth:`CurvePrior.observation_range`
gives the range its observations essentially never leave: [0, 1] widened by the margin that
the observation noise exceeds with probability at most 1e-6 per curve (see
:func:`observation_range`); the extrapolators accept observed values in that range.

Parameter priors are written as plain specs, ``("uniform", low, high)``,
``("lognormal", mu, sigma)`` or ``("normal", mu, sigma)``, so a prior is JSON-serialisable
and users can define their own over any of the eleven basis curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from scipy import special
from torch import Tensor

from probtheory._checks import (
    check_bool,
    check_generator,
    check_int,
    check_interval,
    check_real,
    check_sequence,
)
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.pfn.priors import Batch

__all__ = [
    "BASIS_CURVES",
    "PEAKED_PRIORS",
    "UNIFORM_PRIORS",
    "BasisCurve",
    "CurvePrior",
    "ParameterSpec",
    "observation_range",
]

ParameterSpec = tuple[str, float, float]
"""A parameter prior: ``("uniform", low, high)``, ``("lognormal", mu, sigma)``, ``("normal", mu, sigma)``."""


@dataclass(frozen=True)
class BasisCurve:
    """A parametric curve family ``formula(t, **params)``; ``t`` and params broadcast."""

    name: str
    parameters: tuple[str, ...]
    formula: Callable[..., Tensor]

    def __call__(self, t: Tensor, **params: Tensor) -> Tensor:
        """Evaluate the curve at epochs ``t``."""
        if set(params) != set(self.parameters):
            raise InputDataError(f"{self.name} parameters", f"values for {self.parameters}", sorted(params))
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise InputDataError("t", "a floating-point tensor of epochs", type(t).__name__)
        return self.formula(t, **params)


def _curve(name: str, parameters: str, formula: Callable[..., Tensor]) -> BasisCurve:
    return BasisCurve(name, tuple(parameters.split()), formula)


BASIS_CURVES: dict[str, BasisCurve] = {
    c.name: c
    for c in (
        _curve("pow3", "c a alpha", lambda t, c, a, alpha: c - a * t ** (-alpha)),
        _curve("ilog2", "c a", lambda t, c, a: c - a / torch.log(t + 1)),
        _curve(
            "janoschek",
            "a beta k delta",
            lambda t, a, beta, k, delta: a - (a - beta) * torch.exp(-k * t**delta),
        ),
        _curve(
            "weibull",
            "alpha beta kappa delta",
            lambda t, alpha, beta, kappa, delta: alpha - (alpha - beta) * torch.exp(-((kappa * t) ** delta)),
        ),
        _curve(
            "mmf",
            "alpha beta kappa delta",
            lambda t, alpha, beta, kappa, delta: alpha - (alpha - beta) / (1 + (kappa * t) ** delta),
        ),
        _curve("vap", "a b c", lambda t, a, b, c: torch.exp(a + b / t + c * torch.log(t))),
        _curve("loglog_linear", "a b", lambda t, a, b: torch.log(a * torch.log(t) + b)),
        _curve("log_power", "a b c", lambda t, a, b, c: a / (1 + (t / torch.exp(b)) ** c)),
        _curve("exp4", "c a b alpha", lambda t, c, a, b, alpha: c - torch.exp(-a * t**alpha + b)),
        _curve("pow4", "c a b alpha", lambda t, c, a, b, alpha: c - (a * t + b) ** (-alpha)),
        _curve(
            "dr_hill_zero_background",
            "theta eta kappa",
            lambda t, theta, eta, kappa: theta * t**eta / (kappa**eta + t**eta),
        ),
    )
}

PEAKED_PRIORS: dict[str, dict[str, ParameterSpec]] = {
    "pow3": {"a": ("uniform", -0.6, 0.6), "c": ("uniform", 0.0, 1.25), "alpha": ("lognormal", 0.0, 2.0)},
    "ilog2": {"c": ("uniform", 0.0, 1.0), "a": ("uniform", -0.5, 0.5)},
    "janoschek": {
        "a": ("uniform", 0.0, 1.0),
        "beta": ("uniform", 0.0, 2.0),
        "k": ("lognormal", -2.0, 1.0),
        "delta": ("lognormal", 0.0, 0.5),
    },
}
"""The reference code's "peaked" parameter priors (the LC-PFN default)."""

UNIFORM_PRIORS: dict[str, dict[str, ParameterSpec]] = {
    "pow3": {"a": ("uniform", -1.0, 1.0), "c": ("uniform", 0.0, 1.0), "alpha": ("uniform", 0.0, 1.0)},
    "ilog2": {"c": ("uniform", 0.0, 1.0), "a": ("uniform", -1.0, 1.0)},
    "janoschek": {
        "a": ("uniform", 0.0, 1.0),
        "beta": ("uniform", 0.0, 2.0),
        "k": ("uniform", 0.0, 1.0),
        "delta": ("uniform", -5.0, 5.0),
    },
}
"""The reference code's "uniform" variant of the same three priors."""


_SPEC_KINDS = ("uniform", "normal", "lognormal")

#: Probability, per curve of ``max_epochs`` observations, that an observation of the prior
#: lies outside :meth:`CurvePrior.observation_range` (an upper bound, see there).
OBSERVATION_TAIL = 1e-6


def _check_spec(name: str, spec: object) -> ParameterSpec:
    """A parameter prior ``(kind, p, q)``: uniform needs p <= q, (log)normal a scale q >= 0."""
    expected = f"a spec (kind, p, q) with kind one of {_SPEC_KINDS}"
    if check_sequence(name, spec, length=3, meaning=expected)[0] not in _SPEC_KINDS:
        raise InputDataError(name, expected, repr(spec))
    kind, p, q = spec[0], check_real(f"{name}[1]", spec[1]), check_real(f"{name}[2]", spec[2])
    if kind == "uniform" and not p <= q:
        raise InputDataError(name, 'a uniform spec ("uniform", low, high) with low <= high', repr(spec))
    if kind != "uniform" and q < 0:
        raise InputDataError(name, f"a {kind} spec ({kind!r}, mu, sigma) with sigma >= 0", repr(spec))
    return (kind, p, q)


@lru_cache(maxsize=1)
def _standard_normal_grid() -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes z on [-10, 10] (the normal mass left out is below 1e-22) and weights."""
    z = np.linspace(-10.0, 10.0, 4_001)
    weights = np.exp(-0.5 * z**2)
    return z, weights / weights.sum()


def _noise_exceedance(margin: float, mean: float, sd: float, observations: int) -> float:
    """P(some of ``observations`` noises sigma * eps leaves [-margin, margin]), log sigma ~ N(mean, sd^2).

    By quadrature over z = (log sigma - mean) / sd:
    P = E_z[1 - (1 - erfc(margin / (sigma sqrt 2)))^observations]. (NumPy: on 4001 nodes,
    torch's per-operation overhead would dominate.)
    """
    z, weights = _standard_normal_grid()
    with np.errstate(over="ignore", divide="ignore"):  # an infinite sigma exceeds every margin
        sigma = np.exp(mean + sd * z)
        single = special.erfc(margin / (sigma * math.sqrt(2.0)))  # P(|sigma eps| > margin)
        return float((weights * -np.expm1(observations * np.log1p(-single))).sum())


@lru_cache(maxsize=64)
def _noise_margin(mean: float, sd: float, observations: int, tail: float) -> float:
    """The smallest margin m with ``_noise_exceedance(m, ...) <= tail`` (bisection)."""
    low, high = 0.0, 1.0
    while _noise_exceedance(high, mean, sd, observations) > tail:
        if high > 1e300:  # sigma overflows: no finite margin
            return math.inf
        low, high = high, 2 * high
    for _ in range(40):  # bisection to relative precision 2^-40
        middle = (low + high) / 2
        above = _noise_exceedance(middle, mean, sd, observations) > tail
        low, high = (middle, high) if above else (low, middle)
    return high


def observation_range(
    log_noise: tuple[float, float],
    observations: int,
    range_constraint: bool = True,
    tail: float = OBSERVATION_TAIL,
) -> tuple[float, float]:
    """The range the observations of an LC-PFN curve prior essentially never leave.

    The noiseless curve lies in [0, 1] (the range constraint) and each observation adds
    N(0, sigma^2) noise with log sigma ~ N(``log_noise``); the range is [0, 1] widened on both
    sides by the smallest margin m with

        P(some of the curve's ``observations`` noises exceeds m in absolute value) <= ``tail``,

    computed by quadrature over sigma (and found by bisection). The probability that an
    observation of a prior curve leaves [-m, 1 + m] is at most that. For the reference prior
    (log sigma ~ N(-4, 1), 100 epochs) and ``tail`` = 1e-6, m is about 6.1: the heavy
    log-normal tail of sigma, not the typical noise (sigma ~ 0.02), sets it. A trained LC-PFN
    has seen about one curve per million beyond it.

    Args:
        log_noise: Mean and standard deviation of log sigma.
        observations: Observations per curve (the prior's ``max_epochs``).
        range_constraint: Whether the noiseless curve is confined to [0, 1]; if not, nothing
            bounds the observations and the range is the real line.
        tail: The probability per curve left outside.

    Returns:
        ``(low, high)`` on the prior's scale.
    """
    mean, sd = check_sequence("log_noise", log_noise, length=2, meaning="a pair (mean, sd) of log sigma")
    mean, sd = check_real("log_noise[0]", mean), check_real("log_noise[1]", sd, nonnegative=True)
    check_int("observations", observations, minimum=1)
    tail = check_interval("tail", tail, 0.0, 1.0, closed=(False, False), meaning="a probability")
    if not check_bool("range_constraint", range_constraint):
        return -math.inf, math.inf
    margin = _noise_margin(mean, sd, observations, tail)
    return -margin, 1.0 + margin


def _draw(spec: ParameterSpec, n: int, generator: torch.Generator) -> Tensor:
    kind, p, q = spec
    if kind == "uniform":
        return p + (q - p) * torch.rand(n, 1, generator=generator, dtype=torch.float64)
    z = torch.randn(n, 1, generator=generator, dtype=torch.float64)
    if kind == "normal":
        return p + q * z
    if kind == "lognormal":
        return torch.exp(p + q * z)
    raise InputDataError("parameter prior", "'uniform', 'normal' or 'lognormal'", repr(kind))


@dataclass(frozen=True)
class CurvePrior:
    """The LC-PFN prior over noisy learning curves (defaults: the reference prior).

    Epochs are t = 1..T; the PFN sees them as ``x = t / max_epochs`` in (0, 1].

    Args:
        components: Basis curves mixed with unnormalised U(0, 1) weights.
        parameter_priors: A spec per parameter of each component (default: peaked priors).
        log_noise: Mean and standard deviation of log sigma.
        range_constraint: Reject curves whose noiseless values leave [0, 1].
        max_epochs: The longest curve (the x scaling).

    Example:
        ```python
        prior = CurvePrior()
        batch = prior.sample(8, 100, torch.Generator().manual_seed(0))  # batch.y: 8 x 100
        ```
    """

    components: tuple[str, ...] = ("pow3", "ilog2", "janoschek")
    parameter_priors: Mapping[str, Mapping[str, ParameterSpec]] = field(
        default_factory=lambda: {k: dict(v) for k, v in PEAKED_PRIORS.items()}
    )
    log_noise: tuple[float, float] = (-4.0, 1.0)
    range_constraint: bool = True
    max_epochs: int = 100
    num_features: int = 1

    def __post_init__(self) -> None:
        check_int("max_epochs", self.max_epochs, minimum=2)
        check_int("num_features", self.num_features, minimum=1)
        check_bool("range_constraint", self.range_constraint)
        check_sequence("log_noise", self.log_noise, length=2, meaning="a pair (mean, sd) of log sigma")
        check_real("log_noise[0]", self.log_noise[0])
        check_real("log_noise[1]", self.log_noise[1], nonnegative=True)
        check_sequence("components", self.components, nonempty=True, meaning="a tuple of basis-curve names")
        if not isinstance(self.parameter_priors, Mapping):
            expected = "a dict: component -> parameter -> spec"
            raise InputDataError("parameter_priors", expected, repr(self.parameter_priors))
        for name in self.components:
            if name not in BASIS_CURVES:
                raise InputDataError("components", f"names from {sorted(BASIS_CURVES)}", repr(name))
            given = self.parameter_priors.get(name, {})
            if not isinstance(given, Mapping) or set(given) != set(BASIS_CURVES[name].parameters):
                raise InputDataError(
                    f"parameter_priors[{name!r}]",
                    f"a spec for each of {BASIS_CURVES[name].parameters}",
                    sorted(given) if isinstance(given, Mapping) else repr(given),
                )
            for parameter, spec in given.items():
                _check_spec(f"parameter_priors[{name!r}][{parameter!r}]", spec)

    def observation_range(self, tail: float = OBSERVATION_TAIL) -> tuple[float, float]:
        """The range the prior's observations leave with probability at most ``tail`` per curve.

        [0, 1] widened by the observation noise (see :func:`observation_range`); the real line
        without the range constraint.
        """
        return observation_range(self.log_noise, self.max_epochs, self.range_constraint, tail)

    def epochs(self, seq_len: int) -> Tensor:
        """Epochs 1..seq_len (float64)."""
        return torch.arange(1, seq_len + 1, dtype=torch.float64)

    def specs(self) -> dict[str, ParameterSpec]:
        """The prior of every scalar parameter, keyed ``"component.parameter"``.

        Besides the curves' own parameters there is ``"component.weight"`` (U(0, 1)) for each
        component and ``"log_sigma"`` (normal).
        """
        out: dict[str, ParameterSpec] = {}
        for name in self.components:
            for p in BASIS_CURVES[name].parameters:
                out[f"{name}.{p}"] = tuple(self.parameter_priors[name][p])
            out[f"{name}.weight"] = ("uniform", 0.0, 1.0)
        out["log_sigma"] = ("normal", *self.log_noise)
        return out

    def mean_curve(self, params: Mapping[str, Tensor], t: Tensor) -> Tensor:
        """The noiseless curve sum_k w_k f_k(t) of each parameter set (shape `S x T`).

        Args:
            params: A tensor of batch shape `S` per key of :meth:`specs`.
            t: Epochs, shape `T`.
        """
        total = torch.zeros((), dtype=torch.float64)
        for name in self.components:
            values = {p: params[f"{name}.{p}"].unsqueeze(-1) for p in BASIS_CURVES[name].parameters}
            total = total + params[f"{name}.weight"].unsqueeze(-1) * BASIS_CURVES[name](t, **values)
        return total

    def accepted(self, curve: Tensor) -> Tensor:
        """Which noiseless curves (`... x T`) pass the prior's rejection step."""
        ok = (curve[..., -1] > curve[..., 0]) & ~curve.isnan().any(-1)
        if self.range_constraint:
            ok &= ((curve >= 0) & (curve <= 1)).all(-1)
        return ok

    def sample_parameters(
        self, batch_size: int, seq_len: int, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """Parameters of ``batch_size`` accepted curves of ``seq_len`` epochs (rejection sampling)."""
        check_int("batch_size", batch_size, minimum=1)
        check_int("seq_len", seq_len, minimum=2)
        if seq_len > self.max_epochs:
            raise InputDataError("seq_len", f"at most max_epochs = {self.max_epochs}", seq_len)
        check_generator("generator", generator)
        t, specs = self.epochs(seq_len), self.specs()
        parts: list[dict[str, Tensor]] = []
        have, draw, drawn = 0, 2 * batch_size, 0
        while have < batch_size:
            params = {key: _draw(spec, draw, generator)[:, 0] for key, spec in specs.items()}
            ok = self.accepted(self.mean_curve(params, t))
            parts.append({key: value[ok] for key, value in params.items()})
            have += int(ok.sum())
            drawn += draw
            if have == 0 and drawn >= 1_000_000:  # rejection sampling would never end
                raise ConfigurationError(
                    f"the curve prior accepted none of {drawn} draws: its parameter priors put no "
                    "mass on curves that end above their start"
                    + (" and stay in [0, 1] (range_constraint)" if self.range_constraint else "")
                )
            rate = max(int(ok.sum()), 1) / draw
            draw = min(max(2 * batch_size, int(1.5 * (batch_size - have) / rate) + 16), 1_000_000)
        return {key: torch.cat([p[key] for p in parts])[:batch_size] for key in specs}

    def sample(self, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:
        """``batch_size`` noisy curves of ``seq_len`` epochs; y and target_y are the noisy curve."""
        params = self.sample_parameters(batch_size, seq_len, generator)
        curve = self.mean_curve(params, self.epochs(seq_len))
        sigma = torch.exp(params["log_sigma"])[:, None]
        noisy = curve + sigma * torch.randn(curve.shape, generator=generator, dtype=torch.float64)
        x = (self.epochs(seq_len) / self.max_epochs).expand(batch_size, seq_len).unsqueeze(-1)
        return Batch(x=x, y=noisy, target_y=noisy, target_loc=curve, target_scale=sigma.expand_as(curve))
