r"""NNGP and NTK kernels of deep fully connected networks, as GPyTorch kernels.

A network with ``depth`` hidden layers (each Dense then activation) and a Dense readout,
in the NTK parameterisation of neural-tangents (``stax.Dense(W_std, b_std)`` with
``weight_variance = W_std**2`` and ``bias_variance = b_std**2``), converges as its widths
grow to a Gaussian process with kernel :class:`NNGPKernel` at initialisation (Lee et al.
2018; Matthews et al. 2018) and trains by gradient descent as kernel regression with
:class:`NTKKernel` (Jacot et al. 2018). The recursion is in
:mod:`probtheory.kernels.recursion`; the activations' closed forms in
:mod:`probtheory.kernels.activations`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from gpytorch.constraints import Positive
from gpytorch.kernels import Kernel
from gpytorch.priors import Prior
from torch import Tensor

from probtheory._checks import check_finite, check_inputs, check_int, check_real
from probtheory.errors import InputDataError, UnsupportedError
from probtheory.kernels.activations import Activation, resolve_activation
from probtheory.kernels.recursion import nngp_ntk, nngp_ntk_diag, nngp_ntk_pairs

__all__ = ["InfiniteWidthKernel", "NNGPKernel", "NTKKernel", "nngp_and_ntk"]

# softplus(-1e3) is exactly 0 in float32 and float64: a zero bias variance stays exactly zero
# (a network without biases) with a finite raw parameter and a zero gradient.
_RAW_FOR_ZERO = -1.0e3


class InfiniteWidthKernel(Kernel):
    """Base class of the NNGP and NTK kernels: hyperparameters, validation, dispatch."""

    has_lengthscale = False
    #: which output of the recursion this kernel returns ("nngp" or "ntk")
    output: str

    def __init__(
        self,
        depth: int = 1,
        activation: str | Activation | Callable[[Tensor], Tensor] = "relu",
        weight_variance: float | Tensor = 2.0,
        bias_variance: float | Tensor = 0.0,
        *,
        input_dim: int | None = None,
        weight_variance_prior: Prior | None = None,
        bias_variance_prior: Prior | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the kernel.

        Args:
            depth: Number of hidden layers L >= 0 (0 is Bayesian linear regression).
            activation: ``"relu"``, ``"erf"``, ``"abs"``, ``"leaky_relu:<slope>"`` (closed
                forms), ``"tanh"``, ``"gelu"``, ``"sigmoid"`` or any elementwise torch
                callable (Gauss-Hermite quadrature).
            weight_variance: sigma_w^2 > 0 (learnable; a tensor of shape `batch_shape`
                gives one per batch). Parameters follow GPyTorch's convention and are created
                in the default dtype: for variances exact to float64 either set
                ``torch.set_default_dtype(torch.float64)`` or assign them after ``.double()``.
            bias_variance: sigma_b^2 >= 0 (learnable; exactly 0 means a network without
                biases and stays 0).
            input_dim: If given, inputs must have this trailing dimension.
            weight_variance_prior: Optional GPyTorch prior on sigma_w^2.
            bias_variance_prior: Optional GPyTorch prior on sigma_b^2.
            **kwargs: ``batch_shape``, ``active_dims`` etc. of :class:`gpytorch.kernels.Kernel`.
        """
        super().__init__(**kwargs)
        self.depth = check_int("depth", depth, minimum=0)
        self.activation = resolve_activation(activation)
        self.input_dim = None if input_dim is None else check_int("input_dim", input_dim, minimum=1)
        for name in ("weight_variance", "bias_variance"):
            raw = torch.nn.Parameter(torch.zeros(*self.batch_shape, 1, 1))
            self.register_parameter(f"raw_{name}", raw)
            self.register_constraint(f"raw_{name}", Positive())
        self.weight_variance = weight_variance
        self.bias_variance = bias_variance
        if weight_variance_prior is not None:
            self.register_prior(
                "weight_variance_prior",
                weight_variance_prior,
                lambda m: m.weight_variance,
                lambda m, v: m._set_variance("weight_variance", v),
            )
        if bias_variance_prior is not None:
            self.register_prior(
                "bias_variance_prior",
                bias_variance_prior,
                lambda m: m.bias_variance,
                lambda m, v: m._set_variance("bias_variance", v),
            )

    @property
    def weight_variance(self) -> Tensor:
        """sigma_w^2, a `batch_shape x 1 x 1` tensor."""
        return self.raw_weight_variance_constraint.transform(self.raw_weight_variance)

    @weight_variance.setter
    def weight_variance(self, value: float | Tensor) -> None:
        self._set_variance("weight_variance", value)

    @property
    def bias_variance(self) -> Tensor:
        """sigma_b^2, a `batch_shape x 1 x 1` tensor."""
        return self.raw_bias_variance_constraint.transform(self.raw_bias_variance)

    @bias_variance.setter
    def bias_variance(self, value: float | Tensor) -> None:
        self._set_variance("bias_variance", value)

    def _set_variance(self, name: str, value: float | Tensor) -> None:
        raw = getattr(self, f"raw_{name}")
        if not isinstance(value, Tensor):
            value = check_real(name, value)  # a number: refuses bools, strings and NaN by name
        elif value.is_complex() or value.dtype == torch.bool:
            raise InputDataError(name, "real variances", f"dtype {value.dtype}")
        value = torch.as_tensor(value, dtype=raw.dtype, device=raw.device)
        allow_zero = name == "bias_variance"
        bad = ~torch.isfinite(value) | (value < 0 if allow_zero else value <= 0)
        if bad.any():
            bound = ">= 0" if allow_zero else "> 0"
            raise InputDataError(name, f"finite values {bound}", value.tolist())
        if value.dim() > 0 and value.shape[-2:] != (1, 1):
            value = value.reshape(*value.shape, 1, 1)
        constraint = getattr(self, f"raw_{name}_constraint")
        raw_value = torch.where(
            value > 0, constraint.inverse_transform(value.clamp_min(1e-300)), _RAW_FOR_ZERO
        )
        self.initialize(**{f"raw_{name}": raw_value.expand_as(raw)})

    def __call__(
        self,
        x1: Tensor,
        x2: Tensor | None = None,
        diag: bool = False,
        last_dim_is_batch: bool = False,
        **params: Any,
    ) -> Any:
        """Evaluate the kernel lazily (GPyTorch's ``Kernel.__call__``), checking the inputs first.

        Args:
            x1: A `batch_shape x n x d` (or `n`, read as `n x 1`) floating tensor of inputs.
            x2: A `batch_shape x m x d` tensor of inputs (default: `x1`).
            diag: Return only the `batch_shape x n` values k(x1_i, x2_i); `x2` must then have the
                same number of points as `x1`.
            last_dim_is_batch: Not supported (deprecated in GPyTorch).
            **params: Passed on to GPyTorch.

        Raises:
            InputDataError: for a non-tensor, non-floating or non-finite input, `x1` and `x2` of
                different feature dimensions, or (with ``diag``) of different numbers of points.
        """
        x1, x2 = _check_pair_of_inputs(x1, x2, diag)
        return super().__call__(x1, x2, diag=diag, last_dim_is_batch=last_dim_is_batch, **params)

    def _kernels(self, x1: Tensor, x2: Tensor, diag: bool) -> tuple[Tensor, Tensor | None]:
        x1, x2 = _check_pair_of_inputs(x1, x2, diag)
        check_inputs("x1", x1, feature_dim=self.input_dim)
        check_inputs("x2", x2, feature_dim=self.input_dim)
        if x1.shape[-1] == 0:
            raise InputDataError("x1", "at least one feature (d >= 1)", f"shape {tuple(x1.shape)}")
        want_ntk = self.output == "ntk"
        wv = self.weight_variance.to(x1)
        bv = self.bias_variance.to(x1)
        if diag:
            if x2 is x1 or (x2.shape == x1.shape and torch.equal(x2, x1)):
                return nngp_ntk_diag(x1, self.depth, self.activation, wv[..., 0], bv[..., 0], ntk=want_ntk)
            return nngp_ntk_pairs(x1, x2, self.depth, self.activation, wv[..., 0], bv[..., 0], ntk=want_ntk)
        return nngp_ntk(x1, x2, self.depth, self.activation, wv, bv, ntk=want_ntk)

    def forward(
        self, x1: Tensor, x2: Tensor, diag: bool = False, last_dim_is_batch: bool = False, **params: Any
    ) -> Tensor:
        """Evaluate the kernel.

        Kernels have no weights: they compute in the dtype of their inputs (the variances are
        cast to it; `x1` and `x2` of different floating dtypes are promoted to the wider one).

        Args:
            x1: A `batch_shape x n x d` tensor of inputs.
            x2: A `batch_shape x m x d` tensor of inputs.
            diag: Return only the `batch_shape x n` values k(x1_i, x2_i) (the diagonal of the
                full matrix); requires `m == n`.
            last_dim_is_batch: Not supported (deprecated in GPyTorch).
            **params: Ignored (GPyTorch passes kernel keyword arguments through).

        Returns:
            A `batch_shape x n x m` kernel matrix, or its `batch_shape x n` diagonal.
        """
        if last_dim_is_batch:
            raise UnsupportedError("last_dim_is_batch", "False (deprecated in GPyTorch)", True)
        nngp, ntk = self._kernels(x1, x2, diag)
        return ntk if self.output == "ntk" else nngp

    def extra_repr(self) -> str:  # noqa: D102
        return f"depth={self.depth}, activation={self.activation.name!r}"


