"""Low-load theory of dense Hebbian networks: self-consistency, limits, phase diagram, bad input."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import optimize, stats

from probtheory.energy.hebbian_theory import (
    dataset_entropy,
    erf_overlap,
    phase_diagram,
    plot_phase_diagram,
    solve_mean_field,
    zero_temperature_overlaps,
)
from probtheory.errors import InputDataError, UnsupportedError


def _dense_memory_overlap(beta: float, P: int) -> float:
    """Largest root of m = tanh(beta P/2 m^(P-1)), solved independently (bracketed scan + brentq)."""
    grid = np.linspace(1e-6, 1.0, 200001)
    h = np.tanh(beta * P / 2 * grid ** (P - 1)) - grid
    positive = np.flatnonzero(h > 0)
    if not positive.size:
        return 0.0
    last = positive[-1]
    return optimize.brentq(
        lambda m: math.tanh(beta * P / 2 * m ** (P - 1)) - m, grid[last], grid[last + 1], xtol=1e-15
    )


@pytest.mark.parametrize(("beta", "P"), [(1.5, 4), (3.0, 4), (2.0, 6), (1.3, 2), (0.8, 2)])
def test_quality_one_is_the_dense_associative_memory(beta, P):
    expected = _dense_memory_overlap(beta, P)
    for M in (1, 4, 17):
        sol = solve_mean_field(1.0, M, beta, P)
        assert sol.mattis == pytest.approx(expected, abs=1e-10)
        assert sol.example == pytest.approx(expected, abs=1e-10)
    assert solve_mean_field(0.5, math.inf, beta, P).mattis == pytest.approx(expected, abs=1e-10)


def test_big_data_limit_approaches_the_dense_memory():
    beta, P, r = 2.0, 4, 0.5
    limit = _dense_memory_overlap(beta, P)
    gaps = [abs(solve_mean_field(r, M, beta, P).mattis - limit) for M in (51, 501, 5001)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] <= 10 * dataset_entropy(r, 5001)  # the correction is O(rho)


def test_solution_satisfies_the_self_consistency_equations():
    # independent evaluation of n = E[eta tanh(beta P/2 n^(P-1) eta)], m = E[tanh(.)]
    r, M, beta, P = 0.4, 11, 3.0, 4
    sol = solve_mean_field(r, M, beta, P)
    k = np.arange(M + 1)
    eta = (2 * k - M) / math.sqrt(M * (1 + (M - 1) * r * r))
    w = stats.binom.pmf(k, M, (1 + r) / 2)
    t = np.tanh(beta * P / 2 * sol.example ** (P - 1) * eta)
    assert sol.example > 0.5
    assert sol.example == pytest.approx(float(w @ (eta * t)), abs=1e-12)
    assert sol.mattis == pytest.approx(float(w @ t), abs=1e-12)


def test_zero_and_infinite_temperature_limits():
    for r, M in ((0.2, 5), (0.5, 9), (0.7, 2)):
        exact = zero_temperature_overlaps(r, M)
        hot = solve_mean_field(r, M, 1e7, 4)
        assert hot.mattis == pytest.approx(exact.mattis, abs=1e-6)
        assert hot.example == pytest.approx(exact.example, abs=1e-6)
        assert solve_mean_field(r, M, math.inf, 4).mattis == exact.mattis
        assert solve_mean_field(r, M, 0.0, 4).mattis == 0.0


def test_pairwise_transition_at_beta_one_and_first_order_for_dense():
    # P = 2, r = 1: Curie-Weiss with H = -(N/2) m^2, continuous transition at beta = 1
    assert solve_mean_field(1.0, 3, 0.99, 2).mattis == 0.0
    assert 0.0 < solve_mean_field(1.0, 3, 1.01, 2).mattis < 0.25
    # P = 4: the retrieval overlap jumps from 0 to a large value (first order)
    ms = [solve_mean_field(0.6, 9, b, 4).mattis for b in np.linspace(1.0, 3.0, 81)]
    jump = next(i for i, m in enumerate(ms) if m > 0)
    assert ms[jump] > 0.5
    # metastable before stable: near the spinodal the retrieval state is not the global minimum
    first = solve_mean_field(0.6, 9, float(np.linspace(1.0, 3.0, 81)[jump]), 4)
    assert not first.is_global_minimum
    assert solve_mean_field(0.6, 9, float(np.linspace(1.0, 3.0, 81)[jump]), 4, branch="global").mattis == 0.0


def test_erf_approximation_and_entropy():
    assert dataset_entropy(0.2, 5) == pytest.approx(4.8)
    for M, expected in [(5, 0.352), (25, 0.693), (125, 0.978)]:
        assert erf_overlap(0.2, M) == pytest.approx(expected, abs=5e-4)
    assert abs(erf_overlap(0.2, 1001) - zero_temperature_overlaps(0.2, 1001).mattis) < 2e-3
    assert dataset_entropy(0.0, 3) == math.inf and erf_overlap(0.0, 3) == 0.0


def test_phase_diagram_sweeps_and_plots():
    rs, Ms = np.linspace(0.1, 0.9, 5), [1, 3, 9, 27]
    diagram = phase_diagram(r=rs, M=Ms, beta=math.inf)
    assert diagram.mattis.shape == (4, 5) and (diagram.x_name, diagram.y_name) == ("r", "M")
    # majority vote of more (odd) examples is better (Condorcet), and better quality is better
    assert (np.diff(diagram.mattis, axis=0) > 0).all() and (np.diff(diagram.mattis, axis=1) > 0).all()
    assert diagram.mattis[0] == pytest.approx(rs)  # M = 1: m = r
    betas = np.linspace(0.5, 3.0, 6)
    diagram = phase_diagram(r=0.6, M=[1, 5, 25], beta=betas, P=4)
    assert diagram.mattis.shape == (6, 3) and (diagram.x_name, diagram.y_name) == ("M", "beta")
    assert (diagram.mattis[0] == 0).all() and (diagram.mattis[-1] > 0.5).all()
    assert isinstance(plot_phase_diagram(diagram), Figure)


def test_bad_inputs():
    with pytest.raises(InputDataError, match="`r`"):
        solve_mean_field(1.2, 3, 1.0)
    with pytest.raises(InputDataError, match="`M`"):
        solve_mean_field(0.5, 0, 1.0)
    with pytest.raises(InputDataError, match="`M`"):
        zero_temperature_overlaps(0.5, 2.5)
    with pytest.raises(UnsupportedError, match="`P`"):
        solve_mean_field(0.5, 3, 1.0, P=5)
    with pytest.raises(InputDataError, match="beta"):
        solve_mean_field(0.5, 3, -1.0)
    with pytest.raises(InputDataError, match="branch"):
        solve_mean_field(0.5, 3, 1.0, branch="stable")
    with pytest.raises(InputDataError, match="r > 0"):
        solve_mean_field(0.0, math.inf, 1.0)
    with pytest.raises(InputDataError, match="two sequences"):
        phase_diagram(r=[0.1, 0.2], M=3, beta=1.0)
    with pytest.raises(InputDataError, match="`M`"):
        phase_diagram(r=[0.1, 0.2], M=[1.5, 3], beta=1.0)
