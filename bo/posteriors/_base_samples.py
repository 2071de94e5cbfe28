"""Standard-normal base samples, shared by the posteriors of :mod:`bo.posteriors`.

Each posterior turns standard normals into samples by an inverse-cdf map (the draw index of
a :class:`~bo.posteriors.SampleEnsemblePosterior`, the quantile of a
:class:`~bo.posteriors.MarginalPosterior`, the scale of a
:class:`~bo.posteriors.ScaleMixtureNormalPosterior`), so all take BoTorch's normal samplers:
:func:`normal_sampler` is registered with ``GetSampler`` for each of them, and
:func:`check_base_sample_shape` is their common check of ``rsample_from_base_samples``.
"""

from __future__ import annotations

import torch
from botorch.posteriors import Posterior
from botorch.sampling.base import MCSampler
from botorch.sampling.normal import IIDNormalSampler, SobolQMCNormalSampler
from torch import Tensor
from torch.quasirandom import SobolEngine

from probtheory.errors import InputDataError

__all__ = ["check_base_sample_shape", "normal_sampler"]


def normal_sampler(posterior: Posterior, sample_shape: torch.Size, *, seed: int | None = None) -> MCSampler:
    """Scrambled Sobol normals (BoTorch's ``SobolQMCNormalSampler``) for ``posterior``.

    Sobol points stratify what the first coordinates select: the draw indices of a
    :class:`~bo.posteriors.SampleEnsemblePosterior`, each point's marginal of a
    :class:`~bo.posteriors.MarginalPosterior`, the scales of a
    :class:`~bo.posteriors.ScaleMixtureNormalPosterior`.

    Falls back to i.i.d. normals when the collapsed base sample (``base_sample_shape`` with
    the t-batch dims of ``batch_range`` collapsed) exceeds the Sobol engine's dimension limit,
    as BoTorch does for Gaussian posteriors.

    Args:
        posterior: A posterior whose ``rsample_from_base_samples`` takes standard normals.
        sample_shape: The sample shape of the sampler.
        seed: The sampler's seed (``None``: a random one).

    Returns:
        A ``SobolQMCNormalSampler``, or an ``IIDNormalSampler`` for very large base samples.
    """
    sampler = SobolQMCNormalSampler(sample_shape=sample_shape, seed=seed)
    collapsed = sampler._get_collapsed_shape(posterior=posterior)[len(sample_shape) :]
    if collapsed.numel() > SobolEngine.MAXDIM:
        sampler = IIDNormalSampler(sample_shape=sample_shape, seed=seed)
    return sampler


def check_base_sample_shape(posterior: Posterior, sample_shape: torch.Size, base_samples: Tensor) -> None:
    """Require `sample_shape x posterior.base_sample_shape` base samples.

    Raises:
        InputDataError: Naming ``base_samples``, with the expected and the actual shape.
    """
    expected = torch.Size(sample_shape) + posterior.base_sample_shape
    if base_samples.shape != expected:
        raise InputDataError("base_samples", f"shape {tuple(expected)}", f"shape {tuple(base_samples.shape)}")
