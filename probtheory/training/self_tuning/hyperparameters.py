r"""The tuned hyperparameters of a Self-Tuning Network: their ranges, perturbation and draws.

MacKay, Vicol, Lorraine, Duvenaud & Grosse, "Self-Tuning Networks: Bilevel Optimization of
Hyperparameters using Structured Best-Response Functions" (ICLR 2019; code
asteroidhouse/self-tuning-networks), Sec. 4.3. Hyperparameters are unconstrained
:math:`h \in \mathbb R^{n_h}`, mapped to their range by
:math:`\lambda = \text{low} + (\text{high} - \text{low})\,\sigma(h)`, and perturbed per example,
:math:`h_b = h + s \odot \varepsilon`, with the learned scale :math:`s = \operatorname{softplus}(\rho)`
and entropy :math:`H = \sum_j \log(s_j \sqrt{2\pi e})`.

:class:`Hyperparameter` declares one tuned hyperparameter and its range;
:class:`STNHyperparameters` holds :math:`h, \rho` and draws :math:`h_b`. The layers that read
them are in :mod:`probtheory.training.self_tuning.networks`, the callback that tunes them in
:mod:`probtheory.training.self_tuning`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import InputDataError

__all__ = ["Hyperparameter", "STNHyperparameters"]

#: Stages of :class:`STNHyperparameters`: ``"train"`` (weight step) or ``"hyper"`` (hyper step).
STAGES = ("train", "hyper")


@dataclass(frozen=True)
class Hyperparameter:
    """One tunable hyperparameter with values in the open interval ``(low, high)``.

    Attributes:
        name: Its name (``"dropout_0"``, ``"input_noise"``).
        low: Lower end of its range.
        high: Upper end, ``> low``.
        init: Initial value, strictly inside ``(low, high)``.
    """

    name: str
    low: float
    high: float
    init: float

    def __post_init__(self) -> None:
        low, high = check_real("low", self.low), check_real("high", self.high)
        if high <= low:
            raise InputDataError("high", f"a number > low = {low}", high)
        if not low < check_real("init", self.init) < high:
            raise InputDataError("init", f"a value strictly inside ({low}, {high})", self.init)


class STNHyperparameters(nn.Module):
    r"""The unconstrained hyperparameters ``h``, their perturbation scales, and the per-example draws.

    Args:
        specs: The tuned hyperparameters (unique names).
        perturb_scale: Initial perturbation scale ``s`` of every ``h_j`` (reference code: 0.5).

    Attributes:
        unconstrained: The ``n_h`` parameter ``h``, with ``h_j = logit((init_j - low_j) / (high_j - low_j))``.
        raw_scale: The ``n_h`` parameter ``rho`` with ``s = softplus(rho)``.
        stage: ``"train"`` or ``"hyper"``, set by :class:`SelfTuning`; see :meth:`sample`.
        perturb_hyper: Whether :meth:`sample` perturbs ``h`` in the hyper stage (needed to tune ``s``).
    """

    def __init__(self, specs: Sequence[Hyperparameter], *, perturb_scale: float = 0.5) -> None:
        super().__init__()
        specs = tuple(specs)
        if not specs:
            raise InputDataError("specs", "at least one Hyperparameter", "none")
        for i, spec in enumerate(specs):
            if not isinstance(spec, Hyperparameter):
                raise InputDataError(f"specs[{i}]", "a Hyperparameter", type(spec).__name__)
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise InputDataError("specs", "unique names", names)
        perturb_scale = check_real("perturb_scale", perturb_scale, positive=True)
        self.specs = specs
        self.register_buffer("low", torch.tensor([s.low for s in specs]))
        self.register_buffer("width", torch.tensor([s.high - s.low for s in specs]))
        fractions = torch.tensor([(s.init - s.low) / (s.high - s.low) for s in specs])
        self.unconstrained = nn.Parameter(torch.logit(fractions))
        # inverse softplus: log(exp(s) - 1), written stably as s + log(1 - exp(-s))
        self.raw_scale = nn.Parameter(
            torch.full((len(specs),), perturb_scale + math.log(-math.expm1(-perturb_scale)))
        )
        self.stage = "train"
        self.perturb_hyper = True

    @property
    def names(self) -> list[str]:
        """The hyperparameters' names, in the order of the ``n_h`` coordinates."""
        return [spec.name for spec in self.specs]

    @property
    def num_hyperparameters(self) -> int:
        """``n_h``."""
        return len(self.specs)

    def scale(self) -> Tensor:
        """The `n_h` perturbation scales ``s = softplus(rho)``."""
        return F.softplus(self.raw_scale)

    def entropy(self) -> Tensor:
        r"""Entropy of the perturbation distribution ``N(h, diag(s^2))``: ``sum_j log(s_j sqrt(2 pi e))``."""
        return (self.scale().log() + 0.5 * math.log(2 * math.pi * math.e)).sum()

    def constrain(self, h: Tensor) -> Tensor:
        """Map unconstrained `... x n_h` values to hyperparameter values ``low + (high - low) sigmoid(h)``."""
        return self.low + self.width * torch.sigmoid(h)

    def values(self) -> dict[str, float]:
        """The current (unperturbed) hyperparameter values by name."""
        with torch.no_grad():
            return dict(zip(self.names, self.constrain(self.unconstrained).tolist(), strict=True))

    def scales(self) -> dict[str, float]:
        """The current perturbation scales ``s`` by name (in unconstrained units)."""
        with torch.no_grad():
            return dict(zip(self.names, self.scale().tolist(), strict=True))

    def sample(self, batch_size: int) -> Tensor:
        """One unconstrained hyperparameter vector per example: a `batch_size x n_h` tensor.

        In eval mode: ``h`` for every example (no perturbation). In the ``"train"`` stage:
        ``h + s * eps`` detached, so weight steps never move ``h`` or ``s``. In the ``"hyper"``
        stage: ``h + s * eps`` (``h`` if ``perturb_hyper`` is False), differentiable in both.
        The noise ``eps ~ N(0, I)`` comes from the global torch RNG (seeded by ``fit(seed=...)``).
        """
        batch_size = check_int("batch_size", batch_size, minimum=1)
        check_name("stage", self.stage, STAGES, meaning="a stage")
        h = self.unconstrained.expand(batch_size, -1)
        if not self.training or (self.stage == "hyper" and not self.perturb_hyper):
            return h
        eps = torch.randn(h.shape, dtype=h.dtype, device=h.device)
        drawn = h + self.scale() * eps
        return drawn.detach() if self.stage == "train" else drawn
