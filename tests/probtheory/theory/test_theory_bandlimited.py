"""Tests of the exact Fourier-domain surrogate for bandlimited random features (docs/derivations.md, §2)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from probtheory.errors import InputDataError
from probtheory.theory.bandlimited import (
    fourier_least_squares,
    out_of_band_fraction,
    random_feature_error_curve,
    sample_sinc_features,
    wave_packet,
    wave_packet_spectrum,
    window_least_squares,
)


@pytest.mark.parametrize(
    ("bandwidth", "expected"),
    [(0.5, 1.0000), (1.0, 1.0000), (1.5, 0.9657), (2.0, 0.3444), (2.5, 0.0044), (3.0, 0.0000)],
)
def test_out_of_band_fraction_reference_values(bandwidth, expected):
    # docs/derivations.md, §2, K = 6, Omega = pi * lambda, 4 decimals. At lambda = 2 the exact value
    # is erfc(2 pi - 6)/2 = 0.344400 (not 0.3445; confirmed by quadrature below).
    assert out_of_band_fraction(6.0, bandwidth) == pytest.approx(expected, abs=6e-5)


@pytest.mark.parametrize(("frequency", "bandwidth"), [(2.0, 0.4), (6.0, 1.8), (9.0, 3.1)])
def test_out_of_band_fraction_matches_quadrature_of_the_spectrum(frequency, bandwidth):
    def energy(w):
        return float(wave_packet_spectrum(torch.tensor(w, dtype=torch.float64), frequency)) ** 2

    cutoff = math.pi * bandwidth
    above = integrate.quad(energy, cutoff, cutoff + 60, limit=400, epsabs=1e-14)[0]
    total = 2 * integrate.quad(energy, 0, frequency + 60, limit=400, epsabs=1e-14)[0]
    assert out_of_band_fraction(frequency, bandwidth) == pytest.approx(2 * above / total, rel=1e-9, abs=1e-13)


def test_single_feature_error_matches_plancherel_in_x_domain():
    # one feature phi(x) = sinc(a x - b): the best c gives ||f||^2 - <f, phi>^2 / ||phi||^2 with
    # ||phi||^2 = 1/|a| (exact); <f, phi> by quadrature in x, where f decays like a Gaussian.
    k, a, b = 3.0, 1.3, 0.4
    fit = fourier_least_squares(
        k, torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    )
    inner = integrate.quad(
        lambda x: float(wave_packet(torch.tensor(x, dtype=torch.float64), k)) * float(np.sinc(a * x - b)),
        -40, 40, limit=500, epsabs=1e-14,
    )[0]  # fmt: skip
    norm_sq = 0.5 * math.sqrt(math.pi) * (1 + math.exp(-k * k))
    assert fit.relative_error_sq == pytest.approx(1 - inner**2 * abs(a) / norm_sq, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_error_is_at_least_the_out_of_band_fraction_and_approaches_it(seed):
    k, lam = 6.0, 1.8
    a, b = sample_sinc_features(400, lam, seed=seed)
    bound = out_of_band_fraction(k, lam)
    full = fourier_least_squares(k, a, b, band_edge=math.pi * lam)
    quarter = fourier_least_squares(k, a[:100], b[:100], band_edge=math.pi * lam)
    assert full.relative_error_sq >= bound - 1e-9
    assert quarter.relative_error_sq >= full.relative_error_sq - 1e-9  # nested least squares
    # excess over the bound of the features' own largest weight (<= lambda): small with 400 features
    assert full.out_of_band >= bound
    assert full.relative_error_sq - full.out_of_band < 0.02
    assert full.relative_error == pytest.approx(math.sqrt(full.relative_error_sq))


def test_window_estimate_falls_below_the_bound_tail_effect():
    # docs/derivations.md, §2, the window trap: the window ignores the 1/x tails and under-reports the error
    k, lam = 6.0, 2.0
    a, b = sample_sinc_features(400, lam, seed=0)
    window = window_least_squares(k, a, b)
    fourier = fourier_least_squares(k, a, b)
    assert fourier.relative_error_sq >= out_of_band_fraction(k, lam) - 1e-9
    assert window.relative_error_sq < out_of_band_fraction(k, lam) - 0.05
    assert fourier.relative_error_sq > window.relative_error_sq


def test_features_outside_the_band_beat_the_bound():
    k, lam = 6.0, 1.5
    a, b = sample_sinc_features(300, 3 * lam, seed=0)
    assert fourier_least_squares(k, a, b).relative_error_sq < out_of_band_fraction(k, lam) - 0.5


def test_sampled_features_respect_the_box_and_seed():
    a, b = sample_sinc_features(500, 0.7, center_range=4.0, seed=3)
    a2, _ = sample_sinc_features(500, 0.7, center_range=4.0, seed=3)
    assert torch.equal(a, a2)
    assert a.abs().max() <= 0.7 and (b / a).abs().max() <= 4.0 + 1e-12


def test_error_curve_tanh_drops_with_bandwidth():
    curve = random_feature_error_curve(
        4.0, [0.2, 3.0], activation="tanh", num_features=60, num_seeds=3, seed=0
    )
    assert curve.errors.shape == (3, 2)
    assert curve.mean[0] > 0.95 and curve.mean[1] < 0.2
    assert torch.all(curve.standard_error >= 0)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: out_of_band_fraction(6.0, -1.0), "bandwidth"),
        (lambda: out_of_band_fraction(float("nan"), 1.0), "frequency"),
        (lambda: sample_sinc_features(0, 1.0), "num_features"),
        (lambda: sample_sinc_features(10, 0.0), "bandwidth"),
        (lambda: fourier_least_squares(6.0, torch.tensor([0.0, 1.0]), torch.zeros(2)), "a"),
        (lambda: fourier_least_squares(6.0, torch.ones(3), torch.zeros(2)), "b"),
        (lambda: window_least_squares(6.0, torch.ones(2), torch.zeros(2), window=-1.0), "window"),
        (lambda: random_feature_error_curve(6.0, [1.0], activation="swish"), "activation"),
        (lambda: random_feature_error_curve(6.0, []), "bandwidths"),
        (lambda: random_feature_error_curve(6.0, [1.0], num_seeds=1), "num_seeds"),
    ],
)
def test_bad_arguments_are_named(call, argument):
    with pytest.raises(InputDataError, match=f"`{argument}`"):
        call()
