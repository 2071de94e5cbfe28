"""TuRBO-style trust regions for the BO loop.

Eriksson et al., "Scalable Global Optimization via Local Bayesian Optimization", NeurIPS 2019,
Sec. 2 (TuRBO-1).

The acquisition is maximised inside a box around the incumbent instead of the whole unit cube.
The box's side length ``L`` follows the paper's rule:

* a batch *succeeds* if its best value improves on the trust region's best by more than
  ``improvement * |best|`` (BoTorch's TuRBO tutorial uses ``1e-3``), otherwise it *fails*;
* after ``success_tolerance`` successive successes ``L <- min(2 L, length_max)``, after
  ``failure_tolerance`` successive failures ``L <- L / 2`` (the paper: ``tau_succ = 3``,
  ``tau_fail = ceil(max(4 / q, d / q))``, ``L_init = 0.8``, ``L_min = 2^-7``, ``L_max = 1.6``);
* when ``L < length_min`` the region has collapsed: TuRBO-1 restarts it from a fresh scrambled
  Sobol design of ``n_init`` points over the whole cube, and the surrogate afterwards sees only
  the points evaluated since that restart.

The box is centred on the best point of the current region and its sides are weighted by the
surrogate's input lengthscales where it has them (the paper's GP: ``w_i = l_i / mean(l)``,
normalised so that ``prod(w_i) = 1``, hence the box's volume is ``L^d`` before clipping to the
cube), uniformly otherwise.

:class:`TrustRegion` holds the settings and :class:`TrustRegionState` the evolving state; the
state is a small frozen record that a :class:`bo.results.BOResult` stores, so a resumed run
continues with exactly the state the uninterrupted run had.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from torch import Tensor
from torch.quasirandom import SobolEngine

from bo.models.gp import kernel_input_lengthscales
from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["TrustRegion", "TrustRegionState", "input_lengthscales", "restart_design"]


@dataclass(frozen=True)
class TrustRegion:
    """The trust region's settings (defaults: Eriksson et al., 2019, Sec. 2).

    Attributes:
        length_init: Side length of a new region (in units of the unit cube's side).
        length_min: A region shorter than this has collapsed and is restarted.
        length_max: The longest side length.
        success_tolerance: Successive successes that double the length.
        failure_tolerance: Successive failures that halve it (None: ``ceil(max(4 / q, d / q))``).
        improvement: Relative improvement of the region's best value that counts as a success.
    """

    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_tolerance: int = 3
    failure_tolerance: int | None = None
    improvement: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("length_init", "length_min", "length_max"):
            check_real(name, getattr(self, name), positive=True)
        if not self.length_min <= self.length_init <= self.length_max:
            raise InputDataError(
                "length_init",
                f"a length in [length_min, length_max] = [{self.length_min}, {self.length_max}]",
                self.length_init,
            )
        check_int("success_tolerance", self.success_tolerance, minimum=1)
        if self.failure_tolerance is not None:
            check_int("failure_tolerance", self.failure_tolerance, minimum=1)
        check_real("improvement", self.improvement, nonnegative=True)

    def failures_allowed(self, dim: int, q: int) -> int:
        """Successive failures before the length halves: the setting, or ``ceil(max(4/q, d/q))``."""
        if self.failure_tolerance is not None:
            return self.failure_tolerance
        return math.ceil(max(4.0 / q, dim / q))

    def start(self, start: int, restarts: int = 0) -> TrustRegionState:
        """A new region whose data begin at evaluation index ``start``."""
        return TrustRegionState(length=self.length_init, start=start, restarts=restarts)


@dataclass(frozen=True)
class TrustRegionState:
    """Where the trust region stands.

    Attributes:
        length: The current side length.
        start: Index of the first evaluation of the current region (its design's first point).
        restarts: How many times the region has collapsed and restarted.
        successes: Successive successes so far.
        failures: Successive failures so far.
        best: The best value evaluated in the current region (-inf before its first).
    """

    length: float
    start: int
    restarts: int = 0
    successes: int = 0
    failures: int = 0
    best: float = -math.inf

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``best = -inf`` as None)."""
        data = asdict(self)
        data["best"] = None if math.isinf(self.best) else self.best
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrustRegionState:
        """The inverse of :meth:`to_dict`."""
        data = dict(data)
        data["best"] = -math.inf if data.get("best") is None else float(data["best"])
        return cls(**data)

    def designing(self, n_evaluations: int, n_init: int) -> bool:
        """Whether the region's Sobol design is still being evaluated (after a restart)."""
        return n_evaluations - self.start < n_init

    def updated(self, settings: TrustRegion, values: Tensor, dim: int, q: int) -> TrustRegionState:
        """The state after a batch whose observed values are ``values`` (`b`, any b >= 1).

        The first batch of a region (no best yet) only sets the best. Afterwards the batch is a
        success or a failure, the counters and length follow the rule, and the caller restarts
        the region when :attr:`collapsed`.
        """
        batch_best = values.max().item()
        if math.isinf(self.best):
            return replace(self, best=batch_best)
        best = max(self.best, batch_best)
        if batch_best > self.best + settings.improvement * abs(self.best):
            successes, failures = self.successes + 1, 0
        else:
            successes, failures = 0, self.failures + 1
        length = self.length
        if successes == settings.success_tolerance:
            length, successes = min(2.0 * length, settings.length_max), 0
        elif failures == settings.failures_allowed(dim, q):
            length, failures = length / 2.0, 0
        return replace(self, length=length, successes=successes, failures=failures, best=best)

    def collapsed(self, settings: TrustRegion) -> bool:
        """Whether the length fell below ``length_min`` (the region must restart)."""
        return self.length < settings.length_min

    def box(self, center: Tensor, lengthscales: Tensor | None = None) -> Tensor:
        """The `2 x d` box of side ``length * w_i`` around ``center``, clipped to the unit cube.

        Args:
            center: A `d` point of the unit cube (the region's incumbent).
            lengthscales: Positive `d` input lengthscales of the surrogate, or None (uniform sides).

        Returns:
            A `2 x d` tensor of lower and upper bounds, ``0 <= lower < upper <= 1``.
        """
        weights = torch.ones_like(center)
        if lengthscales is not None:
            scales = lengthscales.detach().to(center).reshape(-1)
            if scales.shape != center.shape or not bool(torch.all(torch.isfinite(scales) & (scales > 0))):
                raise InputDataError(
                    "lengthscales", f"{center.shape[0]} positive finite values", f"{scales.tolist()}"
                )
            # TuRBO's l_i / mean(l), normalised to geometric mean 1 (volume L^d): the division by
            # the mean cancels in that normalisation, so only the geometric mean is divided out
            weights = scales / scales.log().mean().exp()
        half = weights * self.length / 2.0
        return torch.stack([(center - half).clamp(0.0, 1.0), (center + half).clamp(0.0, 1.0)])


def restart_design(dim: int, n_init: int, seed: int, restarts: int) -> Tensor:
    """The scrambled Sobol design (`n_init x d`) of the ``restarts``-th restarted region."""
    dim, n_init = check_int("dim", dim, minimum=1), check_int("n_init", n_init, minimum=1)
    seed, restarts = check_int("seed", seed, minimum=0), check_int("restarts", restarts, minimum=0)
    return SobolEngine(dim, scramble=True, seed=(seed * 7_919 + restarts) % 2**31).draw(
        n_init, dtype=torch.float64
    )


def input_lengthscales(model: Model, dim: int) -> Tensor | None:
    """The model's `d` lengthscales on the raw inputs, or None if it has none.

    A model may say so itself with an ``input_lengthscales()`` method (the probtheory GP family
    does: the plain GP answers with its ARD lengthscales, the IBNN and DKL, whose kernels act
    on other features, with None). A user's BoTorch ``SingleTaskGP`` answers with its kernel's
    ARD lengthscales when it has ``d`` of them.
    """
    if not isinstance(model, Model):
        raise InputDataError("model", "a botorch Model", type(model).__name__)
    dim = check_int("dim", dim, minimum=1)
    method = getattr(model, "input_lengthscales", None)
    if callable(method):
        return method()
    if isinstance(model, SingleTaskGP):
        return kernel_input_lengthscales(model.covar_module, dim)
    return None
