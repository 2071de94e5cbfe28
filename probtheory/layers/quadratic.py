r"""Quadratic neurons and the ReLinear training strategy.

Fan, Li, Wang, Lai, Wang, "On Expressivity and Trainability of Quadratic Networks", IEEE TNNLS
2023 (arXiv:2110.06081). A quadratic neuron replaces the inner product of a conventional neuron
by a quadratic function (Sec. III, Eq. 1; official code ``FengleiFan/ReLinear``, ``qresnet.py``):

.. math::
    q(x) = (W_r x + b_r) \odot (W_g x + b_g) + W_b (x \odot x) + b_b .

A single neuron computes :math:`x_1 x_2` (and so XOR), and a network of :math:`L` quadratic
layers without activations is a polynomial of degree :math:`2^L` in its input.

ReLinear (Sec. IV) makes such networks trainable: initialise the quadratic terms so that the
neuron *is* the linear neuron :math:`W_r x + b_r` (:math:`W_g = 0, b_g = 1, W_b = 0, b_b = 0`),
and update :math:`W_g, b_g, W_b, b_b` with a much smaller learning rate than :math:`W_r, b_r`
(official code: SGD with 0.1 for the linear part and 1e-5 for the quadratic part), so the
quadratic terms grow slowly from a network that trains like a conventional one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real, match_parameter_dtype
from probtheory.errors import InputDataError

__all__ = ["QuadraticLinear", "relinear_param_groups"]


class QuadraticLinear(nn.Module):
    r"""A layer of quadratic neurons, :math:`(W_r x + b_r) \odot (W_g x + b_g) + W_b (x \odot x) + b_b`.

    The three affine maps are the submodules ``r``, ``g`` and ``b`` (each an ``nn.Linear``),
    so the layer has three times the parameters of ``nn.Linear(in_features, out_features)``.

    Args:
        in_features: Input dimension `d_in`.
        out_features: Output dimension `d_out` (number of quadratic neurons).
        relinear_init: Initialise as ReLinear prescribes (the layer starts as the linear map
            ``r``: :math:`W_g = 0, b_g = 1, W_b = 0, b_b = 0`); if False, all three maps get
            ``nn.Linear``'s default random initialisation.

    Shape:
        Input `... x d_in`, output `... x d_out`.
    """

    def __init__(self, in_features: int, out_features: int, relinear_init: bool = True) -> None:
        super().__init__()
        in_features = check_int("in_features", in_features, minimum=1)
        out_features = check_int("out_features", out_features, minimum=1)
        self.r = nn.Linear(in_features, out_features)
        self.g = nn.Linear(in_features, out_features)
        self.b = nn.Linear(in_features, out_features)
        self.relinear_init = bool(relinear_init)
        self.reset_parameters()

    @property
    def in_features(self) -> int:
        """Input dimension `d_in`."""
        return self.r.in_features

    @property
    def out_features(self) -> int:
        """Output dimension `d_out`."""
        return self.r.out_features

    def reset_parameters(self) -> None:
        """Re-initialise: ``r`` as ``nn.Linear``; ``g`` and ``b`` per :attr:`relinear_init`."""
        for linear in (self.r, self.g, self.b):
            linear.reset_parameters()
        if self.relinear_init:
            with torch.no_grad():
                self.g.weight.zero_()
                self.g.bias.fill_(1.0)
                self.b.weight.zero_()
                self.b.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate the quadratic neurons.

        dtype policy (the package's, for every module with weights): a floating input of
        another dtype than the weights is converted to theirs, and the output is returned in
        the dtype of ``x``.

        Args:
            x: A `... x d_in` floating-point tensor.
        """
        h = match_parameter_dtype("x", x, self.r.weight.dtype)
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise InputDataError("x", f"a `... x {self.in_features}` tensor", f"shape {tuple(x.shape)}")
        return (self.r(h) * self.g(h) + self.b(h * h)).to(x.dtype)

    def extra_repr(self) -> str:
        """The settings shown in ``repr(module)``."""
        return f"in_features={self.in_features}, out_features={self.out_features}"


def relinear_param_groups(
    model: nn.Module, lr: float, lr_quadratic: float, **group_options: Any
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for ReLinear: the quadratic terms get their own, small learning rate.

    The group with ``lr_quadratic`` holds the ``g`` and ``b`` maps of every
    :class:`QuadraticLinear` in ``model``; every other parameter (the ``r`` maps, conventional
    layers, norms) is in the group with ``lr``. Pass the result to any ``torch.optim`` optimizer:
    ``torch.optim.SGD(relinear_param_groups(model, 0.1, 1e-5), lr=0.1, momentum=0.9)``.

    Args:
        model: The network.
        lr: Learning rate of the linear and non-quadratic parameters, > 0.
        lr_quadratic: Learning rate of the quadratic terms, >= 0 (0 freezes them at their
            initial values); ReLinear takes it much smaller than ``lr``.
        **group_options: Further per-group options applied to both groups (``weight_decay``).

    Returns:
        Two parameter-group dictionaries ``[linear_group, quadratic_group]``.

    Raises:
        InputDataError: If ``model`` has no :class:`QuadraticLinear` layer.
    """
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "a torch.nn.Module", type(model).__name__)
    lr = check_real("lr", lr, positive=True)
    lr_quadratic = check_real("lr_quadratic", lr_quadratic, nonnegative=True)
    quadratic = {
        id(p): p
        for module in model.modules()
        if isinstance(module, QuadraticLinear)
        for p in (*module.g.parameters(), *module.b.parameters())
    }
    if not quadratic:
        raise InputDataError("model", "a network containing QuadraticLinear layers", type(model).__name__)
    linear = [p for p in model.parameters() if id(p) not in quadratic]
    return [
        {"params": linear, "lr": lr, **group_options},
        {"params": list(quadratic.values()), "lr": lr_quadratic, **group_options},
    ]
