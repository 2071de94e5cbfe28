"""Claim ``pdlt.relu_kurtosis``: the exact finite-width fourth-moment law of ReLU networks.

Roberts, Yaida & Hanin, The Principles of Deep Learning Theory (Cambridge University Press 2022;
arXiv 2106.10165), ch. 5: finite-width networks are non-Gaussian at order depth/width; for
critical bias-free ReLU nets the normalised fourth moment of a pre-activation is exactly
3 prod_k (1 + 5/n_k) (:func:`probtheory.networks.relu_fourth_moment_ratio`). Derivation (ours):
given layer k-1, z^{(k)} ~ N(0, G_{k-1}) with G_k = (2/n_k) ||relu(z^{(k)})||^2, so the ratios
G_k/G_{k-1} are independent with mean 1 and variance 5/n_k (for xi = Z^2 Bernoulli(1/2),
E xi = 1/2 and E xi^2 = 3/2); hence E[z^4]/E[z^2]^2 = 3 prod_k (1 + 5/n_k), whose leading order
is the book's vertex 5(l - 1)/n. Checked against an exact simulation of the layer-variance chain
(z^{(k)} | G_{k-1} ~ N(0, G_{k-1} I)), with a delta-method standard error and z = 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from probtheory.networks import relu_fourth_moment_ratio
from proofs_checks.catalog.bibliography import ROBERTS_YAIDA_HANIN_2022
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import identity_line, label_axes
from proofs_checks.regimes import Regimes
from proofs_checks.statistics import Z, second_moment_ratio
from proofs_checks.strategies import seeds

CHAINS = 100_000
# Widths >= 8 and depth <= 4 keep the excess kurtosis <= ~7, where the sample fourth moments
# behind the delta-method standard error are themselves reliable at 1e5 chains.


@dataclass(frozen=True)
class Instance:
    hidden_widths: tuple[int, ...]
    seed: int


MAX_DEPTH = 4


def _widths(min_size: int = 1, max_size: int = MAX_DEPTH) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(8, 64), min_size=min_size, max_size=max_size).map(tuple)


def _strategy():
    return st.builds(Instance, _widths(), seeds())


# the law is a product over the hidden layers: one layer (a single factor) up to MAX_DEPTH
REGIMES = Regimes(
    of=lambda inst: {"hidden layers": str(len(inst.hidden_widths))},
    cases={"hidden layers": {str(k): {"hidden_widths": _widths(k, k)} for k in range(1, MAX_DEPTH + 1)}},
)


def simulate_variance_chain(hidden_widths, chains: int, seed: int) -> np.ndarray:
    """Samples of G_L, the conditional variance of the output given the last hidden layer."""
    rng = np.random.default_rng(seed)
    g = np.ones(chains)  # G_0 = K^{(1)}; the ratio is scale-free
    for n in hidden_widths:
        z = rng.standard_normal((chains, n)) * np.sqrt(g)[:, None]
        g = 2.0 / n * (np.maximum(z, 0.0) ** 2).sum(1)
    return g


def _check(inst: Instance, law) -> Evidence:
    g = simulate_variance_chain(inst.hidden_widths, CHAINS, inst.seed)
    # z | G ~ N(0, G): E z^4 = 3 E[G^2] and E z^2 = E[G] (Rao-Blackwellised: no z draws needed)
    ratio, se = second_moment_ratio(g)
    predicted = law(list(inst.hidden_widths))
    return Evidence.within(
        f"E[z^4]/E[z^2]^2 ({CHAINS} exact chains)", 3 * ratio, predicted,
        Z * 3 * se, f"z = {Z:g} delta-method standard errors", widths=list(inst.hidden_widths),
        predicted=predicted,
    )  # fmt: skip


def plot(records, ax) -> None:
    """Simulated fourth-moment ratio (+- 5 SE) against the exact law, by depth; 3 is the Gaussian."""
    by_depth: dict[int, list] = {}
    for inst, evidence in records:
        by_depth.setdefault(len(inst.hidden_widths), []).append(evidence[0])
    for depth, evidence in sorted(by_depth.items()):
        ax.errorbar([e.details["predicted"] for e in evidence], [e.measured for e in evidence],
                    yerr=[e.tolerance for e in evidence], fmt="o", ms=4, capsize=2,
                    label=f"{depth} hidden layer{'s' if depth > 1 else ''}")  # fmt: skip
    values = [e.details["predicted"] for evidence in by_depth.values() for e in evidence]
    identity_line(ax, [3.0, *values], label="exact law 3 prod (1 + 5/n_k)")
    ax.axhline(3.0, color="0.5", lw=0.8, label="infinite width (Gaussian): 3")
    label_axes(ax, "exact law 3 prod_k (1 + 5/n_k)", f"simulated E[z^4]/E[z^2]^2 ({CHAINS} chains)")


RELU_KURTOSIS_CLAIM = Claim(
    id="pdlt.relu_kurtosis",
    title="Exact finite-width fourth moment of critical ReLU networks",
    paper=ROBERTS_YAIDA_HANIN_2022,
    section="ch. 5",
    statement=(
        "For a bias-free ReLU network with C_W = 2 and hidden widths n_1..n_L, the output's "
        "normalised fourth moment is exactly 3 prod (1 + 5/n_k): Gaussian only as n -> infinity."
    ),
    formula=r"\frac{\mathbb{E}[z^4]}{\mathbb{E}[z^2]^2} = 3 \prod_k \Big(1 + \frac{5}{n_k}\Big)",
    strategy=_strategy,
    check=_check,
    subject=relu_fourth_moment_ratio,
    mutants=(
        Mutant(
            "gaussian-gating",
            "forgetting the ReLU gating (Gaussian fourth moments): 3 prod (1 + 2/n_k)",
            lambda widths: 3.0 * float(np.prod([1 + 2 / n for n in widths])),
        ),
        Mutant("infinite-width", "the infinite-width (Gaussian) value 3", lambda widths: 3.0),
    ),
    examples={"ci": 5, "thorough": 50},
    mutant_examples=5,
    regimes=REGIMES,
    plot=plot,
)
