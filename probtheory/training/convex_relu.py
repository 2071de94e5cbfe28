r"""Two-layer ReLU training to global optimality through its convex (group-lasso) reformulation.

Pilanci & Ergen, "Neural Networks are Convex Regularizers", ICML 2020, Theorem 1; adversarial
variant after Bai, Gautam & Sojoudi, "Efficient Global Optimization of Two-Layer ReLU Networks:
Quadratic-Time Algorithms and Adversarial Training", SIAM J. Math. Data Sci. 2023. The non-convex
problem with weight decay :math:`\beta`,

.. math::
    p^* = \min_{u_j, \alpha_j} \tfrac12 \Big\| \sum_j (\tilde X u_j)_+ \alpha_j - y \Big\|_2^2
          + \tfrac\beta2 \sum_j (\|u_j\|_2^2 + \alpha_j^2),

(:math:`\tilde X = [X, 1]` with a bias) equals, once the network has enough neurons, the
convex program over the activation patterns :math:`D_i = \operatorname{diag}(1[\tilde X u \ge 0])`:

.. math::
    \min_{v_i, w_i} \tfrac12 \Big\| \sum_i D_i \tilde X (v_i - w_i) - y \Big\|_2^2
        + \beta \sum_i (\|v_i\|_2 + \|w_i\|_2)
    \quad \text{s.t. } (2 D_i - I) \tilde X v_i \ge 0, \; (2 D_i - I) \tilde X w_i \ge 0,

and an optimal network is :math:`u = v_i / \sqrt{\|v_i\|}, \alpha = \sqrt{\|v_i\|}` for each
nonzero :math:`v_i` and :math:`u = w_i / \sqrt{\|w_i\|}, \alpha = -\sqrt{\|w_i\|}` for each nonzero
:math:`w_i`. The patterns are enumerated exactly (hyperplane arrangement, :func:`activation_patterns`)
when that is cheap, else sampled, in which case the value is only an upper bound on :math:`p^*`.

Adversarial training (:math:`\ell_\infty` perturbations of radius :math:`\epsilon` on the ``d``
input features, not the bias column): the robust cone constraints
:math:`(2D_i - I)\tilde X v_i \ge \epsilon \|v_i\|_1` lock every neuron's activation pattern
over the whole ball, so the network is linear there and the worst case of the squared loss
is exact, :math:`(|\hat y_k - y_k| + \epsilon \|a_k\|_1)^2` with
:math:`a_k = \sum_i (D_i)_{kk} (v_i - w_i)_{1:d}`. The robust optimum is attained by the
rebuilt network and upper-bounds the non-convex adversarial-training optimum [RECALL for the
attribution of this exact program to Bai et al., who treat it with hinge-type losses].

Example:
    >>> import torch
    >>> from probtheory.training.convex_relu import fit_convex_relu, two_layer_objective
    >>> X = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> y = torch.sin(2 * X[:, 0])
    >>> result = fit_convex_relu(X, y, beta=0.05)
    >>> abs(two_layer_objective(result.network, X, y, 0.05).item() - result.objective) < 1e-6
    True
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from probtheory._checks import check_finite, check_int, check_real, require_module
from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError

__all__ = [
    "ConvexReLUResult",
    "activation_patterns",
    "fit_convex_relu",
    "fit_convex_relu_adversarial",
    "rebuild_network",
    "two_layer_objective",
]

_logger = logging.getLogger(__name__)

DEFAULT_SOLVER = "CLARABEL"
#: Clarabel's duality-gap and feasibility tolerances used by default (its own defaults are 1e-8)
SOLVER_TOLERANCE = 1e-9
#: With the default solver, the solves tried in turn until one reaches optimality at
#: SOLVER_TOLERANCE: a solve that ends "optimal_inaccurate" is retried with a stronger static
#: regularisation of Clarabel's KKT system (a numerical-robustness setting; the tolerances stay),
#: then with SCS at the same tolerance -- never accepted with looser ones.
_DEFAULT_ATTEMPTS: tuple[tuple[str, dict], ...] = (
    (
        "CLARABEL",
        {"tol_gap_abs": SOLVER_TOLERANCE, "tol_gap_rel": SOLVER_TOLERANCE, "tol_feas": SOLVER_TOLERANCE},
    ),
    (
        "CLARABEL",
        {
            "tol_gap_abs": SOLVER_TOLERANCE,
            "tol_gap_rel": SOLVER_TOLERANCE,
            "tol_feas": SOLVER_TOLERANCE,
            "static_regularization_constant": 1e-7,
        },
    ),
    ("SCS", {"eps_abs": SOLVER_TOLERANCE, "eps_rel": SOLVER_TOLERANCE, "max_iters": 200_000}),
)
#: exact enumeration is used (``patterns=None``) while it visits at most this many candidate lines
MAX_ENUMERATION_LINES = 5_000
#: random directions drawn when exact enumeration is too expensive
DEFAULT_PATTERN_SAMPLES = 10_000
_ZERO = 1e-10  # relative threshold for "x_i . u = 0" in the arrangement enumeration


@dataclass(frozen=True)
class ConvexReLUResult:
    r"""A globally optimal two-layer ReLU network and the convex program that certified it.

    Attributes:
        network: ``Linear(d, m) -> ReLU -> Linear(m, 1, bias=False)`` in float64; maps an
            ``n x d`` input to ``n x 1``.
        objective: Optimal value of the convex program (the regularised training loss of
            ``network``; the worst-case one for the adversarial variant).
        patterns_used: Number ``P`` of activation patterns in the program.
        patterns: ``P x n`` boolean tensor, row ``i`` the diagonal of :math:`D_i`.
        complete_enumeration: Whether ``patterns`` are all patterns of the arrangement (else the
            objective is an upper bound on the non-convex optimum).
        v: ``P x k`` solution for the positive neurons (``k = d + 1`` with a bias, else ``d``).
        w: ``P x k`` solution for the negative neurons.
        first_layer: ``m x k`` weights :math:`u_j` of the kept neurons (bias last).
        second_layer: ``m`` output weights :math:`\alpha_j`.
        beta: Weight decay.
        epsilon: ``l_inf`` radius (0 for standard training).
        solver: Name of the cvxpy solver used.
        status: cvxpy's status of the solve.
        solver_tolerance: Duality-gap / feasibility tolerance requested from the solver
            (``nan`` for a user-chosen solver with its own defaults).
    """

    network: nn.Sequential
    objective: float
    patterns_used: int
    patterns: Tensor
    complete_enumeration: bool
    v: Tensor
    w: Tensor
    first_layer: Tensor
    second_layer: Tensor
    beta: float
    epsilon: float
    solver: str
    status: str
    solver_tolerance: float

    @property
    def neurons(self) -> int:
        """Number of hidden neurons of the rebuilt network."""
        return int(self.second_layer.numel())


def fit_convex_relu(
    X: Tensor,
    y: Tensor,
    beta: float,
    *,
    bias: bool = True,
    patterns: int | Tensor | None = None,
    seed: int | None = None,
    solver: str | None = None,
) -> ConvexReLUResult:
    r"""Globally optimal two-layer ReLU regression with weight decay, by the convex program.

    Args:
        X: ``n x d`` inputs.
        y: ``n`` (or ``n x 1``) targets.
        beta: Weight decay :math:`\beta > 0` (the non-convex penalty is ``beta / 2`` times the
            squared norm of all weights, first-layer bias included).
        bias: Give the hidden neurons a bias (appends a column of ones to ``X``).
        patterns: ``None``: enumerate every activation pattern exactly when at most
            ``MAX_ENUMERATION_LINES`` candidate lines are needed, else sample
            ``DEFAULT_PATTERN_SAMPLES`` random directions; an int: sample that many directions;
            a ``P x n`` boolean tensor: use these patterns.
        seed: Seed of the pattern sampling.
        solver: A cvxpy solver name (default ``"CLARABEL"`` with gap/feasibility tolerance
            ``SOLVER_TOLERANCE``); must handle second-order cones.

    Returns:
        A :class:`ConvexReLUResult`; ``result.network`` attains ``result.objective``.

    Raises:
        InputDataError: Non-finite or mis-shaped data, ``beta <= 0``, bad ``patterns``.
        UnsupportedError: A solver that is not installed.
        ConfigurationError: The solver failed (its cvxpy status is in the message).
    """
    return _fit(X, y, beta, 0.0, bias=bias, patterns=patterns, seed=seed, solver=solver)


def fit_convex_relu_adversarial(
    X: Tensor,
    y: Tensor,
    beta: float,
    epsilon: float,
    *,
    bias: bool = True,
    patterns: int | Tensor | None = None,
    seed: int | None = None,
    solver: str | None = None,
) -> ConvexReLUResult:
    r"""Adversarial (``l_inf``-robust) two-layer ReLU training by the robust convex program.

    Minimises the worst case over :math:`\|\delta_k\|_\infty \le \epsilon` of the squared
    loss plus weight decay, over networks whose activation patterns do not change inside the
    balls (robust cone constraints). The returned network's exact worst-case regularised loss
    equals ``result.objective``; it upper-bounds the unrestricted adversarial-training optimum,
    and ``epsilon = 0`` gives :func:`fit_convex_relu`.

    Args:
        X: ``n x d`` inputs.
        y: ``n`` (or ``n x 1``) targets.
        beta: Weight decay :math:`\beta > 0`.
        epsilon: Radius :math:`\epsilon \ge 0` of the ``l_inf`` perturbation of each input's
            ``d`` features.
        bias: Give the hidden neurons a bias (not perturbed).
        patterns: As in :func:`fit_convex_relu`.
        seed: Seed of the pattern sampling.
        solver: As in :func:`fit_convex_relu`.

    Returns:
        A :class:`ConvexReLUResult` with ``epsilon`` set.
    """
    epsilon = check_real("epsilon", epsilon, nonnegative=True)
    return _fit(X, y, beta, epsilon, bias=bias, patterns=patterns, seed=seed, solver=solver)


def two_layer_objective(network: nn.Module, X: Tensor, y: Tensor, beta: float) -> Tensor:
    r"""The non-convex regularised loss ``0.5 ||f(X) - y||^2 + beta/2 * sum of squared parameters``.

    Args:
        network: A two-layer network mapping ``n x d`` to ``n x 1`` or ``n`` (e.g.
            ``result.network``); every parameter is penalised.
        X: ``n x d`` inputs.
        y: ``n`` or ``n x 1`` targets.
        beta: Weight decay :math:`\beta > 0`.

    Returns:
        A differentiable scalar tensor.
    """
    X, y = _check_data(X, y)
    beta = check_real("beta", beta, positive=True)
    if not isinstance(network, nn.Module):
        raise InputDataError("network", "a two-layer torch.nn.Module", type(network).__name__)
    out = network(X.to(_dtype_of(network)))
    if out.shape not in ((X.shape[0],), (X.shape[0], 1)):
        raise InputDataError(
            "network",
            f"a network with one output (`n` or `n x 1`, n = {X.shape[0]})",
            f"shape {tuple(out.shape)}",
        )
    out = out.reshape(-1)
    penalty = sum(p.square().sum() for p in network.parameters())
    return 0.5 * (out - y.to(out.dtype)).square().sum() + 0.5 * beta * penalty


def activation_patterns(
    X: Tensor, *, bias: bool = True, samples: int | None = None, seed: int | None = None
) -> tuple[Tensor, bool]:
    r"""The distinct nonzero activation patterns ``1[X~ u >= 0]`` of a hyperplane arrangement.

    Exact enumeration (``samples=None``): every open region of the central arrangement
    :math:`\{u : \tilde x_i^\top u = 0\}` has an extreme ray, a line where ``k - 1`` of the
    hyperplanes meet; the regions around a line are those of the arrangement of the hyperplanes
    through it, restricted to its orthogonal complement (recursion on the dimension).

    Args:
        X: ``n x d`` inputs.
        bias: Append a column of ones (``k = d + 1``), else ``k = d``.
        samples: Draw this many Gaussian directions ``u`` instead of enumerating.
        seed: Seed of the sampling.

    Returns:
        A ``P x n`` boolean tensor of distinct patterns (the all-zero one excluded) and whether
        the enumeration is complete (True for exact enumeration).
    """
    X = _check_matrix(X)
    features = _design(X, bias)
    if samples is None:
        return torch.from_numpy(_sorted_patterns(_enumerate(features), X.shape[0])), True
    samples = check_int("samples", samples, minimum=1)
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else torch.seed())
    u = torch.randn(features.shape[1], samples, generator=generator, dtype=torch.float64).numpy()
    found = {tuple(row) for row in (features @ u >= 0).T}
    return torch.from_numpy(_sorted_patterns(found, X.shape[0])), False


def rebuild_network(
    v: Tensor, w: Tensor, *, d: int, bias: bool = True, threshold: float = 1e-9
) -> tuple[nn.Sequential, Tensor, Tensor]:
    """The two-layer ReLU network of a convex solution (Pilanci & Ergen, Theorem 1).

    Each column ``v_i`` with ``||v_i|| > threshold * max(1, max_i ||v_i||)`` becomes a neuron with
    ``u = v_i / sqrt(||v_i||)``, ``alpha = sqrt(||v_i||)``; each ``w_i`` one with ``alpha = -sqrt(||w_i||)``,
    so that ``beta/2 (||u||^2 + alpha^2) = beta ||v_i||``.

    Args:
        v: ``P x k`` positive-neuron solution.
        w: ``P x k`` negative-neuron solution.
        d: Number of input features (``k = d + 1`` with a bias).
        bias: Whether the last of the ``k`` coordinates is a bias.
        threshold: Relative norm below which a column counts as zero.

    Returns:
        ``(network, first_layer, second_layer)`` with ``first_layer`` ``m x k`` and ``second_layer`` ``m``.
    """
    stacked = torch.cat([v, w]).to(torch.float64)
    signs = torch.cat([torch.ones(v.shape[0]), -torch.ones(w.shape[0])]).to(torch.float64)
    norms = stacked.norm(dim=1)
    keep = norms > threshold * max(1.0, float(norms.max()) if norms.numel() else 0.0)
    scale = norms[keep].sqrt()
    first = stacked[keep] / scale[:, None]
    second = signs[keep] * scale
    hidden = nn.Linear(d, first.shape[0], bias=bias, dtype=torch.float64)
    out = nn.Linear(first.shape[0], 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        hidden.weight.copy_(first[:, :d])
        if bias:
            hidden.bias.copy_(first[:, d])
        out.weight.copy_(second[None, :])
    return nn.Sequential(hidden, nn.ReLU(), out), first, second


# ----------------------------------------------------------------------------- internals


def _fit(X, y, beta, epsilon, *, bias, patterns, seed, solver) -> ConvexReLUResult:
    X, y = _check_data(X, y)
    beta = check_real("beta", beta, positive=True)
    masks, complete = _resolve_patterns(X, bias, patterns, seed)
    attempts, tolerance = _resolve_solver(solver)
    features = _design(X, bias)
    v, w, value, status, solver_name = _solve(
        features, y.double().numpy(), masks, beta, epsilon, X.shape[1], attempts
    )
    v_t, w_t = torch.from_numpy(v.T.copy()), torch.from_numpy(w.T.copy())
    network, first, second = rebuild_network(v_t, w_t, d=X.shape[1], bias=bias)
    return ConvexReLUResult(
        network=network, objective=value, patterns_used=masks.shape[0], patterns=torch.from_numpy(masks),
        complete_enumeration=complete, v=v_t, w=w_t, first_layer=first, second_layer=second, beta=beta,
        epsilon=epsilon, solver=solver_name, status=status, solver_tolerance=tolerance,
    )  # fmt: skip


def _solve(features, y, masks, beta, epsilon, d, attempts):
    """Solve the (robust) cone-constrained group lasso with the first of ``attempts`` that can.

    Returns:
        ``v, w`` (``k x P`` arrays), the optimum, the status and the solver that reached it.
    """
    cp = _cvxpy()

    n, k = features.shape
    num = masks.shape[0]
    m = masks.T.astype(np.float64)  # n x P
    signs = 2 * m - 1
    v, w = cp.Variable((k, num)), cp.Variable((k, num))
    prediction = cp.sum(cp.multiply(m, features @ (v - w)), axis=1)
    penalty = beta * (cp.sum(cp.norm(v, 2, axis=0)) + cp.sum(cp.norm(w, 2, axis=0)))
    if epsilon == 0.0:
        loss = 0.5 * cp.sum_squares(prediction - y)
        constraints = [cp.multiply(signs, features @ v) >= 0, cp.multiply(signs, features @ w) >= 0]
    else:
        ones = np.ones((n, 1))
        margin_v = ones @ cp.reshape(cp.norm(v[:d], 1, axis=0), (1, num), order="C")
        margin_w = ones @ cp.reshape(cp.norm(w[:d], 1, axis=0), (1, num), order="C")
        constraints = [
            cp.multiply(signs, features @ v) >= epsilon * margin_v,
            cp.multiply(signs, features @ w) >= epsilon * margin_w,
        ]
        # worst case over the l_inf ball of the (pattern-locked, hence linear) prediction
        sensitivity = cp.sum(cp.abs(m @ (v[:d] - w[:d]).T), axis=1)
        worst = cp.Variable(n)
        constraints.append(worst >= cp.abs(prediction - y) + epsilon * sensitivity)
        loss = 0.5 * cp.sum_squares(worst)
    outcomes = []
    for solver, options in attempts:
        # a fresh problem per attempt: cvxpy keeps a solver's settings on the problem it solved
        problem = cp.Problem(cp.Minimize(loss + penalty), constraints)
        try:
            with warnings.catch_warnings():  # an inaccurate solve is retried, not warned about
                warnings.simplefilter("ignore", UserWarning)
                problem.solve(solver=solver, **options)
        except cp.error.SolverError as err:
            outcomes.append(f"{solver}: {err}")
        else:
            if problem.status == cp.OPTIMAL:
                return v.value, w.value, float(problem.value), problem.status, solver
            outcomes.append(f"{solver}: status {problem.status!r}")
        # a retry is otherwise silent: say which attempt failed and how
        _logger.info(
            "convex ReLU program: attempt %d of %d failed: %s", len(outcomes), len(attempts), outcomes[-1]
        )
    raise ConfigurationError(
        "the convex program was not solved to optimality (" + "; ".join(outcomes) + "); "
        "try another `solver` or rescale X and y"
    )


def _cvxpy():
    """cvxpy, imported on first solve: importing it takes seconds, and it is an optional dependency."""
    return require_module("cvxpy", extra="convex", purpose="the convex two-layer ReLU solver")


def _resolve_solver(solver: str | None) -> tuple[tuple[tuple[str, dict], ...], float]:
    cp = _cvxpy()
    installed = cp.installed_solvers()
    if solver is None:
        return tuple(a for a in _DEFAULT_ATTEMPTS if a[0] in installed), SOLVER_TOLERANCE
    if not isinstance(solver, str) or solver.upper() not in installed:
        raise UnsupportedError("solver", f"one of the installed cvxpy solvers {installed}", repr(solver))
    return ((solver.upper(), {}),), math.nan


def _resolve_patterns(X: Tensor, bias: bool, patterns, seed) -> tuple[np.ndarray, bool]:
    if patterns is None:
        k = X.shape[1] + int(bias)
        if math.comb(X.shape[0], max(k - 1, 0)) <= MAX_ENUMERATION_LINES:
            masks, complete = activation_patterns(X, bias=bias)
        else:
            masks, complete = activation_patterns(X, bias=bias, samples=DEFAULT_PATTERN_SAMPLES, seed=seed)
    elif isinstance(patterns, Tensor):
        if patterns.dim() != 2 or patterns.shape[1] != X.shape[0] or patterns.dtype != torch.bool:
            raise InputDataError(
                "patterns", f"a boolean `P x n` tensor with n = {X.shape[0]}",
                f"dtype {patterns.dtype}, shape {tuple(patterns.shape)}",
            )  # fmt: skip
        masks, complete = patterns, False
    else:
        masks, complete = activation_patterns(
            X, bias=bias, samples=check_int("patterns", patterns, minimum=1), seed=seed
        )
    if masks.shape[0] == 0:
        raise InputDataError("patterns", "at least one nonzero activation pattern", "none")
    return masks.numpy(), complete


def _enumerate(a: np.ndarray) -> set[tuple[bool, ...]]:
    """Patterns 1[a_i . u > 0] (1 for a_i = 0) of the open regions of the central arrangement."""
    n, k = a.shape
    row_norms = np.linalg.norm(a, axis=1)
    zero_rows = row_norms <= _ZERO * max(1.0, row_norms.max(initial=0.0))
    if zero_rows.all():
        return {(True,) * n}
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    rank = int((s > _ZERO * s[0]).sum())
    if rank < k:  # the arrangement is a product with its lineality space: work in the row space
        a, k = a @ vt[:rank].T, rank
    if k == 1:
        col = a[:, 0]
        return {tuple((sign * col > 0) | zero_rows) for sign in (1.0, -1.0)}
    found: set[tuple[bool, ...]] = set()
    seen_lines: set[frozenset[int]] = set()
    nonzero = np.flatnonzero(~zero_rows)
    for subset in itertools.combinations(nonzero.tolist(), k - 1):
        _, s_sub, vt_sub = np.linalg.svd(a[list(subset)])
        if s_sub[-1] <= _ZERO * s_sub[0]:
            continue  # these hyperplanes do not meet in a line
        line = vt_sub[-1]
        on_line = np.abs(a @ line) <= _ZERO * np.maximum(row_norms, 1e-300)
        key = frozenset(np.flatnonzero(on_line).tolist())
        if key in seen_lines:
            continue
        seen_lines.add(key)
        if len(key) == k - 1:  # generic line: its k - 1 independent hyperplanes give every sign combination
            local = set(itertools.product((False, True), repeat=k - 1))
        else:  # the hyperplanes through the line, seen in its orthogonal complement
            complement = np.linalg.svd(line[None, :])[2][1:].T  # k x (k-1) orthonormal
            local = _enumerate(a[on_line] @ complement)
        for sign in (1.0, -1.0):
            base = (sign * (a @ line) > 0) | zero_rows
            for sub in local:
                pattern = base.copy()
                pattern[on_line] = sub
                found.add(tuple(pattern.tolist()))
    return found


def _sorted_patterns(found: set, n: int) -> np.ndarray:
    rows = sorted(p for p in found if any(p))
    return np.array(rows, dtype=bool) if rows else np.zeros((0, n), dtype=bool)


def _design(X: Tensor, bias: bool) -> np.ndarray:
    x = X.detach().to(torch.float64).cpu().numpy()
    return np.hstack([x, np.ones((x.shape[0], 1))]) if bias else x


def _check_matrix(X: object) -> Tensor:
    check_finite("X", X)
    if X.dim() != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise InputDataError("X", "an `n x d` matrix", f"shape {tuple(X.shape)}")
    return X


def _check_data(X: object, y: object) -> tuple[Tensor, Tensor]:
    X = _check_matrix(X)
    check_finite("y", y)
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dim() != 1 or y.shape[0] != X.shape[0]:
        raise InputDataError(
            "y", f"`n` or `n x 1` targets with n = {X.shape[0]} (rows of X)", f"shape {tuple(y.shape)}"
        )
    return X, y


def _dtype_of(network: nn.Module) -> torch.dtype:
    parameter = next(network.parameters(), None)
    return torch.float64 if parameter is None else parameter.dtype
