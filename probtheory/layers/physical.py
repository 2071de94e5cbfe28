"""Physical layers: systems that are run, never differentiated, and a simulated one to run.

Momeni, Rahmani, Mallejac, del Hougne and Fleury, *Backpropagation-free training of deep
physical neural networks* (Science 2023): a physical system (a wave scatterer, an optical
medium) transforms its input, and its output is *measured*; nothing about it can be
differentiated, so it is trained around, not through. :class:`BlackBoxLayer` wraps such a system
for PyTorch: its forward runs without autograd, and any attempt to backpropagate through it
raises :class:`probtheory.errors.UnsupportedError` naming the layer, from the layer's own
autograd function rather than a generic autograd error far from the cause.

:class:`IntensityTransmission` simulates one: a fixed random complex transmission matrix `T`
followed by an intensity measurement, `x -> |T x|²`. As an ordinary (differentiable) module it
is also the *exact digital twin* of the simulated system, which backpropagation may use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real, make_generator
from probtheory.errors import InputDataError, UnsupportedError

__all__ = ["BlackBoxLayer", "IntensityTransmission"]


class _NoBackward(torch.autograd.Function):
    """Runs the system (autograd is off inside a Function's forward); its backward refuses."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, system: Callable[[Tensor], Tensor], name: str) -> Tensor:
        ctx.name = name
        return _run(system, x, name)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, None]:
        raise UnsupportedError(
            ctx.name,
            "no backward pass through it (a physical system is run, never differentiated): train "
            "the layers around it by a local rule (PhyLL's CosineGoodness with LocalUpdate, which "
            "detaches every block input), or backpropagate through a differentiable digital twin",
            "a backward pass that reached it",
        )


def _run(system: Callable[[Tensor], Tensor], x: Tensor, name: str) -> Tensor:
    with torch.no_grad():
        out = system(x)
    if not isinstance(out, Tensor):
        raise InputDataError("system", f"a callable returning a tensor ({name})", type(out).__name__)
    return out.detach()


class BlackBoxLayer(nn.Module):
    """A layer that is run but never differentiated: a physical system in a network.

    The wrapped ``system`` always runs under ``torch.no_grad()``; it may hold parameters or
    buffers of its own, which never receive gradients. If the input requires gradients, the
    output is attached to it by an autograd function whose backward raises
    :class:`~probtheory.errors.UnsupportedError` naming this layer; otherwise the output carries
    no graph at all.

    Args:
        system: ``system(x) -> tensor``, e.g. a simulated medium or a call into hardware. An
            ``nn.Module`` is registered as a submodule (moved by ``.to()``).
        name: How errors refer to this layer.

    Raises:
        InputDataError: If ``system`` is not callable or ``name`` is empty; when called, if the
            system does not return a tensor (naming ``system``).
        UnsupportedError: When a backward pass reaches the layer (naming it).
    """

    def __init__(self, system: Callable[[Tensor], Tensor], *, name: str = "physical system") -> None:
        super().__init__()
        if not callable(system):
            raise InputDataError("system", "a callable system(x) -> tensor", type(system).__name__)
        if not isinstance(name, str) or not name:
            raise InputDataError("name", "a non-empty string naming the layer", repr(name))
        self.system = system
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        """``system(x)``, computed without autograd."""
        if isinstance(x, Tensor) and x.requires_grad and torch.is_grad_enabled():
            return _NoBackward.apply(x, self.system, f"BlackBoxLayer {self.name!r}")
        return _run(self.system, x, f"BlackBoxLayer {self.name!r}")

    def extra_repr(self) -> str:
        """The layer's name."""
        return f"name={self.name!r}"


class IntensityTransmission(nn.Module):
    """A simulated scattering medium: fixed random complex transmission, then intensity, ``|T x|²``.

    `T` has i.i.d. complex Gaussian entries of variance ``1 / in_features`` (real and imaginary
    parts each half of it), drawn from ``seed`` and stored as a buffer: it is part of the
    "hardware", not trained. Differentiable as a module (the exact digital twin); wrap it in
    :class:`BlackBoxLayer` to use it as a physical layer.

    Args:
        in_features: Input width `d`.
        out_features: Number of measured outputs `m`.
        seed: Seeds `T`.
        noise: Standard deviation of additive Gaussian measurement noise, relative to the mean
            output intensity (0: noiseless; drawn from the global RNG when positive).

    Raises:
        InputDataError: If a width is not a positive integer or ``noise`` is negative.
    """

    def __init__(self, in_features: int, out_features: int, *, seed: int = 0, noise: float = 0.0) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.noise = check_real("noise", noise, nonnegative=True)
        generator = make_generator(seed)
        parts = torch.randn(2, out_features, in_features, generator=generator) / math.sqrt(2 * in_features)
        self.register_buffer("transmission", torch.complex(parts[0], parts[1]))

    def forward(self, x: Tensor) -> Tensor:
        """``|x T^T|²`` row by row (`b x d` -> `b x m`), plus measurement noise if any."""
        if not isinstance(x, Tensor) or x.shape[-1] != self.in_features:
            raise InputDataError("x", f"inputs with {self.in_features} features", getattr(x, "shape", None))
        field = x.to(self.transmission.dtype) @ self.transmission.t()
        intensity = field.real.pow(2) + field.imag.pow(2)
        if self.noise > 0:
            scale = self.noise * intensity.detach().mean()
            intensity = intensity + scale * torch.randn_like(intensity)
        return intensity.to(x.dtype)

    def extra_repr(self) -> str:
        """The widths."""
        return f"in_features={self.in_features}, out_features={self.out_features}, noise={self.noise}"
