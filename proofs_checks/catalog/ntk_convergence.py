"""Claim ``ntk.convergence``: the empirical NTK converges to the analytic NTK like n^{-1/2}.

Jacot, Gabriel & Hongler, *Neural Tangent Kernel* (NeurIPS 2018), Thm. 1: at initialisation
Theta_hat -> Theta in probability as the widths grow (NTK parameterisation). The fluctuations are
a sum over ~n roughly independent neurons, so RMS(Theta_hat - Theta) ~ C n^{-1/2}; we fit the
log-log slope over five widths spanning 16x and accept the window [-0.75, -0.3] around the
theoretical -1/2 (our acceptance criterion: wide enough for the seed-to-seed scatter of the
fitted slope, narrow enough to reject the standard parameterisation, whose slope is positive).
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from probtheory.kernels import empirical_ntk, nngp_and_ntk
from proofs_checks.catalog.bibliography import JACOT_GABRIEL_HONGLER_2018
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import width_axes
from proofs_checks.statistics import fit_loglog_slope
from proofs_checks.strategies import (
    NetworkInstance,
    kernel_hyperparameters,
    network_instances,
    sphere_inputs,
)

WIDTHS = (128, 256, 512, 1024, 2048)
SEEDS_PER_WIDTH = 6
SLOPE_WINDOW = (-0.75, -0.3)


def _strategy():
    return network_instances(
        inputs=sphere_inputs(n=(2, 3), d=(2, 5)),
        depth=st.integers(1, 2),
        activation=st.sampled_from(("relu", "erf", "tanh")),
        hyperparameters=kernel_hyperparameters(weight_std=(1.0, 1.6), bias_std=(0.0, 0.5)),
    )


def rms_deviation(inst: NetworkInstance, width: int, parameterization) -> float:
    """RMS over seeds and entries of Theta_hat - Theta at one width."""
    _, ntk = inst.kernels(nngp_and_ntk)
    g = torch.Generator().manual_seed(inst.seed)
    squares = []
    for _ in range(SEEDS_PER_WIDTH):
        net = inst.mlp([width] * inst.depth, parameterization=parameterization, generator=g)
        squares.append(((empirical_ntk(net, inst.x) - ntk) ** 2).mean())
    return float(torch.stack(squares).mean().sqrt())


def _check(inst: NetworkInstance, parameterization) -> Evidence:
    rms = [rms_deviation(inst, n, parameterization) for n in WIDTHS]
    fit = fit_loglog_slope(WIDTHS, rms)
    return Evidence.in_range(
        "log-log slope of RMS(Theta_hat - Theta) vs width",
        fit.slope, *SLOPE_WINDOW,
        f"theory -1/2; window {SLOPE_WINDOW} over {len(WIDTHS)} widths x {SEEDS_PER_WIDTH} seeds "
        "(our acceptance criterion)",
        widths=list(WIDTHS), rms=rms, intercept=fit.intercept,
    )  # fmt: skip


def plot(records, ax) -> None:
    """Log-log RMS deviation against width, one line per instance."""
    for instance, evidence in records:
        e = evidence[0]
        ax.loglog(
            e.details["widths"],
            e.details["rms"],
            "o-",
            label=f"L={instance.depth}, {instance.activation}",
        )
    w = torch.tensor(WIDTHS, dtype=torch.float64)
    if records:
        first = records[0][1][0]
        ax.loglog(w, first.details["rms"][0] * (w / w[0]) ** -0.5, "k--", label="slope -1/2")
    width_axes(ax, WIDTHS, "RMS(empirical NTK - analytic NTK)")


CONVERGENCE_CLAIM = Claim(
    id="ntk.convergence",
    title="The empirical NTK converges to the analytic NTK at rate n^{-1/2}",
    paper=JACOT_GABRIEL_HONGLER_2018,
    section="Thm. 1",
    statement=(
        "At initialisation in NTK parameterisation, the deviation of the empirical NTK "
        "from the analytic NTK shrinks with the width n like n^{-1/2}."
    ),
    formula="RMS(Theta_hat_n - Theta) = O(n^{-1/2})  (log-log slope ~ -1/2)",
    strategy=_strategy,
    check=_check,
    subject="ntk",
    mutants=(
        Mutant(
            "standard-parameterisation",
            "empirical NTK of a standard-parameterised net (W ~ N(0, s^2/n), no multiplier): "
            "the weight-gradient term grows with n",
            "standard",
        ),
    ),
    examples={"ci": 2, "thorough": 20},
    mutant_examples=1,
    plot=plot,
)
