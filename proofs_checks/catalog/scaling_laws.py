"""Claims ``scaling_laws.tradeoff_identity`` and ``scaling_laws.recovery``.

Su et al., *Unraveling the Mystery of Scaling Laws: Part I* (arXiv 2403.06563), Kaplan-form laws
(see :mod:`probtheory.training.scaling_laws`):

* with E = B S, the minimum steps S_min = S / (1 + B_crit/B) and minimum examples
  E_min = E / (1 + B/B_crit) lie on the trade-off curve (S/S_min - 1)(E/E_min - 1) = 1, and the
  loss curve L(N, S, B) solves its implicit equation (float64 identities);
* the constants are identifiable: runs simulated from known constants at two model sizes and two
  batch sizes straddling the critical batch size give the constants back (noise-free data;
  relative 1e-4, the least-squares tolerance being far tighter).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import scipy.optimize
from hypothesis import strategies as st

from probtheory.training.scaling_laws import ScalingLaw, fit_scaling_law
from proofs_checks.catalog.bibliography import SCALING_LAWS_PART1
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.strategies import seeds


@dataclass(frozen=True)
class LawInstance:
    law: ScalingLaw
    seed: int


def _laws() -> st.SearchStrategy[LawInstance]:
    law = st.builds(
        ScalingLaw,
        n_c=st.floats(1e3, 1e5),
        alpha_n=st.floats(0.1, 0.6),
        s_c=st.floats(10.0, 200.0),
        alpha_s=st.floats(0.3, 1.0),
        b_star=st.floats(5.0, 100.0),
        alpha_b=st.floats(0.2, 0.8),
    )
    return st.builds(LawInstance, law, seeds())


def _check_identity(inst: LawInstance, law_class) -> list[Evidence]:
    law = law_class(**{f.name: getattr(inst.law, f.name) for f in fields(ScalingLaw)})
    rng = np.random.default_rng(inst.seed)
    params = inst.law.n_c * np.exp(rng.uniform(-5, 0, 20))
    steps = np.exp(rng.uniform(0, 9, 20))
    batch = np.exp(rng.uniform(0, 8, 20))
    loss = law.loss(params, steps, batch)
    s_min, e_min = law.min_steps(steps, batch, loss), law.min_examples(batch * steps, batch, loss)
    product = (steps / s_min - 1) * (batch * steps / e_min - 1)
    implicit = law.converged_loss(params) + (law.s_c / s_min) ** law.alpha_s
    # S/S_min - 1 = B_crit/B = x and E/E_min - 1 = 1/x are differences of numbers near 1 + x and
    # 1 + 1/x: their relative round-off is about eps (1 + x)/x and eps (1 + x); 16 eps times that
    x = law.critical_batch_size(loss) / batch
    bound = 16 * np.finfo(float).eps * ((1 + x) / x + (1 + x))
    return [
        Evidence.at_most(
            "max over points of |(S/S_min - 1)(E/E_min - 1) - 1| / round-off bound",
            float(np.max(np.abs(product - 1) / bound)), 1.0,
            "float64 identity; the bound is 16 eps times the condition number of the two differences",
        ),
        Evidence.at_most(
            "max relative residual of the implicit loss equation", float(np.max(np.abs(implicit / loss - 1))),
            1e-12, "bisection to 1e-15 relative",
        ),
    ]  # fmt: skip


def _runs(law: ScalingLaw):
    sizes = (law.n_c / 30, law.n_c / 3)
    mid_loss = float(law.converged_loss(np.sqrt(sizes[0] * sizes[1])))
    b_crit = float(law.critical_batch_size(mid_loss))
    steps = law.s_c * np.geomspace(1, 200, 6)
    return [law.simulate(n, b, steps) for n in sizes for b in (b_crit / 4, 4 * b_crit)]


def _check_recovery(inst: LawInstance, fit) -> Evidence:
    fitted = fit(_runs(inst.law))
    errors = {
        f.name: abs(getattr(fitted, f.name) / getattr(inst.law, f.name) - 1) for f in fields(ScalingLaw)
    }
    worst = max(errors, key=errors.get)
    return Evidence.at_most(
        "largest relative error of a fitted constant", errors[worst], 1e-4,
        "noise-free runs from the law itself; least squares to 1e-14", worst=worst,
    )  # fmt: skip


class _SwappedExamplesLaw(ScalingLaw):
    """Mutant: E_min with B_crit / B in place of B / B_crit (the steps' formula reused)."""

    def min_examples(self, examples, batch_size, loss):  # noqa: D102
        return np.asarray(examples, dtype=float) / (1.0 + self.critical_batch_size(loss) / batch_size)


def _fit_ignoring_batch_size(runs) -> ScalingLaw:
    """Mutant: the fitter of a law without the critical batch size (S_min = S)."""
    params = np.concatenate([np.full(len(r.steps), r.params) for r in runs])
    steps = np.concatenate([np.asarray(r.steps, float) for r in runs])
    log_loss = np.log(np.concatenate([np.asarray(r.losses, float) for r in runs]))

    def residuals(v):
        n_c, alpha_n, s_c, alpha_s = np.exp(v)
        return np.log((n_c / params) ** alpha_n + (s_c / steps) ** alpha_s) - log_loss

    start = np.log([np.median(params), 0.3, np.median(steps) / 10, 0.5])
    n_c, alpha_n, s_c, alpha_s = np.exp(scipy.optimize.least_squares(residuals, start, method="lm").x)
    return ScalingLaw(n_c, alpha_n, s_c, alpha_s, b_star=1e-12, alpha_b=1.0)


TRADEOFF_IDENTITY_CLAIM = Claim(
    id="scaling_laws.tradeoff_identity",
    title="Minimum steps and examples lie on the trade-off curve (S/S_min - 1)(E/E_min - 1) = 1",
    paper=SCALING_LAWS_PART1,
    statement=(
        "With E = B S, S_min = S / (1 + B_crit(L)/B) and E_min = E / (1 + B/B_crit(L)) satisfy "
        "(S/S_min - 1)(E/E_min - 1) = 1, and L(N, S, B) solves L = (N_c/N)^a_N + (S_c/S_min)^a_S."
    ),
    formula=r"(S/S_{\min} - 1)(E/E_{\min} - 1) = 1",
    strategy=_laws,
    check=_check_identity,
    subject=ScalingLaw,
    mutants=(Mutant("swapped-e-min", "E_min with B_crit/B instead of B/B_crit", _SwappedExamplesLaw),),
    examples={"ci": 10, "thorough": 200},
    mutant_examples=3,
)

RECOVERY_CLAIM = Claim(
    id="scaling_laws.recovery",
    title="The scaling-law constants are recovered from small simulated runs",
    paper=SCALING_LAWS_PART1,
    statement=(
        "Runs at two model sizes and two batch sizes around the critical batch size determine "
        "all six constants (N_c, a_N, S_c, a_S, B_*, a_B): fitting noise-free runs generated "
        "by the law returns them."
    ),
    formula=r"\mathrm{fit}(\mathrm{simulate}(\theta)) = \theta",
    strategy=_laws,
    check=_check_recovery,
    subject=fit_scaling_law,
    mutants=(
        Mutant(
            "no-critical-batch", "a fitter whose law has no critical batch size", _fit_ignoring_batch_size
        ),
    ),
    examples={"ci": 2, "thorough": 20},
    mutant_examples=2,
)
