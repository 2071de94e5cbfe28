r"""Gradient descent on the logistic loss with large step sizes, and its batch-perceptron limit.

Tyurin, *From logistic regression to the perceptron algorithm: exploring gradient descent with
large step sizes* (2024, arXiv 2412.08424); derivations in docs/derivations.md, §4. For data
:math:`(a_i, y_i)`, :math:`y_i \in \{\pm 1\}`, LR+GD is

.. math::
    w_{t+1} = w_t - \gamma \nabla f(w_t), \qquad
    \nabla f(w) = -\frac1n \sum_i y_i a_i\, \sigma(-y_i a_i^\top w).

With :math:`w_0 = 0` and :math:`u_t = w_t/\gamma`,
:math:`u_{t+1} = u_t + \frac1n\sum_i y_i a_i \sigma(-\gamma y_i a_i^\top u_t)`, which tends as
:math:`\gamma \to \infty` to the *batch perceptron*
:math:`u_{t+1} = u_t + \frac1n\sum_i y_i a_i\,[1(y_i a_i^\top u_t < 0) + \tfrac12 1(= 0)]`
(ties weigh one half: :math:`\sigma(0) = 1/2`). On separable data with margin :math:`\rho` and
radius :math:`R` the batch perceptron stops after at most :math:`2nR^2/\rho^2` updates (Novikoff's
argument; the factor 2 covers tie steps, whose weight is 1/2).

Numerics: :func:`stable_sigmoid` never overflows, whatever :math:`\gamma`;
the loss is evaluated with ``softplus``. Separability is decided by a linear program
(:func:`separability`), and functions that assume it raise
:class:`~probtheory.errors.InputDataError` on non-separable data instead of looping forever.

Example::

    import torch
    from probtheory.theory.logistic import batch_perceptron, logistic_gd, separability

    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.sign(a @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    assert separability(a, y).separable
    gd = logistic_gd(a, y, step=1e4, iterations=20)
    u = batch_perceptron(a, y, iterations=20)
    print((gd.iterates / 1e4 - u.iterates).norm(dim=-1).max())   # ~0 (<= 1e-15): the perceptron limit
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from probtheory._checks import check_finite, check_floating, check_int, check_interval, check_real
from probtheory.errors import InputDataError

__all__ = [
    "GDTrajectory",
    "Separability",
    "batch_perceptron",
    "check_labels",
    "first_separating_iterate",
    "logistic_gd",
    "logistic_loss",
    "perceptron_iteration_bound",
    "perceptron_limit_gap",
    "separability",
    "small_step_separation_bound",
    "smooth_step_limit",
    "steps_to_separation",
    "stable_sigmoid",
]


def stable_sigmoid(z: Tensor) -> Tensor:
    r"""The logistic :math:`\sigma(z)`, without overflow and to relative precision for every finite :math:`z`.

    ``torch.sigmoid`` evaluates the branch that cannot overflow. (The form
    :math:`\tfrac12(1 + \tanh(z/2))` does not overflow either but loses relative precision for
    :math:`z < -20`: 1e-3 at :math:`z = -30`; docs/derivations.md, §4.)
    """
    check_floating("z", z)
    return torch.sigmoid(z)


def check_labels(a: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Validate a design `n x d` and labels `n` in {-1, +1}; return them as float64."""
    check_finite("a", a)
    if a.dim() != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputDataError("a", "an `n x d` tensor with n >= 1 and d >= 1", tuple(a.shape))
    if not isinstance(y, Tensor) or y.shape != a.shape[:1]:
        raise InputDataError("y", f"a tensor of shape ({a.shape[0]},)", getattr(y, "shape", type(y).__name__))
    if not ((y == 1) | (y == -1)).all():
        raise InputDataError("y", "labels in {-1, +1}", f"values {torch.unique(y).tolist()[:6]}")
    return a.to(torch.float64), y.to(torch.float64)


