r"""Random-feature fits with bandlimited hidden weights: the exact Fourier-domain surrogate.

Li, Sonoda, Cao, Wang, Liang, *Shallow random neural networks with bandlimited random weights*
(ICML 2023) lower-bound the :math:`L^2` error of :math:`g(x) = \sum_j c_j \sigma(a_j x - b_j)`
when the hidden weights are bounded, :math:`|a_j| \le \lambda`. The paper's constants are not
used here; the surrogate below is exact (docs/derivations.md, §2): with
:math:`\sigma = \mathrm{sinc}` (``sin(pi t)/(pi t)``, spectrum :math:`1[|\omega| \le \pi]`) every
feature has the spectrum

.. math::
    \widehat{\sigma(a\,\cdot - b)}(\omega) = \frac{1}{|a|}\,1[|\omega| \le \pi |a|]\, e^{-i\omega b/a},

so every :math:`g` is bandlimited to :math:`\Omega = \pi\lambda` and, by Plancherel,

.. math::
    \frac{\|f - g\|^2_{L^2(\mathbb R)}}{\|f\|^2} \;\ge\; \frac{\int_{|\omega| > \Omega} |\hat f|^2}
    {\int |\hat f|^2} \quad\text{(the out-of-band energy fraction)},

with equality approached as the features fill the band. The target is the wave packet
:math:`f(x) = e^{-x^2/2}\cos(Kx)`, :math:`\hat f(\omega) = \sqrt{\pi/2}\,(e^{-(\omega-K)^2/2}
+ e^{-(\omega+K)^2/2})`, whose out-of-band fraction is
:math:`[\mathrm{erfc}(\Omega-K) + \mathrm{erfc}(\Omega+K) + 2e^{-K^2}\mathrm{erfc}(\Omega)]
/ (2(1+e^{-K^2}))`.

Numerical trap (docs/derivations.md, §2): a least-squares fit measured on a finite window in :math:`x`
ignores the features' slowly decaying :math:`1/x` tails and reports errors *below* the
:math:`L^2(\mathbb R)` lower bound. :func:`window_least_squares` exists only to demonstrate
that; errors are computed in the Fourier domain by :func:`fourier_least_squares`, on a
composite Gauss-Legendre grid whose panels break at :math:`\pm\Omega` (so the out-of-band part
is integrated to ~1e-13) plus the exact tail beyond the grid.

Example::

    from probtheory.theory.bandlimited import (
        fourier_least_squares, out_of_band_fraction, sample_sinc_features)

    a, b = sample_sinc_features(200, bandwidth=2.0, seed=0)
    fit = fourier_least_squares(6.0, a, b)
    assert fit.relative_error_sq >= out_of_band_fraction(6.0, 2.0) - 1e-9   # 0.3445
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from probtheory._checks import check_finite, check_floating, check_int, check_name, check_real, make_generator
from probtheory.errors import InputDataError

__all__ = [
    "BandlimitedFit",
    "ErrorCurve",
    "fourier_least_squares",
    "out_of_band_fraction",
    "random_feature_error_curve",
    "sample_sinc_features",
    "sinc_feature_spectra",
    "wave_packet",
    "wave_packet_spectrum",
    "window_least_squares",
]

_DTYPE = torch.float64
# Gauss-Legendre panels: 16 nodes on panels of width <= 0.25 integrate the Gaussian spectrum
# (and features oscillating like e^{-i w t}, |t| <= 12) to round-off.
_NODES, _WEIGHTS = (torch.as_tensor(v, dtype=_DTYPE) for v in np.polynomial.legendre.leggauss(16))
_PANEL = 0.25


def wave_packet(x: Tensor, frequency: float) -> Tensor:
    r"""The target :math:`f(x) = e^{-x^2/2}\cos(Kx)`.

    Args:
        x: A tensor of points (any shape).
        frequency: :math:`K`.

    Returns:
        :math:`f(x)`, same shape as `x`.
    """
    check_floating("x", x)
    frequency = check_real("frequency", frequency)
    return torch.exp(-0.5 * x * x) * torch.cos(frequency * x)


def wave_packet_spectrum(omega: Tensor, frequency: float) -> Tensor:
    r""":math:`\hat f(\omega) = \int f(x) e^{-i\omega x} dx` of :func:`wave_packet` (real and even)."""
    check_floating("omega", omega)
    frequency = check_real("frequency", frequency)
    return math.sqrt(math.pi / 2) * (
        torch.exp(-0.5 * (omega - frequency) ** 2) + torch.exp(-0.5 * (omega + frequency) ** 2)
    )


def _spectrum_energy_above(cutoff: float, frequency: float) -> float:
    r""":math:`\int_{|\omega| > cutoff} |\hat f|^2 d\omega` (exact, erfc)."""
    k = frequency
    s = math.erfc(cutoff - k) + math.erfc(cutoff + k) + 2.0 * math.exp(-k * k) * math.erfc(cutoff)
    return math.pi * math.sqrt(math.pi) / 2.0 * s


def _spectrum_energy(frequency: float) -> float:
    return math.pi * math.sqrt(math.pi) * (1.0 + math.exp(-frequency * frequency))


def out_of_band_fraction(frequency: float, bandwidth: float) -> float:
    r"""Fraction of the wave packet's energy outside :math:`|\omega| \le \pi\lambda` (exact).

    This is the infimum of the squared relative :math:`L^2(\mathbb R)` error of any function
    bandlimited to :math:`\pi\lambda`, in particular of any sinc random-feature fit with
    hidden weights :math:`|a_j| \le \lambda`.

    Args:
        frequency: :math:`K \ge 0` of the target.
        bandwidth: :math:`\lambda \ge 0`, the bound on the hidden weights.
    """
    k = check_real("frequency", frequency, nonnegative=True)
    lam = check_real("bandwidth", bandwidth, nonnegative=True)
    return _spectrum_energy_above(math.pi * lam, k) / _spectrum_energy(k)


def sample_sinc_features(
    num_features: int,
    bandwidth: float,
    *,
    center_range: float = 6.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Hidden parameters :math:`a_j \sim U[-\lambda, \lambda]`, :math:`b_j = a_j t_j`, :math:`|t_j| \le T`.

    The feature :math:`\sigma(a_j x - b_j)` is centred at :math:`t_j`; the hidden parameters lie
    in the bounded box :math:`|a| \le \lambda`, :math:`|b| \le \lambda T`.

    Args:
        num_features: :math:`N \ge 1`.
        bandwidth: :math:`\lambda > 0`.
        center_range: :math:`T > 0`, half-width of the interval of feature centres.
        seed: Seed of a fresh generator (ignored when `generator` is given).
        generator: The random generator to draw from.

    Returns:
        `a` and `b`, two `N`-dim float64 tensors.
    """
    n = check_int("num_features", num_features, minimum=1)
    lam = check_real("bandwidth", bandwidth, positive=True)
    t_max = check_real("center_range", center_range, positive=True)
    generator = make_generator(seed, generator)
    a = lam * (2.0 * torch.rand(n, generator=generator, dtype=_DTYPE) - 1.0)
    t = t_max * (2.0 * torch.rand(n, generator=generator, dtype=_DTYPE) - 1.0)
    return a, a * t


