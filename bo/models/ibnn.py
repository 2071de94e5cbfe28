r"""The infinite-width Bayesian neural network (I-BNN) surrogate: a GP with the NNGP kernel.

A fully connected network with i.i.d. Gaussian priors on its weights becomes, as its widths
grow, a Gaussian process whose kernel is given by the NNGP recursion (Neal 1996; Lee et al.
2018; Matthews et al. 2018). Li, Rudner & Wilson, "A Study of Bayesian Neural Network
Surrogates for Bayesian Optimization" (ICLR 2024; code yucenli/bnn-bo, ``models/ibnn.py``)
found this I-BNN particularly strong in high dimensions. The kernel is
:class:`probtheory.kernels.NNGPKernel`:

.. math::
    k^0(x, x') = \sigma_b^2 + \sigma_w^2\,\frac{x^\top x'}{d}, \qquad
    k^{l+1}(x, x') = \sigma_b^2 + \sigma_w^2\,
        \mathbb E_{(u,v)\sim\mathcal N(0,\Lambda^l)}[\phi(u)\phi(v)],

with closed forms for ReLU (arc-cosine kernel of order 1) and erf. Unlike bnn-bo, which
fixes :math:`\sigma_w^2, \sigma_b^2` from a config file, both are fitted with the noise and
the constant mean by maximising the marginal likelihood (starting from bnn-bo's values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from bo._validation import resolve_config
from bo.models.gp import GP
from probtheory._checks import check_int, check_name, check_real
from probtheory.kernels import NNGPKernel

__all__ = ["IBNN", "IBNNConfig"]

_ACTIVATIONS = ("relu", "erf")


@dataclass(frozen=True)
class IBNNConfig:
    """Options of :class:`IBNN`.

    Attributes:
        depth: Number of hidden layers L of the infinite-width network.
        activation: ``"relu"`` or ``"erf"`` (the closed-form kernels).
        weight_variance: Initial sigma_w^2 > 0 (then fitted).
        bias_variance: Initial sigma_b^2 > 0 (then fitted; 0 would pin it to 0).
    """

    depth: int = 3
    activation: str = "relu"
    weight_variance: float = 10.0
    bias_variance: float = 1.3

    def __post_init__(self) -> None:
        check_int("depth", self.depth, minimum=1)
        check_real("weight_variance", self.weight_variance, positive=True)
        check_real("bias_variance", self.bias_variance, positive=True)
        check_name("activation", self.activation, _ACTIVATIONS, meaning="a closed-form activation")


class IBNN(GP):
    """An infinite-width BNN surrogate: ``SingleTaskGP`` with an :class:`NNGPKernel`.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = IBNN(X, X.sum(-1, keepdim=True), depth=2, activation="erf").fit()
        >>> model.posterior(torch.rand(3, 2, dtype=torch.float64)).variance.shape
        torch.Size([3, 1])
    """

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: IBNNConfig | None = None, **options: Any
    ) -> None:
        """Create an (unfitted) I-BNN.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`IBNNConfig`, e.g. ``depth=2, activation="erf"``.
        """
        config = resolve_config(IBNNConfig, config, options)
        # One kernel per output, matching SingleTaskGP's batched multi-output layout.
        m = train_Y.shape[-1] if isinstance(train_Y, Tensor) and train_Y.dim() == 2 else 1
        batch_shape = torch.Size([m]) if m > 1 else torch.Size()
        kernel = NNGPKernel(
            depth=config.depth, activation=config.activation, input_dim=None, batch_shape=batch_shape
        )
        super().__init__(train_X, train_Y, covar_module=kernel)
        self.config = config
        # Where each parameter keeps its output dimension, for BoTorch's ``subset_output``
        # (SingleTaskGP only fills this in for its default kernel).
        self._subset_batch_dict = {
            "mean_module.raw_constant": -1,
            "covar_module.raw_weight_variance": -3,
            "covar_module.raw_bias_variance": -3,
            "likelihood.noise_covar.raw_noise": -2,
        }
        # Set after SingleTaskGP moved the kernel to float64, so the values are exact.
        self.covar_module.weight_variance = config.weight_variance
        self.covar_module.bias_variance = config.bias_variance
