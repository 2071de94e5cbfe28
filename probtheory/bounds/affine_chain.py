"""A network as a chain of dense affine maps and elementwise activations.

The bound propagation of :mod:`probtheory.bounds.propagation` and the region enumeration of
:mod:`probtheory.bounds.exact` work on ``f(x) = A_L s_{L-1}(A_{L-1} ... s_1(A_1 x))``: an
``nn.Sequential`` of Linear / Conv2d / Flatten / ReLU / LeakyReLU / Tanh layers is rewritten in
float64 with every Conv2d as its dense matrix (so this suits small CNNs), consecutive affine maps
multiplied out and a missing affine map taken as the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_floating, check_int
from probtheory.errors import InputDataError, UnsupportedError

__all__ = ["Activation", "AffineChain", "affine_chain", "jacobian_rows"]

_SUPPORTED = "an nn.Sequential of Linear, Conv2d, Flatten, ReLU, LeakyReLU and Tanh layers"


@dataclass(frozen=True)
class Activation:
    """An elementwise monotone activation: ``"relu"``, ``"leaky_relu"`` (with ``slope``) or ``"tanh"``."""

    kind: str
    slope: float = 0.0

    @property
    def piecewise_linear(self) -> bool:
        """Whether the activation is piecewise linear (ReLU / LeakyReLU)."""
        return self.kind != "tanh"

    @property
    def max_derivative(self) -> float:
        """``sup_z |s'(z)|`` (Clarke derivatives included)."""
        return 1.0 if self.kind != "leaky_relu" else max(1.0, self.slope)

    def __call__(self, z: Tensor) -> Tensor:
        """``s(z)`` elementwise."""
        if self.kind == "tanh":
            return torch.tanh(z)
        return torch.where(z > 0, z, z * self.slope)

    def derivative(self, z: Tensor) -> Tensor:
        """``s'(z)`` (at a kink ``z = 0`` of ReLU/LeakyReLU: the left derivative, as torch does)."""
        if self.kind == "tanh":
            return 1.0 - torch.tanh(z).square()
        return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, self.slope))

    def smooth_derivative(self, z: Tensor, sharpness: Tensor) -> Tensor:
        """A differentiable surrogate of ``s'`` (a sigmoid step of the given sharpness), for ascent."""
        if self.kind == "tanh":
            return self.derivative(z)
        step = torch.sigmoid(sharpness * z)
        return self.slope + (1.0 - self.slope) * step


def _activation(layer: nn.Module, index: int) -> Activation:
    if isinstance(layer, nn.ReLU):
        return Activation("relu")
    if isinstance(layer, nn.Tanh):
        return Activation("tanh")
    slope = float(layer.negative_slope)
    if not math.isfinite(slope) or slope < 0:  # NaN fails `slope < 0` and would poison every bound
        raise UnsupportedError(
            f"model[{index}].negative_slope", "a LeakyReLU slope >= 0 (a monotone activation)", slope
        )
    return Activation("leaky_relu", slope)


@dataclass(frozen=True)
class AffineChain:
    """A network as dense affine maps and elementwise activations, in float64.

    Attributes:
        weights: ``W_1, ..., W_L``; ``W_k`` is an `n_k x n_{k-1}` tensor (``n_0 = d``).
        biases: ``b_1, ..., b_L``; ``b_k`` is an `n_k` tensor.
        activations: ``s_1, ..., s_{L-1}`` (``s_k`` follows ``A_k``).
        input_shape: Shape of one input (without batch dimension); inputs are flattened.
    """

    weights: tuple[Tensor, ...]
    biases: tuple[Tensor, ...]
    activations: tuple[Activation, ...]
    input_shape: tuple[int, ...]

    @property
    def in_features(self) -> int:
        """``d``, the flattened input dimension."""
        return self.weights[0].shape[1]

    @property
    def out_features(self) -> int:
        """``K``, the number of outputs."""
        return self.weights[-1].shape[0]

    def _check_points(self, x: object) -> Tensor:
        """`N x d` flattened floating inputs, in float64 (the chain's dtype)."""
        check_floating("x", x)
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise InputDataError(
                "x", f"an `N x {self.in_features}` tensor of flattened inputs", f"shape {tuple(x.shape)}"
            )
        return x.to(torch.float64)

    def preactivations(self, x: Tensor) -> list[Tensor]:
        """``z_1, ..., z_{L-1}`` at `N x d` inputs ``x`` (each `N x n_k`)."""
        x = self._check_points(x)
        out = []
        for w, b, act in zip(self.weights[:-1], self.biases[:-1], self.activations, strict=True):
            z = x @ w.T + b
            out.append(z)
            x = act(z)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """``f(x)`` at `N x d` inputs (an `N x K` tensor)."""
        x = self._check_points(x)
        for w, b, act in zip(self.weights[:-1], self.biases[:-1], self.activations, strict=True):
            x = act(x @ w.T + b)
        return x @ self.weights[-1].T + self.biases[-1]