def _check_features(a: Tensor, b: Tensor) -> None:
    check_finite("a", a)
    check_finite("b", b)
    if a.dim() != 1 or b.shape != a.shape:
        raise InputDataError("b", f"a 1-dim tensor of the shape of `a` {tuple(a.shape)}", tuple(b.shape))
    if a.numel() == 0:
        raise InputDataError("a", "at least one feature", "an empty tensor")
    if (a == 0).any():
        raise InputDataError("a", "non-zero hidden weights (a = 0 gives a constant feature, not in L2)", a)


def _panels(breaks: Sequence[float]) -> tuple[Tensor, Tensor]:
    """Composite Gauss-Legendre nodes and weights on consecutive intervals ``breaks[i], breaks[i+1]``."""
    nodes, weights = [], []
    for lo, hi in zip(breaks[:-1], breaks[1:], strict=True):
        if hi <= lo:
            continue
        count = max(1, math.ceil((hi - lo) / _PANEL))
        edges = torch.linspace(lo, hi, count + 1, dtype=_DTYPE)
        half = 0.5 * (edges[1:] - edges[:-1])
        mid = 0.5 * (edges[1:] + edges[:-1])
        nodes.append((mid[:, None] + half[:, None] * _NODES).reshape(-1))
        weights.append((half[:, None] * _WEIGHTS).reshape(-1))
    return torch.cat(nodes), torch.cat(weights)


