r"""abc-parameterisations of fully connected networks (Yang & Hu, ICML 2021, §3).

A layer's effective weight is ``multiplier * w`` with trainable ``w ~ N(0, std^2)``; plain SGD
on ``w`` with a width-independent learning rate then realises the abc-parameterisation
:math:`W^l = n^{-a_l} w^l`, :math:`w^l \sim N(0, n^{-2b_l})`, :math:`c = 0`. Every preset
includes the fixed-dimension factor :math:`\sigma_w/\sqrt{d}` on the input layer, so all
three give the same network function at initialisation up to the readout's scale.

=============  ============================  ==========================  ==========================
preset         input layer                   hidden layers               readout
=============  ============================  ==========================  ==========================
``ntk``        mult σ_w/√d, std 1            mult σ_w/√n, std 1          mult σ_w/√n, std 1
``standard``   mult 1, std σ_w/√d            mult 1, std σ_w/√n          mult 1, std σ_w/√n
``mup``        mult σ_w√n/√d, std 1/√n       mult 1, std σ_w/√n          mult σ_w/√n, std 1/√n
=============  ============================  ==========================  ==========================

(:math:`n` = the layer's fan-in for hidden/readout layers and its fan-out for the input layer.)
Biases follow the same pattern with :math:`\sigma_b`; μP biases of the input and hidden
layers are vector-like (mult σ_b√n, std 1/√n).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import InputDataError

__all__ = ["LayerScaling", "Parameterization", "ntk", "standard", "mup", "resolve_parameterization"]

LayerKind = Literal["input", "hidden", "readout"]


@dataclass(frozen=True)
class LayerScaling:
    """Multipliers and initial standard deviations of one layer's weight and bias."""

    weight_multiplier: float
    weight_std: float
    bias_multiplier: float
    bias_std: float

    def __post_init__(self) -> None:
        """Require finite numbers and standard deviations >= 0 (else the weights would be NaN)."""
        for name in ("weight_multiplier", "bias_multiplier"):
            check_real(name, getattr(self, name))
        for name in ("weight_std", "bias_std"):
            check_real(name, getattr(self, name), nonnegative=True)


#: ``(kind, fan_in, fan_out, sigma_w, sigma_b) -> LayerScaling``
Parameterization = Callable[[LayerKind, int, int, float, float], LayerScaling]


def ntk(kind: LayerKind, fan_in: int, fan_out: int, sigma_w: float, sigma_b: float) -> LayerScaling:
    """NTK parameterisation (Jacot et al. 2018): ``h = sigma_w/sqrt(fan_in) W x + sigma_b b``."""
    _check_layer(kind, fan_in, fan_out, sigma_w, sigma_b)
    return LayerScaling(sigma_w / math.sqrt(fan_in), 1.0, sigma_b, 1.0)


def standard(kind: LayerKind, fan_in: int, fan_out: int, sigma_w: float, sigma_b: float) -> LayerScaling:
    """Standard parameterisation: ``W ~ N(0, sigma_w^2/fan_in)``, ``b ~ N(0, sigma_b^2)``."""
    _check_layer(kind, fan_in, fan_out, sigma_w, sigma_b)
    return LayerScaling(1.0, sigma_w / math.sqrt(fan_in), 1.0, sigma_b)


def mup(kind: LayerKind, fan_in: int, fan_out: int, sigma_w: float, sigma_b: float) -> LayerScaling:
    """Maximal-update parameterisation μP (Yang & Hu 2021, Table 3, with SGD)."""
    _check_layer(kind, fan_in, fan_out, sigma_w, sigma_b)
    if kind == "input":
        root = math.sqrt(fan_out)
        return LayerScaling(sigma_w * root / math.sqrt(fan_in), 1.0 / root, sigma_b * root, 1.0 / root)
    root = math.sqrt(fan_in)
    if kind == "hidden":
        out_root = math.sqrt(fan_out)
        return LayerScaling(1.0, sigma_w / root, sigma_b * out_root, 1.0 / out_root)
    return LayerScaling(sigma_w / root, 1.0 / root, sigma_b, 1.0)


def _check_layer(kind: object, fan_in: object, fan_out: object, sigma_w: object, sigma_b: object) -> None:
    if kind not in ("input", "hidden", "readout"):
        raise InputDataError("kind", "'input', 'hidden' or 'readout'", repr(kind))
    check_int("fan_in", fan_in, minimum=1)
    check_int("fan_out", fan_out, minimum=1)
    check_real("sigma_w", sigma_w, positive=True)
    check_real("sigma_b", sigma_b, nonnegative=True)


PRESETS: dict[str, Parameterization] = {"ntk": ntk, "standard": standard, "mup": mup}


def resolve_parameterization(value: str | Parameterization) -> Parameterization:
    """Return a preset by name (``ntk``, ``standard``, ``mup``) or a user's callable."""
    if isinstance(value, str):
        return PRESETS[check_name("parameterization", value, PRESETS, meaning="a preset name or a callable")]
    if not callable(value):
        raise InputDataError("parameterization", "a preset name or a callable", type(value).__name__)
    return value
