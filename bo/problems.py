r"""Named benchmark problems for the BO loop, all posed as maximisation over a box.

The synthetic functions are BoTorch's (``botorch.test_functions``) with ``negate=True``, as
in the benchmarks of Li, Rudner & Wilson (ICLR 2024; their code's ``test_functions`` and
``config/*.json`` in yucenli/bnn-bo):

=============  ===  ========================  ==================  ===========================
name           d    bounds                    max (``optimal``)   maximiser
=============  ===  ========================  ==================  ===========================
``branin``     2    [-5, 10] x [0, 15]        -0.397887           (-pi, 12.275), 2 others
``hartmann6``  6    [0, 1]^6                  3.32237             (0.20169, 0.150011, ...)
``ackley10``   10   [-32.768, 32.768]^10      0                   0
``levy``       4    [-10, 10]^4               0                   (1, 1, 1, 1)
``rosenbrock`` 4    [-5, 10]^4                0                   (1, 1, 1, 1)
``bnn_prior``  4    [0, 1]^4                  estimated           estimated
=============  ===  ========================  ==================  ===========================

The optimal values are BoTorch's published ones (for Branin and Hartmann-6 rounded upwards
in the last digit, so that the simple regret stays positive). ``bnn_prior`` is a function
drawn from a BNN prior, the kind of problem where BNN surrogates have the right inductive
bias (bnn-bo's ``bnn_400`` problem): a seeded tanh MLP ``4 -> 64 -> 64 -> 1`` on
:math:`u = 2x - 1 \in [-1, 1]^4` with weights :math:`\mathcal N(0, \sigma_l^2/\text{fan-in})`,
:math:`\sigma_1 = 3` (first layer, so the function has several bumps in the box),
:math:`\sigma_2 = 1.5`, :math:`\sigma_3 = 1` and standard normal hidden biases. Its maximum
is not known in closed form; :func:`estimate_maximum` finds it by dense quasi-random search
(2^16 scrambled Sobol points) followed by L-BFGS-B from the 16 best points, and the problem
records that in :attr:`Problem.optimum_note`.

The BO loop works in the unit cube: :meth:`Problem.evaluate_unit` maps
:math:`x_{\text{unit}} \in [0,1]^d` affinely onto the bounds and evaluates there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch
from botorch.test_functions import Ackley, Branin, Hartmann, Levy, Rosenbrock
from botorch.test_functions.synthetic import SyntheticTestFunction
from torch import Tensor
from torch.quasirandom import SobolEngine

from probtheory._checks import check_finite, check_inputs, check_int, check_name, check_real
from probtheory.errors import InputDataError

__all__ = ["PROBLEMS", "Problem", "estimate_maximum", "get_problem"]

#: The names :func:`get_problem` accepts.
PROBLEMS = ("branin", "hartmann6", "ackley10", "levy", "rosenbrock", "bnn_prior")


@dataclass(frozen=True)
class Problem:
    """A black-box function to maximise over a box.

    Attributes:
        name: The problem's name.
        bounds: A `2 x d` float64 tensor: lower and upper bounds.
        function: Maps `n x d` points inside the bounds to `n` values (to be maximised).
        optimal_value: The maximum of ``function`` over the box.
        optimizers: A `k x d` tensor of known (or estimated) maximisers, in the bounds' coordinates.
        optimum_note: Where ``optimal_value`` comes from.
    """

    name: str
    bounds: Tensor
    function: Callable[[Tensor], Tensor]
    optimal_value: float
    optimizers: Tensor
    optimum_note: str

    def __post_init__(self) -> None:
        """Check the bounds (`2 x d`, finite, lower < upper), the function and the optimizers.

        Raises:
            InputDataError: Naming ``bounds``, ``function``, ``optimal_value`` or ``optimizers``.
        """
        object.__setattr__(self, "bounds", _check_bounds("bounds", self.bounds))
        if not callable(self.function):
            raise InputDataError(
                "function", "a callable mapping `n x d` points to `n` values", repr(self.function)
            )
        check_real("optimal_value", self.optimal_value)
        optimizers = self.optimizers
        if not isinstance(optimizers, Tensor) or optimizers.dim() != 2 or optimizers.shape[-1] != self.dim:
            raise InputDataError(
                "optimizers",
                f"a `k x d` tensor with d = {self.dim}",
                getattr(optimizers, "shape", optimizers),
            )

    @property
    def dim(self) -> int:
        """The input dimension d."""
        return self.bounds.shape[-1]

    def from_unit(self, X_unit: Tensor) -> Tensor:
        """Map `... x d` points of the unit cube affinely onto the bounds."""
        check_inputs("X_unit", X_unit, feature_dim=self.dim)
        lower, upper = self.bounds.to(X_unit)
        return lower + (upper - lower) * X_unit

    def to_unit(self, X: Tensor) -> Tensor:
        """Map `... x d` points inside the bounds onto the unit cube."""
        check_inputs("X", X, feature_dim=self.dim)
        lower, upper = self.bounds.to(X)
        return (X - lower) / (upper - lower)

    def evaluate(self, X: Tensor) -> Tensor:
        """The objective at `n x d` points inside the bounds: an `n x 1` float64 tensor.

        Raises:
            InputDataError: If d is wrong or a point lies outside the bounds (beyond 1e-9 of
                their width): unit-cube points belong to :meth:`evaluate_unit`.
        """
        check_inputs("X", X, feature_dim=self.dim)
        X = X.to(torch.float64)
        lower, upper = self.bounds.to(X)
        slack = 1e-9 * (upper - lower)
        outside = ((X < lower - slack) | (X > upper + slack)).reshape(-1, self.dim).any(0)
        if outside.any():
            dim = int(torch.nonzero(outside)[0, 0])
            column = X[..., dim]
            raise InputDataError(
                "X",
                f"points inside the bounds (dimension {dim}: [{lower[dim].item():g}, {upper[dim].item():g}]; "
                "unit-cube points go to evaluate_unit)",
                f"values in [{column.min().item():.6g}, {column.max().item():.6g}] in dimension {dim}",
            )
        with torch.no_grad():
            return self.function(X).reshape(*X.shape[:-1], 1)

    def evaluate_unit(self, X_unit: Tensor) -> Tensor:
        """The objective at `n x d` points of the unit cube: an `n x 1` float64 tensor.

        Raises:
            InputDataError: If a point lies outside [0, 1]^d (beyond 1e-9) or d is wrong.
        """
        check_inputs("X_unit", X_unit, feature_dim=self.dim)
        if X_unit.numel() and (X_unit.min() < -1e-9 or X_unit.max() > 1 + 1e-9):
            received = f"values in [{X_unit.min().item():.6g}, {X_unit.max().item():.6g}]"
            raise InputDataError("X_unit", "points in the unit cube [0, 1]^d", received)
        return self.evaluate(self.from_unit(X_unit.to(torch.float64).clamp(0.0, 1.0)))

    def simple_regret(self, best_value: float) -> float:
        """``optimal_value - best_value``."""
        return self.optimal_value - best_value


def _check_bounds(name: str, bounds: object) -> Tensor:
    """Return ``bounds`` as a `2 x d` float64 tensor: finite, lower bounds (row 0) < upper (row 1).

    A `d x 2` tensor (one row per dimension) or a flat one is refused with the layout expected:
    BoTorch's layout is ``torch.stack([lower, upper])``.
    """
    layout = "a `2 x d` tensor: row 0 the lower bounds, row 1 the upper ones (torch.stack([lower, upper]))"
    if not isinstance(bounds, Tensor):
        raise InputDataError(name, layout, type(bounds).__name__)
    if bounds.dim() != 2 or bounds.shape[0] != 2 or bounds.shape[1] < 1:
        hint = (
            " (one row per dimension: pass bounds.T)" if bounds.dim() == 2 and bounds.shape[-1] == 2 else ""
        )
        raise InputDataError(name, layout, f"shape {tuple(bounds.shape)}{hint}")
    bounds = check_finite(name, bounds.to(torch.float64) if bounds.is_floating_point() else bounds.double())
    bad = torch.nonzero(bounds[0] >= bounds[1])[:, 0]
    if bad.numel():
        i = int(bad[0])
        raise InputDataError(
            name,
            "lower < upper in every dimension (row 0 the lower bounds, row 1 the upper ones)",
            f"lower {bounds[0, i].item():g} >= upper {bounds[1, i].item():g} in dimension {i}",
        )
    return bounds


def get_problem(name: str, *, seed: int = 0) -> Problem:
    """A named problem (see the module docstring for the table).

    Args:
        name: One of :data:`PROBLEMS`.
        seed: Seed of the ``bnn_prior`` network (ignored by the other problems).

    Returns:
        The problem.

    Raises:
        InputDataError: For an unknown name.
    """
    if name == "bnn_prior":
        return _bnn_prior(check_int("seed", seed, minimum=0))
    synthetic = {
        "branin": lambda: Branin(negate=True),
        "hartmann6": lambda: Hartmann(dim=6, negate=True),
        "ackley10": lambda: Ackley(dim=10, negate=True),
        "levy": lambda: Levy(dim=4, negate=True),
        "rosenbrock": lambda: Rosenbrock(dim=4, negate=True),
    }
    check_name("problem", name, PROBLEMS, meaning="a problem name")
    return _from_botorch(name, synthetic[name]())


def _from_botorch(name: str, test_function: SyntheticTestFunction) -> Problem:
    return Problem(
        name=name,
        bounds=test_function.bounds.to(torch.float64).clone(),
        function=lambda X: test_function.evaluate_true(X) * (-1.0 if test_function.negate else 1.0),
        optimal_value=float(test_function.optimal_value) + 0.0,  # -0.0 -> 0.0
        optimizers=test_function.optimizers.to(torch.float64).clone(),
        optimum_note=f"botorch.test_functions.{type(test_function).__name__}.optimal_value",
    )


def _bnn_prior(seed: int, d: int = 4, width: int = 64) -> Problem:
    generator = torch.Generator().manual_seed(seed)
    sizes, scales = [d, width, width, 1], [3.0, 1.5, 1.0]
    layers = []
    for (fan_in, fan_out), scale in zip(zip(sizes[:-1], sizes[1:], strict=True), scales, strict=True):
        weight = (
            torch.randn(fan_in, fan_out, generator=generator, dtype=torch.float64) * scale / math.sqrt(fan_in)
        )
        bias = torch.randn(fan_out, generator=generator, dtype=torch.float64) * (1.0 if fan_out > 1 else 0.0)
        layers.append((weight, bias))

    def function(X: Tensor) -> Tensor:
        h = 2.0 * X - 1.0
        for i, (weight, bias) in enumerate(layers):
            h = h @ weight.to(h) + bias.to(h)
            if i < len(layers) - 1:
                h = torch.tanh(h)
        return h[..., 0]

    bounds = torch.stack([torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)])
    value, location = estimate_maximum(function, bounds, seed=seed)
    note = (
        "estimated: max of 2^16 scrambled Sobol points, refined by L-BFGS-B from the 16 best "
        f"(seed {seed}); a lower bound on the true maximum"
    )
    return Problem("bnn_prior", bounds, function, value, location.unsqueeze(0), note)


def estimate_maximum(
    function: Callable[[Tensor], Tensor],
    bounds: Tensor,
    *,
    num_points: int = 2**16,
    num_starts: int = 16,
    seed: int = 0,
) -> tuple[float, Tensor]:
    """Maximise a differentiable function over a box by dense search plus L-BFGS-B.

    Args:
        function: Maps `n x d` float64 points to `n` values.
        bounds: A `2 x d` tensor of bounds.
        num_points: Scrambled Sobol points of the dense search.
        num_starts: The best points of the search from which L-BFGS-B starts.
        seed: Seed of the Sobol sequence.

    Returns:
        The best value found and its `d` location (a lower bound on the maximum).
    """
    if not callable(function):
        raise InputDataError("function", "a callable mapping `n x d` points to `n` values", repr(function))
    bounds = _check_bounds("bounds", bounds)
    num_points = check_int("num_points", num_points, minimum=1)
    num_starts = check_int("num_starts", num_starts, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    lower, upper = bounds[0], bounds[1]
    sobol = SobolEngine(bounds.shape[-1], scramble=True, seed=seed).draw(num_points, dtype=torch.float64)
    points = lower + (upper - lower) * sobol
    with torch.no_grad():
        values = torch.cat([function(chunk) for chunk in points.split(8192)])
    top = values.topk(min(num_starts, num_points)).indices
    best_value, best_x = values[top[0]].item(), points[top[0]]

    def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
        point = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        value = function(point.unsqueeze(0))[0]
        (grad,) = torch.autograd.grad(value, point)
        return -value.item(), -grad.numpy()

    box = list(zip(lower.tolist(), upper.tolist(), strict=True))
    for start in points[top]:
        result = scipy.optimize.minimize(negative, start.numpy(), jac=True, method="L-BFGS-B", bounds=box)
        if -result.fun > best_value:
            best_value, best_x = float(-result.fun), torch.tensor(result.x, dtype=torch.float64)
    return best_value, best_x
