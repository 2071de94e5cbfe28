"""Claims ``logistic.perceptron_limit`` and ``logistic.separation_all_steps``.

Tyurin, *From logistic regression to the perceptron algorithm: exploring gradient descent with
large step sizes* (2024, arXiv 2412.08424); the bound and the termination argument below are
derived in docs/derivations.md, §4:

* with w_0 = 0, w_t / gamma under LR+GD tends to the batch perceptron u_t as gamma grows, with
  the derived bound ||w_t/gamma - u_t|| <= (t-1) R exp(-gamma m/2) (m: the smallest |margin| the
  perceptron meets after its first step) once that is below m / (2R);
* on separable data LR+GD reaches a separator for every step size, and the batch perceptron
  within 2 n R^2 / rho^2 updates.

Separability is an *assumption*: instances are certified by a linear program and an instance
that is not separable is discarded through ``hypothesis.assume`` (never counted as a pass);
the library functions that need it raise ``InputDataError`` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import assume
from hypothesis import strategies as st

from probtheory.theory.logistic import (
    GDTrajectory,
    batch_perceptron,
    check_labels,
    first_separating_iterate,
    logistic_gd,
    perceptron_iteration_bound,
    separability,
    small_step_separation_bound,
    smooth_step_limit,
)
from proofs_checks.catalog.bibliography import TYURIN_2024
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import BOUND, instance_label, label_axes
from proofs_checks.strategies import seeds


@dataclass(frozen=True)
class SeparableData:
    n: int
    d: int
    margin: float  # planted: points with |a.w*| < margin * ||a|| are dropped
    anisotropy: float  # feature scales range over [1, anisotropy]
    seed: int

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Features `n x d` and labels `n`, separable through the origin by a planted direction."""
        g = torch.Generator().manual_seed(self.seed)
        w_star = torch.randn(self.d, generator=g, dtype=torch.float64)
        w_star = w_star / w_star.norm()
        scales = torch.logspace(0.0, math.log10(self.anisotropy), self.d, dtype=torch.float64)
        rows: list[torch.Tensor] = []
        while sum(r.shape[0] for r in rows) < self.n:
            a = torch.randn(4 * self.n, self.d, generator=g, dtype=torch.float64) * scales
            keep = (a @ w_star).abs() >= self.margin * a.norm(dim=1)
            rows.append(a[keep])
        a = torch.cat(rows)[: self.n]
        return a, torch.sign(a @ w_star)


def _data_strategy():
    return st.builds(
        SeparableData,
        st.integers(10, 200),
        st.integers(2, 20),
        st.floats(0.02, 0.2),
        st.floats(1.0, 10.0),
        seeds(),
    )


@dataclass(frozen=True)
class LogisticSubject:
    """LR+GD and the batch perceptron (mutants replace one of them)."""

    gd: Any  # signature of logistic_gd
    perceptron: Any  # signature of batch_perceptron


_HORIZON = 30
# exponents gamma * m / 2 at which the reduction bound is checked
_EXPONENTS = (5.0, 10.0, 20.0, 40.0)
# and at which the report draws the distance (the whole approach to the limit, bound or not)
_CURVE_EXPONENTS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 14.0, 20.0, 40.0)


def _certified(data: SeparableData):
    a, y = data.tensors()
    verdict = separability(a, y)
    # the claims assume separable data: an instance without it is not evidence either way
    assume(verdict.separable)
    return a, y, verdict


def _check_limit(data: SeparableData, subject: LogisticSubject) -> list[Evidence]:
    a, y, _ = _certified(data)
    radius = float(a.norm(dim=1).max())
    u = subject.perceptron(a, y, _HORIZON).iterates
    ya = y[:, None] * a
    margins = (u[1:] @ ya.T).abs()
    m_min = float(margins.min())
    assume(m_min > 0)  # general position: no exact tie after the first step
    scale = float(u.norm(dim=1).max()) + 1.0
    roundoff = 1e-12 * _HORIZON * scale

    def gap_at(x: float) -> float:
        gamma = 2.0 * x / m_min
        return float((subject.gd(a, y, gamma, _HORIZON).iterates / gamma - u).norm(dim=1).max())

    evidence = []
    for x in _EXPONENTS:
        gamma = 2.0 * x / m_min
        bound = (_HORIZON - 1) * radius * math.exp(-x)
        if bound > m_min / (2 * radius):
            continue  # the derived bound needs the deviation to stay below m/(2R)
        gap = gap_at(x)
        evidence.append(
            Evidence.at_most(
                f"max_t ||w_t/gamma - u_t|| at gamma*m/2 = {x:g}",
                gap, bound,
                "derived: |sigma(-gamma m_i) - 1(m_i<0)| <= exp(-gamma m/2) while the deviation is "
                "< m/(2R), and the first step is exact (sigma(0) = 1/2); + float64 round-off",
                tolerance=roundoff, gamma=gamma, m_min=m_min, radius=radius,
            )
        )  # fmt: skip
    assume(evidence)
    evidence[0].details["curve"] = {x: gap_at(x) for x in _CURVE_EXPONENTS}
    return evidence


