"""Claims ``hebbian.zero_temperature_overlap`` and ``hebbian.incremental_energy`` (dense Hebbian networks).

Agliari, Albanese, Alemanno, Alessandrelli, Barra, Giannotti, Lotito, Pedreschi, *Dense Hebbian
neural networks: a replica symmetric picture of supervised learning* (Physica A 2023; arXiv
2212.00606). The papers' replica-symmetric equations are not used; the oracles follow from the
model directly (docs/derivations.md, §8):

* at zero temperature and low load the greedy dynamics started at an example ends at
  sigma = sign(eta_hat^1), whose overlaps are the exact binomial m = E sign(2k - M) and
  n = E|eta_hat|, k ~ Bin(M, (1 + r)/2) (our acceptance criterion: r = 0.2, M in {5, 25, 125},
  |m - m_exact| <= 3/sqrt(N));
* the O(K) energy difference of a single flip, computed from the kept overlaps along a chain of
  flips, equals the difference of two explicit P-index sums (float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from probtheory.energy.hebbian import DenseHebbian, HebbianChain
from probtheory.energy.hebbian_theory import zero_temperature_overlaps
from proofs_checks.catalog.bibliography import AGLIARI_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import GUIDE, label_axes
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import seeds

_EPS = float(np.finfo(np.float64).eps)

# ----------------------------------------------------------------- (a) zero-temperature overlaps

#: our acceptance criterion: quality 0.2 and these quantities, all checked on every instance
BAR_QUALITY = 0.2
BAR_QUANTITIES = (5, 25, 125)


@dataclass(frozen=True)
class RetrievalInstance:
    N: int
    K: int
    P: int
    example: int  # which training example of class 1 starts the dynamics (< min(BAR_QUANTITIES))
    seed: int


def _check_zero_temperature(inst: RetrievalInstance, cls) -> list[Evidence]:
    evidence = []
    for M in BAR_QUANTITIES:
        net = cls.synthetic(inst.K, inst.N, BAR_QUALITY, M, P=inst.P, seed=inst.seed + M)
        initial = net.examples[0, inst.example]
        out = net.retrieve(initial, beta=math.inf, sweeps=20, seed=inst.seed, progress=False)
        exact = zero_temperature_overlaps(BAR_QUALITY, M)
        sqrt_n = math.sqrt(inst.N)
        evidence.append(
            Evidence.within(
                f"Mattis overlap m_1 at zero temperature (r = {BAR_QUALITY}, M = {M})",
                out.mattis[0].item(),
                exact.mattis,
                3.0 / sqrt_n,
                "our acceptance criterion 3/sqrt(N): m is a mean of N i.i.d. sign(eta_hat_i), standard "
                f"error sqrt(1 - m^2)/sqrt(N) = {exact.mattis_std / sqrt_n:.3g}, so the bar is >= 3 of them",
                M=M,
                overlap="mattis",
                converged=out.converged,
                sweeps=out.sweeps,
            )  # fmt: skip
        )
        evidence.append(
            Evidence.within(
                f"prototype overlap n_1 = E|eta_hat| at zero temperature (r = {BAR_QUALITY}, M = {M})",
                out.example_overlaps[0].item(),
                exact.example,
                5.0 * exact.example_std / sqrt_n,
                "z = 5 standard errors of a mean of N i.i.d. |eta_hat_i| (exact binomial standard deviation)",
                M=M,
                overlap="example",
            )  # fmt: skip
        )
    return evidence


def plot_zero_temperature(records, ax) -> None:
    """Retrieved overlaps m and n against the number of examples M, with the exact binomial curves."""
    grid = [M for M in range(1, 2 * max(BAR_QUANTITIES), 2) if M <= max(BAR_QUANTITIES)]  # odd M
    exact = [zero_temperature_overlaps(BAR_QUALITY, M) for M in grid]
    for name, attribute, marker in (("archetype m_1", "mattis", "o"), ("prototype n_1", "example", "s")):
        points = [e for _, evidence in records for e in evidence if e.details["overlap"] == attribute]
        bars = ax.errorbar([e.details["M"] for e in points], [e.measured for e in points],
                           yerr=[e.tolerance for e in points], fmt=marker, ms=4, mfc="none", capsize=2,
                           alpha=0.8, label=f"measured {name} (+- tolerance)")  # fmt: skip
        ax.plot(grid, [getattr(e, attribute) for e in exact], label=f"exact {name} (binomial)",
                **{**GUIDE, "color": bars[0].get_color()})  # fmt: skip
    label_axes(ax, f"examples per class M (r = {BAR_QUALITY})", "overlap at zero temperature", xscale="log")


class _NoExampleNormalisation(DenseHebbian):
    """Mutant: couplings from the raw class sums, the example-averaging normalisation dropped."""

    def _normalisation(self, class_sums: torch.Tensor) -> torch.Tensor:
        return torch.ones(self.K, dtype=torch.float64)


class _QualityFactorWithoutEntropy(DenseHebbian):
    """Mutant: prototypes divided by r M (the plain mean), without the sqrt(1 + rho) factor."""

    def _normalisation(self, class_sums: torch.Tensor) -> torch.Tensor:
        return torch.full((self.K,), self.r * self.M, dtype=torch.float64)


class _FlipProbabilityOneMinusR(DenseHebbian):
    """Mutant: examples flip each bit with probability 1 - r instead of (1 - r) / 2."""

    @staticmethod
    def _example_noise(K: int, M: int, N: int, r: float, generator: torch.Generator) -> torch.Tensor:
        keep = torch.rand(K, M, N, generator=generator, dtype=torch.float64) < r
        return keep.to(torch.int8) * 2 - 1


_RETRIEVAL_STRATEGY = lambda: st.builds(  # noqa: E731
    RetrievalInstance,
    st.integers(1000, 2000),
    st.integers(1, 3),
    st.sampled_from([4, 6]),
    st.integers(0, min(BAR_QUANTITIES) - 1),
    st.integers(0, 2**30),
)

ZERO_TEMPERATURE_OVERLAP_CLAIM = Claim(
    id="hebbian.zero_temperature_overlap",
    title="Zero-temperature low-load retrieval overlaps equal the exact binomial formulas",
    paper=AGLIARI_2023,
    statement=(
        "For the supervised dense Hebbian network (P >= 4, K finite) the greedy zero-temperature "
        "dynamics started at an example of class 1 ends at sigma = sign(eta_hat^1); its archetype "
        "overlap is m = E sign(2k - M) = 2 P[k > M/2] - 1 (odd M) and its overlap with the normalised "
        "prototype eta_hat = (2k - M)/sqrt(M(1 + (M-1) r^2)) is n = E|eta_hat|, k ~ Bin(M, (1+r)/2). "
        "Checked at r = 0.2 for M = 5, 25 and 125 on every instance."
    ),
    formula=(
        r"m = 2 \sum_{k > M/2} \binom{M}{k} p^k (1-p)^{M-k} - 1,\quad p = \frac{1+r}{2};\quad n = "
        r"\frac{\mathbb{E}|2k - M|}{\sqrt{M(1+(M-1)r^2)}}"
    ),
    strategy=_RETRIEVAL_STRATEGY,
    check=_check_zero_temperature,
    subject=DenseHebbian,
    mutants=(
        Mutant("no-example-normalisation", "couplings from raw class sums (no 1/c)", _NoExampleNormalisation),
        Mutant(
            "quality-factor-rM",
            "prototypes divided by r M, missing sqrt(1 + rho)",
            _QualityFactorWithoutEntropy,
        ),
        Mutant(
            "flip-probability-1-r",
            "example bits flipped with probability 1 - r",
            _FlipProbabilityOneMinusR,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 25},
    mutant_examples=2,
    plot=plot_zero_temperature,
)

# ------------------------------------------------------------- (b) incremental == brute force


@dataclass(frozen=True)
class FlipInstance:
    N: int
    K: int
    M: int
    P: int
    rule: str
    r: float
    seed: int


def _energy_scale(net: DenseHebbian) -> float:
    """Sum of |terms| of H: bounds |H| and every partial sum of the explicit P-index sum."""
    rows = net._rows.abs() / net._row_norms[:, None]
    return 0.5 * net.N * net._row_weight * float((rows.sum(1) / net.N).pow(net.P).sum())


def _check_incremental(inst: FlipInstance, cls) -> list[Evidence]:
    net = cls.synthetic(inst.K, inst.N, inst.r, inst.M, P=inst.P, rule=inst.rule, seed=inst.seed)
    g = torch.Generator().manual_seed(inst.seed + 1)
    state = torch.randint(0, 2, (inst.N,), generator=g, dtype=torch.int8) * 2 - 1
    couplings = net.coupling_tensor()
    chain = net.chain(state)
    worst_delta, worst_energy = 0.0, 0.0
    for i in torch.randint(0, inst.N, (3 * inst.N,), generator=g).tolist():
        incremental = chain.energy_difference(i)
        brute = net.brute_force_energy_difference(state, i, couplings)
        worst_delta = max(worst_delta, abs(incremental - brute))
        chain.flip(i)
        state = state.clone()
        state[i] = -state[i]
        worst_energy = max(worst_energy, abs(chain.energy() - net.brute_force_energy(state, couplings)))
    # the explicit sum adds N^P terms: rounding <= N^P eps * sum|terms| per energy, two per difference
    tolerance = 2.0 * inst.N**inst.P * _EPS * _energy_scale(net)
    reason = "float64 rounding of the explicit sum of N^P terms: 2 N^P eps sum|terms|"
    return [
        Evidence.at_most(
            "max |incremental dH - brute-force dH| over 3N random flips",
            worst_delta,
            0.0,
            reason,
            tolerance=tolerance,
        ),  # fmt: skip
        Evidence.at_most(
            "max |energy from kept overlaps - explicit P-index sum| along the flips",
            worst_energy,
            0.0,
            reason,
            tolerance=tolerance,
        ),  # fmt: skip
    ]


class _StaleOverlapsChain(HebbianChain):
    """Mutant chain: a flip changes the spin but forgets to update the kept overlaps."""

    def _accept(self, i: int, new_sums: np.ndarray, new_power_sum: float) -> None:
        self._sigma[i] = -self._sigma[i]


class _WrongSignChain(HebbianChain):
    """Mutant chain: the overlap update adds +2 sigma_i eta_i instead of -2 sigma_i eta_i."""

    def _proposal(self, i: int) -> tuple[np.ndarray, float]:
        new_sums = self._sums + (2 * self._sigma[i]) * self._rows_t[i]
        return new_sums, float(((new_sums * self._inv_cn) ** self.model.P).sum())


class _StaleOverlaps(DenseHebbian):
    def chain(self, state: torch.Tensor) -> HebbianChain:  # noqa: D102
        return _StaleOverlapsChain(self, state)


class _WrongSign(DenseHebbian):
    def chain(self, state: torch.Tensor) -> HebbianChain:  # noqa: D102
        return _WrongSignChain(self, state)


_MAX_N = {2: 12, 4: 9, 6: 6}  # the explicit sum has N^P terms


@st.composite
def _flip_instances(draw: st.DrawFn) -> FlipInstance:
    P = draw(st.sampled_from(sorted(_MAX_N)))
    N = draw(st.integers(3, _MAX_N[P]))
    return FlipInstance(
        N=N,
        K=draw(st.integers(1, 3)),
        M=draw(st.integers(1, 4)),
        P=P,
        rule=draw(st.sampled_from(["supervised", "unsupervised"])),
        r=draw(st.floats(0.0, 1.0)),
        seed=draw(seeds()),
    )


INCREMENTAL_ENERGY_CLAIM = Claim(
    id="hebbian.incremental_energy",
    title="O(K) incremental flip energies equal the explicit P-index sums",
    paper=AGLIARI_2023,
    statement=(
        "Keeping the overlaps n_mu and updating them by -2 sigma_i eta_hat^mu_i / N per flip gives "
        "dH = -(N/2) sum_mu [(n_mu + delta_mu)^P - n_mu^P] exactly: along any chain of flips, the "
        "incremental energy differences and energies equal those of the explicit coupling tensor "
        "J_{i1..iP} (supervised and unsupervised rules)."
    ),
    formula=(
        r"H(\sigma) = -\frac{1}{2 N^{P-1}} \sum_{i_1 \dots i_P} J_{i_1 \dots i_P} \sigma_{i_1} "
        r"\cdots \sigma_{i_P} = -\frac{N}{2} \sum_\mu n_\mu^P"
    ),
    strategy=_flip_instances,
    check=_check_incremental,
    subject=DenseHebbian,
    mutants=(
        Mutant("stale-overlaps", "a flip does not update the kept overlaps", _StaleOverlaps),
        Mutant("wrong-sign-update", "overlaps updated with +2 sigma_i eta_i", _WrongSign),
    ),
    examples={"ci": 20, "thorough": 200},
    mutant_examples=4,
    # each interaction order P is its own energy, and the two rules build different prototypes
    regimes=Regimes(
        of=lambda inst: {"P": str(inst.P), "rule": inst.rule},
        cases={
            "P": {str(P): {"P": P, "N": st.integers(3, N)} for P, N in _MAX_N.items()},
            "rule": {rule: {"rule": rule} for rule in ("supervised", "unsupervised")},
        },
    ),
)
