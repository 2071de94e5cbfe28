"""Dense Hebbian networks: retrieval overlaps, incremental energies, dynamics, bad input."""

import math
import textwrap

import pytest
import torch

import probtheory.energy.hebbian as hebbian_module
from probtheory.energy.hebbian import DenseHebbian
from probtheory.energy.hebbian_theory import solve_mean_field, zero_temperature_overlaps
from probtheory.errors import InputDataError, UnsupportedError

# ------------------------------------------------- low-load formulas (docs/derivations.md, §8)


@pytest.mark.parametrize("M", [5, 25, 125])
def test_zero_temperature_overlap_matches_binomial_formula(M):
    # docs/derivations.md, §8 (zero temperature): N = 2000, K = 3, P = 4, r = 0.2. The measured m
    # is a mean of N i.i.d. sign(eta_hat_i): standard error sqrt(1 - m^2)/sqrt(N) <= 1/sqrt(N),
    # so 3/sqrt(N) is >= 3 SE.
    N = 2000
    net = DenseHebbian.synthetic(3, N, 0.2, M, P=4, seed=M)
    out = net.retrieve(net.examples[0, 1], beta=math.inf, sweeps=20, seed=0, progress=False)
    exact = zero_temperature_overlaps(0.2, M)
    assert out.converged
    assert abs(out.mattis[0].item() - exact.mattis) <= 3 / math.sqrt(N)
    # the prototype overlap n = E|eta_hat|: z = 5 standard errors of the exact site spread
    assert abs(out.example_overlaps[0].item() - exact.example) <= 5 * exact.example_std / math.sqrt(N)
    # greedy dynamics from an example ends at sign(eta_hat^1) (a strict fixed point: odd M)
    assert torch.equal(out.state, net.prototypes[0].sign().to(torch.int8))
    assert (net.energy_differences(out.state) > 0).all()


