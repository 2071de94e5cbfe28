"""Scaling laws: the formulas, the implicit loss curve, recovery of constants, errors."""

from __future__ import annotations

import numpy as np
import pytest

from probtheory.errors import InputDataError
from probtheory.training import ScalingLaw, fit_scaling_law
from probtheory.training.scaling_laws import RunLog

LAW = ScalingLaw(n_c=1e4, alpha_n=0.3, s_c=50.0, alpha_s=0.6, b_star=20.0, alpha_b=0.4)


def test_closed_forms_at_a_hand_computed_point():
    assert LAW.converged_loss(1e3) == pytest.approx(10**0.3)
    assert LAW.critical_batch_size(2.0) == pytest.approx(20.0 / 2**2.5)
    b_crit = 20.0 / 2**2.5
    assert LAW.min_steps(100.0, 8.0, 2.0) == pytest.approx(100.0 / (1 + b_crit / 8))
    assert LAW.min_examples(800.0, 8.0, 2.0) == pytest.approx(800.0 / (1 + 8 / b_crit))


def test_loss_curve_decreases_towards_the_converged_loss_and_prefers_large_batches():
    steps = np.geomspace(10, 1e7, 30)
    curve = LAW.loss(1e3, steps, 16.0)
    assert np.all(np.diff(curve) < 0)
    assert curve[-1] == pytest.approx(float(LAW.converged_loss(1e3)), rel=1e-3)
    # the same number of steps with a larger batch never does worse
    assert np.all(LAW.loss(1e3, steps, 256.0) <= curve)


def test_noise_free_runs_give_the_constants_back():
    runs = [LAW.simulate(n, b, [50, 100, 200, 400, 800, 1600]) for n in (3e2, 3e3) for b in (2, 32)]
    fitted = fit_scaling_law(runs)
    for name in ("n_c", "alpha_n", "s_c", "alpha_s", "b_star", "alpha_b"):
        assert getattr(fitted, name) == pytest.approx(getattr(LAW, name), rel=1e-6), name


def test_noisy_runs_give_the_constants_back_approximately():
    runs = [
        LAW.simulate(n, b, np.geomspace(50, 5000, 12), noise=0.01, seed=i)
        for i, (n, b) in enumerate((n, b) for n in (3e2, 3e3) for b in (2, 32))
    ]
    fitted = fit_scaling_law(runs)
    assert fitted.alpha_n == pytest.approx(LAW.alpha_n, rel=0.1)
    predicted = fitted.loss(1e4, 1000.0, 8.0)
    assert predicted == pytest.approx(float(LAW.loss(1e4, 1000.0, 8.0)), rel=0.03)


def test_bad_input_raises():
    with pytest.raises(InputDataError, match="alpha_n"):
        ScalingLaw(1.0, -0.1, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(InputDataError, match="steps"):
        RunLog(10.0, 4.0, (3.0, 2.0), (1.0, 0.9))
    with pytest.raises(InputDataError, match="losses"):
        RunLog(10.0, 4.0, (1.0, 2.0), (1.0,))
    with pytest.raises(InputDataError, match="losses"):
        RunLog(10.0, 4.0, (1.0, 2.0), (1.0, -0.5))
    with pytest.raises(InputDataError, match="params"):
        RunLog(0.0, 4.0, (1.0,), (1.0,))
    with pytest.raises(InputDataError, match="runs"):
        fit_scaling_law([LAW.simulate(1e3, 8, [10, 20, 40])])
    with pytest.raises(InputDataError, match=r"runs\[0\]"):
        fit_scaling_law(["run"])
