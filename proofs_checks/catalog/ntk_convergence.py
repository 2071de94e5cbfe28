"""Claim ``ntk.convergence``: the empirical NTK converges to the analytic NTK like n^{-1/2}.

Jacot, Gabriel & Hongler, *Neural Tangent Kernel* (NeurIPS 2018), Thm. 1: at initialisation
Theta_hat -> Theta in probability as the widths grow (NTK parameterisation). The fluctuations are
a sum over ~n roughly independent neurons, so RMS(Theta_hat - Theta) ~ C n^{-1/2}; we fit the
log-log slope over five widths spanning 16x and require it within 5 standard errors of -1/2.

The standard error comes from the seeds: at each width the mean square deviation averages 6
independent networks, so log RMS has variance Var(squares) / (6 * 4 * mean^2) (delta method), and
the least-squares slope's variance is sum_i ((x_i - x_bar) / S_xx)^2 Var(y_i). It is 0.06-0.09
on typical instances; a fixed window of +-0.25 (about 3 standard errors) failed on a thorough
instance at -0.765. The check also requires 5 standard errors to stay below 1/2, so that the
window excludes a width-independent deviation (slope 0) and the standard parameterisation,
whose slope is positive: where 6 networks per width leave the slope less precise (inputs close
to +-each other), the networks are doubled, up to 48.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from probtheory.kernels import empirical_ntk, nngp_and_ntk
from proofs_checks.catalog.bibliography import JACOT_GABRIEL_HONGLER_2018
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import power_law_guide, width_axes
from proofs_checks.statistics import fit_loglog_slope
from proofs_checks.strategies import (
    NetworkInstance,
    activation_regimes,
    kernel_hyperparameters,
    network_instances,
    sphere_inputs,
)

ACTIVATIONS = ("relu", "erf", "tanh")  # one of each family: ReLU-type, erf, quadrature
WIDTHS = (128, 256, 512, 1024, 2048)
SEEDS_PER_WIDTH = 6  # networks per width to start with; doubled until the slope is resolved
MAX_SEEDS_PER_WIDTH = 48
Z = 5.0  # standard errors of the fitted slope allowed around -1/2


def _strategy():
    return network_instances(
        inputs=sphere_inputs(n=(2, 3), d=(2, 5)),
        depth=st.integers(1, 2),
        activation=st.sampled_from(ACTIVATIONS),
        hyperparameters=kernel_hyperparameters(weight_std=(1.0, 1.6), bias_std=(0.0, 0.5)),
    )


def square_deviations(inst: NetworkInstance, width: int, parameterization, seeds: int) -> torch.Tensor:
    """Mean square of Theta_hat - Theta over the entries, for each of ``seeds`` networks at one width.

    The networks are the same for the first ``k`` of any larger ``seeds`` (one generator, drawn in
    turn), so adding seeds only adds networks.
    """
    _, ntk = inst.kernels(nngp_and_ntk)
    g = torch.Generator().manual_seed(inst.seed)
    squares = []
    for _ in range(seeds):
        net = inst.mlp([width] * inst.depth, parameterization=parameterization, generator=g)
        squares.append(((empirical_ntk(net, inst.x) - ntk) ** 2).mean())
    return torch.stack(squares).double()


def slope_standard_error(squares: list[torch.Tensor]) -> float:
    """Standard error of the log-log slope of RMS against width, from the seeds (module docstring)."""
    x = torch.log(torch.tensor(WIDTHS, dtype=torch.float64))
    centred = x - x.mean()
    variances = torch.stack([s.var() / (len(s) * 4 * s.mean() ** 2) for s in squares])
    return float(((centred / (centred**2).sum()) ** 2 * variances).sum().sqrt())


def _check(inst: NetworkInstance, parameterization) -> list[Evidence]:
    seeds = SEEDS_PER_WIDTH
    while True:  # more networks until the slope is resolved (inputs near +-each other are noisy)
        squares = [square_deviations(inst, n, parameterization, seeds) for n in WIDTHS]
        se = slope_standard_error(squares)
        if Z * se < 0.5 or seeds >= MAX_SEEDS_PER_WIDTH:
            break
        seeds *= 2
    rms = [float(s.mean().sqrt()) for s in squares]
    fit = fit_loglog_slope(WIDTHS, rms)
    return [
        Evidence.within(
            "log-log slope of RMS(Theta_hat - Theta) vs width", fit.slope, -0.5, Z * se,
            f"theory -1/2; {Z:g} standard errors of the fitted slope ({len(WIDTHS)} widths x "
            f"{seeds} seeds, delta method)",
            widths=list(WIDTHS), rms=rms, intercept=fit.intercept, standard_error=se, seeds=seeds,
        ),
        Evidence.at_most(
            f"{Z:g} standard errors of the slope", Z * se, 0.5,
            "the window must exclude slope 0 (no convergence) to test the rate",
        ),
    ]  # fmt: skip


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
    if records:
        power_law_guide(ax, WIDTHS, (WIDTHS[0], records[0][1][0].details["rms"][0]), -0.5, "slope -1/2")
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
    formula=r"\mathrm{RMS}(\hat\Theta_n - \Theta) = O(n^{-1/2}) \quad (\text{log-log slope} \sim -1/2)",
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
    regimes=activation_regimes(ACTIVATIONS),
    plot=plot,
)
