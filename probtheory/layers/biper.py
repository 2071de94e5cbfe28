r"""BiPer binary layers: square-wave weights with a sine surrogate gradient.

Vargas, Correa, Hinojosa, Arguello, "BiPer: Binary Neural Networks using a Periodic Function",
CVPR 2024 (arXiv:2404.01278), Sec. 3. Weights are binarised by a square wave of frequency
:math:`\omega` and differentiated through the sine with the same period:

.. math::
    \text{forward: } w_b = \operatorname{sign}(\sin(\omega w)), \qquad
    \text{backward: } \frac{\partial w_b}{\partial w} := \omega \cos(\omega w).

The paper trains in two stages: stage 1 uses the continuous :math:`w_b = \sin(\omega w)`,
stage 2 (initialised from stage 1) the binary square wave. Activations are binarised with
``sign`` and the ApproxSign gradient :math:`\max(0, 2 - 2|a|)` (Bi-Real Net), after dividing
each sample by its standard deviation in training so that the gradient window fits the data.
The output is scaled by a learnable per-output-channel :math:`\alpha \sim U(0, 1)`.
Follows the official code (``edmav4/BiPer``, ``modules/binarized_modules.py``), except that
``sign(0)`` is taken as +1 so that binary values are always in {-1, +1}, the per-sample
variance is the biased one (defined for a single feature), and the bias is added after the
:math:`\alpha` scaling.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd import Function

from probtheory._checks import check_floating, check_int, check_real, match_parameter_dtype
from probtheory.errors import InputDataError

__all__ = ["BiPerConv2d", "BiPerLinear", "approx_sign", "set_biper_stage", "square_wave"]

_ACTIVATION_EPS = 1e-5  # added to the per-sample variance, as in the official code


class _SquareWaveSine(Function):
    @staticmethod
    def forward(ctx: Any, w: Tensor, omega: float) -> Tensor:
        ctx.save_for_backward(w)
        ctx.omega = omega
        return _sign(torch.sin(omega * w))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (w,) = ctx.saved_tensors
        return grad * ctx.omega * torch.cos(ctx.omega * w), None


class _ApproxSign(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return _sign(a)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (a,) = ctx.saved_tensors
        return grad * (2 - 2 * a.abs()).clamp(min=0)


def _sign(z: Tensor) -> Tensor:
    return torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def square_wave(w: Tensor, omega: float) -> Tensor:
    r"""The binary square wave :math:`\operatorname{sign}(\sin(\omega w))` with the sine surrogate gradient.

    Args:
        w: Latent real weights, any shape.
        omega: Angular frequency :math:`\omega > 0` (paper: 20).

    Returns:
        A tensor of ``w``'s shape with entries in {-1, +1} (+1 where the sine is 0), whose
        gradient with respect to ``w`` is :math:`\omega \cos(\omega w)` times the incoming one.
    """
    check_floating("w", w)
    return _SquareWaveSine.apply(w, check_real("omega", omega, positive=True))


def approx_sign(a: Tensor) -> Tensor:
    r"""``sign(a)`` (+1 at 0) forward, ApproxSign gradient :math:`\max(0, 2 - 2|a|)` backward.

    Args:
        a: Activations, any shape.
    """
    check_floating("a", a)
    return _ApproxSign.apply(a)


class _BiPerWeights:
    """What BiPerLinear and BiPerConv2d share: frequency, stage, alpha and the binarisations."""

    weight: nn.Parameter
    alpha: nn.Parameter
    training: bool

    def _as_weight_dtype(self, x: Tensor) -> Tensor:
        """The dtype policy: the input in the weights' dtype (the output goes back to ``x``'s)."""
        return match_parameter_dtype("x", x, self.weight.dtype)

    def _setup_biper(self, out_channels: int, omega: float, stage: int, binarize_input: bool) -> None:
        self.omega = check_real("omega", omega, positive=True)
        self.stage = stage
        self.binarize_input = bool(binarize_input)
        # per-output-channel scale, U(0, 1) as in the official code
        self.alpha = nn.Parameter(
            torch.rand(out_channels, dtype=self.weight.dtype, device=self.weight.device)
        )

    @property
    def stage(self) -> int:
        """1: continuous ``sin(omega w)`` weights; 2: binary square-wave weights."""
        return self._stage

    @stage.setter
    def stage(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value not in (1, 2):
            raise InputDataError("stage", "1 (sine weights) or 2 (binary weights)", repr(value))
        self._stage = int(value)

    def binary_weight(self) -> Tensor:
        """The weights used in the forward pass: ``sin(omega w)`` in stage 1, the square wave in stage 2."""
        if self.stage == 1:
            return torch.sin(self.omega * self.weight)
        return square_wave(self.weight, self.omega)

    def quantization_error(self) -> float:
        r"""Mean :math:`|\sin(\omega w) - \operatorname{sign}(\sin(\omega w))|` over the weights.

        The quantization error between the stage-1 and stage-2 weights (paper Sec. 3.2), which
        the frequency :math:`\omega` controls.
        """
        with torch.no_grad():
            sine = torch.sin(self.omega * self.weight)
            return float((sine - _sign(sine)).abs().mean())

    def _binarize_input(self, x: Tensor, feature_dims: tuple[int, ...]) -> Tensor:
        if not self.binarize_input:
            return x
        if self.training:
            # sign is scale-invariant: this only places the ApproxSign window on the data's scale
            x = x / torch.sqrt(x.var(dim=feature_dims, keepdim=True, correction=0) + _ACTIVATION_EPS)
        return approx_sign(x)


class BiPerLinear(_BiPerWeights, nn.Linear):
    r"""A linear layer with BiPer binary weights and (optionally) binary inputs.

    .. math::
        y = \alpha \odot (\operatorname{sign}(x)\, w_b^\top) + b,
        \qquad w_b = \operatorname{sign}(\sin(\omega W)) \text{ (stage 2)}.

    Args:
        in_features: Input dimension `d_in`.
        out_features: Output dimension `d_out`.
        bias: Whether to add a learnable bias.
        omega: Frequency :math:`\omega > 0` of the square wave (paper: 20).
        stage: 1 (continuous sine weights, the paper's first stage) or 2 (binary weights).
        binarize_input: Binarise the input with ``sign`` / ApproxSign (True in a BNN; set False
            for a binary-weight, real-activation layer).

    Shape:
        Input `... x d_in`, output `... x d_out`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        omega: float = 20.0,
        stage: int = 2,
        binarize_input: bool = True,
    ) -> None:
        in_features = check_int("in_features", in_features, minimum=1)
        out_features = check_int("out_features", out_features, minimum=1)
        super().__init__(in_features, out_features, bias=bias)
        self._setup_biper(out_features, omega, stage, binarize_input)

    def forward(self, x: Tensor) -> Tensor:
        """Binarise input and weights, multiply, scale by alpha, add the bias.

        dtype policy (the package's, for every module with weights): a floating input of
        another dtype than the weights is converted to theirs, and the output is returned in
        the dtype of ``x``.

        Args:
            x: A `... x d_in` floating-point tensor.
        """
        h = self._as_weight_dtype(x)
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise InputDataError("x", f"a `... x {self.in_features}` tensor", f"shape {tuple(x.shape)}")
        out = F.linear(self._binarize_input(h, (-1,)), self.binary_weight()) * self.alpha
        return (out if self.bias is None else out + self.bias).to(x.dtype)

    def extra_repr(self) -> str:
        """The settings shown in ``repr(module)``."""
        return f"{super().extra_repr()}, omega={self.omega:g}, stage={self.stage}"


