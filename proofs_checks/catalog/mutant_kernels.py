"""Broken kernel implementations used as mutants by several claims.

Each reproduces a mistake found in real NNGP/NTK code: a dropped factor in a Gaussian
expectation, a missing input normalisation, a wrong map inside the recursion.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from probtheory.kernels.activations import (
    Activation,
    SlopeReLUActivation,
    correlation,
    resolve_activation,
)
from probtheory.kernels.infinite_width import nngp_and_ntk

KernelFn = Callable[..., tuple[Tensor, Tensor]]


class MisscaledExpectations(Activation):
    """An activation whose Gaussian expectations are off by constant factors.

    ``derivative_factor=2`` on ReLU is the classic dropped 1/2 in
    E[relu'(u) relu'(v)] = (pi - theta)/(2 pi).
    """

    def __init__(self, base: Activation, value_factor: float = 1.0, derivative_factor: float = 1.0):
        self.base, self.value_factor, self.derivative_factor = base, value_factor, derivative_factor
        self.name = f"{base.name}*({value_factor:g},{derivative_factor:g})"

    def pair(self, sigma12: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:
        mean, mean_d = self.base.pair(sigma12, q1, q2)
        return self.value_factor * mean, self.derivative_factor * mean_d

    def diag(self, q: Tensor) -> tuple[Tensor, Tensor]:
        mean, mean_d = self.base.diag(q)
        return self.value_factor * mean, self.derivative_factor * mean_d

    def __call__(self, z: Tensor) -> Tensor:
        return self.base(z)


class ReLUAngleForCosine(SlopeReLUActivation):
    """The arc-cosine formula with theta written where cos(theta) belongs."""

    def __init__(self) -> None:
        super().__init__(0.0, 1.0, name="relu")

    def pair(self, sigma12: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:
        theta = torch.acos(correlation(sigma12, q1, q2))
        scale = torch.sqrt(q1) * torch.sqrt(q2) / (2 * math.pi)
        return scale * (torch.sin(theta) + (math.pi - theta) * theta), (math.pi - theta) / (2 * math.pi)

    layer_ = Activation.layer_


def with_activation(replace: Callable[[Activation], Activation]) -> KernelFn:
    """``nngp_and_ntk`` with every requested activation passed through ``replace``."""

    def kernel(x1: Tensor, x2: Tensor | None = None, *, activation: str = "relu", **kw):
        return nngp_and_ntk(x1, x2, activation=replace(resolve_activation(activation)), **kw)

    return kernel


def without_input_normalisation(x1: Tensor, x2: Tensor | None = None, **kw) -> tuple[Tensor, Tensor]:
    """First layer sigma_w^2 x.x' + sigma_b^2 (standard-parameterisation habit) instead of /d."""
    d = x1.shape[-1]
    return nngp_and_ntk(x1 * math.sqrt(d), None if x2 is None else x2 * math.sqrt(d), **kw)
