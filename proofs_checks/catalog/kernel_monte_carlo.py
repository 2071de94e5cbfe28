"""Claim ``kernels.monte_carlo``: analytic NNGP/NTK equal finite-width Monte-Carlo means.

With one hidden layer the first-layer pre-activations are exactly Gaussian at any width n,
so E[f(x) f(x')] = Sigma^2(x, x') and E[Theta_hat(x, x')] = Theta^2(x, x') hold *exactly*
(Lee et al. 2018 §2.2; Jacot et al. 2018 §4): the Monte-Carlo mean over random networks is
an unbiased estimate and the only allowed deviation is sampling error, z = 5 standard errors.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from probtheory.kernels import empirical_ntk, monte_carlo_nngp, nngp_and_ntk
from proofs_checks.catalog.bibliography import JACOT_GABRIEL_HONGLER_2018, LEE_DNN_GP_2018
from proofs_checks.catalog.mutant_kernels import (
    MisscaledExpectations,
    with_activation,
    without_input_normalisation,
)
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes, z_score_histogram
from proofs_checks.statistics import Z
from proofs_checks.strategies import (
    KERNEL_ACTIVATIONS,
    NetworkInstance,
    activation_regimes,
    activations,
    kernel_hyperparameters,
    network_instances,
    sphere_inputs,
)

WIDTH = 64
NNGP_SAMPLES = 4000
NTK_SAMPLES = 200


def _strategy():
    return network_instances(
        inputs=sphere_inputs(n=(2, 4), d=(2, 5), radius="varied"),
        depth=st.just(1),
        activation=activations(closed_form_only=False),
        hyperparameters=kernel_hyperparameters(weight_std=(0.7, 2.0), bias_std=(0.0, 0.7)),
    )


def monte_carlo_ntk(inst: NetworkInstance) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard error of the empirical NTK over ``NTK_SAMPLES`` random networks."""
    g = torch.Generator().manual_seed(inst.seed + 1)
    draws = torch.stack([empirical_ntk(inst.mlp([WIDTH], generator=g), inst.x) for _ in range(NTK_SAMPLES)])
    return draws.mean(0), draws.std(0) / NTK_SAMPLES**0.5


def _z_scores(estimate: torch.Tensor, se: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Signed z-score of every entry of a Monte-Carlo mean against the analytic kernel."""
    # atol 1e-12 * scale absorbs entries with zero variance (e.g. exact diagonals)
    floor = 1e-12 * reference.abs().max()
    return (estimate - reference) / (se + floor)


def _check(inst: NetworkInstance, kernels) -> list[Evidence]:
    nngp, ntk = inst.kernels(kernels)
    mc = monte_carlo_nngp(
        lambda k, g: inst.mlp([WIDTH], num_networks=k, generator=g), inst.x,
        num_samples=NNGP_SAMPLES, batch_size=1000, seed=inst.seed,
    )  # fmt: skip
    ntk_mean, ntk_se = monte_carlo_ntk(inst)
    z_nngp = _z_scores(mc.mean, mc.standard_error, nngp)
    z_ntk = _z_scores(ntk_mean, ntk_se, ntk)
    reason = f"unbiased Monte-Carlo mean: z = {Z:g} standard errors (false alarm ~6e-7)"
    return [
        Evidence.at_most(
            f"max |MC - NNGP| / SE ({NNGP_SAMPLES} nets, width {WIDTH})", float(z_nngp.abs().max()), Z,
            reason, estimate=mc.mean.tolist(), reference=nngp.tolist(), z_scores=z_nngp.flatten().tolist(),
        ),
        Evidence.at_most(
            f"max |MC - NTK| / SE ({NTK_SAMPLES} nets, width {WIDTH})", float(z_ntk.abs().max()), Z, reason,
            estimate=ntk_mean.tolist(), reference=ntk.tolist(), z_scores=z_ntk.flatten().tolist(),
        ),
    ]  # fmt: skip


def plot(records, ax) -> None:
    """Signed z-scores of every Gram entry's Monte-Carlo mean against the analytic NNGP and NTK."""
    z_nngp = [z for _, evidence in records for z in evidence[0].details["z_scores"]]
    z_ntk = [z for _, evidence in records for z in evidence[1].details["z_scores"]]
    z_score_histogram(ax, {"NNGP entries": z_nngp, "NTK entries": z_ntk}, Z)
    label_axes(ax, "(Monte-Carlo mean - analytic kernel) / standard error", "density")


MONTE_CARLO_CLAIM = Claim(
    id="kernels.monte_carlo",
    title="Analytic NNGP and NTK equal Monte-Carlo means over random finite networks",
    paper=LEE_DNN_GP_2018,
    related=(JACOT_GABRIEL_HONGLER_2018,),
    statement=(
        "For a one-hidden-layer network of any width in NTK parameterisation, the mean of "
        "f(x) f(x') and of the empirical NTK over random initialisations equal the analytic "
        "NNGP and NTK kernels."
    ),
    formula=r"\mathbb{E}[f(x) f(x')] = \Sigma^2(x, x'),\quad \mathbb{E}[\hat\Theta(x, x')] = \Theta^2(x, x')",
    strategy=_strategy,
    check=_check,
    subject=nngp_and_ntk,
    mutants=(
        Mutant(
            "derivative-expectation-doubled",
            "E[phi'(u) phi'(v)] twice too large (the dropped 1/2 of the ReLU formula)",
            with_activation(lambda a: MisscaledExpectations(a, derivative_factor=2.0)),
        ),
        Mutant(
            "no-input-normalisation",
            "first layer sigma_w^2 x.x' + sigma_b^2 instead of sigma_w^2 x.x'/d + sigma_b^2",
            without_input_normalisation,
        ),
    ),
    examples={"ci": 3, "thorough": 40},
    mutant_examples=3,
    regimes=activation_regimes(KERNEL_ACTIVATIONS),
    plot=plot,
)