def logistic_loss(a: Tensor, y: Tensor, w: Tensor) -> Tensor:
    r""":math:`f(w) = \frac1n\sum_i \log(1 + e^{-y_i a_i^\top w})` for `... x d` weights (returns `...`)."""
    a, y = check_labels(a, y)
    check_finite("w", w)
    if w.dim() < 1 or w.shape[-1] != a.shape[1]:
        raise InputDataError("w", f"a `... x {a.shape[1]}` tensor of weights", f"shape {tuple(w.shape)}")
    w = w.to(torch.float64)
    margins = (w @ a.T) * y
    return torch.nn.functional.softplus(-margins).mean(-1)


@dataclass(frozen=True)
class GDTrajectory:
    r"""Iterates of LR+GD (or of the batch perceptron).

    Attributes:
        iterates: A `(T+1) x d` tensor, :math:`w_0, \dots, w_T`.
        step: The step size :math:`\gamma` (1 for the perceptron).
    """

    iterates: Tensor
    step: float


def logistic_gd(
    a: Tensor, y: Tensor, step: float, iterations: int, *, initial: Tensor | None = None
) -> GDTrajectory:
    r"""Gradient descent on the mean logistic loss, :math:`w_{t+1} = w_t - \gamma\nabla f(w_t)`.

    Args:
        a: An `n x d` tensor of features.
        y: An `n` tensor of labels in {-1, +1}.
        step: :math:`\gamma > 0`.
        iterations: :math:`T \ge 0`.
        initial: A `d` tensor :math:`w_0` (default 0).

    Returns:
        The trajectory, iterates `(T+1) x d` (float64).
    """
    a, y = check_labels(a, y)
    gamma = check_real("step", step, positive=True)
    t_max = check_int("iterations", iterations, minimum=0)
    w = torch.zeros(a.shape[1], dtype=torch.float64) if initial is None else check_finite("initial", initial)
    if w.shape != (a.shape[1],):
        raise InputDataError("initial", f"a tensor of shape ({a.shape[1]},)", tuple(w.shape))
    ya = y[:, None] * a
    out = [w.to(torch.float64)]
    for _ in range(t_max):
        w = out[-1]
        grad = -(ya * stable_sigmoid(-(ya @ w))[:, None]).mean(0)
        out.append(w - gamma * grad)
    return GDTrajectory(torch.stack(out), gamma)


def batch_perceptron(
    a: Tensor, y: Tensor, iterations: int, *, tie_weight: float = 0.5, initial: Tensor | None = None
) -> GDTrajectory:
    r"""The batch perceptron, the :math:`\gamma \to \infty` limit of :math:`w_t/\gamma` under LR+GD.

    :math:`u_{t+1} = u_t + \frac1n \sum_i y_i a_i [1(y_i a_i^\top u_t < 0) + \tau\,1(y_i a_i^\top u_t = 0)]`
    with tie weight :math:`\tau = 1/2` (:math:`= \sigma(0)`, the value the limit takes).

    Args:
        a: An `n x d` tensor of features.
        y: An `n` tensor of labels in {-1, +1}.
        iterations: :math:`T \ge 0`.
        tie_weight: :math:`\tau` in [0, 1].
        initial: A `d` tensor :math:`u_0` (default 0).

    Returns:
        The trajectory, iterates `(T+1) x d` (float64), step 1.
    """
    a, y = check_labels(a, y)
    t_max = check_int("iterations", iterations, minimum=0)
    tau = check_interval("tie_weight", tie_weight, 0.0, 1.0, meaning="a tie weight")
    u = torch.zeros(a.shape[1], dtype=torch.float64) if initial is None else check_finite("initial", initial)
    if u.shape != (a.shape[1],):
        raise InputDataError("initial", f"a tensor of shape ({a.shape[1]},)", tuple(u.shape))
    ya = y[:, None] * a
    out = [u.to(torch.float64)]
    for _ in range(t_max):
        m = ya @ out[-1]
        coef = (m < 0).to(torch.float64) + tau * (m == 0).to(torch.float64)
        out.append(out[-1] + (ya * coef[:, None]).mean(0))
    return GDTrajectory(torch.stack(out), 1.0)