class NNGPKernel(InfiniteWidthKernel):
    r"""The NNGP kernel :math:`\Sigma^{L+1}` of a deep fully connected network.

    .. math::
        \Sigma^1(x,x') = \sigma_w^2\,\tfrac{x^\top x'}{d} + \sigma_b^2, \quad
        \Sigma^{l+1} = \sigma_w^2\,
        \mathbb E_{(u,v)\sim N(0,\Lambda^l)}[\phi(u)\phi(v)] + \sigma_b^2.

    Example:
        >>> import torch
        >>> from probtheory.kernels import NNGPKernel
        >>> k = NNGPKernel(depth=2, activation="relu", weight_variance=2.0).double()
        >>> x = torch.randn(5, 3, dtype=torch.float64)
        >>> k(x).to_dense().shape
        torch.Size([5, 5])
    """

    output = "nngp"


class NTKKernel(InfiniteWidthKernel):
    r"""The neural tangent kernel :math:`\Theta^{L+1}` of a deep fully connected network.

    .. math::
        \Theta^1 = \Sigma^1, \quad
        \Theta^{l+1} = \Sigma^{l+1} + \sigma_w^2\,
        \mathbb E_{(u,v)\sim N(0,\Lambda^l)}[\phi'(u)\phi'(v)]\;\Theta^l.

    Example:
        >>> import torch
        >>> from probtheory.kernels import NTKKernel
        >>> k = NTKKernel(depth=3, activation="erf", weight_variance=1.69, bias_variance=0.04)
        >>> x = torch.randn(4, 2, dtype=torch.float64)
        >>> k.double()(x, diag=True).shape
        torch.Size([4])
    """

    output = "ntk"