class BiPerConv2d(_BiPerWeights, nn.Conv2d):
    r"""A 2-d convolution with BiPer binary weights and (optionally) binary inputs.

    Takes the arguments of :class:`torch.nn.Conv2d` (``bias`` defaults to False, as in BNNs)
    plus the keyword-only ``omega``, ``stage`` and ``binarize_input`` of :class:`BiPerLinear`.
    The per-sample standardisation of the input in training is over channels and space.

    Shape:
        Input `b x c_in x h x w`, output `b x c_out x h' x w'`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        omega: float = 20.0,
        stage: int = 2,
        binarize_input: bool = True,
    ) -> None:
        in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self._setup_biper(out_channels, omega, stage, binarize_input)

    def forward(self, x: Tensor) -> Tensor:
        """Binarise input and weights, convolve, scale by alpha, add the bias.

        dtype policy as :meth:`BiPerLinear.forward`.

        Args:
            x: A `b x c_in x h x w` floating-point tensor.
        """
        h = self._as_weight_dtype(x)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InputDataError("x", f"a `b x {self.in_channels} x h x w` tensor", f"shape {tuple(x.shape)}")
        padding = (0, 0) if self.padding == "valid" else self.padding
        if not isinstance(padding, str):  # "same" always fits
            for axis in range(2):
                reach = self.dilation[axis] * (self.kernel_size[axis] - 1) + 1
                if x.shape[2 + axis] + 2 * padding[axis] < reach:
                    raise InputDataError(
                        "x", f"images of at least {reach} pixels along dim {2 + axis} (the dilated kernel)",
                        f"shape {tuple(x.shape)}",
                    )  # fmt: skip
        out = self._conv_forward(self._binarize_input(h, (1, 2, 3)), self.binary_weight(), None)
        out = out * self.alpha.view(-1, 1, 1)
        return (out if self.bias is None else out + self.bias.view(-1, 1, 1)).to(x.dtype)

    def extra_repr(self) -> str:
        """The settings shown in ``repr(module)``."""
        return f"{super().extra_repr()}, omega={self.omega:g}, stage={self.stage}"


def set_biper_stage(model: nn.Module, stage: int) -> int:
    """Switch every BiPer layer in ``model`` to ``stage`` (1: sine weights, 2: binary weights).

    Args:
        model: Any module; its BiPer layers are found with ``model.modules()``.
        stage: 1 or 2.

    Returns:
        The number of layers switched.
    """
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "a torch.nn.Module", type(model).__name__)
    if stage not in (1, 2) or isinstance(stage, bool):
        raise InputDataError("stage", "1 (sine weights) or 2 (binary weights)", repr(stage))
    layers = [m for m in model.modules() if isinstance(m, _BiPerWeights)]
    for layer in layers:
        layer.stage = stage
    return len(layers)