def _conv_matrix(conv: nn.Conv2d, shape: tuple[int, ...], index: int) -> tuple[Tensor, Tensor, tuple]:
    """The dense `(C' H' W') x (C H W)` matrix and bias of a Conv2d acting on one `C x H x W` input."""
    if len(shape) != 3 or shape[0] != conv.in_channels:
        raise InputDataError(
            "center", f"a `{conv.in_channels} x H x W` input for the Conv2d at model[{index}]", shape
        )
    if conv.padding_mode != "zeros":
        raise UnsupportedError(f"model[{index}].padding_mode", "'zeros'", repr(conv.padding_mode))
    n = math.prod(shape)
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    weight = conv.weight.detach().to(torch.float64)
    out = F.conv2d(eye, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
    out_shape = tuple(out.shape[1:])
    matrix = out.reshape(n, -1).T.contiguous()
    if conv.bias is None:
        bias = torch.zeros(matrix.shape[0], dtype=torch.float64)
    else:
        bias = conv.bias.detach().to(torch.float64).repeat_interleave(out_shape[1] * out_shape[2])
    return matrix, bias, out_shape


def affine_chain(model: nn.Module, input_shape: tuple[int, ...]) -> AffineChain:
    """Rewrite a supported ``nn.Sequential`` as an :class:`AffineChain` (float64 copies).

    Args:
        model: An ``nn.Sequential`` (nested ones are flattened) of Linear, Conv2d, Flatten,
            ReLU, LeakyReLU (slope >= 0) and Tanh layers.
        input_shape: Shape of one input without batch dimension: `d` for an MLP, `C x H x W`
            for a CNN.

    Returns:
        The chain; Conv2d layers become dense matrices (so it suits small CNNs).

    Raises:
        UnsupportedError: A layer of another type (named in the message).
        InputDataError: ``input_shape`` does not fit the first layer.
    """
    if not isinstance(model, nn.Sequential):
        raise UnsupportedError("model", _SUPPORTED, type(model).__name__)
    if (
        isinstance(input_shape, int)
        or not isinstance(input_shape, tuple | list | torch.Size)
        or not input_shape
    ):
        raise InputDataError(
            "input_shape", "the shape of one input, e.g. (d,) or (C, H, W)", repr(input_shape)
        )
    shape = tuple(check_int(f"input_shape[{i}]", s, minimum=1) for i, s in enumerate(input_shape))
    layers = _flatten_sequential(model)
    weights, biases, activations = [], [], []
    pending: tuple[Tensor, Tensor] | None = None  # the affine map accumulated since the last activation

    def push(w: Tensor, b: Tensor) -> None:
        nonlocal pending
        pending = (w, b) if pending is None else (w @ pending[0], w @ pending[1] + b)

    def close() -> None:
        nonlocal pending
        if pending is None:
            n = math.prod(shape)
            pending = (torch.eye(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64))
        weights.append(pending[0])
        biases.append(pending[1])
        pending = None

    for index, layer in layers:
        if isinstance(layer, nn.Linear):
            if len(shape) != 1 or shape[0] != layer.in_features:
                raise InputDataError(
                    "center", f"a `{layer.in_features}`-dim input for the Linear at model[{index}]", shape
                )
            w = layer.weight.detach().to(torch.float64)
            b = (
                torch.zeros(layer.out_features, dtype=torch.float64)
                if layer.bias is None
                else layer.bias.detach().to(torch.float64)
            )
            push(w, b)
            shape = (layer.out_features,)
        elif isinstance(layer, nn.Conv2d):
            w, b, shape = _conv_matrix(layer, shape, index)
            push(w, b)
        elif isinstance(layer, nn.Flatten):
            if layer.start_dim != 1 or layer.end_dim != -1:
                raise UnsupportedError(
                    f"model[{index}]", "nn.Flatten() with start_dim=1, end_dim=-1", repr(layer)
                )
            shape = (math.prod(shape),)
        elif isinstance(layer, nn.ReLU | nn.LeakyReLU | nn.Tanh):
            close()
            activations.append(_activation(layer, index))
        else:
            raise UnsupportedError(f"model[{index}]", _SUPPORTED, f"a layer of type {type(layer).__name__}")
    close()
    if len(shape) != 1:
        raise UnsupportedError("model", "a network whose output is flat (end with Flatten or Linear)", shape)
    return AffineChain(tuple(weights), tuple(biases), tuple(activations), tuple(int(s) for s in input_shape))


def _flatten_sequential(model: nn.Sequential, prefix: str = "") -> list[tuple[str, nn.Module]]:
    out = []
    # iterate, not named_children(): that skips a module instance used twice (a shared ReLU)
    for name, layer in zip(model._modules, model, strict=True):
        label = f"{prefix}{name}"
        if isinstance(layer, nn.Sequential):
            out.extend(_flatten_sequential(layer, f"{label}]["))
        else:
            out.append((label, layer))
    return out


def jacobian_rows(
    chain: AffineChain, x: Tensor, rows: Tensor, smooth: list[Tensor] | None = None, per_point: bool = False
) -> Tensor:
    r"""Jacobian rows ``\nabla f_j(x)`` at `N x d` inputs (an `N x K' x d` tensor).

    With ``per_point=True`` ``rows`` is an `N` tensor: point ``n`` gets only its row ``rows[n]``
    (an `N x 1 x d` tensor). With ``smooth`` (sharpnesses per activation layer) the derivatives
    are the differentiable surrogates of :meth:`Activation.smooth_derivative` (for ascent only).
    """
    if not isinstance(chain, AffineChain):
        raise InputDataError("chain", "an AffineChain (from affine_chain)", type(chain).__name__)
    check_floating("x", x)
    if x.dim() != 2 or x.shape[1] != chain.in_features:
        raise InputDataError(
            "x", f"an `N x {chain.in_features}` tensor of flattened inputs", f"shape {tuple(x.shape)}"
        )
    if not isinstance(rows, Tensor) or rows.dtype != torch.long or rows.dim() != 1:
        raise InputDataError(
            "rows", "a 1-d long tensor of output indices", getattr(rows, "dtype", type(rows).__name__)
        )
    if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= chain.out_features):
        raise InputDataError("rows", f"output indices in [0, {chain.out_features})", rows.tolist()[:8])
    if per_point and rows.shape[0] != x.shape[0]:
        raise InputDataError(
            "rows", f"one output index per point ({x.shape[0]}) with per_point=True", tuple(rows.shape)
        )
    x = x.to(torch.float64)
    derivs = []
    h = x
    for k, (w, b, act) in enumerate(
        zip(chain.weights[:-1], chain.biases[:-1], chain.activations, strict=True)
    ):
        z = h @ w.T + b
        derivs.append(act.derivative(z) if smooth is None else act.smooth_derivative(z, smooth[k]))
        h = act(z)
    top = chain.weights[-1][rows]
    v = top.unsqueeze(1) if per_point else top.expand(x.shape[0], -1, -1)
    for k in range(len(chain.activations) - 1, -1, -1):
        v = (v * derivs[k].unsqueeze(1)) @ chain.weights[k]
    return v