def plot_limit(records, ax) -> None:
    """Distance of w_t/gamma from the perceptron against gamma m/2, with each instance's bound."""
    ax.set_yscale("log", nonpositive="mask")  # an exact 0 (the limit reached in float64) is left out
    for i, (data, evidence) in enumerate(records):
        curve = evidence[0].details["curve"]
        label = instance_label(i, f"n = {data.n}, d = {data.d}")
        line = ax.plot(list(curve), list(curve.values()), "o-", ms=3, label=label)
        checked = [e.details["gamma"] * e.details["m_min"] / 2 for e in evidence]
        bound = [
            (_HORIZON - 1) * e.details["radius"] * math.exp(-x)
            for e, x in zip(evidence, checked, strict=True)
        ]
        ax.plot(checked, bound, "--", lw=0.9, color=line[0].get_color())
    if records:
        roundoff = max(e.tolerance for _, evidence in records for e in evidence)
        ax.axhline(roundoff, label=f"float64 round-off allowed ({roundoff:.1g})", **BOUND)
    ax.plot([], [], "k--", lw=0.9, label="bound (T-1) R exp(-gamma m/2), where it applies")
    label_axes(ax, "gamma m / 2", f"max_t ||w_t/gamma - u_t|| (T = {_HORIZON})")


def _perceptron_tie_one(a, y, iterations, **kwargs) -> GDTrajectory:
    # mutant: ties weigh 1 instead of sigma(0) = 1/2
    return batch_perceptron(a, y, iterations, tie_weight=1.0, **kwargs)


def _gd_sum_loss(a, y, step, iterations, **kwargs) -> GDTrajectory:
    # mutant: the summed (not averaged) logistic loss; its limit is the sum-perceptron
    a64, _ = check_labels(a, y)
    return logistic_gd(a, y, step * a64.shape[0], iterations, **kwargs)


