"""Claim ``kernels.psd``: analytic and empirical NTK/NNGP Gram matrices are PSD.

Jacot, Gabriel & Hongler (NeurIPS 2018), Prop. 2 and §4: the empirical NTK is a Gram matrix
J J^T, hence PSD at any width and parameter value; the analytic NNGP and NTK are limits of
PSD matrices, hence PSD (strictly PD on the sphere for non-polynomial activations). Every
activation family of the kernels is drawn: the closed forms and Gauss-Hermite quadrature, whose
2-d rule per entry must keep the Gram matrix PSD to round-off too.
"""

from __future__ import annotations

from probtheory.kernels import empirical_ntk, nngp_and_ntk
from proofs_checks.assertions import min_eigenvalue_ratio
from proofs_checks.catalog.bibliography import JACOT_GABRIEL_HONGLER_2018
from proofs_checks.catalog.mutant_kernels import ReLUAngleForCosine, with_activation
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes, strip_against_bound
from proofs_checks.strategies import (
    KERNEL_ACTIVATIONS,
    NetworkInstance,
    activation_regimes,
    activations,
    depths,
    network_instances,
    sphere_inputs,
)

# eigvalsh is backward stable: a PSD matrix's computed spectrum is >= -O(n eps ||K||);
# 1e-10 of ||K||_2 is far above that round-off and far below any real violation.
RTOL = 1e-10
EMPIRICAL_WIDTH = 16


def _strategy():
    return network_instances(
        inputs=sphere_inputs(radius="varied"),
        depth=depths(1, 5),
        activation=activations(closed_form_only=False),
    )


def _check(inst: NetworkInstance, kernels) -> list[Evidence]:
    nngp, ntk = inst.kernels(kernels)
    empirical = empirical_ntk(inst.mlp([EMPIRICAL_WIDTH] * inst.depth, seed=inst.seed), inst.x)
    reason = "round-off of eigvalsh: 1e-10 * ||K||_2"
    return [
        Evidence.at_least(
            f"lambda_min/||K|| of {name}", min_eigenvalue_ratio(k), 0.0, reason, RTOL, kernel=name
        )
        for name, k in (
            ("NNGP", nngp),
            ("NTK", ntk),
            (f"empirical NTK (width {EMPIRICAL_WIDTH})", empirical),
        )
    ]


def plot(records, ax) -> None:
    """lambda_min / ||K|| of every Gram matrix checked, per kernel, against the round-off bound."""
    groups: dict[str, list[float]] = {}
    for _, evidence in records:
        for e in evidence:
            groups.setdefault(e.details["kernel"], []).append(e.measured)
    strip_against_bound(ax, groups, -RTOL, f"bound -{RTOL:g} (eigvalsh round-off)")
    # symmetric log: strictly positive definite matrices sit decades above 0, round-off just around it
    ax.set_yscale("symlog", linthresh=1e-14)
    ax.set_ylim(-1e-8, 3.0)  # lambda_min / ||K||_2 <= 1
    ax.set_yticks([-1e-8, -1e-10, 0.0, 1e-12, 1e-8, 1e-4, 1.0])
    label_axes(ax, "kernel", "lambda_min(K) / ||K||_2")


PSD_CLAIM = Claim(
    id="kernels.psd",
    title="NNGP and NTK Gram matrices are positive semi-definite",
    paper=JACOT_GABRIEL_HONGLER_2018,
    section="Prop. 2, Thm. 3",
    statement=(
        "For any inputs, depth, activation and variances, the analytic NNGP and NTK Gram "
        "matrices and the empirical NTK J J^T of a finite network are PSD."
    ),
    formula=r"\lambda_{\min}(K(X, X)) \ge 0 \quad \text{for } K \in \{\Sigma^{L+1}, \Theta^{L+1}, J J^T\}",
    strategy=_strategy,
    check=_check,
    subject=nngp_and_ntk,
    mutants=(
        Mutant(
            "angle-for-cosine",
            "ReLU layer map with theta written where cos(theta) belongs (any activation)",
            with_activation(lambda _: ReLUAngleForCosine()),
        ),
    ),
    examples={"ci": 25, "thorough": 300},
    mutant_examples=25,
    regimes=activation_regimes(KERNEL_ACTIVATIONS),
    plot=plot,
)
