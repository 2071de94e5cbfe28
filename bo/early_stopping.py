"""Predictive early stopping of training runs with a learning-curve extrapolator.

Adriaensen et al. (NeurIPS 2023, §5): while tuning hyperparameters, stop run lambda after
epoch T' as soon as it is unlikely to beat the incumbent (the best final value so far),

    P(y_lambda(T) > y* | y_lambda(1..T')) < 1 - delta,

with the probability read off the LC-PFN's posterior predictive at the final epoch T
(1 - cdf(y*)); delta = 0.95 in the paper. For a minimised metric "beat" means "end lower".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError
from probtheory.lcpfn.extrapolator import CurveExtrapolator
from probtheory.lcpfn.normalizer import CurveNormalizer

__all__ = ["PredictiveEarlyStopping"]


@dataclass
class PredictiveEarlyStopping:
    """The stopping rule ``P(final value beats the incumbent | curve so far) < 1 - delta``.

    Args:
        model: The extrapolator (e.g. ``LCPFN.from_pretrained()``).
        final_epoch: T, the epoch every run would otherwise train to.
        delta: Stop when the chance of beating the incumbent drops below ``1 - delta``.
        min_epochs: Never stop before this many epochs.
        normalizer: The metric's range and direction (default: accuracy-like in [0, 1]).

    Example:
        ```python
        rule = PredictiveEarlyStopping(LCPFN.from_pretrained(), final_epoch=100)
        rule.should_stop([0.31, 0.42, 0.47], incumbent=0.93)   # True: hopeless
        ```
    """

    model: CurveExtrapolator
    final_epoch: int
    delta: float = 0.95
    min_epochs: int = 1
    normalizer: CurveNormalizer | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, CurveExtrapolator):
            expected = "a learning-curve extrapolator such as LCPFN.from_pretrained()"
            raise InputDataError("model", expected, type(self.model).__name__)
        check_int("final_epoch", self.final_epoch, minimum=2)
        check_int("min_epochs", self.min_epochs, minimum=1)
        check_real("delta", self.delta)
        if not 0 < self.delta < 1:
            hint = " (a percentage? pass delta / 100)" if 1 < self.delta < 100 else ""
            raise InputDataError("delta", "a probability in (0, 1)", f"{self.delta}{hint}")
        if self.final_epoch > self.model.max_epochs:
            raise InputDataError(
                "final_epoch", f"at most the model's max_epochs ({self.model.max_epochs})", self.final_epoch
            )
        self.normalizer = self.normalizer or CurveNormalizer()

    def probability_to_beat(self, values: Sequence[float], incumbent: float) -> float:
        """P(the run's value at ``final_epoch`` beats ``incumbent`` | its values at epochs 1..T')."""
        y = torch.as_tensor(values, dtype=torch.float64).flatten()
        epochs = torch.arange(1, y.numel() + 1, dtype=torch.float64)
        self.normalizer.check("incumbent", torch.tensor([float(incumbent)]))
        final = torch.tensor([float(self.final_epoch)], dtype=torch.float64)
        dist = self.model.predict(epochs, y, final, self.normalizer)
        below = dist.cdf(torch.tensor([float(incumbent)], dtype=torch.float64))[0].item()
        return below if self.normalizer.minimize else 1.0 - below

    def should_stop(self, values: Sequence[float], incumbent: float | None) -> bool:
        """Whether to stop a run whose values at epochs 1, 2, ... are ``values``."""
        observed = len(values)
        if incumbent is None or observed < self.min_epochs or observed >= self.final_epoch:
            return False
        return self.probability_to_beat(values, incumbent) < 1 - self.delta