def test_binomial_formula_reference_values():
    # docs/derivations.md, §8 (computed independently there): exact 0.365, 0.692, 0.976
    for M, expected in [(5, 0.365), (25, 0.692), (125, 0.976)]:
        p = 0.6
        direct = 2 * sum(math.comb(M, k) * p**k * (1 - p) ** (M - k) for k in range(M // 2 + 1, M + 1)) - 1
        assert zero_temperature_overlaps(0.2, M).mattis == pytest.approx(direct, abs=1e-12)
        assert direct == pytest.approx(expected, abs=5e-4)


def test_even_quantity_ties_count_zero():
    # M = 2: sum chi = 0 with probability 2 p (1 - p); m = p^2 - (1 - p)^2 = r
    assert zero_temperature_overlaps(0.3, 2).mattis == pytest.approx(0.3, abs=1e-14)


# ----------------------------------------------------------------- incremental == brute force


CASES = [
    ("supervised", 2, 10),
    ("supervised", 4, 8),
    ("supervised", 6, 5),
    ("unsupervised", 4, 7),
    ("unsupervised", 2, 9),
]


@pytest.mark.parametrize(("rule", "P", "N"), CASES)
def test_incremental_energy_differences_equal_brute_force(rule, P, N):
    net = DenseHebbian.synthetic(3, N, 0.4, 3, P=P, rule=rule, seed=11)
    couplings = net.coupling_tensor()
    g = torch.Generator().manual_seed(5)
    state = torch.randint(0, 2, (N,), generator=g, dtype=torch.int8) * 2 - 1
    chain = net.chain(state)
    tol = 1e-12 * max(1.0, abs(net.brute_force_energy(state, couplings)))
    brute = torch.tensor(
        [net.brute_force_energy_difference(state, i, couplings) for i in range(N)], dtype=torch.float64
    )
    assert (net.energy_differences(state) - brute).abs().max().item() <= tol
    assert brute.abs().max() > 1e-3  # a real comparison, not 0 == 0
    for i in torch.randint(0, N, (4 * N,), generator=g).tolist():
        assert chain.energy_difference(i) == pytest.approx(
            net.brute_force_energy_difference(state, i, couplings), abs=tol
        )
        chain.flip(i)
        state[i] = -state[i]
        assert torch.equal(chain.state, state)
        assert chain.energy() == pytest.approx(net.brute_force_energy(state, couplings), abs=tol)
        assert net.energy(state) == pytest.approx(chain.energy(), abs=tol)


def test_energy_symmetries_and_order_parameter_form():
    net = DenseHebbian.synthetic(2, 300, 0.5, 7, P=4, seed=1)
    state = net.examples[1, 0]
    n = net.example_overlaps(state)
    assert net.energy(state) == pytest.approx(-0.5 * 300 * float((n**4).sum()), rel=1e-13)
    assert net.energy(-state) == pytest.approx(net.energy(state), rel=1e-13)  # P even
    # E[eta_hat^2] = 1 by the normalisation sqrt(M (1 + (M-1) r^2))
    assert net.prototypes.square().mean().item() == pytest.approx(1.0, abs=5 * math.sqrt(2 / 600))


def test_r_one_prototypes_are_the_archetypes():
    net = DenseHebbian.synthetic(3, 50, 1.0, 4, P=4, seed=2)
    assert torch.equal(net.prototypes, net.archetypes.to(torch.float64))


# ----------------------------------------------------------------------------- Monte Carlo


def test_monte_carlo_reproducible_with_seed():
    net = DenseHebbian.synthetic(2, 400, 0.5, 5, P=4, seed=0)
    start = net.examples[0, 0]
    a = net.retrieve(start, beta=2.0, sweeps=3, seed=7, progress=False)
    b = net.retrieve(start, beta=2.0, sweeps=3, seed=7, progress=False)
    c = net.retrieve(start, beta=2.0, sweeps=3, seed=8, progress=False)
    assert torch.equal(a.state, b.state) and a.energy == b.energy and a.flips == b.flips
    assert not torch.equal(a.state, c.state)
    assert DenseHebbian.synthetic(2, 50, 0.3, 3, seed=4).examples.equal(
        DenseHebbian.synthetic(2, 50, 0.3, 3, seed=4).examples
    )


def test_monte_carlo_matches_mean_field_at_finite_temperature():
    # docs/derivations.md, §8 (finite temperature): low load, mean field exact. One snapshot's m is
    # a mean of N spins sigma_i xi_i in [-1, 1] with mean m: its spread (disorder and thermal
    # together) is at most sqrt(1 - m^2)/sqrt(N), and averaging over sweeps only shrinks the
    # thermal part: z = 5.
    N, beta = 2000, 3.0
    theory = solve_mean_field(0.5, 9, beta, 4)
    net = DenseHebbian.synthetic(2, N, 0.5, 9, P=4, seed=3)
    state = net.retrieve(net.examples[0, 0], beta=beta, sweeps=10, seed=1, progress=False).state
    ms, ns = [], []
    for sweep in range(15):
        out = net.retrieve(state, beta=beta, sweeps=1, seed=100 + sweep, progress=False)
        state = out.state
        ms.append(out.mattis[0].item())
        ns.append(out.example_overlaps[0].item())
    assert sum(ms) / len(ms) == pytest.approx(theory.mattis, abs=5 * math.sqrt((1 - theory.mattis**2) / N))
    assert sum(ns) / len(ns) == pytest.approx(theory.example, abs=5 * math.sqrt((1 - theory.example**2) / N))


def test_infinite_temperature_forgets_the_pattern():
    # beta = 0: every spin is a fair coin after one sweep; |m| <= 5/sqrt(N) (z = 5)
    net = DenseHebbian.synthetic(1, 3000, 1.0, 1, P=4, seed=0)
    out = net.retrieve(net.archetypes[0], beta=0.0, sweeps=2, seed=3, progress=False)
    assert abs(out.mattis[0].item()) <= 5 / math.sqrt(3000)
    assert not out.converged


def test_retrieval_from_noisy_archetype_at_high_quality():
    net = DenseHebbian.synthetic(4, 500, 0.8, 9, P=4, rule="unsupervised", seed=9)
    g = torch.Generator().manual_seed(0)
    noisy = torch.where(torch.rand(500, generator=g) < 0.2, -net.archetypes[2], net.archetypes[2])
    out = net.retrieve(noisy, sweeps=10, seed=0, progress=False)
    assert out.mattis.argmax().item() == 2 and out.mattis[2] > out.mattis.abs()[[0, 1, 3]].max() + 0.5


def test_digits_docstring_example_runs(capsys):
    # the module docstring's example: extract the indented block after "::" and run it
    lines = hebbian_module.__doc__.split("::\n", 1)[1].splitlines()
    block = []
    for line in lines:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    exec(textwrap.dedent("\n".join(block)), {})  # noqa: S102 - our own docstring
    assert capsys.readouterr().out.split() == ["3", "True"]


# ------------------------------------------------------------------------------- bad input


def test_bad_inputs():
    good = DenseHebbian.synthetic(2, 6, 0.5, 3, seed=0).examples
    with pytest.raises(InputDataError, match="examples.*-1, \\+1"):
        DenseHebbian((good > 0).to(torch.int8))  # 0/1 patterns
    with pytest.raises(InputDataError, match="examples.*-1, \\+1"):
        DenseHebbian(good.to(torch.float64) * 0.5)
    with pytest.raises(InputDataError, match="examples.*shape"):
        DenseHebbian(good[0])
    with pytest.raises(InputDataError, match="examples"):
        DenseHebbian(good.tolist())
    with pytest.raises(InputDataError, match="`r`.*\\[0, 1\\]"):
        DenseHebbian.synthetic(2, 6, 1.5, 3)
    with pytest.raises(InputDataError, match="`r`"):
        DenseHebbian(good, r=-0.1)
    with pytest.raises(InputDataError, match="`M`.*>= 1"):
        DenseHebbian.synthetic(2, 6, 0.5, 0)
    with pytest.raises(UnsupportedError, match="`P`.*even"):
        DenseHebbian(good, P=3)
    with pytest.raises(InputDataError, match="`P`.*>= 2"):
        DenseHebbian(good, P=0)
    with pytest.raises(InputDataError, match="`K`"):
        DenseHebbian.synthetic(0, 6, 0.5, 3)
    with pytest.raises(InputDataError, match="`N`"):
        DenseHebbian.synthetic(2, 2.5, 0.5, 3)
    with pytest.raises(InputDataError, match="`rule`"):
        DenseHebbian(good, rule="hebb")
    with pytest.raises(InputDataError, match="archetypes.*shape"):
        DenseHebbian(good, archetypes=torch.ones(3, 6, dtype=torch.int8))
    net = DenseHebbian(good)
    with pytest.raises(InputDataError, match="state.*shape"):
        net.retrieve(torch.ones(5, dtype=torch.int8), progress=False)
    with pytest.raises(InputDataError, match="beta"):
        net.retrieve(good[0, 0], beta=-1.0, progress=False)
    with pytest.raises(InputDataError, match="sweeps"):
        net.retrieve(good[0, 0], sweeps=0, progress=False)
    with pytest.raises(InputDataError, match="archetypes"):
        net.mattis(good[0, 0])
    with pytest.raises(InputDataError, match="`i`"):
        net.brute_force_energy_difference(good[0, 0], 6)
    with pytest.raises(UnsupportedError, match="N\\*\\*P"):
        DenseHebbian.synthetic(1, 100, 0.5, 1, P=4, seed=0).coupling_tensor()


@pytest.mark.slow
@pytest.mark.parametrize(("beta", "r", "M", "P"), [(2.5, 0.5, 9, 4), (5.0, 0.3, 25, 4), (3.0, 0.6, 5, 6)])
def test_monte_carlo_matches_mean_field_grid(beta, r, M, P):
    # as above (z = 5 on the snapshot spread sqrt(1 - m^2)/sqrt(N)), started at the prototype sign
    N = 4000
    theory = solve_mean_field(r, M, beta, P)
    assert theory.mattis > 0.3
    net = DenseHebbian.synthetic(2, N, r, M, P=P, seed=M)
    start = net.prototypes[0].sign().to(torch.int8)
    state = net.retrieve(start, beta=beta, sweeps=10, seed=1, progress=False).state
    ms = []
    for sweep in range(10):
        state = net.retrieve(state, beta=beta, sweeps=1, seed=50 + sweep, progress=False).state
        ms.append(net.mattis(state)[0].item())
    assert sum(ms) / len(ms) == pytest.approx(theory.mattis, abs=5 * math.sqrt((1 - theory.mattis**2) / N))