def sinc_feature_spectra(omega: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r"""Real and imaginary parts of the feature spectra :math:`\hat\phi_j(\omega)`.

    :math:`\hat\phi_j(\omega) = |a_j|^{-1} 1[|\omega| \le \pi|a_j|] e^{-i\omega b_j/a_j}`.

    Args:
        omega: An `M`-dim tensor of frequencies.
        a: An `N`-dim tensor of hidden weights (non-zero).
        b: An `N`-dim tensor of hidden offsets.

    Returns:
        Two `M x N` tensors.
    """
    check_finite("omega", omega)
    if omega.dim() != 1:
        raise InputDataError("omega", "a 1-d tensor of frequencies", f"shape {tuple(omega.shape)}")
    _check_features(a, b)
    omega, a, b = omega.to(_DTYPE), a.to(_DTYPE), b.to(_DTYPE)
    inside = (omega.abs()[:, None] <= math.pi * a.abs()).to(_DTYPE) / a.abs()
    phase = omega[:, None] * (b / a)
    return inside * torch.cos(phase), -inside * torch.sin(phase)


@dataclass(frozen=True)
class BandlimitedFit:
    r"""A random-feature least-squares fit and its error in :math:`L^2(\mathbb R)`.

    Attributes:
        coefficients: The `N`-dim output weights :math:`c`.
        relative_error_sq: :math:`\|f - g\|^2 / \|f\|^2` over the whole line.
        out_of_band: Out-of-band energy fraction of the target at the features' largest
            :math:`|a_j|` (the lower bound these features can reach).
    """

    coefficients: Tensor
    relative_error_sq: float
    out_of_band: float

    @property
    def relative_error(self) -> float:
        r""":math:`\|f - g\| / \|f\|`."""
        return math.sqrt(max(self.relative_error_sq, 0.0))


def fourier_least_squares(
    frequency: float, a: Tensor, b: Tensor, *, band_edge: float | None = None
) -> BandlimitedFit:
    r"""Least-squares sinc random-feature fit of the wave packet, error exact in the Fourier domain.

    Minimises :math:`\frac{1}{2\pi}\int |\hat f - \sum_j c_j \hat\phi_j|^2 d\omega` over real
    :math:`c` by quadrature on :math:`|\omega| \le W = \max(K + 10, \pi \max_j |a_j|)`; beyond
    :math:`W` every feature vanishes and the target's energy is added exactly. The panels
    break at :math:`\pm W` and at :math:`\pm` `band_edge`, where the out-of-band bound is read.

    Args:
        frequency: :math:`K \ge 0` of the target :func:`wave_packet`.
        a: An `N`-dim tensor of non-zero hidden weights.
        b: An `N`-dim tensor of hidden offsets.
        band_edge: Extra panel break (default :math:`\pi\max_j|a_j|`).

    Returns:
        The fit; ``relative_error_sq`` is the squared relative :math:`L^2(\mathbb R)` error.
    """
    k = check_real("frequency", frequency, nonnegative=True)
    _check_features(a, b)
    a, b = a.to(_DTYPE), b.to(_DTYPE)
    top = math.pi * float(a.abs().max())
    edge = top if band_edge is None else check_real("band_edge", band_edge, nonnegative=True)
    width = max(k + 10.0, top, edge)
    breaks = sorted({0.0, edge, width})
    nodes, weights = _panels(breaks)
    omega = torch.cat([-nodes.flip(0), nodes])
    w = torch.cat([weights.flip(0), weights])
    re, im = sinc_feature_spectra(omega, a, b)
    root = w.sqrt()[:, None]
    design = torch.cat([root * re, root * im])
    target = torch.cat([root[:, 0] * wave_packet_spectrum(omega, k), torch.zeros_like(omega)])
    coef = torch.linalg.lstsq(design, target[:, None], driver="gelsd").solution[:, 0]
    residual = float((design @ coef - target).square().sum())
    total = _spectrum_energy(k)
    error_sq = (residual + _spectrum_energy_above(width, k)) / total
    return BandlimitedFit(coef, error_sq, _spectrum_energy_above(top, k) / total)


def window_least_squares(
    frequency: float, a: Tensor, b: Tensor, *, window: float = 40.0, points: int = 4001
) -> BandlimitedFit:
    r"""The UNSOUND estimator of docs/derivations.md, §2: least squares and error on ``[-window, window]``.

    Kept to demonstrate the pitfall (and as a mutant the claims must reject): the features'
    :math:`1/x` tails outside the window are ignored, so the reported relative error can fall
    below the :math:`L^2(\mathbb R)` lower bound. Do not use it to measure approximation error.

    Args:
        frequency: :math:`K \ge 0` of the target.
        a: An `N`-dim tensor of non-zero hidden weights.
        b: An `N`-dim tensor of hidden offsets.
        window: Half-width of the window.
        points: Number of equispaced points on the window.
    """
    k = check_real("frequency", frequency, nonnegative=True)
    _check_features(a, b)
    half = check_real("window", window, positive=True)
    m = check_int("points", points, minimum=2)
    x = torch.linspace(-half, half, m, dtype=_DTYPE)
    design = torch.sinc(a.to(_DTYPE) * x[:, None] - b.to(_DTYPE))
    target = wave_packet(x, k)
    coef = torch.linalg.lstsq(design, target[:, None], driver="gelsd").solution[:, 0]
    error_sq = float((design @ coef - target).square().sum() / target.square().sum())
    top = math.pi * float(a.abs().max())
    return BandlimitedFit(coef, error_sq, _spectrum_energy_above(top, k) / _spectrum_energy(k))


@dataclass(frozen=True)
class ErrorCurve:
    r"""Relative error of ridge random-feature fits against the weight bound :math:`\lambda`.

    Attributes:
        bandwidths: The `B`-dim tensor of weight bounds :math:`\lambda`.
        errors: A `S x B` tensor of relative :math:`L^2` errors on the window, one row per seed.
    """

    bandwidths: Tensor
    errors: Tensor

    @property
    def mean(self) -> Tensor:
        """`B`-dim mean error over seeds."""
        return self.errors.mean(0)

    @property
    def standard_error(self) -> Tensor:
        """`B`-dim standard error of the mean over seeds."""
        return self.errors.std(0) / math.sqrt(self.errors.shape[0])


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


def random_feature_error_curve(
    frequency: float,
    bandwidths: Sequence[float],
    *,
    activation: str | Callable[[Tensor], Tensor] = "tanh",
    num_features: int = 200,
    num_seeds: int = 10,
    ridge: float = 1e-6,
    window: float = 6.0,
    points: int = 801,
    seed: int | None = None,
    progress: bool = False,
) -> ErrorCurve:
    r"""Qualitative error-vs-bandwidth curve for general activations (docs/derivations.md, §2).

    For each seed, hidden parameters are drawn once at unit scale, :math:`a^0_j \sim U[-1, 1]`,
    :math:`t_j \sim U[-w, w]`, and scaled to :math:`a_j = \lambda a^0_j`, :math:`b_j = a_j t_j`
    (the same draw, rescaled). Output weights are fitted by ridge regression
    :math:`\min_c \|\Phi c - f\|^2/M + \text{ridge}\,\|c\|^2` on `points` equispaced points of
    :math:`[-w, w]`; the error is measured on the same grid. The ridge penalty is what makes the
    experiment meaningful on a window: with unbounded coefficients any :math:`\lambda > 0` is
    dense in :math:`C[-w, w]` (docs/derivations.md, §2).

    Args:
        frequency: :math:`K` of the target :func:`wave_packet`.
        bandwidths: The weight bounds :math:`\lambda`, each > 0.
        activation: ``"tanh"``, ``"relu"`` or an elementwise callable.
        num_features: :math:`N`.
        num_seeds: Independent feature draws per bandwidth.
        ridge: Tikhonov penalty (> 0).
        window: Half-width :math:`w` of the fitting window.
        points: Grid points on the window.
        seed: Seed of the draws.
        progress: Show a progress bar over seeds.

    Returns:
        The curve (errors are relative :math:`L^2` errors on the window).
    """
    from tqdm.auto import tqdm

    k = check_real("frequency", frequency, nonnegative=True)
    if isinstance(bandwidths, Tensor):
        bandwidths = bandwidths.reshape(-1).tolist() if bandwidths.dim() <= 1 else bandwidths
    if isinstance(bandwidths, str | bytes) or not isinstance(bandwidths, Sequence) or not bandwidths:
        raise InputDataError("bandwidths", "a non-empty sequence of numbers > 0", repr(bandwidths))
    lams = torch.tensor([check_real("bandwidths", v, positive=True) for v in bandwidths], dtype=_DTYPE)
    if isinstance(activation, str):
        act = _ACTIVATIONS[
            check_name("activation", activation, _ACTIVATIONS, meaning="an activation name or a callable")
        ]
    elif callable(activation):
        act = activation
    else:
        raise InputDataError("activation", "a name or a callable", type(activation).__name__)
    n = check_int("num_features", num_features, minimum=1)
    s = check_int("num_seeds", num_seeds, minimum=2)
    lam_ridge = check_real("ridge", ridge, positive=True)
    half = check_real("window", window, positive=True)
    m = check_int("points", points, minimum=2)
    gen = make_generator(seed)
    x = torch.linspace(-half, half, m, dtype=_DTYPE)
    f = wave_packet(x, k)
    errors = torch.empty(s, len(lams), dtype=_DTYPE)
    eye = torch.eye(n, dtype=_DTYPE)
    for i in tqdm(range(s), disable=not progress, desc="error curve"):
        a0 = 2.0 * torch.rand(n, generator=gen, dtype=_DTYPE) - 1.0
        t = half * (2.0 * torch.rand(n, generator=gen, dtype=_DTYPE) - 1.0)
        for j, lam in enumerate(lams):
            phi = act(lam * a0 * (x[:, None] - t))
            coef = torch.linalg.solve(phi.T @ phi / m + lam_ridge * eye, phi.T @ f / m)
            errors[i, j] = (phi @ coef - f).norm() / f.norm()
    return ErrorCurve(lams, errors)
