"""Claim ``wide_deep.nearest_neighbour``: deep NTK/NNGP classifiers with dual xi^k become 1-NN.

Radhakrishnan, Belkin, Uhler, *Wide and deep neural networks achieve consistency for
classification* (PNAS 2023; arXiv 2204.14126); docs/derivations.md, §6. When dual'(0) = 0
(xi^k) the kernel row of an infinitely wide, then deep, bias-free network on the sphere
concentrates on the nearest training point (second-to-first kernel ratio -> 0), and the
classifier agrees with 1-NN.

At finite depth the law is exact: with dual xi^k, Sigma_L = xi^(k^L) and the NTK is
(sum_l k^(L-l)) xi^(k^L) (each layer's derivative factor k Sigma^(k-1) completes the power), so
in both kernels a test row's second-to-first ratio is (xi_2/xi_1)^(k^L), and both interpolating
classifiers are that of the kernel xi^(k^L) (a constant factor cancels). The check runs at the
deepest depth <= 12 at which float64 still represents every test row; the test point farthest
from the training set sets it. Where the law itself, computed from the correlations, is not yet
at the limit there -- the median row's ratio above 1e-4, or its classifier agreeing with 1-NN on
fewer than 98% of the test points -- the data hold neighbours closer than that depth separates
(a median xi_2/xi_1 of 0.998 at k = 3 leaves 0.01 at depth 7 while the farthest row underflows at
depth 8; two training points of different labels at xi = 0.99994 keep 0.78 of each other at
depth 12 for k = 2; about 1 data set in 400), and the instance lies outside what float64 and 12
layers can check: it is skipped, not judged. The subject's kernels must then reach the limit too.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from probtheory.theory.wide_deep import (
    deep_kernel_path,
    gram_correlations,
    interpolating_classifier,
    named_dual,
    nearest_neighbour,
    polynomial_dual,
)
from proofs_checks.catalog.bibliography import RADHAKRISHNAN_BELKIN_UHLER_2023
from proofs_checks.catalog.wide_deep._kernel_subjects import KernelSubject, SphereData, _dual_for
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import BOUND, instance_label, label_axes
from proofs_checks.strategies import seeds

_MAX_DEPTH = 12
_UNDERFLOW = 1e-250  # kernel rows below this are too close to float64's range to classify
_AGREEMENT = 0.98  # our acceptance: the classifier agrees with 1-NN on this fraction of test points
_CONCENTRATED = 1e-4  # the law's median ratio at which a data set counts as at the 1-NN limit


@dataclass(frozen=True)
class NNInstance:
    power: int
    data: SphereData


def _check_nearest_neighbour(inst: NNInstance, subject: KernelSubject) -> list[Evidence]:
    dual = _dual_for(subject, inst)
    xtr, ytr, xte, _ = inst.data.tensors()
    xi_tr, eps_tr = gram_correlations(xtr, xtr)
    xi_te, eps_te = gram_correlations(xte, xtr)
    depths = list(range(1, _MAX_DEPTH + 1))
    train = subject.path(xi_tr, depths, dual, complement=eps_tr)
    test = subject.path(xi_te, depths, dual, complement=eps_te)
    # deepest depth at which every test row still has a representable largest value
    usable = [
        d for d in depths
        if min(float(test[d].nngp.max(1).values.min()), float(test[d].ntk.max(1).values.min())) > _UNDERFLOW
    ]  # fmt: skip
    assume(usable)
    depth = usable[-1]
    nn = nearest_neighbour(eps_te, ytr)
    assume(_law_at_the_limit(inst.power**depth, xi_tr, xi_te, ytr, nn))
    evidence = []
    curves = {"law": [_median_ratio(xi_te.clamp_min(0.0).pow(inst.power**d)) for d in usable]}
    for kind in ("ntk", "nngp"):
        k_tr, k_te = getattr(train[depth], kind), getattr(test[depth], kind)
        agree = float((interpolating_classifier(k_tr, k_te, ytr) == nn).double().mean())
        ratio = _median_ratio(k_te)
        curves[kind] = [_median_ratio(getattr(test[d], kind)) for d in usable]
        evidence.append(
            Evidence.at_least(
                f"{kind.upper()} interpolating classifier: agreement with 1-NN at depth {depth}",
                agree, _AGREEMENT,
                "deep limit is 1-NN; our acceptance >= 0.98, which the exact depth-L law xi^(k^L) reaches "
                "on every instance checked (module docstring)",
                depth=depth,
            )
        )  # fmt: skip
        evidence.append(
            Evidence.at_most(
                f"{kind.upper()}: median second/first largest kernel value of a test row at depth {depth}",
                ratio, 1e-3,
                "1-NN limit: the row concentrates on the nearest point: (xi_2/xi_1)^(k^L) -> 0, below 1e-4 "
                "on the instances checked; a singular kernel keeps a ratio (eps_1/eps_2)^alpha of order 1",
            )
        )  # fmt: skip
    evidence[0].details.update(depths=usable, curves=curves)
    return evidence


def _median_ratio(rows) -> float:
    """Median over the test rows of the second-largest kernel value over the largest."""
    top2 = rows.topk(2, dim=1).values
    return float((top2[:, 1] / top2[:, 0]).median())


def plot(records, ax) -> None:
    """Median second/first kernel value of a test row against depth: the row concentrates (1-NN)."""
    ax.set_yscale("log", nonpositive="mask")  # a ratio that underflows to 0 is left out
    for i, (inst, evidence) in enumerate(records):
        d = evidence[0].details
        line = ax.plot(
            d["depths"], d["curves"]["law"], "-", lw=1, label=instance_label(i, f"dual xi^{inst.power}")
        )
        for kind, marker in (("ntk", "o"), ("nngp", "x")):
            ax.plot(d["depths"], d["curves"][kind], marker, ms=4, color=line[0].get_color())
    ax.plot([], [], "k-", lw=1, label="law (xi_2/xi_1)^(k^L)")
    ax.plot([], [], "ko", ms=4, label="NTK")
    ax.plot([], [], "kx", ms=4, label="NNGP")
    ax.axhline(1e-3, label="bound at the deepest depth", **BOUND)
    label_axes(ax, "depth L", "median second / first kernel value of a test row")


def _law_at_the_limit(n: int, xi_tr, xi_te, ytr, nn) -> bool:
    """Whether the exact depth-L law, the kernel xi^n (n = k^L), is at the 1-NN limit on this data.

    Its median second-to-first ratio must be at most ``_CONCENTRATED`` and its interpolating
    classifier must agree with 1-NN on ``_AGREEMENT`` of the test points (module docstring).
    """
    top2 = xi_te.topk(2, dim=1).values
    ratio = float((top2[:, 1] / top2[:, 0]).clamp_min(0.0).pow(n).median())
    law = interpolating_classifier(xi_tr.clamp_min(0.0).pow(n), xi_te.clamp_min(0.0).pow(n), ytr)
    return ratio <= _CONCENTRATED and float((law == nn).double().mean()) >= _AGREEMENT


def _linear_component(inst: NNInstance):
    # mutant dual: half linear, half xi^k: dual'(0) = 1/2 makes it a singular kernel, not 1-NN
    k = inst.power
    return polynomial_dual([0.0, 0.5] + [0.0] * (k - 2) + [0.5], name=f"0.5 xi + 0.5 xi^{k}")


NEAREST_NEIGHBOUR_CLAIM = Claim(
    id="wide_deep.nearest_neighbour",
    title="Deep NTK/NNGP classifiers with dual xi^k become 1-nearest neighbour",
    paper=RADHAKRISHNAN_BELKIN_UHLER_2023,
    statement=(
        "For an activation whose normalised dual has no linear term (dual'(0) = 0, e.g. xi^k, k >= 2), "
        "the interpolating NTK and NNGP classifiers of a deep network on the sphere agree with the "
        "1-nearest-neighbour classifier, the kernel row concentrating on the nearest training point "
        "(checked on data whose nearest two points the deepest depth float64 represents can separate)."
    ),
    formula=r"\Sigma_L(\xi) = \xi^{k^L}:\ f_L(x) \to y_{\operatorname{argmax}_i \xi(x, x_i)}",
    strategy=lambda: st.builds(
        NNInstance, st.sampled_from([2, 3, 4]), st.builds(SphereData, st.just(60), st.just(200), seeds())
    ),
    check=_check_nearest_neighbour,
    subject=KernelSubject(deep_kernel_path, lambda inst: named_dual(f"hermite:{inst.power}")),
    mutants=(
        Mutant(
            "linear-component",
            "dual 0.5 xi + 0.5 xi^k (a singular-kernel activation)",
            KernelSubject(deep_kernel_path, _linear_component),
        ),
    ),  # fmt: skip
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    plot=plot,
)