PERCEPTRON_LIMIT_CLAIM = Claim(
    id="logistic.perceptron_limit",
    title="LR+GD iterates divided by the step converge to the batch perceptron",
    paper=TYURIN_2024,
    statement=(
        "From w_0 = 0, u_t = w_t / gamma under gradient descent on the mean logistic loss follows "
        "u_{t+1} = u_t + mean_i y_i a_i sigma(-gamma y_i a_i.u_t), which tends to the batch "
        "perceptron (ties weighted 1/2) exponentially fast in gamma for a fixed horizon."
    ),
    formula=(
        r"\max_{t \le T} \|w_t/\gamma - u_t\| \le (T-1) R \exp(-\gamma m/2),\quad m = \min_{i,\, t "
        r"\ge 1} |y_i\, a_i \cdot u_t|"
    ),
    strategy=_data_strategy,
    check=_check_limit,
    subject=LogisticSubject(logistic_gd, batch_perceptron),
    mutants=(
        Mutant(
            "tie-weight-one",
            "the limit perceptron weighs ties 1, not 1/2",
            LogisticSubject(logistic_gd, _perceptron_tie_one),
        ),
        Mutant(
            "sum-loss",
            "gradient descent on the summed loss (the limit is scaled by n)",
            LogisticSubject(_gd_sum_loss, batch_perceptron),
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
    plot=plot_limit,
)


# step sizes, in units of the classical smooth-regime limit 1/L
_STEP_MULTIPLES = (1.0, 10.0, 1e3, 1e6)


def _check_separation(data: SeparableData, subject: LogisticSubject) -> list[Evidence]:
    a, y, verdict = _certified(data)
    limit = smooth_step_limit(a)
    small_bound = small_step_separation_bound(a, y, limit)
    perceptron_bound = perceptron_iteration_bound(a, y)
    budget = max(small_bound, perceptron_bound)
    evidence = []
    u = subject.perceptron(a, y, 0).iterates[-1]
    ya = y[:, None] * a
    steps = 0
    while not (ya @ u > 0).all() and steps <= perceptron_bound:
        u = subject.perceptron(a, y, 1, initial=u).iterates[-1]
        steps += 1
    evidence.append(
        Evidence.at_most(
            "batch perceptron updates until separation",
            steps, perceptron_bound,
            "Novikoff: sum of the update weights <= R^2/rho^2, each >= 1/(2n) (rho: LP margin)",
            radius=verdict.radius, margin=verdict.margin,
        )
    )  # fmt: skip
    counts = []
    for multiple in _STEP_MULTIPLES:
        gamma = multiple * limit
        allowed = small_bound if multiple <= 1.0 else budget
        t = first_separating_iterate(subject.gd, a, y, gamma, allowed)
        counts.append(t)
        evidence.append(
            Evidence.at_most(
                f"LR+GD iterations to separate at gamma = {multiple:g}/L",
                math.inf if t is None else t, allowed,
                "gamma <= 1/L: classical smooth convex GD bound (exact); larger gamma: separation for "
                "every step size (Tyurin 2024; Wu et al. 2024) - the budget, max of the small-step and "
                "perceptron bounds, is generous, not a constant of the paper",
                gamma=gamma,
            )
        )  # fmt: skip
    evidence[0].details["iterations"] = counts
    return evidence


def plot_separation(records, ax) -> None:
    """LR+GD iterations until the data are separated, against the step size in units of 1/L."""
    for i, (data, evidence) in enumerate(records):
        counts, allowed = [e.measured for e in evidence[1:]], [e.measured + e.margin for e in evidence[1:]]
        label = instance_label(i, f"n = {data.n}, d = {data.d}")
        line = ax.plot(_STEP_MULTIPLES, counts, "o-", ms=4, label=label)
        ax.plot(_STEP_MULTIPLES, allowed, "v", ms=5, mfc="none", color=line[0].get_color())
    ax.plot([], [], "kv", mfc="none", label="iterations allowed (small-step / perceptron bound)")
    label_axes(ax, "step size gamma x L", "LR+GD iterations to a separating w_t", xscale="log", yscale="log")


def _gd_squared_loss(a, y, step, iterations, *, initial=None) -> GDTrajectory:
    # mutant: gradient descent on the squared loss mean (1 - y a.w)^2 / 2: diverges for large steps
    a, y = check_labels(a, y)
    w = torch.zeros(a.shape[1], dtype=torch.float64) if initial is None else initial
    out = [w]
    with torch.no_grad():
        for _ in range(iterations):
            r = a @ out[-1] - y
            out.append(out[-1] - step * (a * r[:, None]).mean(0))
    return GDTrajectory(torch.stack(out), step)


SEPARATION_ALL_STEPS_CLAIM = Claim(
    id="logistic.separation_all_steps",
    title="On separable data LR+GD separates for every step size; the batch perceptron terminates",
    paper=TYURIN_2024,
    statement=(
        "If the data are linearly separable (certified by an LP; otherwise the assumption is not "
        "met and the instance is discarded), gradient descent on the logistic loss reaches a "
        "separating iterate for every step size, small or huge, and the batch perceptron "
        "separates within 2 n R^2 / rho^2 updates."
    ),
    formula=(
        r"\forall \gamma > 0\ \exists t:\ y_i\, a_i \cdot w_t > 0\ \forall i;\quad \text{perceptron "
        r"updates} \le 2nR^2/\rho^2"
    ),
    strategy=_data_strategy,
    check=_check_separation,
    subject=LogisticSubject(logistic_gd, batch_perceptron),
    mutants=(
        Mutant(
            "squared-loss",
            "gradient descent on the squared loss: diverges once gamma exceeds 2/lambda_max",
            LogisticSubject(_gd_squared_loss, batch_perceptron),
        ),
    ),
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    plot=plot_separation,
)