def perceptron_limit_gap(a: Tensor, y: Tensor, step: float, iterations: int) -> float:
    r""":math:`\max_{t \le T} \|w_t/\gamma - u_t\|` between LR+GD from 0 and the batch perceptron."""
    gd = logistic_gd(a, y, step, iterations)
    u = batch_perceptron(a, y, iterations)
    return float((gd.iterates / gd.step - u.iterates).norm(dim=-1).max())


@dataclass(frozen=True)
class Separability:
    r"""Verdict of the separability linear program.

    Attributes:
        separable: Whether some :math:`w` has :math:`y_i a_i^\top w > 0` for every i.
        margin: :math:`\min_i y_i a_i^\top w / \|w\|_2` of the LP's direction (a lower
            bound on the maximal margin :math:`\rho`); 0 when not separable.
        direction: The LP's `d` direction (unit norm), or None.
        radius: :math:`R = \max_i \|a_i\|`.
        message: A human-readable verdict.
    """

    separable: bool
    margin: float
    direction: Tensor | None
    radius: float
    message: str


def separability(a: Tensor, y: Tensor, *, tolerance: float = 1e-9) -> Separability:
    r"""Decide linear separability (through the origin) by a linear program.

    The LP is :math:`\max t` s.t. :math:`y_i a_i^\top w \ge t`, :math:`\|w\|_\infty \le 1`.

    Data are separable iff the optimum :math:`t^\star > 0`; the verdict requires
    :math:`t^\star >` `tolerance` times the data scale, so round-off does not certify a zero margin.

    Args:
        a: An `n x d` tensor of features.
        y: An `n` tensor of labels in {-1, +1}.
        tolerance: Relative threshold on the LP optimum.

    Returns:
        The verdict, with the margin of the LP's direction when separable.
    """
    a, y = check_labels(a, y)
    tol = check_real("tolerance", tolerance, positive=True)
    n, d = a.shape
    ya = (y[:, None] * a).numpy()
    radius = float(a.norm(dim=1).max())
    # variables (w, t): maximise t  <=>  minimise -t;  -y_i a_i.w + t <= 0;  |w_k| <= 1;  t <= 1
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    constraints = np.hstack([-ya, np.ones((n, 1))])
    bounds = [(-1.0, 1.0)] * d + [(None, 1.0)]
    res = linprog(cost, A_ub=constraints, b_ub=np.zeros(n), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"separability LP failed: {res.message}")
    t_star = -res.fun
    if radius == 0.0 or t_star <= tol * max(radius, 1.0):
        return Separability(False, 0.0, None, radius, f"not linearly separable (LP margin {t_star:.3g})")
    w = torch.as_tensor(res.x[:d], dtype=torch.float64)
    w = w / w.norm()
    margin = float(((y[:, None] * a) @ w).min())
    return Separability(True, margin, w, radius, f"separable with margin >= {margin:.4g}")


def perceptron_iteration_bound(a: Tensor, y: Tensor) -> int:
    r"""Novikoff-type bound :math:`\lfloor 2nR^2/\rho^2 \rfloor` on the batch perceptron's updates.

    Raises:
        InputDataError: if the data are not linearly separable (the bound assumes it).
    """
    verdict = separability(a, y)
    if not verdict.separable:
        raise InputDataError(
            "a, y", "linearly separable data (the perceptron bound assumes it)", verdict.message
        )
    return math.floor(2 * a.shape[0] * verdict.radius**2 / verdict.margin**2)


def smooth_step_limit(a: Tensor) -> float:
    r"""The classical step bound :math:`1/L`, with smoothness :math:`L = \lambda_{\max}(A^\top A)/(4n)`."""
    check_finite("a", a)
    if a.dim() != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputDataError("a", "an `n x d` tensor with n >= 1 and d >= 1", tuple(a.shape))
    a = a.to(torch.float64)
    top = float(torch.linalg.eigvalsh(a.T @ a)[-1])
    if top <= 0.0:
        raise InputDataError(
            "a", "features that are not all zero (the loss is then flat: no step limit)", "a = 0"
        )
    return 4.0 * a.shape[0] / top


