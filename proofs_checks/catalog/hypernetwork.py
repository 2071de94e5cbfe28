"""Claim ``mip.magnitude_invariance`` (magnitude invariant parametrizations of hypernetworks).

Ortiz, Guttag & Dalca, *Magnitude Invariant Parametrizations Improve Hypernetwork Learning*
(ICLR 2024): with the constant-norm encoding E(gamma) = [cos(pi gamma / 2), sin(pi gamma / 2)]
and a bias-free (at initialisation), Kaiming-normal LeakyReLU backbone H, the distribution over
initialisations of the generated weights H(E(gamma)) does not depend on gamma -- the first
layer's Gaussian matrix is rotation invariant and E(gamma) has the same norm for every gamma.
With the raw input (the conventional parametrization) H is positively homogeneous, so the
magnitude of the generated weights scales with |gamma|.

Checked by Monte Carlo over initialisations: for two conditioning inputs gamma_1, gamma_2 the
paired differences ||H(E(gamma_1))||^2 - ||H(E(gamma_2))||^2 over the same R initialisations
have mean 0, tested against 4 standard errors of their mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
from hypothesis import strategies as st
from torch import nn

from probtheory.layers import HyperNetwork
from proofs_checks.catalog.bibliography import MIP_HYPERNETWORKS
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import instance_label, label_axes
from proofs_checks.strategies import seeds

_INITS = 200


@dataclass(frozen=True)
class MIPInstance:
    input_dim: int
    hidden: tuple[int, ...]
    gamma_low: tuple[float, ...]
    gamma_high: tuple[float, ...]
    seed: int


@st.composite
def _instances(draw) -> MIPInstance:
    h = draw(st.integers(1, 2))
    hidden = tuple(draw(st.lists(st.integers(8, 32), min_size=1, max_size=2)))
    # one input near 0 and one near 1, where the raw-input magnitudes differ most
    low = tuple(draw(st.lists(st.floats(0.0, 0.3), min_size=h, max_size=h)))
    high = tuple(draw(st.lists(st.floats(0.7, 1.0), min_size=h, max_size=h)))
    return MIPInstance(h, hidden, low, high, draw(seeds()))


def _check(inst: MIPInstance, make) -> Evidence:
    torch.manual_seed(inst.seed)
    primary = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    low, high = torch.tensor(inst.gamma_low), torch.tensor(inst.gamma_high)
    differences, norms = [], {"low": [], "high": []}
    with torch.no_grad():
        for r in range(_INITS):
            hyper = make(primary, inst.input_dim, inst.hidden, residual=False, seed=inst.seed * _INITS + r)
            a = hyper.flat_parameters(low).square().sum()
            b = hyper.flat_parameters(high).square().sum()
            differences.append(float(a - b))
            norms["low"].append(float(a))
            norms["high"].append(float(b))
    d = torch.tensor(differences, dtype=torch.float64)
    se = d.std().item() / math.sqrt(_INITS)
    return Evidence.within(
        "mean over initialisations of ||H(E(gamma_1))||^2 - ||H(E(gamma_2))||^2",
        d.mean().item(), 0.0, 4 * se,
        f"4 standard errors of a mean of {_INITS} paired differences",
        gamma_1=inst.gamma_low, gamma_2=inst.gamma_high, standard_error=se, squared_norms=norms,
    )  # fmt: skip


def plot(records, ax) -> None:
    """Distribution over initialisations of ||H(E(gamma))||^2 at the two inputs: the same law (ECDFs)."""
    for i, (inst, evidence) in enumerate(records):
        norms = evidence[0].details["squared_norms"]
        scale = sum(norms["low"] + norms["high"]) / (2 * _INITS)  # instances differ in size: pooled mean 1
        gammas = ", ".join(f"{g:.2f}" for g in inst.gamma_low), ", ".join(f"{g:.2f}" for g in inst.gamma_high)
        line = ax.ecdf([v / scale for v in norms["low"]], lw=1.2,
                       label=instance_label(i, f"gamma = ({gammas[0]}) / ({gammas[1]})"))  # fmt: skip
        ax.ecdf([v / scale for v in norms["high"]], lw=1.2, ls="--", color=line.get_color())
    ax.plot([], [], "k-", lw=1.2, label="gamma_1 (near 0)")
    ax.plot([], [], "k--", lw=1.2, label="gamma_2 (near 1)")
    label_axes(ax, f"||H(E(gamma))||^2 / its mean, {_INITS} initialisations", "empirical CDF", xscale="log")


MAGNITUDE_INVARIANCE_CLAIM = Claim(
    id="mip.magnitude_invariance",
    title="MIP hypernetworks generate weights whose magnitude does not depend on the input",
    paper=MIP_HYPERNETWORKS,
    statement=(
        "With the encoding E(gamma) = [cos(pi gamma/2), sin(pi gamma/2)] (constant norm) and a "
        "bias-free Kaiming-normal LeakyReLU backbone, the distribution over initialisations of "
        "the generated weights is the same for every conditioning input gamma."
    ),
    formula=(
        r"\mathbb{E}_{\mathrm{init}} \|H(E(\gamma_1))\|^2 = \mathbb{E}_{\mathrm{init}} "
        r"\|H(E(\gamma_2))\|^2 \quad \forall \gamma_1, \gamma_2 \in [0,1]^h"
    ),
    strategy=_instances,
    check=_check,
    subject=HyperNetwork,
    mutants=(
        Mutant(
            "raw-input",
            "the conventional parametrization: gamma fed in as it is (identity encoding)",
            partial(HyperNetwork, encoding="identity"),
        ),
    ),
    examples={"ci": 2, "thorough": 20},
    mutant_examples=2,
    plot=plot,
)
