r"""The bar (Riemann) distribution: the output head of a PFN (Müller et al., ICLR 2022, §4.3).

The real line is cut at borders :math:`b_0 < \dots < b_K` into :math:`K` buckets of widths
:math:`w_k`; a network outputs logits, whose softmax gives each bucket's probability mass
:math:`p_k`, spread uniformly over the bucket: density :math:`p_k / w_k`.

With ``full_support=True`` the two end buckets are replaced by half-normal tails anchored at
their inner borders, with scales :math:`s = w / \Phi^{-1}(3/4)` so that half of each end
bucket's mass stays inside the bucket and half lies beyond the outer border. Unlike the
reference implementation (automl/PFNs ``FullSupportBarDistribution``, PriorLabs/TabPFN #1200),
*every* method here — ``log_prob``, ``cdf``, ``icdf``, ``sample``, ``mean``, ``variance``,
``entropy`` — accounts for the tails, so they are mutually consistent.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints
from torch.distributions.utils import lazy_property

from probtheory._checks import (
    check_bool,
    check_finite,
    check_floating,
    check_generator,
    check_in_interval,
    check_int,
    check_interval,
    check_not_nan,
)
from probtheory.errors import InputDataError

__all__ = ["BarDistribution", "bucket_borders"]

_HALF_NORMAL_MEDIAN = math.sqrt(2.0) * torch.special.erfinv(torch.tensor(0.5, dtype=torch.float64)).item()
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_EMPTY = torch.Size()


def bucket_borders(num_buckets: int, samples: Tensor, power: float = 1.0) -> Tensor:
    """Borders whose number per unit of y follows the samples' density raised to ``power``.

    ``power=1`` (the default) gives quantile borders, as in Müller et al. (2022, §4.3): each
    bucket holds about the same mass of ``samples`` (prior draws of y); inner borders are
    midpoints between adjacent order statistics at multiples of ``len(samples) // num_buckets``.

    A smaller power moves buckets from the bulk to the tails: the widths become proportional to
    ``p(y) ** -power``. No bar distribution is closer to a predictive ``f`` than ``f``'s own
    bucket masses (:func:`probtheory.pfn.evaluation.bar_projection`), and for buckets narrow
    against ``f`` that floor (a KL divergence) is about ``∫ w(y)² f(y) (d log f / dy)² dy / 24``.
    Averaged over datasets whose predictive widths do not depend on where the predictive sits,
    it is proportional to ``∫ p(y) w(y)² dy``, which at a fixed number of buckets is smallest
    for ``w ∝ p ** (-1/3)``: ``power=1/3``, the point density of asymptotically optimal
    quantisers (Panter & Dite 1951; Gersho 1979). Quantile borders leave the tails' buckets
    wide, where a narrow predictive is then poorly resolved. ``power=0`` gives equal widths.

    The end buckets narrow too, and their widths set the scales of a full-support bar
    distribution's half-normal tails: mass beyond the outermost samples then costs more. With
    the GP recipes' 500 buckets ``power=1/3`` still lowers the floor at every context size; with
    1000 buckets or equal widths the tails cost more at small contexts than the finer bulk
    saves there (``benchmarks/pfn_borders.py``).

    For ``power < 1`` the density is estimated on quantile buckets of about 10 samples each and
    taken as constant within each of them; where the sample is sparse (its extreme tails, a few
    buckets' worth) the layout follows it only as closely as its draws allow.

    Args:
        num_buckets: Number of buckets K >= 1.
        samples: A 1-d tensor of at least ``num_buckets`` finite draws.
        power: Exponent in [0, 1] of the density the buckets follow.

    Returns:
        A strictly increasing tensor of at most ``num_buckets + 1`` borders from the smallest
        sample to the largest. Duplicate borders are removed, so fewer buckets may result:
        with ``power=1`` where atoms in the sample fill several buckets, otherwise only where
        the samples' precision cannot separate neighbouring borders.

    Example:
        >>> import torch
        >>> ys = torch.randn(100_000, generator=torch.Generator().manual_seed(0))
        >>> quantile, spread = bucket_borders(100, ys), bucket_borders(100, ys, power=1 / 3)
        >>> def beyond_two(borders):  # buckets entirely beyond |y| = 2 (4.6% of the draws)
        ...     return int(((borders[1:] <= -2) | (borders[:-1] >= 2)).sum())
        >>> beyond_two(quantile), beyond_two(spread)
        (4, 24)
    """
    k = check_int("num_buckets", num_buckets, minimum=1)
    power = check_interval("power", power, 0.0, 1.0, meaning="an exponent of the density")
    ys = check_finite("samples", samples).flatten().sort().values
    if ys.numel() < k:
        raise InputDataError("samples", f"at least num_buckets = {k} draws", ys.numel())
    if power != 1.0:
        return _power_borders(k, ys, power)
    step = ys.numel() // k
    index = torch.arange(1, k) * step
    inner = (ys[index - 1] + ys[index]) / 2
    borders = torch.unique_consecutive(torch.cat([ys[:1], inner, ys[-1:]]))
    if borders.numel() < 2:
        raise InputDataError("samples", "draws that are not all equal", f"all equal to {ys[0].item()}")
    return borders


def _power_borders(k: int, ys: Tensor, power: float) -> Tensor:
    """Borders of density ∝ p(y)^power, p estimated on fine quantile buckets of the sorted ``ys``."""
    fine_k = max(k, ys.numel() // 10)
    fine = bucket_borders(fine_k, ys).double()
    widths = fine[1:] - fine[:-1]
    # a fine bucket's density is its share of the samples over its width; the shares are nearly
    # equal (quantiles), so they enter relative to the nominal count, a factor of exactly 1
    # unless atoms merged buckets or the last one took the remainder
    inside = (torch.searchsorted(fine, ys.double(), right=True) - 1).clamp(0, widths.numel() - 1)
    share = torch.bincount(inside, minlength=widths.numel()) / (ys.numel() // fine_k)
    weight = share**power * widths ** (1.0 - power)  # the density^power times the width
    cumulative = torch.cat([weight.new_zeros(1), weight.cumsum(0)])
    levels = torch.linspace(0.0, 1.0, k + 1, dtype=torch.float64)[1:-1] * cumulative[-1]
    j = torch.searchsorted(cumulative, levels).clamp(1, widths.numel())  # fine bucket of each level
    inner = fine[j - 1] + (levels - cumulative[j - 1]) / weight[j - 1] * widths[j - 1]
    # in the samples' dtype before removing duplicates: rounding may merge close borders
    return torch.unique_consecutive(torch.cat([fine[:1], inner, fine[-1:]]).to(ys.dtype))


def check_borders(borders: Tensor, full_support: bool = True) -> Tensor:
    """``borders`` if they can cut the line into buckets, else an error naming them.

    They must be finite, 1-d and strictly increasing, at least 3 of them with full support (two
    tails and a bucket between), 2 without.

    Raises:
        InputDataError: Naming ``borders`` otherwise.
    """
    borders = check_finite("borders", borders)
    need = 3 if full_support else 2
    if borders.dim() != 1 or borders.numel() < need:
        raise InputDataError("borders", f"a 1-d tensor of at least {need} borders", tuple(borders.shape))
    if not (borders[1:] > borders[:-1]).all():
        raise InputDataError("borders", "strictly increasing values", borders.tolist()[:8])
    return borders


class BarDistribution(Distribution):
    """Piecewise-uniform distribution over buckets, optionally with half-normal tails.

    Args:
        borders: A strictly increasing 1-d tensor of K + 1 borders (K >= 2 for full support).
        logits: A `batch_shape x K` tensor of unnormalised log bucket masses.
        full_support: Replace the end buckets by half-normal tails (support: the real line).

    Example:
        >>> import torch
        >>> from probtheory.pfn import BarDistribution
        >>> d = BarDistribution(torch.tensor([-2.0, -1.0, 1.0, 2.0]), torch.zeros(3), full_support=True)
        >>> round(float(d.cdf(torch.tensor(-2.0))), 4)  # half of the first bucket's 1/3 is beyond -2
        0.1667
    """

    arg_constraints = {}  # noqa: RUF012 - torch.distributions convention
    has_rsample = False

    def __init__(self, borders: Tensor, logits: Tensor, full_support: bool = True, validate_args=None):
        check_floating("logits", logits)
        check_bool("full_support", full_support)
        borders = check_borders(borders, full_support)
        if logits.shape[-1] != borders.numel() - 1:
            raise InputDataError("logits", f"last dimension K = {borders.numel() - 1}", tuple(logits.shape))
        if logits.dim() == 0:
            raise InputDataError("logits", f"a `batch_shape x {borders.numel() - 1}` tensor", "a scalar")
        # -inf is a bucket of mass zero, but every row needs one finite largest logit: NaN and +inf
        # propagate into the row's maximum, and a row of -inf has no mass to normalise (one pass
        # over the logits and a small `batch_shape` result, instead of two full-size masks)
        if not torch.isfinite(logits.amax(-1)).all():
            raise InputDataError(
                "logits",
                "values that are not NaN or +inf, and a finite logit per row",
                "NaN or infinite logits",
            )
        self.borders = borders.to(logits.dtype)
        self.logits = logits
        self.full_support = full_support
        self.widths = self.borders[1:] - self.borders[:-1]
        if full_support:
            self.left_scale = self.widths[0] / _HALF_NORMAL_MEDIAN
            self.right_scale = self.widths[-1] / _HALF_NORMAL_MEDIAN
        super().__init__(batch_shape=logits.shape[:-1], validate_args=validate_args)

    @property
    def support(self):  # noqa: D102
        if self.full_support:
            return constraints.real
        return constraints.interval(self.borders[0], self.borders[-1])

    # log_prob needs only the log masses and the moments only the masses: each is computed on
    # first use, since a `batch x K` tensor costs more than the arithmetic for large batches

    @lazy_property
    def log_masses(self) -> Tensor:
        """Log bucket masses, `batch_shape x K` (normalised logits)."""
        return torch.log_softmax(self.logits, dim=-1)

    @lazy_property
    def masses(self) -> Tensor:
        """Bucket masses, `batch_shape x K`, summing to one."""
        return torch.softmax(self.logits, dim=-1)

    # ------------------------------------------------------------------ helpers

    def _bucket(self, value: Tensor) -> Tensor:
        """Index of the bucket containing each value (clamped to [0, K-1])."""
        k = self.widths.numel()
        return (torch.searchsorted(self.borders, value.contiguous(), right=True) - 1).clamp(0, k - 1)

    def _gather(self, table: Tensor, index: Tensor) -> Tensor:
        table, index = torch.broadcast_tensors(
            table, index.unsqueeze(-1).expand(*index.shape, table.shape[-1])
        )
        return table.gather(-1, index[..., :1]).squeeze(-1)

    def _broadcast(self, value: Tensor) -> Tensor:
        value = value.to(dtype=self.logits.dtype, device=self.logits.device)
        try:
            shape = torch.broadcast_shapes(value.shape, self.batch_shape)
        except RuntimeError as err:
            raise InputDataError(
                "value",
                f"a tensor broadcastable to the batch shape {tuple(self.batch_shape)}",
                tuple(value.shape),
            ) from err
        return value.expand(shape)

    def _masses_for(self, value: Tensor) -> Tensor:
        return self.masses.expand(*value.shape, self.masses.shape[-1])

    # ------------------------------------------------------------------ density

    def log_prob(self, value: Tensor) -> Tensor:
        """Log density; -inf outside [b_0, b_K] without full support.

        Args:
            value: Values of y, broadcastable to the batch shape; infinities are allowed (their
                density is zero), NaN is refused.
        """
        value = self._broadcast(check_not_nan("value", value))
        k = self._bucket(value)
        log_mass = self._gather(self.log_masses.expand(*value.shape, self.log_masses.shape[-1]), k)
        log_width = self.widths.log()[k]
        out = log_mass - log_width
        if self.full_support:
            b1, bk = self.borders[1], self.borders[-2]
            left = value < b1
            right = value > bk
            left_lp = log_mass + _half_normal_log_pdf(b1 - value, self.left_scale)
            right_lp = log_mass + _half_normal_log_pdf(value - bk, self.right_scale)
            out = torch.where(left, left_lp, torch.where(right, right_lp, out))
        else:
            outside = (value < self.borders[0]) | (value > self.borders[-1])
            out = out.masked_fill(outside, -math.inf)
        return out

    def cdf(self, value: Tensor) -> Tensor:
        """P(Y <= value), tails included (NaN values are refused, infinities allowed)."""
        value = self._broadcast(check_not_nan("value", value))
        masses = self._masses_for(value)
        cumulative = torch.cat([torch.zeros_like(masses[..., :1]), masses.cumsum(-1)], -1)
        k = self._bucket(value)
        below = self._gather(cumulative, k)
        fraction = ((value - self.borders[k]) / self.widths[k]).clamp(0.0, 1.0)
        out = below + self._gather(masses, k) * fraction
        if self.full_support:
            b1, bk = self.borders[1], self.borders[-2]
            first, last = masses[..., 0], masses[..., -1]
            left = first * (1 - _half_normal_cdf(b1 - value, self.left_scale))
            right = 1 - last * (1 - _half_normal_cdf(value - bk, self.right_scale))
            out = torch.where(value < b1, left, torch.where(value > bk, right, out))
        return out.clamp(0.0, 1.0)

    def icdf(self, value: Tensor) -> Tensor:
        """Quantile function, the exact inverse of :meth:`cdf` (tails included)."""
        q = self._broadcast(check_in_interval("value", value, 0.0, 1.0, meaning="probabilities"))
        masses = self._masses_for(q)
        cumulative = masses.cumsum(-1)
        k = torch.searchsorted(cumulative.contiguous(), q.unsqueeze(-1).contiguous(), right=False).squeeze(-1)
        k = k.clamp(0, self.widths.numel() - 1)
        below = self._gather(torch.cat([torch.zeros_like(cumulative[..., :1]), cumulative], -1), k)
        mass = self._gather(masses, k)
        fraction = ((q - below) / mass.clamp_min(torch.finfo(q.dtype).tiny)).clamp(0.0, 1.0)
        out = self.borders[k] + fraction * self.widths[k]
        if self.full_support:
            b1, bk = self.borders[1], self.borders[-2]
            first, last = masses[..., 0], masses[..., -1]
            tiny = torch.finfo(q.dtype).tiny
            left_t = _half_normal_icdf(1 - q / first.clamp_min(tiny), self.left_scale)
            right_t = _half_normal_icdf(1 - (1 - q) / last.clamp_min(tiny), self.right_scale)
            out = torch.where(q < first, b1 - left_t, torch.where(q > 1 - last, bk + right_t, out))
        return out

    def sample(self, sample_shape: torch.Size = _EMPTY, generator: torch.Generator | None = None) -> Tensor:
        """Draw by inverse transform sampling (so tails are sampled with their true mass)."""
        check_generator("generator", generator)
        try:
            shape = self._extended_shape(torch.Size(sample_shape))
        except TypeError as err:
            raise InputDataError("sample_shape", "a torch.Size or tuple of ints", repr(sample_shape)) from err
        u = torch.rand(shape, dtype=self.logits.dtype, device=self.logits.device, generator=generator)
        with torch.no_grad():
            return self.icdf(u)

    # ------------------------------------------------------------------ moments

    @property
    def mean(self) -> Tensor:  # noqa: D102
        mids = (self.borders[1:] + self.borders[:-1]) / 2
        if self.full_support:
            mids = mids.clone()
            mids[0] = self.borders[1] - self.left_scale * _SQRT_2_OVER_PI
            mids[-1] = self.borders[-2] + self.right_scale * _SQRT_2_OVER_PI
        return (self.masses * mids).sum(-1)

    @property
    def variance(self) -> Tensor:  # noqa: D102
        mids = (self.borders[1:] + self.borders[:-1]) / 2
        second = mids**2 + self.widths**2 / 12
        if self.full_support:
            second = second.clone()
            b1, bk = self.borders[1], self.borders[-2]
            sl, sr = self.left_scale, self.right_scale
            second[0] = b1**2 - 2 * b1 * sl * _SQRT_2_OVER_PI + sl**2
            second[-1] = bk**2 + 2 * bk * sr * _SQRT_2_OVER_PI + sr**2
        return ((self.masses * second).sum(-1) - self.mean**2).clamp_min(0.0)

    def entropy(self) -> Tensor:
        """Differential entropy, tails included."""
        p = self.masses
        plogp = torch.where(p > 0, p * self.log_masses, torch.zeros_like(p))
        per_bucket = -plogp + p * self.widths.log()
        if self.full_support:
            for index, scale in ((0, self.left_scale), (-1, self.right_scale)):
                h = 0.5 * math.log(math.pi / 2) + torch.log(scale) + 0.5
                per_bucket[..., index] = -plogp[..., index] + p[..., index] * h
        return per_bucket.sum(-1)


def _half_normal_log_pdf(t: Tensor, scale: Tensor) -> Tensor:
    return 0.5 * math.log(2 / math.pi) - torch.log(scale) - 0.5 * (t / scale) ** 2


def _half_normal_cdf(t: Tensor, scale: Tensor) -> Tensor:
    return torch.erf(t.clamp_min(0.0) / (scale * math.sqrt(2.0)))


def _half_normal_icdf(q: Tensor, scale: Tensor) -> Tensor:
    return scale * math.sqrt(2.0) * torch.erfinv(q.clamp(0.0, 1.0 - torch.finfo(q.dtype).eps))
