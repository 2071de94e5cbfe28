r"""Exact finite-width laws of random networks (Roberts, Yaida & Hanin 2022).

For a bias-free ReLU network at criticality (:math:`C_W = \sigma_w^2 = 2`), conditionally on
layer :math:`k-1` the pre-activations of layer :math:`k` are i.i.d. :math:`N(0, G_{k-1})` with
:math:`G_k = \tfrac{2}{n_k}\lVert \mathrm{relu}(z^{(k)})\rVert^2`, and the ratios
:math:`G_k/G_{k-1}` are independent with mean 1 and variance :math:`5/n_k`
(:math:`\xi = Z^2\,\mathrm{Bernoulli}(1/2)` has :math:`E\xi = 1/2`, :math:`E\xi^2 = 3/2`).
Hence, for the output (or any pre-activation) :math:`z` of layer :math:`\ell`:

.. math::
    \frac{E[z^4]}{E[z^2]^2} = 3 \prod_{k=1}^{\ell-1}\Big(1 + \frac{5}{n_k}\Big),

the exact form of PDLT's leading-order :math:`V^{(\ell)}/K^2 \approx 5(\ell - 1)/n`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from probtheory._checks import check_int
from probtheory.errors import InputDataError

__all__ = ["relu_fourth_moment_ratio"]


def relu_fourth_moment_ratio(hidden_widths: Sequence[int]) -> float:
    """``E[z^4] / E[z^2]^2`` of the output of a critical bias-free ReLU net, exactly.

    Args:
        hidden_widths: Widths ``n_1, ..., n_L`` of the hidden layers (empty: a linear model,
            whose Gaussian output has ratio 3).

    Returns:
        ``3 * prod(1 + 5 / n_k)``; the excess kurtosis is this minus 3.
    """
    if isinstance(hidden_widths, str | bytes) or not isinstance(hidden_widths, Sequence):
        raise InputDataError("hidden_widths", "a sequence of widths (e.g. [64, 64])", repr(hidden_widths))
    widths = [check_int(f"hidden_widths[{k}]", n, minimum=1) for k, n in enumerate(hidden_widths)]
    return 3.0 * math.prod(1.0 + 5.0 / n for n in widths)