def small_step_separation_bound(a: Tensor, y: Tensor, step: float) -> int:
    r"""Iterations after which LR+GD with :math:`\gamma \le 1/L` has separated the data (classical bound).

    For convex :math:`L`-smooth :math:`f` and :math:`\gamma \le 1/L`,
    :math:`f(w_t) \le f(u) + \|u\|^2/(2\gamma t)`. With :math:`u = s w^\star`,
    :math:`s = \ln(2n/\ln 2)/\rho`: :math:`f(u) \le e^{-s\rho} = \ln 2/(2n)`, and once
    :math:`f(w_t) < \ln 2/n` no point is misclassified, i.e. for
    :math:`t > n s^2/(\gamma\ln 2)`.

    Raises:
        InputDataError: if the data are not separable or ``step`` exceeds :math:`1/L`.
    """
    gamma = check_real("step", step, positive=True)
    limit = smooth_step_limit(a)
    if gamma > limit * (1 + 1e-12):
        raise InputDataError(
            "step", f"a step <= 1/L = {limit:.6g} (the bound needs a smooth-regime step)", gamma
        )
    verdict = separability(a, y)
    if not verdict.separable:
        raise InputDataError("a, y", "linearly separable data (the bound assumes it)", verdict.message)
    n = a.shape[0]
    s = math.log(2 * n / math.log(2)) / verdict.margin
    return math.floor(n * s * s / (gamma * math.log(2))) + 1


def steps_to_separation(a: Tensor, y: Tensor, step: float, max_iterations: int) -> int | None:
    r"""First :math:`t` at which LR+GD from 0 classifies every point correctly (:math:`y_i a_i^\top w_t > 0`).

    Args:
        a: An `n x d` tensor of features.
        y: An `n` tensor of labels in {-1, +1}.
        step: :math:`\gamma > 0`.
        max_iterations: Budget of iterations.

    Returns:
        The iteration count, or None if the budget ran out first.

    Raises:
        InputDataError: if the data are not linearly separable, checked by :func:`separability`
            first (the iteration would otherwise never stop: the assumption is not met).
    """
    a, y = check_labels(a, y)
    budget = check_int("max_iterations", max_iterations, minimum=0)
    verdict = separability(a, y)
    if not verdict.separable:
        raise InputDataError(
            "a, y", "linearly separable data (separation is only defined then)", verdict.message
        )
    return first_separating_iterate(logistic_gd, a, y, step, budget)


def first_separating_iterate(
    gd: Callable[..., GDTrajectory], a: Tensor, y: Tensor, step: float, budget: int, *, chunk: int = 256
) -> int | None:
    r"""Run ``gd(a, y, step, iterations, initial=...)`` in chunks until every :math:`y_i a_i^\top w_t > 0`.

    Chunking is exact (the iteration is Markov) and stops early; a non-finite iterate ends the
    run (returns None), as does an exhausted budget.

    Args:
        gd: A function with the signature of :func:`logistic_gd`.
        a: An `n x d` tensor of features.
        y: An `n` tensor of labels in {-1, +1}.
        step: :math:`\gamma > 0`.
        budget: Maximal number of iterations.
        chunk: Iterations per call of ``gd``.

    Returns:
        The first separating iteration, or None.
    """
    if not callable(gd):
        raise InputDataError("gd", "a function with the signature of logistic_gd", type(gd).__name__)
    a, y = check_labels(a, y)
    check_real("step", step, positive=True)
    budget = check_int("budget", budget, minimum=0)
    chunk = check_int("chunk", chunk, minimum=1)
    ya = y[:, None] * a
    w = torch.zeros(a.shape[1], dtype=torch.float64)
    done = 0
    while True:
        if (ya @ w > 0).all():
            return done
        if done >= budget:
            return None
        size = min(chunk, budget - done)
        iterates = gd(a, y, step, size, initial=w).iterates[1:]
        if not torch.isfinite(iterates).all():
            return None
        separated = ((iterates @ ya.T) > 0).all(dim=1).nonzero()
        if separated.numel():
            return done + 1 + int(separated[0])
        done += size
        w = iterates[-1]
