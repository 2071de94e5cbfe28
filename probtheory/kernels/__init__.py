"""Infinite-width kernels of deep networks as GPyTorch kernels, and their empirical estimates."""

from probtheory.kernels.activations import Activation, resolve_activation
from probtheory.kernels.empirical import (
    MonteCarloEstimate,
    empirical_nngp,
    empirical_ntk,
    monte_carlo_nngp,
)
from probtheory.kernels.infinite_width import (
    InfiniteWidthKernel,
    NNGPKernel,
    NTKKernel,
    nngp_and_ntk,
)

__all__ = [
    "Activation",
    "InfiniteWidthKernel",
    "MonteCarloEstimate",
    "NNGPKernel",
    "NTKKernel",
    "empirical_nngp",
    "empirical_ntk",
    "monte_carlo_nngp",
    "nngp_and_ntk",
    "resolve_activation",
]
