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
from probtheory.kernels.predict import KernelGDTrajectory, gradient_descent_mse

__all__ = [
    "Activation",
    "InfiniteWidthKernel",
    "KernelGDTrajectory",
    "MonteCarloEstimate",
    "NNGPKernel",
    "NTKKernel",
    "empirical_nngp",
    "empirical_ntk",
    "gradient_descent_mse",
    "monte_carlo_nngp",
    "nngp_and_ntk",
    "resolve_activation",
]
