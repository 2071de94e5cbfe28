r"""Polynomial composition activations: PolyReLU and PolyNorm.

Zhuo, Wang, Zeng, Li, Zhou, Ma, "Polynomial Composition Activations: Unleashing the Dynamics of
Large Language Models", ICLR 2025 (arXiv:2411.03884), Sec. 2: a PolyCom activation composes a
learnable polynomial of order :math:`r` with a base function :math:`\rho`,

.. math::
    \mathrm{PolyCom}(x) = \sum_{i=0}^{r} a_i\, \rho^i(x),

with :math:`\rho^i` the i-th power (not the i-fold composition). The two instances are

* PolyReLU: :math:`\rho = \mathrm{ReLU}`, applied elementwise;
* PolyNorm: :math:`\rho^i(x) = N(x^i)` with :math:`N(z) = z / \sqrt{\mathrm{mean}(z^2) + \epsilon}`,
  the RMS over the last (feature) dimension, so each power is normalised per sample/token.

Both use :math:`r = 3` in the paper and initialise :math:`a_1 = \dots = a_r = 1/r`, :math:`a_0 = 0`
(official code: ``torch.ones(3) / 3`` and a zero bias). Here ``weight[i - 1]`` multiplies the
i-th power; the official PolyNorm README stores them in the reverse order (``weight[0]`` on x³),
which matters only when loading its checkpoints.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, check_real, match_parameter_dtype
from probtheory.errors import InputDataError

__all__ = ["PolyNorm", "PolyReLU"]


class _PolynomialComposition(nn.Module):
    """Shared parameters of PolyReLU and PolyNorm: ``weight`` (a_1..a_r) and ``bias`` (a_0)."""

    def __init__(self, order: int = 3) -> None:
        super().__init__()
        self.order = check_int("order", order, minimum=1)
        self.weight = nn.Parameter(torch.empty(self.order))
        self.bias = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise as in the paper: ``a_i = 1 / order`` for ``i >= 1`` and ``a_0 = 0``."""
        with torch.no_grad():
            self.weight.fill_(1.0 / self.order)
            self.bias.zero_()

    def extra_repr(self) -> str:
        """The settings shown in ``repr(module)``."""
        return f"order={self.order}"


class PolyReLU(_PolynomialComposition):
    r"""PolyReLU activation, :math:`\sum_{i=1}^{r} a_i \mathrm{ReLU}(x)^i + a_0`, elementwise.

    On :math:`x > 0` it is the polynomial :math:`a_0 + a_1 x + \dots + a_r x^r` of degree
    :math:`r`; on :math:`x \le 0` it is the constant :math:`a_0`.

    Args:
        order: The polynomial order :math:`r` (paper: 3).

    Shape:
        Any shape; the output has the input's shape and dtype.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Apply the activation elementwise.

        dtype policy (the package's, for every module with weights): computed in the dtype of
        the coefficients; a floating input of another dtype is converted to it and the output
        is returned in the dtype of ``x``.

        Args:
            x: A tensor of any shape, floating point.
        """
        weight, bias = self.weight, self.bias
        relu = F.relu(match_parameter_dtype("x", x, weight.dtype))
        # Horner's rule: a_0 + relu * (a_1 + relu * (a_2 + ... + relu * a_r))
        out = weight[-1] * relu
        for i in range(self.order - 2, -1, -1):
            out = relu * (weight[i] + out)
        return (out + bias).to(x.dtype)


class PolyNorm(_PolynomialComposition):
    r"""PolyNorm activation, :math:`\sum_{i=1}^{r} a_i N(x^i) + a_0`.

    :math:`N(z) = z / \sqrt{\mathrm{mean}_{\text{last dim}}(z^2) + \epsilon}`: every power of the
    input is RMS-normalised over the feature dimension before the learnable combination. So,
    unlike PolyReLU, PolyNorm couples the features of one sample (token), and with
    :math:`\epsilon \to 0` it is invariant to rescaling a sample by :math:`c > 0`.

    Args:
        order: The polynomial order :math:`r` (paper: 3).
        eps: The :math:`\epsilon` inside the square root (paper and official code: 1e-6), > 0.

    Shape:
        `... x d`; the output has the input's shape and dtype.
    """

    def __init__(self, order: int = 3, eps: float = 1e-6) -> None:
        super().__init__(order)
        self.eps = check_real("eps", eps, positive=True)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the activation, normalising over the last dimension.

        dtype policy as :meth:`PolyReLU.forward`.

        Args:
            x: A `... x d` floating-point tensor (at least one dimension).
        """
        h = match_parameter_dtype("x", x, self.weight.dtype)
        if x.dim() == 0:
            raise InputDataError("x", "a `... x d` tensor (at least 1 dim)", "a 0-dim tensor")
        weight = self.weight
        out = self.bias
        power = h
        for i in range(self.order):
            if i > 0:
                power = power * h
            out = out + weight[i] * _rms_normalise(power, self.eps)
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        """The settings shown in ``repr(module)``."""
        return f"order={self.order}, eps={self.eps:g}"


def _rms_normalise(z: Tensor, eps: float) -> Tensor:
    return z * torch.rsqrt(z.pow(2).mean(dim=-1, keepdim=True) + eps)