def nngp_and_ntk(
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    depth: int,
    activation: str | Activation | Callable[[Tensor], Tensor] = "relu",
    weight_variance: float = 2.0,
    bias_variance: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Both Gram matrices in one pass (the NNGP is a by-product of the NTK recursion).

    Args:
        x1: A `... x n x d` tensor of inputs.
        x2: A `... x m x d` tensor of inputs (default: `x1`).
        depth: Number of hidden layers.
        activation: As for :class:`NNGPKernel`.
        weight_variance: sigma_w^2 > 0.
        bias_variance: sigma_b^2 >= 0.

    Returns:
        The `... x n x m` NNGP and NTK Gram matrices.
    """
    x1, x2 = _check_pair_of_inputs(x1, x2, diag=False)
    kernel = NTKKernel(depth, activation).to(x1).requires_grad_(False)
    kernel.weight_variance, kernel.bias_variance = weight_variance, bias_variance
    nngp, ntk = kernel._kernels(x1, x1 if x2 is None else x2, diag=False)
    return nngp, ntk


def _check_pair_of_inputs(x1: object, x2: object | None, diag: bool) -> tuple[Tensor, Tensor | None]:
    """Finite floating inputs with one feature dimension (and one number of points for ``diag``).

    Runs before GPyTorch's own processing so that its misleading messages ("must have the same
    number of dimensions") never surface. 1-d inputs are read as `n x 1`, as GPyTorch does.
    Inputs of two floating dtypes are promoted to the wider one.
    """
    check_finite("x1", x1)
    if x2 is None:
        return x1, None
    check_finite("x2", x2)
    if x1.dtype != x2.dtype and x2 is not x1:
        common = torch.promote_types(x1.dtype, x2.dtype)
        x1, x2 = x1.to(common), x2.to(common)
    d1 = 1 if x1.dim() == 1 else x1.shape[-1]
    d2 = 1 if x2.dim() == 1 else x2.shape[-1]
    if d1 != d2:
        raise InputDataError(
            "x2", f"the feature dimension of `x1` (d = {d1})", f"shape {tuple(x2.shape)} (d = {d2})"
        )
    if diag and x2 is not x1:
        n1 = x1.shape[0] if x1.dim() == 1 else x1.shape[-2]
        n2 = x2.shape[0] if x2.dim() == 1 else x2.shape[-2]
        if n1 != n2:
            raise InputDataError(
                "x2",
                f"the number of points of `x1` (n = {n1}) with diag=True (values k(x1_i, x2_i))",
                f"shape {tuple(x2.shape)}",
            )
    return x1, x2
