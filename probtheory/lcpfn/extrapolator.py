"""The learning-curve extrapolation API shared by the LC-PFN and its baselines.

Every extrapolator answers the same calls as the reference ``lcpfn`` package::

    model.predict_quantiles(x_train, y_train, x_test, qs)   # `n_test x len(qs)`
    model.predict_mean(x_train, y_train, x_test)             # `n_test`
    model.nll_loss(x_train, y_train, x_test, y_test)         # `n_test`

plus :meth:`CurveExtrapolator.predict`, returning the predictive distribution itself.
``x`` are epochs (1, 2, ...; strictly increasing in ``x_train``; at most ``max_epochs``),
``y`` the metric. Single curves are given as `T` or `T x 1` tensors (the reference layout),
batches of curves as `B x T x 1`. A :class:`~probtheory.lcpfn.normalizer.CurveNormalizer`
maps other metrics (losses, arbitrary ranges) onto the models' [0, 1] scale.

Observed values are accepted where the curve prior's own observations can lie: its noiseless
curves are confined to [0, 1] but the observation noise is added afterwards, so noisy
observations of a valid curve leave [0, 1]. :attr:`CurveExtrapolator.observation_range` is
[0, 1] widened by the margin the prior's noise exceeds with probability at most 1e-6 per curve
(:func:`~probtheory.lcpfn.curves.observation_range`); values beyond it, which the model was
never trained on, are refused.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, MixtureSameFamily, Normal, TransformedDistribution

from probtheory._checks import check_finite, check_in_interval, check_instance, check_probabilities
from probtheory.errors import InputDataError
from probtheory.lcpfn.curves import CurvePrior
from probtheory.lcpfn.normalizer import CurveNormalizer
from probtheory.pfn.bar_distribution import BarDistribution

__all__ = ["CurveExtrapolator", "GaussianMixture"]


class GaussianMixture(MixtureSameFamily):
    """A mixture of normals per batch element, with a quantile function accurate to 1e-12 in q.

    Args:
        logits: Unnormalised log mixture weights, shape `... x N`.
        loc: Component means, `... x N`.
        scale: Component standard deviations, `... x N`.
    """

    def __init__(self, logits: Tensor, loc: Tensor, scale: Tensor) -> None:
        """Create the mixture (see the class docstring)."""
        for name, value in (("loc", loc), ("scale", scale)):
            check_finite(name, value)
        check_in_interval("scale", scale, 0.0, math.inf, closed=(False, False), meaning="standard deviations")
        if not logits.shape == loc.shape == scale.shape or logits.dim() == 0 or logits.shape[-1] == 0:
            shapes = f"{tuple(logits.shape)}, {tuple(loc.shape)}, {tuple(scale.shape)}"
            raise InputDataError("logits, loc, scale", "tensors of one shape `... x N`, N >= 1", shapes)
        # -inf is a component of weight zero, but every mixture needs a finite largest logit: NaN and
        # +inf propagate into the maximum, and a row of -inf has no weight to normalise
        if not torch.isfinite(logits.amax(-1)).all():
            raise InputDataError(
                "logits",
                "values that are not NaN or +inf, and a finite logit per mixture",
                "NaN or infinite logits",
            )
        self._params = (logits, loc, scale)
        super().__init__(Categorical(logits=logits), Normal(loc, scale), validate_args=False)

    def first(self) -> GaussianMixture:
        """The mixture of the first batch element."""
        return GaussianMixture(*(p[0] for p in self._params))

    def _cdf_and_pdf(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits, loc, scale = self._params
        weights = torch.softmax(logits, -1)
        z = (x.unsqueeze(-1) - loc) / scale
        cdf = (weights * torch.special.ndtr(z)).sum(-1)
        pdf = (weights * torch.exp(-0.5 * z**2) / (scale * math.sqrt(2 * math.pi))).sum(-1)
        return cdf, pdf

    def icdf(self, value: Tensor, iterations: int = 100, tolerance: float = 1e-10) -> Tensor:
        """Quantiles by Newton's method safeguarded by bisection.

        Stops where |cdf(x) - q| <= tolerance or the bracket is narrower than 1e-12 (a mixture
        of near-degenerate components has cdf steps too steep for Newton; there the bracket
        halves each iteration).
        """
        q = check_in_interval("value", value, 0.0, 1.0, meaning="probabilities").to(self.mean.dtype)
        logits, loc, scale = self._params
        shape = torch.broadcast_shapes(q.shape, self.batch_shape)
        # bracket: every component's cdf is < 1e-23 below lo and > 1 - 1e-23 above hi
        lo = (loc - 10 * scale).min(-1).values.expand(shape).clone()
        hi = (loc + 10 * scale).max(-1).values.expand(shape).clone()
        q = q.expand(shape)
        # start from the weighted q-quantile of the component means
        means, order = loc.sort(-1)
        cumulative = torch.softmax(logits, -1).expand_as(loc).gather(-1, order).cumsum(-1)
        index = torch.searchsorted(cumulative.expand(*shape, -1).contiguous(), q.unsqueeze(-1).contiguous())
        x = means.expand(*shape, -1).gather(-1, index.clamp_max(loc.shape[-1] - 1)).squeeze(-1)
        for _ in range(iterations):
            cdf, pdf = self._cdf_and_pdf(x)
            error = cdf - q
            if bool(((error.abs() <= tolerance) | (hi - lo < 1e-12)).all()):
                break
            lo = torch.where(error < 0, x, lo)
            hi = torch.where(error > 0, x, hi)
            newton = x - error / pdf.clamp_min(torch.finfo(x.dtype).tiny)
            inside = (newton > lo) & (newton < hi)
            x = torch.where(inside, newton, (lo + hi) / 2)
        return x


def _first(dist: Distribution) -> Distribution:
    if isinstance(dist, BarDistribution):
        return BarDistribution(dist.borders, dist.logits[0], full_support=dist.full_support)
    if isinstance(dist, GaussianMixture):
        return dist.first()
    raise TypeError(f"cannot unbatch a {type(dist).__name__}")


def _as_batch(name: str, t: Tensor, *, values: bool) -> tuple[Tensor, bool]:
    """`T`, `T x 1` -> (`1 x T`, False); `B x T x 1` (and `B x T` for values) -> (`B x T`, True)."""
    if not isinstance(t, Tensor):
        raise InputDataError(name, "a torch.Tensor", f"{type(t).__name__}")
    if t.dtype == torch.bool or t.is_complex():
        raise InputDataError(name, "a real tensor", f"dtype {t.dtype}")
    if not t.is_floating_point():  # integer epochs, as in the reference API
        t = t.to(torch.float64)
    if t.dim() == 1:
        return t.unsqueeze(0), False
    if t.dim() == 2 and t.shape[-1] == 1:
        return t[:, 0].unsqueeze(0), False
    if t.dim() == 3 and t.shape[-1] == 1:
        return t[..., 0], True
    if values and t.dim() == 2:
        return t, True
    layouts = "`T`, `T x 1` or `B x T x 1`" + (" (or `B x T`)" if values else "")
    raise InputDataError(name, layouts, f"shape {tuple(t.shape)}")


class CurveExtrapolator(ABC):
    """Posterior predictive of a learning curve's future values given its observed prefix.

    Subclasses implement :meth:`_predict` on normalised, batched, validated data.
    """

    max_epochs: int

    @property
    def observation_range(self) -> tuple[float, float]:
        """Normalised observations this model accepts: ``(low, high)`` on its [0, 1] scale.

        The curve prior's [0, 1] widened by its observation noise
        (:meth:`~probtheory.lcpfn.curves.CurvePrior.observation_range`): the range the prior's
        own noisy observations leave with probability at most 1e-6 per curve.
        """
        prior = getattr(self, "prior", None)  # the baselines' prior; the reference prior otherwise
        return (prior if isinstance(prior, CurvePrior) else CurvePrior()).observation_range()

    def _check_observations(self, name: str, y: Tensor, z: Tensor, normalizer: CurveNormalizer) -> None:
        """Refuse observed values (``y``; ``z`` normalised) the curve prior never produces."""
        low, high = self.observation_range
        if not z.numel() or bool(((z >= low) & (z <= high)).all()):
            return
        received = f"values in [{y.min().item():.4g}, {y.max().item():.4g}]"
        scale = f"[{low:.3g}, {high:.3g}] on the model's [0, 1] scale"
        if normalizer.linear:
            ends = sorted(normalizer.inverse(torch.tensor([low, high], dtype=torch.float64)).tolist())
            expected = (
                f"values in [{ends[0]:.4g}, {ends[1]:.4g}]: the normaliser's range [{normalizer.lower:g}, "
                f"{normalizer.upper:g}] widened by the curve prior's observation noise ({scale})"
            )
        else:
            expected = f"values the normaliser maps into {scale} (the prior's range widened by its noise)"
        if normalizer == CurveNormalizer() and y.min() >= 0 and y.max() <= 100:
            expected += "; a curve in percent? divide it by 100"
        raise InputDataError(name, expected, received)

    @abstractmethod
    def _predict(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> Distribution:
        """Predictive of normalised y at ``x_test`` (`B x Q`) given `B x T` observations."""

    # ------------------------------------------------------------------ input handling

    def _inputs(
        self,
        x_train: Tensor,
        y_train: Tensor,
        x_test: Tensor,
        normalizer: CurveNormalizer | None,
        check_range: bool = True,
    ) -> tuple[Tensor, Tensor, Tensor, bool, CurveNormalizer]:
        normalizer = CurveNormalizer() if normalizer is None else normalizer
        check_instance("normalizer", normalizer, CurveNormalizer, "a CurveNormalizer or None")
        xs, batched = _as_batch("x_train", x_train, values=False)
        ys, batched_y = _as_batch("y_train", y_train, values=True)
        xq, batched_q = _as_batch("x_test", x_test, values=False)
        if batched_y != batched or batched_q != batched:
            raise InputDataError(
                "x_train, y_train, x_test", "all one curve or all batched `B x T x 1`", "a mix"
            )
        for name, t in (("x_train", xs), ("y_train", ys), ("x_test", xq)):
            check_finite(name, t)
        if xs.shape[-1] == 0:
            raise InputDataError("x_train", "at least one observed epoch", "an empty curve")
        if ys.shape != xs.shape:
            raise InputDataError("y_train", f"one value per epoch, shape {tuple(xs.shape)}", tuple(ys.shape))
        if xq.shape[0] != xs.shape[0]:
            raise InputDataError("x_test", f"{xs.shape[0]} curves", xq.shape[0])
        if (xs.diff(dim=-1) <= 0).any():
            raise InputDataError("x_train", "strictly increasing epochs", xs.flatten()[:10].tolist())
        for name, x in (("x_train", xs), ("x_test", xq)):
            if x.numel() and (x.min() < 1 or x.max() > self.max_epochs):
                raise InputDataError(
                    name,
                    f"epochs in [1, {self.max_epochs}] (the longest curve this model supports)",
                    f"epochs in [{x.min().item():g}, {x.max().item():g}]",
                )
        z = normalizer.forward(ys.to(torch.float64))
        if check_range:
            self._check_observations("y_train", ys, z, normalizer)
        return xs.to(torch.float64), z, xq.to(torch.float64), batched, normalizer

    # ------------------------------------------------------------------ public API

    def predict_normalized(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> Distribution:
        """Like :meth:`predict` on the model's own scale, without the range check of observed values.

        For experiments beyond :attr:`observation_range` (the range the curve prior's own noisy
        observations essentially never leave, which :meth:`predict` accepts).
        """
        xs, z, xq, batched, _ = self._inputs(x_train, y_train, x_test, None, check_range=False)
        dist = self._predict(xs, z, xq)
        return dist if batched else _first(dist)

    def predict(
        self, x_train: Tensor, y_train: Tensor, x_test: Tensor, normalizer: CurveNormalizer | None = None
    ) -> Distribution:
        """Posterior predictive distribution of y at each test epoch (original units).

        Args:
            x_train: Observed epochs, `T` / `T x 1` (one curve) or `B x T x 1`.
            y_train: Observed values, same layout.
            x_test: Epochs to predict, `Q` / `Q x 1` or `B x Q x 1`.
            normalizer: How y maps onto the model's [0, 1] scale (default: y already is).

        Returns:
            A distribution of batch shape `Q` (or `B x Q`).
        """
        xs, z, xq, batched, normalizer = self._inputs(x_train, y_train, x_test, normalizer)
        dist = self._predict(xs, z, xq)
        if not batched:
            dist = _first(dist)
        if normalizer == CurveNormalizer():
            return dist
        return TransformedDistribution(dist, [normalizer.transform()])

    def predict_quantiles(
        self,
        x_train: Tensor,
        y_train: Tensor,
        x_test: Tensor,
        qs: Sequence[float] | Tensor,
        normalizer: CurveNormalizer | None = None,
    ) -> Tensor:
        """Quantiles ``qs`` at each test epoch: `Q x len(qs)` (or `B x Q x len(qs)`), monotone in q."""
        qs = check_probabilities("qs", qs, open_interval=True).to(torch.float64).flatten()
        xs, z, xq, batched, normalizer = self._inputs(x_train, y_train, x_test, normalizer)
        dist = self._predict(xs, z, xq)
        # a decreasing map (minimisation) sends the q-quantile to the (1 - q)-quantile
        levels = 1 - qs if normalizer.minimize else qs
        quantiles = dist.icdf(levels.view(-1, 1, 1))  # len(qs) x B x Q
        out = normalizer.inverse(quantiles).permute(1, 2, 0)
        return out if batched else out[0]

    def predict_mean(
        self, x_train: Tensor, y_train: Tensor, x_test: Tensor, normalizer: CurveNormalizer | None = None
    ) -> Tensor:
        """Predictive mean at each test epoch (`Q` or `B x Q`).

        With a non-linear normaliser the mean is taken over 2000 equally spaced quantiles.
        """
        xs, z, xq, batched, normalizer = self._inputs(x_train, y_train, x_test, normalizer)
        dist = self._predict(xs, z, xq)
        if normalizer.linear:
            mean = normalizer.inverse(dist.mean)
        else:
            grid = (torch.arange(2000, dtype=torch.float64) + 0.5) / 2000
            mean = normalizer.inverse(dist.icdf(grid.view(-1, 1, 1))).mean(0)
        return mean if batched else mean[0]

    def nll_loss(
        self,
        x_train: Tensor,
        y_train: Tensor,
        x_test: Tensor,
        y_test: Tensor,
        normalizer: CurveNormalizer | None = None,
    ) -> Tensor:
        """Negative log predictive density of ``y_test`` (original units) at each test epoch."""
        dist = self.predict(x_train, y_train, x_test, normalizer)
        y, _ = _as_batch("y_test", y_test, values=True)
        check_finite("y_test", y)
        y = y.to(torch.float64).reshape(dist.batch_shape) if y.numel() == dist.batch_shape.numel() else None
        if y is None:
            raise InputDataError(
                "y_test", f"one value per test epoch, {tuple(dist.batch_shape)}", "another shape"
            )
        return -dist.log_prob(y)
