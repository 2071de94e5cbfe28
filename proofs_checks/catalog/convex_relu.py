"""Claims ``convex_relu.*``: two-layer ReLU training is a convex program (Pilanci & Ergen, ICML 2020).

Pilanci & Ergen, *Neural Networks are Convex Regularizers* (ICML 2020), Theorem 1; Bai, Gautam &
Sojoudi (SIAM J. Math. Data Sci. 2023) for the adversarial variant:

* ``convex_relu.attained``: the network rebuilt from the convex solution attains the convex
  optimum: its regularised training loss equals the program's value (to the solver's accuracy);
* ``convex_relu.global_lower_bound``: with every activation pattern enumerated, no gradient-descent
  run (Adam, random starts, more neurons than needed) gets below the convex optimum;
* ``convex_relu.adversarial_attained``: the rebuilt network of the robust program has exactly the
  program's value as its worst-case (l_inf ball) regularised loss, which is >= the standard optimum.

Tolerance: the default solve asks Clarabel for duality gap and feasibility residuals of
``SOLVER_TOLERANCE`` = 1e-9 (absolute and relative); the rebuilt network's loss departs from the
program's value by those residuals summed over at most 2P <= ~200 columns, so 1e3 x 1e-9 x
max(1, |p*|) = 1e-6 max(1, |p*|) is a bound with headroom, not a fitted fudge factor (measured
departures are ~1e-9).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from probtheory._checks import require_module
from probtheory.training.convex_relu import (
    SOLVER_TOLERANCE,
    ConvexReLUResult,
    activation_patterns,
    fit_convex_relu,
    fit_convex_relu_adversarial,
    rebuild_network,
    two_layer_objective,
)
from proofs_checks.catalog.bibliography import BAI_GAUTAM_SOJOUDI_2023, PILANCI_ERGEN_2020
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes, strip_against_bound
from proofs_checks.strategies import seeds

_F64 = torch.float64


def _tolerance(value: float) -> float:
    return 1e3 * SOLVER_TOLERANCE * max(1.0, abs(value))


_TOLERANCE_REASON = "1e3 x the solver's 1e-9 gap/feasibility tolerance, relative to max(1, |p*|)"


@dataclass(frozen=True)
class Instance:
    n: int
    d: int
    beta: float
    seed: int


def _data(inst: Instance) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(inst.seed)
    x = torch.randn(inst.n, inst.d, generator=gen, dtype=_F64)
    y = torch.randn(inst.n, generator=gen, dtype=_F64)
    return x, y


def _strategy():
    return st.builds(
        Instance, st.integers(3, 10), st.integers(1, 2), st.floats(-3.0, 0.0).map(lambda e: 10.0**e), seeds()
    )


# ------------------------------------------------------------------------------- attained


def _check_attained(inst: Instance, fit) -> Evidence:
    x, y = _data(inst)
    result: ConvexReLUResult = fit(x, y, inst.beta)
    with torch.no_grad():
        loss = two_layer_objective(result.network, x, y, inst.beta).item()
    return Evidence.within(
        "regularised training loss of the rebuilt network", loss, result.objective,
        _tolerance(result.objective), _TOLERANCE_REASON, neurons=result.neurons,
        patterns=result.patterns_used,
    )  # fmt: skip


def _fit_without_cone_constraints(x, y, beta) -> ConvexReLUResult:
    """Mutant: the group lasso without the constraints (2 D_i - I) X v_i >= 0."""
    cp = require_module("cvxpy", extra="convex", purpose="the convex_relu claims")
    reference = fit_convex_relu(x, y, beta)
    masks = reference.patterns.numpy().T.astype(float)
    features = np.hstack([x.numpy(), np.ones((x.shape[0], 1))])
    v, w = cp.Variable((features.shape[1], masks.shape[1])), cp.Variable((features.shape[1], masks.shape[1]))
    prediction = cp.sum(cp.multiply(masks, features @ (v - w)), axis=1)
    penalty = beta * (cp.sum(cp.norm(v, 2, axis=0)) + cp.sum(cp.norm(w, 2, axis=0)))
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(prediction - y.numpy()) + penalty))
    tol = SOLVER_TOLERANCE
    problem.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    v_t, w_t = torch.from_numpy(v.value.T.copy()), torch.from_numpy(w.value.T.copy())
    network, first, second = rebuild_network(v_t, w_t, d=x.shape[1])
    return _replace(reference, network, float(problem.value), v_t, w_t, first, second)


def _fit_rebuilt_without_sqrt(x, y, beta) -> ConvexReLUResult:
    """Mutant: the rebuilt network uses u = v_i, alpha = +-1 (the sqrt(||v_i||) rescaling forgotten)."""
    result = fit_convex_relu(x, y, beta)
    keep_v, keep_w = result.v.norm(dim=1) > 1e-9, result.w.norm(dim=1) > 1e-9
    first = torch.cat([result.v[keep_v], result.w[keep_w]])
    second = torch.cat([torch.ones(int(keep_v.sum())), -torch.ones(int(keep_w.sum()))]).to(_F64)
    hidden = torch.nn.Linear(x.shape[1], first.shape[0], dtype=_F64)
    out = torch.nn.Linear(first.shape[0], 1, bias=False, dtype=_F64)
    with torch.no_grad():
        hidden.weight.copy_(first[:, :-1])
        hidden.bias.copy_(first[:, -1])
        out.weight.copy_(second[None])
    network = torch.nn.Sequential(hidden, torch.nn.ReLU(), out)
    return _replace(result, network, result.objective, result.v, result.w, first, second)


def _fit_with_half_beta(x, y, beta) -> ConvexReLUResult:
    """Mutant: the convex program penalises beta/2 sum ||v_i|| (regularisation mismatch)."""
    result = fit_convex_relu(x, y, beta / 2)
    return _replace(result, result.network, result.objective, result.v, result.w,
                    result.first_layer, result.second_layer)  # fmt: skip


def _replace(result, network, objective, v, w, first, second) -> ConvexReLUResult:
    fields = dict(result.__dict__)
    fields.update(network=network, objective=objective, v=v, w=w, first_layer=first, second_layer=second)
    return ConvexReLUResult(**fields)


ATTAINED_CLAIM = Claim(
    id="convex_relu.attained",
    title="The network rebuilt from the convex program attains its optimum",
    paper=PILANCI_ERGEN_2020,
    statement=(
        "Solving the cone-constrained group lasso over all activation patterns and rebuilding "
        "u = v_i/sqrt(||v_i||), alpha = sqrt(||v_i||) (and alpha = -sqrt(||w_i||)) gives a two-layer "
        "ReLU network whose regularised squared loss equals the convex optimum."
    ),
    formula=(
        r"\frac{1}{2} \|\sum_j (X u_j)_+ \alpha_j - y\|^2 + \frac{\beta}{2} \sum_j (\|u_j\|^2 + "
        r"\alpha_j^2) = \min \frac{1}{2} \|\sum_i D_i X (v_i - w_i) - y\|^2 + \beta \sum_i (\|v_i\| "
        r"+ \|w_i\|) \quad \text{s.t. } (2D_i - I) X v_i, w_i \ge 0"
    ),
    strategy=_strategy,
    check=_check_attained,
    subject=fit_convex_relu,
    mutants=(
        Mutant(
            "no-cone-constraints",
            "the group lasso without (2D_i - I) X v_i >= 0",
            _fit_without_cone_constraints,
        ),
        Mutant(
            "rebuilt-without-sqrt",
            "u = v_i, alpha = +-1 instead of the sqrt(||v_i||) rescaling",
            _fit_rebuilt_without_sqrt,
        ),
        Mutant("half-beta", "the convex program uses beta/2 on the group norms", _fit_with_half_beta),
    ),  # fmt: skip
    examples={"ci": 5, "thorough": 60},
    mutant_examples=3,
)

# ------------------------------------------------------------------------ global lower bound

_RESTARTS = 6
_STEPS = 3000


def adam_two_layer(
    x: np.ndarray, y: np.ndarray, beta: float, width: int, restarts: int, steps: int, seed: int
):
    """Adam on the non-convex objective from ``restarts`` random starts at once (numpy, exact gradients).

    Returns the final objective of each run (evaluated exactly at the final weights).
    """
    rng = np.random.default_rng(seed)
    features = np.hstack([x, np.ones((x.shape[0], 1))])  # n x k (bias last: a column of ones, penalised)
    u = rng.standard_normal((restarts, width, features.shape[1])) / math.sqrt(features.shape[1])
    a = rng.standard_normal((restarts, width)) / math.sqrt(width)
    params, moments = [u, a], [[np.zeros_like(u), np.zeros_like(u)], [np.zeros_like(a), np.zeros_like(a)]]
    lr, b1, b2 = 0.01, 0.9, 0.999

    def objective_and_grads(u, a):
        pre = np.einsum("rmk,nk->rnm", u, features)
        act = np.maximum(pre, 0.0)
        resid = np.einsum("rnm,rm->rn", act, a) - y
        value = 0.5 * (resid**2).sum(1) + 0.5 * beta * ((u**2).sum((1, 2)) + (a**2).sum(1))
        grad_a = np.einsum("rnm,rn->rm", act, resid) + beta * a
        grad_pre = resid[:, :, None] * a[:, None, :] * (pre > 0)
        grad_u = np.einsum("rnm,nk->rmk", grad_pre, features) + beta * u
        return value, (grad_u, grad_a)

    for t in range(1, steps + 1):
        _, grads = objective_and_grads(*params)
        for p, g, (m, s) in zip(params, grads, moments, strict=True):
            m *= b1
            m += (1 - b1) * g
            s *= b2
            s += (1 - b2) * g**2
            p -= lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + 1e-12)
    return objective_and_grads(*params)[0]


def _check_lower_bound(inst: Instance, fit) -> Evidence:
    x, y = _data(inst)
    result: ConvexReLUResult = fit(x, y, inst.beta)
    width = 2 * (inst.n + 1)  # > n + 1 >= m*: the non-convex problem can reach p*
    runs = adam_two_layer(x.numpy(), y.numpy(), inst.beta, width, _RESTARTS, _STEPS, inst.seed)
    return Evidence.at_least(
        f"best regularised loss of {_RESTARTS} Adam runs ({_STEPS} steps, {width} neurons)",
        runs.min(), result.objective, _TOLERANCE_REASON, tolerance=_tolerance(result.objective),
        runs=runs.tolist(), patterns=result.patterns_used, optimum=result.objective,
    )  # fmt: skip


def plot_lower_bound(records, ax) -> None:
    """Final loss of every Adam run above the convex optimum p*, per instance: none may end below it."""
    groups = {}
    for i, (_, evidence) in enumerate(records):
        optimum = evidence[0].details["optimum"]
        groups[f"{i + 1}"] = [(run - optimum) / max(1.0, abs(optimum)) for run in evidence[0].details["runs"]]
    strip_against_bound(ax, groups, -_tolerance(0.0), "-tolerance (solver accuracy)")
    ax.axhline(0.0, color="0.6", lw=0.8)
    # symmetric log: runs that reach p* sit at the solver's accuracy, the others decades above
    ax.set_yscale("symlog", linthresh=_tolerance(0.0) / 10)
    highest = max((v for values in groups.values() for v in values), default=1.0)
    ax.set_ylim(-10 * _tolerance(0.0), 3 * max(highest, 1e-5))
    label_axes(ax, f"instance ({_RESTARTS} Adam runs each)", "(final loss - p*) / max(1, |p*|)")


def _fit_with_few_patterns(x, y, beta) -> ConvexReLUResult:
    """Mutant: 3 of the nonzero activation patterns only (the value is then only an upper bound).

    Chosen at random (seed 0) among the enumerated ones: 3 sampled directions may all give the
    all-zero pattern on a few 1-d points, which the library refuses (an ERROR, not a rejection).
    """
    masks, _ = activation_patterns(x)
    keep = torch.randperm(len(masks), generator=torch.Generator().manual_seed(0))[:3]
    return fit_convex_relu(x, y, beta, patterns=masks[keep])


GLOBAL_LOWER_BOUND_CLAIM = Claim(
    id="convex_relu.global_lower_bound",
    title="No gradient-descent run beats the convex optimum",
    paper=PILANCI_ERGEN_2020,
    statement=(
        "With every activation pattern enumerated, the convex optimum is the global minimum of the "
        "non-convex weight-decayed training loss: Adam from random starts, with more than n + 1 neurons, "
        "never ends below it (it may end above: local minima and finite steps)."
    ),
    formula=r"\min_{\text{runs}} L(u, \alpha) \ge p^*_{\mathrm{convex}} - \mathrm{tol}",
    strategy=_strategy,
    check=_check_lower_bound,
    subject=fit_convex_relu,
    mutants=(
        Mutant("three-patterns", "the convex program over 3 of its patterns only", _fit_with_few_patterns),
    ),
    examples={"ci": 3, "thorough": 40},
    mutant_examples=3,
    plot=plot_lower_bound,
)

# --------------------------------------------------------------------------- adversarial


@dataclass(frozen=True)
class AdversarialInstance:
    n: int
    d: int
    beta: float
    epsilon: float
    seed: int


def worst_case_loss(network, x: torch.Tensor, y: torch.Tensor, beta: float, epsilon: float) -> float:
    """Regularised squared loss at the worst corner of each sample's l_inf ball.

    Exact worst case for a network that is linear on every ball (locked activation patterns),
    and a lower bound on it for any other network.
    """
    corners = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=x.shape[1])), dtype=_F64) * epsilon
    with torch.no_grad():
        out = network(x[:, None, :] + corners[None]).squeeze(-1)
        errors = (out - y[:, None]).square().max(1).values
        penalty = sum(p.square().sum() for p in network.parameters())
    return 0.5 * errors.sum().item() + 0.5 * beta * float(penalty)


def _check_adversarial(inst: AdversarialInstance, fit) -> list[Evidence]:
    x, y = _data(Instance(inst.n, inst.d, inst.beta, inst.seed))
    robust: ConvexReLUResult = fit(x, y, inst.beta, inst.epsilon)
    standard = fit_convex_relu(x, y, inst.beta)
    worst = worst_case_loss(robust.network, x, y, inst.beta, inst.epsilon)
    return [
        Evidence.within(
            "worst-case (l_inf ball corners) regularised loss of the rebuilt robust network", worst,
            robust.objective, _tolerance(robust.objective),
            _TOLERANCE_REASON + "; exact worst case since the patterns are locked on each ball",
        ),
        Evidence.at_least(
            "robust convex optimum", robust.objective, standard.objective,
            "the robust program restricts the feasible set and enlarges the loss", tolerance=_tolerance(
                standard.objective),
        ),
    ]  # fmt: skip


def _robust_without_locked_patterns(x, y, beta, epsilon) -> ConvexReLUResult:
    """Mutant: robust loss, but plain cone constraints (activation patterns may flip in the ball)."""
    cp = require_module("cvxpy", extra="convex", purpose="the convex_relu claims")
    result = fit_convex_relu_adversarial(x, y, beta, epsilon)  # for the patterns and metadata
    masks = result.patterns.numpy().T.astype(float)
    features = np.hstack([x.numpy(), np.ones((x.shape[0], 1))])
    k, p, d = features.shape[1], masks.shape[1], x.shape[1]
    v, w, worst = cp.Variable((k, p)), cp.Variable((k, p)), cp.Variable(x.shape[0])
    prediction = cp.sum(cp.multiply(masks, features @ (v - w)), axis=1)
    sensitivity = cp.sum(cp.abs(masks @ (v[:d] - w[:d]).T), axis=1)
    signs = 2 * masks - 1
    constraints = [
        cp.multiply(signs, features @ v) >= 0, cp.multiply(signs, features @ w) >= 0,
        worst >= cp.abs(prediction - y.numpy()) + epsilon * sensitivity,
    ]  # fmt: skip
    penalty = beta * (cp.sum(cp.norm(v, 2, axis=0)) + cp.sum(cp.norm(w, 2, axis=0)))
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(worst) + penalty), constraints)
    problem.solve(solver="CLARABEL")
    v_t, w_t = torch.from_numpy(v.value.T.copy()), torch.from_numpy(w.value.T.copy())
    network, first, second = rebuild_network(v_t, w_t, d=d)
    return _replace(result, network, float(problem.value), v_t, w_t, first, second)


def _robust_constraints_standard_loss(x, y, beta, epsilon) -> ConvexReLUResult:
    """Mutant: locked patterns but the nominal (not worst-case) loss in the objective."""
    result = fit_convex_relu_adversarial(x, y, beta, epsilon)
    network = result.network
    with torch.no_grad():
        nominal = two_layer_objective(network, x, y, beta).item()
    return _replace(result, network, nominal, result.v, result.w, result.first_layer, result.second_layer)


ADVERSARIAL_ATTAINED_CLAIM = Claim(
    id="convex_relu.adversarial_attained",
    title="The robust convex program's network attains its worst-case loss",
    paper=BAI_GAUTAM_SOJOUDI_2023,
    statement=(
        "With robust cone constraints (2D_i - I) X v_i >= epsilon ||v_i||_1 every neuron keeps its "
        "activation pattern on each l_inf ball, so the rebuilt network is linear there and its "
        "worst-case squared loss is (|r_k| + epsilon ||a_k||_1)^2: the rebuilt network's worst-case "
        "regularised loss equals the robust optimum, which is at least the standard optimum."
    ),
    formula=(
        r"\max_{\|\delta_k\|_\infty \le \epsilon} L_{\mathrm{reg}}(\mathrm{network}; X + \Delta) = "
        r"p^*_{\mathrm{robust}} \ge p^*_{\mathrm{standard}}"
    ),
    strategy=lambda: st.builds(
        AdversarialInstance,
        st.integers(3, 10),
        st.integers(1, 2),
        st.floats(-2.0, 0.0).map(lambda e: 10.0**e),
        st.floats(0.01, 0.3),
        seeds(),
    ),  # fmt: skip
    check=_check_adversarial,
    subject=fit_convex_relu_adversarial,
    mutants=(
        Mutant(
            "patterns-not-locked",
            "plain cone constraints: patterns may flip inside the ball",
            _robust_without_locked_patterns,
        ),
        Mutant(
            "nominal-loss",
            "reports the nominal loss instead of the worst case",
            _robust_constraints_standard_loss,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    # patterns-not-locked shows only where a pattern flips inside a ball at the optimum: on 37 of
    # 60 random draws; 3 instances missed it with probability 0.38^3 = 5% (a thorough run did),
    # 20 with probability 4e-9, and a run stops at the first rejection
    mutant_examples=20,
)

__all__ = [
    "ADVERSARIAL_ATTAINED_CLAIM",
    "ATTAINED_CLAIM",
    "GLOBAL_LOWER_BOUND_CLAIM",
    "adam_two_layer",
    "worst_case_loss",
]
