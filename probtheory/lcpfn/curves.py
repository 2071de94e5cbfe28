"""Parametric learning-curve families (Domhan et al., 2015) and the LC-PFN curve prior.

Each basis curve is a formula ``f(t; theta)`` of the epoch ``t >= 1``. The LC-PFN prior
(Adriaensen et al., NeurIPS 2023), exactly as the reference ``lcpfn`` code defines it:

1. for each component k of (pow3, ilog2, janoschek) draw parameters from its "peaked" prior
   and an *unnormalised* weight w_k ~ U(0, 1);
2. the noiseless curve is y(t) = sum_k w_k f_k(t; theta_k), t = 1..T;
3. the noise scale is sigma = exp(N(-4, 1)); observations are y(t) + N(0, sigma^2);
4. a draw is rejected (and redrawn) unless y(T) > y(1), every noiseless y(t) is in [0, 1]
   (the range constraint) and nothing is NaN. Curves need not be monotone.

Parameter priors are written as plain specs, ``("uniform", low, high)``,
``("lognormal", mu, sigma)`` or ``("normal", mu, sigma)``, so a prior is JSON-serialisable
and users can define their own over any of the eleven basis curves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError
from probtheory.pfn.priors import Batch

__all__ = [
    "BASIS_CURVES",
    "PEAKED_PRIORS",
    "UNIFORM_PRIORS",
    "BasisCurve",
    "CurvePrior",
    "ParameterSpec",
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
        missing = set(self.parameters) - set(params)
        if missing:
            raise InputDataError(f"{self.name} parameters", f"values for {self.parameters}", sorted(params))
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
        check_real("log_noise[1]", self.log_noise[1], nonnegative=True)
        if not self.components:
            raise InputDataError("components", "at least one basis curve", self.components)
        for name in self.components:
            if name not in BASIS_CURVES:
                raise InputDataError("components", f"names from {sorted(BASIS_CURVES)}", repr(name))
            given = set(self.parameter_priors.get(name, {}))
            if given != set(BASIS_CURVES[name].parameters):
                raise InputDataError(
                    f"parameter_priors[{name!r}]",
                    f"a spec for each of {BASIS_CURVES[name].parameters}",
                    sorted(given),
                )

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
        t, specs = self.epochs(seq_len), self.specs()
        parts: list[dict[str, Tensor]] = []
        have, draw = 0, 2 * batch_size
        while have < batch_size:
            params = {key: _draw(spec, draw, generator)[:, 0] for key, spec in specs.items()}
            ok = self.accepted(self.mean_curve(params, t))
            parts.append({key: value[ok] for key, value in params.items()})
            have += int(ok.sum())
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
        return Batch(x=x, y=noisy, target_y=noisy)
