"""Claim ``wide_deep.majority_vote``: the deep ReLU NTK tends to the majority-vote kernel.

Radhakrishnan, Belkin, Uhler, *Wide and deep neural networks achieve consistency for
classification* (PNAS 2023; arXiv 2204.14126). For ReLU (dual'(1) = 1) K_L(xi)/K_L(1) -> 1/4 for
every xi, i.e. the kernel c I + b 11^T whose interpolant predicts the majority label
(docs/derivations.md, §6). Mutants: two numerical traps, rescaling K by its maximum inside the
loop, and an un-normalised dual.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from probtheory.theory.wide_deep import DeepKernels, deep_kernel_path, named_dual, unnormalised_relu_dual
from proofs_checks.catalog.bibliography import RADHAKRISHNAN_BELKIN_UHLER_2023
from proofs_checks.catalog.wide_deep._kernel_subjects import KernelSubject, _rescaled_path
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes, power_law_guide


def _unguarded_path(xi, depths, dual, *, complement=None):
    """Mutant recursion: the raw recursion, diagonal obtained by running it at xi = 1 (accepts any dual)."""
    x = torch.cat([xi.reshape(-1).to(torch.float64), torch.ones(1, dtype=torch.float64)])
    sigma, ntk = x.clone(), x.clone()
    out = {}
    for layer in range(max(depths) + 1):
        if layer in depths:
            out[layer] = DeepKernels((sigma[:-1] / sigma[-1]).reshape(xi.shape),
                                     (ntk[:-1] / ntk[-1]).reshape(xi.shape), float(ntk[-1]))  # fmt: skip
        nxt = dual.dual(sigma)
        ntk = nxt + ntk * dual.derivative(sigma)
        sigma = nxt
    return out


_RELU_DEPTHS = (250, 500, 1000)


@dataclass(frozen=True)
class CorrelationInstance:
    correlations: tuple[float, ...]


def _check_majority(inst: CorrelationInstance, subject: KernelSubject) -> list[Evidence]:
    xi = torch.tensor(inst.correlations, dtype=torch.float64)
    path = subject.path(xi, list(_RELU_DEPTHS), subject.dual)
    dev = {d: float((path[d].ntk - 0.25).abs().max()) for d in _RELU_DEPTHS}
    details = {"depths": list(_RELU_DEPTHS), "deviation": [dev[d] for d in _RELU_DEPTHS],
               "ratio": path[_RELU_DEPTHS[-1]].ntk.tolist()}  # fmt: skip
    return [
        Evidence.at_most(
            f"max_xi |K_L(xi)/K_L(1) - 1/4| at L = {_RELU_DEPTHS[-1]}",
            dev[_RELU_DEPTHS[-1]], 0.01,
            "derived: eps_l ~ 9 pi^2/(2 l^2), dual'(Sigma_l) ~ 1 - 3/l => K_L ~ L/4, K_L(1) = L + 1; "
            "finite-depth correction ~6/L (measured 0.0064 at xi = 0.9, docs/derivations.md, §6)",
            **details,
        ),
        Evidence.at_most(
            "largest ratio of deviations between consecutive depths (L -> 2L)",
            max(dev[b] / dev[a] for a, b in zip(_RELU_DEPTHS[:-1], _RELU_DEPTHS[1:], strict=True)), 0.75,
            "convergence to the majority-vote kernel: the O(log L / L) deviation about halves when L doubles",
        ),
    ]  # fmt: skip


def plot_majority(records, ax) -> None:
    """Deviation of the ReLU NTK ratio from 1/4 against depth."""
    for inst, evidence in records:
        d = evidence[0].details
        ax.loglog(
            d["depths"], d["deviation"], "o-", label=f"xi in {[round(v, 2) for v in inst.correlations]}"
        )
    power_law_guide(ax, _RELU_DEPTHS, (1.0, 6.0), -1.0, "6/L")
    label_axes(ax, "depth L", "max |K_L(xi)/K_L(1) - 1/4|", fontsize=6)


MAJORITY_VOTE_CLAIM = Claim(
    id="wide_deep.majority_vote",
    title="Deep ReLU NTK tends to c I + b 11^T (ratio 1/4): the majority-vote classifier",
    paper=RADHAKRISHNAN_BELKIN_UHLER_2023,
    statement=(
        "For ReLU (dual'(1) = 1) every correlation is driven to 1 and the normalised deep NTK tends to "
        "1/4 off the diagonal, a kernel c I + b 11^T whose interpolant predicts the majority label."
    ),
    formula=r"K_L(\xi) / K_L(1) \to 1/4 \quad \forall \xi \in (-1, 1)",
    strategy=lambda: st.builds(
        CorrelationInstance,
        st.lists(st.floats(-0.9, 0.9), min_size=3, max_size=6).map(tuple),
    ),
    check=_check_majority,
    subject=KernelSubject(deep_kernel_path, named_dual("relu")),
    mutants=(
        Mutant(
            "rescale-by-max",
            "K divided by its maximum inside the loop (the affine recursion changes)",
            KernelSubject(_rescaled_path, named_dual("relu")),
        ),
        Mutant(
            "unnormalised-dual",
            "the raw ReLU dual E[relu(u)relu(v)] (value 1/2 at xi = 1)",
            KernelSubject(_unguarded_path, unnormalised_relu_dual()),
        ),
    ),  # fmt: skip
    examples={"ci": 2, "thorough": 15},
    mutant_examples=1,
    plot=plot_majority,
)
