r"""Claim ``mpnp.marginal_loss`` (the MPNP marginal loss is the log-mean-exp of the task likelihoods).

Lee, Yun, Nam, Fong & Lee, *Martingale Posterior Neural Processes* (ICLR 2023), Sec. 3.3: with
theta_1..theta_K drawn from the amortised martingale posterior given the context, the marginal
term of the loss is the negative Monte-Carlo estimate of the log marginal likelihood of the
task, per point:

    L_marg = -(1 / |Z|) log (1/K) sum_k exp( sum_{(x, y) in Z} log p(y | x, theta_k) ),

averaged over the tasks of a batch (Z = context and target points). It is the log of a mean,
not a mean of logs: by Jensen's inequality the two differ whenever the theta_k disagree.

The reference recomputes it from scratch on the public API: the per-point predictive
components N(mu_k(x), sigma_k(x)^2) that ``MPNP.predict`` returns for the same generator seed
(the same theta_k as the loss draws), torch's ``Normal.log_prob`` summed over the task's points
in float64, then ``torch.logsumexp`` over k minus log K. Both public paths are compared:
``loss_terms(batch).marginal``, and ``loss(batch)`` with the two other terms weighted 0.
Tolerance: 8 eps (1 + (1/|Z|) sum |log p|) of the model's dtype, the round-off of summing the
per-point log-densities (the reference itself is exact to float64).

Every instance checks float32 and float64 models, K = 1 and a drawn K in 2..8, and context sizes
1 and a drawn n up to 30, with 0 to 10 target points and 1 to 4 tasks. One context point is the
fewest ``MPNP`` accepts (an empty context raises ``InputDataError``); the regimes require a drawn
n strictly between 1 and 30, n = 30, no target (Z is the context alone) and some targets.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch.distributions import Normal

from probtheory.processes.mpnp import MPNP, MPNPConfig, MPNPLoss
from probtheory.processes.neural_process import task_log_likelihood
from probtheory.processes.tasks import GPTaskSampler, TaskBatch
from proofs_checks.catalog.bibliography import LEE_MPNP_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import seeds

MAX_CONTEXT = 30


@dataclass(frozen=True)
class MarginalInstance:
    kernel: str
    hidden: int
    depth: int
    num_pseudo: int
    num_samples: int
    num_tasks: int
    context: int
    targets: int
    seed: int


def _instances() -> st.SearchStrategy[MarginalInstance]:
    return st.builds(
        MarginalInstance,
        kernel=st.sampled_from(["rbf", "matern52", "periodic"]),
        hidden=st.sampled_from([8, 16]),
        depth=st.integers(1, 2),
        num_pseudo=st.integers(1, 8),
        num_samples=st.integers(2, 8),
        num_tasks=st.integers(1, 4),
        context=st.integers(1, MAX_CONTEXT),
        targets=st.integers(0, 10),
        seed=seeds(),
    )


def _reference(model: MPNP, batch: TaskBatch, num_samples: int, seed: int) -> tuple[float, float]:
    """(L_marg from the predictive components, the mean per-point |log p| for the tolerance)."""
    with torch.no_grad():
        mixture = model.predict(batch.context_x, batch.context_y, batch.x, num_samples=num_samples, seed=seed)
    components = mixture.component_distribution  # batch x |Z| x K normals, float64
    per_point = Normal(components.loc.double(), components.scale.double()).log_prob(batch.y.unsqueeze(-1))
    task = per_point.sum(-2)  # batch x K: log p(Z | theta_k)
    size = batch.y.shape[-1]
    marginal = -((torch.logsumexp(task, -1) - math.log(num_samples)) / size).mean()
    return float(marginal), float(per_point.abs().sum(-2).max(-1).values.mean() / size)


def _check(inst: MarginalInstance, subject) -> list[Evidence]:
    sampler = GPTaskSampler(inst.kernel)
    full = sampler.sample(
        inst.num_tasks, num_context=MAX_CONTEXT, num_target=max(inst.targets, 1), seed=inst.seed
    )
    worst = {"loss_terms": (0.0, ""), "loss": (0.0, "")}
    for dtype in (torch.float32, torch.float64):
        for num_samples in (1, inst.num_samples):
            for n in sorted({1, inst.context}):
                batch = dataclasses.replace(
                    full,
                    context_x=full.context_x[:, :n],
                    context_y=full.context_y[:, :n],
                    target_x=full.target_x[:, : inst.targets],
                    target_y=full.target_y[:, : inst.targets],
                )
                where = (
                    f"{str(dtype).removeprefix('torch.')}, K = {num_samples}, n = {n}, {inst.targets} targets"
                )
                for path, weight in (("loss_terms", 1.0), ("loss", 0.0)):
                    config = MPNPConfig(
                        hidden=inst.hidden, depth=inst.depth, num_samples=num_samples,
                        num_pseudo=inst.num_pseudo, num_heads=2, num_inducing=4,
                        amortised_weight=weight, pseudo_weight=weight,
                    )  # fmt: skip
                    model = subject(config, seed=inst.seed % 2**31).to(dtype).eval()
                    reference, magnitude = _reference(model, batch, num_samples, inst.seed)
                    generator = torch.Generator().manual_seed(inst.seed)
                    with torch.no_grad():
                        if path == "loss_terms":
                            measured = float(model.loss_terms(batch, generator).marginal)
                        else:
                            measured = float(model.loss(batch, generator))
                    tol = 8 * torch.finfo(dtype).eps * (1 + magnitude)
                    error = abs(measured - reference) / tol
                    if error > worst[path][0]:
                        worst[path] = (error, where)
    reason = (
        "8 eps (1 + mean |log p| per point): round-off of summing the per-point log-densities in the dtype"
    )
    return [
        Evidence.at_most(
            "|loss_terms(batch).marginal - [-(logsumexp_k log p(Z | theta_k) - log K) / |Z|]| / tolerance",
            worst["loss_terms"][0], 1.0, reason, worst_case=worst["loss_terms"][1],
        ),
        Evidence.at_most(
            "|loss(batch) with L_amort, L_pseudo weighted 0 - the same reference| / tolerance",
            worst["loss"][0], 1.0, reason, worst_case=worst["loss"][1],
        ),
    ]  # fmt: skip


def _regimes(inst: MarginalInstance) -> dict[str, str | tuple[str, ...]]:
    sizes = ("1",)  # every instance checks n = 1 and its drawn n
    if inst.context == MAX_CONTEXT:
        sizes += (f"{MAX_CONTEXT} (the most)",)
    elif inst.context > 1:
        sizes += ("2 to 29",)
    return {
        "context size": sizes,
        "targets": "none (Z = the context)" if inst.targets == 0 else "1 to 10",
        "dtype": ("float32", "float64"),
        "K": ("1", "2 to 8"),
    }


REGIMES = Regimes(
    of=_regimes,
    cases={
        "context size": {
            "1": None,
            "2 to 29": {"context": st.integers(2, MAX_CONTEXT - 1)},
            f"{MAX_CONTEXT} (the most)": {"context": MAX_CONTEXT},
        },
        "targets": {"none (Z = the context)": {"targets": 0}, "1 to 10": {"targets": st.integers(1, 10)}},
        "dtype": {"float32": None, "float64": None},
        "K": {"1": None, "2 to 8": None},
    },
)


# --------------------------------------------------------------------------------- mutants


class _ReducedMarginal(MPNP):
    """``MPNP.loss_terms`` with the reduction of the task log-likelihoods over k replaced."""

    @staticmethod
    def reduce(task_ll: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def loss_terms(self, batch: TaskBatch, generator: torch.Generator | None = None) -> MPNPLoss:  # noqa: D102
        cx, cy, x, y = self._batch_tensors(batch)
        if generator is None:
            generator = torch.Generator()
            generator.seed()
        context_r, pseudo_r, theta = self._thetas(cx, cy, self.config.num_samples, generator)
        per_point = 1.0 / y.shape[-1]
        mean, std = self.decoder(x, theta)
        marginal = -(self.reduce(task_log_likelihood(mean, std, y)) * per_point).mean()
        mean, std = self.decoder(x, context_r.mean(-2))
        amortised = -(task_log_likelihood(mean, std, y) * per_point).mean()
        mean, std = self.decoder(x, pseudo_r.mean(-2))
        pseudo = -(task_log_likelihood(mean, std, y) * per_point).mean()
        c = self.config
        return MPNPLoss(
            marginal + c.amortised_weight * amortised + c.pseudo_weight * pseudo, marginal, amortised, pseudo
        )


class _MeanOfLogs(_ReducedMarginal):
    """Mutant: the mean over k of the log-likelihoods (lower, by Jensen) instead of the log of the mean."""

    @staticmethod
    def reduce(task_ll: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return task_ll.mean(0)


class _LogSumExp(_ReducedMarginal):
    """Mutant: logsumexp over k without the - log K: the log of a sum, not of a mean."""

    @staticmethod
    def reduce(task_ll: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.logsumexp(task_ll, 0)


MARGINAL_LOSS_CLAIM = Claim(
    id="mpnp.marginal_loss",
    title="The MPNP marginal loss is -log of the mean over K posterior draws of the task likelihood",
    paper=LEE_MPNP_2023,
    section="Sec. 3.3",
    statement=(
        "The marginal term of the MPNP loss is minus the log of the Monte-Carlo mean, over the K draws "
        "theta_k of the amortised martingale posterior, of the likelihood of all the task's points, "
        "divided by the number of points and averaged over tasks: a log-mean-exp of the per-task "
        "log-likelihoods, on both public paths (loss_terms, loss), float32 or float64, any K and context."
    ),
    formula=(
        r"L_{\mathrm{marg}} = -\frac{1}{|Z|} \Big[\operatorname{logsumexp}_k \sum_{(x,y) \in Z} "
        r"\log p(y \mid x, \theta_k) - \log K\Big]"
    ),
    strategy=_instances,
    check=_check,
    subject=MPNP,
    mutants=(
        Mutant(
            "mean-of-logs",
            "mean_k log p(Z | theta_k) instead of log mean_k p(Z | theta_k) (Jensen gap)",
            _MeanOfLogs,
        ),
        Mutant("missing-log-K", "logsumexp_k without - log K", _LogSumExp),
    ),  # fmt: skip
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    regimes=REGIMES,
)
