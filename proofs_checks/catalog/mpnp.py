"""Claim ``mpnp.contraction`` (martingale posterior neural processes).

Lee, Yun, Nam, Fong & Lee, *Martingale Posterior Neural Processes* (ICLR 2023; arXiv
2304.09431), on the martingale posteriors of Fong, Holmes & Walker (JRSS-B 2023): the martingale
posterior of theta — the function parameter computed from the real context plus K independently
generated pseudo-context sets — must contract as the context grows, like any consistent
posterior.

In MPNP, theta_k = mean(R_c u R'^{(k)}) pools n real and m pseudo representations, so
spread_k(theta_k) = m / (n + m) * spread_k(mean R'^{(k)}), and the generator's outputs are
bounded (they leave a LayerNorm through a linear map). The contraction is therefore structural —
it holds for every weight setting, trained or not — and the check runs on small, seeded,
*untrained* models of random width and pseudo-set size (no training in the loop keeps the ci
profile fast); it is a statement about the architecture, which is what a mutant breaks.

Quantity: the log-log slope of the spread (std over K draws, averaged over the representation
coordinates) against n, fitted per task over n in {8, 16, 32, 64} (>= 4 sizes), averaged over
the tasks. Claim: slope <= -1/2, i.e. contraction at least at the parametric n^{-1/2} rate of a
regular Bayesian posterior (the pooled construction gives ~ n^{-1} once n >> m). Tolerance:
5 standard errors of the mean slope over tasks (the Monte Carlo error of K draws and the
task-to-task variation both enter that standard error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from matplotlib.ticker import NullLocator

from probtheory.processes.mpnp import MPNP, MPNPConfig
from probtheory.processes.tasks import GPTaskSampler
from proofs_checks.catalog.bibliography import FONG_HOLMES_WALKER_2023, LEE_MPNP_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import instance_label, label_axes, power_law_guide
from proofs_checks.strategies import seeds

SIZES = (8, 16, 32, 64)
NUM_SAMPLES = 64
NUM_TASKS = 8
Z = 5.0


@dataclass(frozen=True)
class ContractionInstance:
    kernel: str
    hidden: int
    num_pseudo: int
    seed: int


def _check_contraction(inst: ContractionInstance, subject) -> Evidence:
    config = MPNPConfig(hidden=inst.hidden, depth=2, num_pseudo=inst.num_pseudo, num_heads=2, num_inducing=4)
    model = subject(config, seed=inst.seed % 2**31).double().eval()
    batch = GPTaskSampler(inst.kernel).sample(NUM_TASKS, num_context=max(SIZES), num_target=1, seed=inst.seed)
    cx, cy = batch.context_x, batch.context_y
    with torch.no_grad():
        draws = [model.sample_parameters(cx[:, :n], cy[:, :n], NUM_SAMPLES, seed=inst.seed) for n in SIZES]
    spread = torch.stack([theta.std(0).mean(-1) for theta in draws])  # len(SIZES) x NUM_TASKS
    log_n = torch.log(torch.tensor(SIZES, dtype=torch.float64))
    centred = log_n - log_n.mean()
    log_spread = spread.clamp_min(1e-300).log()
    slopes = (centred[:, None] * (log_spread - log_spread.mean(0))).sum(0) / centred.square().sum()
    se = slopes.std() / math.sqrt(NUM_TASKS)
    return Evidence.at_most(
        "log-log slope of the spread of theta_k against the context size n",
        slopes.mean().item(),
        -0.5,
        f"{Z:g} standard errors of the mean slope over {NUM_TASKS} tasks ({NUM_SAMPLES} draws each)",
        tolerance=Z * se.item(),
        sizes=list(SIZES),
        mean_spread=spread.mean(1).tolist(),
    )


def plot(records, ax) -> None:
    """Spread of theta_k over the K draws against the context size, with the n^-1/2 the claim requires."""
    for i, (inst, evidence) in enumerate(records):
        label = f"{inst.kernel}, m = {inst.num_pseudo} (slope {evidence[0].measured:.2f})"
        ax.plot(SIZES, evidence[0].details["mean_spread"], "o-", ms=4, label=instance_label(i, label))
    if records:
        first = records[0][1][0].details["mean_spread"][0]
        power_law_guide(ax, SIZES, (SIZES[0], first), -0.5, "slope -1/2 (the claim's bound)")
        power_law_guide(ax, SIZES, (SIZES[0], first), -1.0, "slope -1 (pooled, n >> m)", linestyle="-.")
    ylabel = f"sd over {NUM_SAMPLES} draws of theta_k (task mean)"
    label_axes(ax, "context size n", ylabel, xscale="log", yscale="log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(SIZES, [str(n) for n in SIZES])


class _PseudoContextsOnly(MPNP):
    """Mutant: theta_k is computed from the pseudo contexts alone; the real context is dropped."""

    def combine(self, context_r: torch.Tensor, pseudo_r: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return pseudo_r.mean(-2)


class _SeparateMeans(MPNP):
    """Mutant: theta_k = mean(R_c) + mean(R'_k) — the pseudo part keeps full weight at any n."""

    def combine(self, context_r: torch.Tensor, pseudo_r: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return context_r.mean(-2) + pseudo_r.mean(-2)


CONTRACTION_CLAIM = Claim(
    id="mpnp.contraction",
    title="The MPNP martingale posterior of theta contracts as the context grows",
    paper=LEE_MPNP_2023,
    related=(FONG_HOLMES_WALKER_2023,),
    statement=(
        "The spread over k of theta_k = theta(Z_c u Z'^{(k)}), the function parameters given the real "
        "context and K generated pseudo contexts, shrinks at least like n^{-1/2} in the context size n "
        "(pooled pseudo representations weigh m / (n + m))."
    ),
    formula=(
        r"\text{slope of } \log \mathrm{sd}_k(\theta_k) \text{ vs } \log n \text{ over } n \in \{8, "
        r"16, 32, 64\} \le -1/2"
    ),
    strategy=lambda: st.builds(
        ContractionInstance,
        st.sampled_from(["rbf", "matern52", "periodic"]),
        st.sampled_from([8, 16]),
        st.integers(2, 12),
        seeds(),
    ),
    check=_check_contraction,
    subject=MPNP,
    mutants=(
        Mutant("pseudo-contexts-only", "theta_k from the pseudo contexts alone", _PseudoContextsOnly),
        Mutant("separate-means", "theta_k = mean(R_c) + mean(R'_k), pseudo weight fixed", _SeparateMeans),
    ),
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    plot=plot,
)
