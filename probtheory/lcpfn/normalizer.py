"""Map learning curves of any metric onto the LC-PFN's scale: [0, 1], higher is better.

The LC-PFN prior lives in [0, 1] with improvement upwards. :class:`CurveNormalizer` maps a
metric with range [lower, upper] there, flipping minimisation metrics (losses, errors):

* finite ``lower`` and ``upper``, no soft range: the linear map (y - lower) / (upper - lower);
* a soft range [soft_lower, soft_upper] (needed when a bound is infinite, e.g. a loss in
  [0, inf)): [soft_lower, soft_upper] is mapped linearly onto [-1, 1] and then through a
  sigmoid rescaled so that [lower, upper] lands exactly on [0, 1] — the construction of
  the reference ``lcpfn.utils.pfn_normalize``. Values inside the soft range keep most of the
  resolution; values beyond it are compressed but still ordered.

Both maps are strictly monotone, so quantiles transform exactly (with q -> 1 - q when
minimising).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import constraints
from torch.distributions.transforms import Transform

from probtheory._checks import check_bool, check_finite, check_real
from probtheory.errors import ConfigurationError, InputDataError

__all__ = ["CurveNormalizer"]


def _sigmoid(u: float) -> float:
    if u == math.inf:
        return 1.0
    if u == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(-u))


@dataclass(frozen=True)
class CurveNormalizer:
    """A monotone map from a metric's range onto [0, 1] (higher is better).

    Args:
        lower: Smallest possible value of the metric (may be ``-inf`` with a soft range).
        upper: Largest possible value (may be ``inf`` with a soft range).
        minimize: The metric improves downwards (a loss): flip it.
        soft_lower: Lower end of the range where curves usually are (default: linear map).
        soft_upper: Upper end of that range.

    Example:
        ```python
        accuracy = CurveNormalizer()                       # already in [0, 1], maximised
        loss = CurveNormalizer(0.0, float("inf"), minimize=True, soft_lower=0.0, soft_upper=3.0)
        z = loss.forward(torch.tensor([2.3, 1.1, 0.7]))     # increasing, in (0, 1]
        ```
    """

    lower: float = 0.0
    upper: float = 1.0
    minimize: bool = False
    soft_lower: float | None = None
    soft_upper: float | None = None

    def __post_init__(self) -> None:
        check_real("lower", self.lower, allow_inf=True)
        check_real("upper", self.upper, allow_inf=True)
        check_bool("minimize", self.minimize)
        for name in ("soft_lower", "soft_upper"):
            if getattr(self, name) is not None:
                check_real(name, getattr(self, name))
        if not self.lower < self.upper:
            raise InputDataError("lower, upper", "lower < upper", (self.lower, self.upper))
        soft = (self.soft_lower, self.soft_upper)
        if (soft[0] is None) != (soft[1] is None):
            raise ConfigurationError("give both soft_lower and soft_upper, or neither")
        if soft[0] is None:
            if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
                raise ConfigurationError(
                    f"an infinite bound ({self.lower}, {self.upper}) needs a soft range "
                    "(soft_lower, soft_upper) where the curves usually lie"
                )
        elif not (self.lower <= soft[0] < soft[1] <= self.upper):
            raise InputDataError(
                "soft_lower, soft_upper",
                f"lower <= soft_lower < soft_upper <= upper ({self.lower}, {self.upper})",
                soft,
            )

    @property
    def linear(self) -> bool:
        """Whether the map is affine (no soft range)."""
        return self.soft_lower is None

    def _u(self, y: Tensor | float) -> Tensor | float:
        return 2 * (y - self.soft_lower) / (self.soft_upper - self.soft_lower) - 1

    def _sigmoid_ends(self) -> tuple[float, float]:
        lo = _sigmoid(self._u(self.lower)) if math.isfinite(self.lower) else 0.0
        hi = _sigmoid(self._u(self.upper)) if math.isfinite(self.upper) else 1.0
        return lo, hi

    def check(self, name: str, y: Tensor) -> Tensor:
        """Raise unless every value of ``y`` is finite and in [lower, upper]."""
        check_finite(name, y)
        if y.numel() and (y.min() < self.lower or y.max() > self.upper):
            raise InputDataError(
                name,
                f"values in the normaliser's range [{self.lower}, {self.upper}]",
                f"values in [{y.min().item():.4g}, {y.max().item():.4g}]",
            )
        return y

    def forward(self, y: Tensor) -> Tensor:
        """Metric values -> [0, 1], higher is better."""
        y = torch.as_tensor(y, dtype=torch.float64)
        if self.linear:
            z = (y - self.lower) / (self.upper - self.lower)
        else:
            lo, hi = self._sigmoid_ends()
            z = (torch.sigmoid(self._u(y)) - lo) / (hi - lo)
        return 1 - z if self.minimize else z

    def inverse(self, z: Tensor) -> Tensor:
        """[0, 1] -> metric values (the inverse of :meth:`forward`)."""
        z = torch.as_tensor(z, dtype=torch.float64)
        if self.minimize:
            z = 1 - z
        if self.linear:
            return self.lower + z * (self.upper - self.lower)
        lo, hi = self._sigmoid_ends()
        # z beyond the image of the real line (full-support tails of a predictive) would give
        # logit of a value outside (0, 1), NaN: such quantiles go to the ends of the metric
        s = (lo + z * (hi - lo)).clamp(0.0, 1.0)
        u = torch.logit(s)
        return (u + 1) * (self.soft_upper - self.soft_lower) / 2 + self.soft_lower

    def transform(self) -> Transform:
        """The map normalised -> metric as a torch ``Transform`` (for TransformedDistribution)."""
        return _InverseNormalization(self)


class _InverseNormalization(Transform):
    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, normalizer: CurveNormalizer) -> None:
        super().__init__()
        self.normalizer = normalizer

    @property
    def sign(self) -> int:
        return -1 if self.normalizer.minimize else 1

    def _call(self, z: Tensor) -> Tensor:
        return self.normalizer.inverse(z)

    def _inverse(self, y: Tensor) -> Tensor:
        return self.normalizer.forward(y)

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        n = self.normalizer
        if n.linear:
            return torch.full_like(z, math.log(n.upper - n.lower))
        lo, hi = n._sigmoid_ends()
        s = lo + (1 - z if n.minimize else z) * (hi - lo)  # sigmoid(u)
        # y = a * logit(s) + b, ds/dz = +-(hi - lo): |dy/dz| = a (hi - lo) / (s (1 - s))
        a = (n.soft_upper - n.soft_lower) / 2
        return math.log(a * (hi - lo)) - torch.log(s) - torch.log1p(-s)
