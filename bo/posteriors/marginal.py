r"""A BoTorch posterior of independent marginal predictive distributions (no joint over a q-batch).

For surrogates that predict each point's distribution separately, as a prior-data fitted
network's bar distribution (Müller et al., "PFNs4BO", ICML 2023). Samples are quantiles at
standard-normal base samples, :math:`y = \text{loc} + \text{scale}\, F^{-1}(\Phi(z))`: the
inverse-cdf trick of BoTorch's ``BoundedRiemannPosterior``, so BoTorch's normal samplers work
unchanged (registered below with ``GetSampler``) and samples are differentiable in the
distribution's parameters.
"""

from __future__ import annotations

import torch
from botorch.posteriors import Posterior
from botorch.sampling.get_sampler import GetSampler
from torch import Tensor

from bo.posteriors._base_samples import check_base_sample_shape, normal_sampler
from probtheory.errors import InputDataError, UnsupportedError

__all__ = ["MarginalPosterior"]


class MarginalPosterior(Posterior):
    r"""Independent marginal predictive distributions, sampled by their quantile functions.

    For surrogates that predict each point's distribution separately -- a PFN's bar
    distribution -- and have no joint distribution over a q-batch. A sample is

    .. math::
        y = \text{loc} + \text{scale}\cdot F^{-1}\bigl(\Phi(z)\bigr),

    with one standard-normal base sample z per point and output, so BoTorch's normal
    samplers work unchanged (reproducible under a seed, shared over t-batches, Sobol points
    stratify each marginal), and samples are differentiable in the distribution's
    parameters. The q points of a sample are **independent**: with q = 1 acquisition values
    are exact, with q > 1 they are those of a model without correlations between the points.

    Args:
        distribution: A distribution of batch shape `batch_shape x q x m` with a
            differentiable ``icdf`` and ``mean`` / ``variance``.
        loc: Offset broadcastable to `batch_shape x q x m` (e.g. the outcome mean).
        scale: Nonzero factor broadcastable to `batch_shape x q x m` (e.g. the outcome std).

    Example:
        >>> import torch
        >>> from botorch.sampling.get_sampler import get_sampler
        >>> normal = torch.distributions.Normal(torch.zeros(3, 1), torch.ones(3, 1))
        >>> posterior = MarginalPosterior(normal, loc=1.0, scale=2.0)
        >>> get_sampler(posterior, torch.Size([4]), seed=0)(posterior).shape
        torch.Size([4, 3, 1])
    """

    def __init__(
        self,
        distribution: torch.distributions.Distribution,
        loc: float | Tensor = 0.0,
        scale: float | Tensor = 1.0,
    ) -> None:
        """Wrap ``distribution`` (see the class docstring)."""
        if len(distribution.batch_shape) < 2:
            raise InputDataError(
                "distribution", "a batch shape `batch_shape x q x m`", tuple(distribution.batch_shape)
            )
        self.distribution = distribution
        mean = distribution.mean
        self._loc = torch.as_tensor(loc, dtype=mean.dtype, device=mean.device)
        self._scale = torch.as_tensor(scale, dtype=mean.dtype, device=mean.device)
        if (self._scale == 0).any():
            raise InputDataError("scale", "nonzero values (a negative scale mirrors the samples)", 0.0)

    @property
    def device(self) -> torch.device:
        """The torch device of the posterior."""
        return self.distribution.mean.device

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of the posterior."""
        return self.distribution.mean.dtype

    @property
    def event_shape(self) -> torch.Size:
        """`batch_shape x q x m`."""
        return self.distribution.batch_shape

    @property
    def batch_shape(self) -> torch.Size:
        """The t-batch shape of the inputs."""
        return self.event_shape[:-2]

    @property
    def base_sample_shape(self) -> torch.Size:
        """`batch_shape x q x m`: one standard normal per point and output."""
        return self.event_shape

    @property
    def batch_range(self) -> tuple[int, int]:
        """The t-batch dims of :attr:`base_sample_shape`; samplers share base samples over them."""
        return (0, -2)

    def _extended_shape(self, sample_shape: torch.Size = torch.Size()) -> torch.Size:  # noqa: B008
        return torch.Size(sample_shape) + self.event_shape

    @property
    def mean(self) -> Tensor:
        """The exact mean, a `batch_shape x q x m` tensor."""
        return self._loc + self._scale * self.distribution.mean

    @property
    def variance(self) -> Tensor:
        """The exact variance, a `batch_shape x q x m` tensor."""
        return self._scale.square() * self.distribution.variance

    def rsample(self, sample_shape: torch.Size | None = None) -> Tensor:
        """Independent samples, a `sample_shape x batch_shape x q x m` tensor."""
        sample_shape = torch.Size([1]) if not sample_shape else torch.Size(sample_shape)
        base_samples = torch.randn(
            sample_shape + self.base_sample_shape, dtype=self.dtype, device=self.device
        )
        return self.rsample_from_base_samples(sample_shape, base_samples)

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        """Samples determined by `sample_shape x batch_shape x q x m` standard normals."""
        check_base_sample_shape(self, sample_shape, base_samples)
        # keep u strictly inside (0, 1): the quantile function is infinite at the ends
        eps = torch.finfo(self.dtype).eps
        u = torch.special.ndtr(base_samples.to(self.dtype)).clamp(eps, 1 - eps)
        return self._loc + self._scale * self.distribution.icdf(u)

    def affine(self, weights: Tensor, offset: float | Tensor = 0.0) -> MarginalPosterior:
        """The posterior of ``offset + weights @ y`` for a single output (m = 1) and weight."""
        if self.event_shape[-1] != 1 or weights.numel() != 1:
            raise UnsupportedError(
                "posterior_transform", "a scalarization of a single output", f"weights {tuple(weights.shape)}"
            )
        weight = weights.reshape(()).to(self.dtype)
        return MarginalPosterior(self.distribution, offset + weight * self._loc, weight * self._scale)


GetSampler.register(MarginalPosterior)(normal_sampler)
