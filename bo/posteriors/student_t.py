r"""A BoTorch posterior for the Student-t process: a Gaussian scale mixture with normal base samples.

Given the data, the Student-t process posterior over f at a q-batch is a normal--inverse-gamma
scale mixture (Shah, Wilson & Ghahramani, AISTATS 2014, Sec. 3; Lee, Yun, Yang & Lee, ICLR
2022, for the inverse-gamma readout variance of an NNGP), per output

.. math::
    \sigma^2 \sim \mathrm{InvGamma}(\text{concentration}, \text{rate}), \qquad
    f \mid \sigma^2 \sim N(\mu, \sigma^2 L L^\top),

whose parameters :meth:`probtheory.gp.StudentTProcess.joint_posterior` computes. Marginally f
is multivariate t with 2 concentration degrees of freedom, jointly over the q-batch.

:class:`ScaleMixtureNormalPosterior` exposes this to BoTorch with normal base samples: per
output, the first base sample sets the scale by the inverse-cdf trick,
:math:`\sigma^2 = F^{-1}_{\mathrm{InvGamma}}(\Phi(z_0))`, and the others the Gaussian part,
so BoTorch's quasi-Monte-Carlo samplers (registered below with ``GetSampler``) give
reproducible, differentiable samples with common random numbers across candidates.
"""

from __future__ import annotations

import torch
from botorch.posteriors import Posterior
from botorch.sampling.get_sampler import GetSampler
from scipy.special import gammainccinv
from torch import Tensor

from bo.posteriors._base_samples import check_base_sample_shape, normal_sampler
from probtheory.errors import UnsupportedError

__all__ = ["ScaleMixtureNormalPosterior"]


class ScaleMixtureNormalPosterior(Posterior):
    """Per output, f = mean + sigma * L z with sigma^2 ~ InvGamma(concentration, rate).

    Args:
        mean: `batch_shape x q x m` means.
        scale_tril: `batch_shape x m x q x q` Cholesky factors of the covariance given sigma^2 = 1
            (``unit_covariance`` of :class:`probtheory.gp.StudentTPosteriorParameters`).
        concentration: `m` posterior shapes of sigma^2 (> 1).
        rate: `m` posterior rates of sigma^2.
    """

    def __init__(self, mean: Tensor, scale_tril: Tensor, concentration: Tensor, rate: Tensor) -> None:
        """Create the posterior (see the class docstring)."""
        self._mean, self._tril = mean, scale_tril
        self.concentration, self.rate = concentration.detach(), rate.detach()

    @property
    def device(self) -> torch.device:  # noqa: D102
        return self._mean.device

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self._mean.dtype

    @property
    def batch_shape(self) -> torch.Size:
        """The t-batch shape."""
        return self._mean.shape[:-2]

    @property
    def base_sample_shape(self) -> torch.Size:
        """`batch_shape x m (q + 1)`: per output one scale and q Gaussian base samples."""
        q, m = self._mean.shape[-2:]
        return self.batch_shape + torch.Size([m * (q + 1)])

    @property
    def batch_range(self) -> tuple[int, int]:
        """Base samples are shared across the t-batch dims."""
        return (0, -1)

    def _extended_shape(self, sample_shape: torch.Size = torch.Size()) -> torch.Size:  # noqa: B008
        return torch.Size(sample_shape) + self._mean.shape

    @property
    def mean(self) -> Tensor:
        """The exact posterior mean, `batch_shape x q x m`."""
        return self._mean

    @property
    def variance(self) -> Tensor:
        """The exact posterior variance E[sigma^2] diag(C), `batch_shape x q x m`."""
        unit = self._tril.square().sum(-1).transpose(-1, -2)  # diag(L L^T): batch x q x m
        return unit * self.rate / (self.concentration - 1)

    def rsample(self, sample_shape: torch.Size | None = None) -> Tensor:
        """Independent samples, `sample_shape x batch_shape x q x m`."""
        sample_shape = torch.Size([1]) if not sample_shape else torch.Size(sample_shape)
        base = torch.randn(sample_shape + self.base_sample_shape, dtype=self.dtype, device=self.device)
        return self.rsample_from_base_samples(sample_shape, base)

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        """Samples determined by standard-normal base samples of `sample_shape x base_sample_shape`."""
        check_base_sample_shape(self, sample_shape, base_samples)
        q, m = self._mean.shape[-2:]
        u = torch.special.ndtr(base_samples[..., :m].detach()).clamp(1e-300, 1 - 1e-16)
        # sigma^2 = rate / G with G ~ Gamma(concentration, 1): its u-quantile is the (1 - u)-quantile of G
        gamma = gammainccinv(self.concentration.cpu().numpy(), u.cpu().numpy())
        sigma = (self.rate / torch.as_tensor(gamma, dtype=self.dtype, device=self.device)).sqrt()
        z = base_samples[..., m:].reshape(*base_samples.shape[:-1], m, q, 1)
        correlated = (self._tril @ z).squeeze(-1).transpose(-1, -2)  # ... x q x m
        return self._mean + sigma.unsqueeze(-2) * correlated

    def rescaled(self, scale: Tensor, shift: Tensor) -> ScaleMixtureNormalPosterior:
        """The posterior of ``shift + scale * f``, per output (`m`-vectors, scale > 0)."""
        return ScaleMixtureNormalPosterior(
            shift + scale * self._mean, self._tril * scale.view(-1, 1, 1), self.concentration, self.rate
        )

    def affine(self, weights: Tensor, offset: float | Tensor = 0.0) -> ScaleMixtureNormalPosterior:
        """``offset + weights @ f`` (BoTorch's ``ScalarizedPosteriorTransform``), for one output."""
        weights = torch.as_tensor(weights, dtype=self.dtype, device=self.device).flatten()
        if self._mean.shape[-1] != 1 or weights.numel() != 1:
            raise UnsupportedError(
                "posterior_transform",
                "a scalarisation of a single-output StudentTP (outputs have independent scales)",
                f"{weights.numel()} weights over {self._mean.shape[-1]} outputs",
            )
        flipped = -1.0 if weights.item() < 0 else 1.0  # f -> -f keeps the form: negate z
        posterior = self.rescaled(weights.abs(), torch.as_tensor(offset, dtype=self.dtype).reshape(1))
        if flipped < 0:
            posterior._mean = 2 * torch.as_tensor(offset, dtype=self.dtype) - posterior._mean
        return posterior


GetSampler.register(ScaleMixtureNormalPosterior)(normal_sampler)
