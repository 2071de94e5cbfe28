r"""Kernels of a Gram matrix: the layer-to-layer maps of a deep kernel machine.

A :class:`GramKernel` computes :math:`K(G)` elementwise from :math:`(G_{12}, G_{11}, G_{22})`:
the linear (Dense-layer), arc-cosine (ReLU) and squared-exponential kernels, each with its
hyperparameters as positive parameters. :class:`StructuredGram` is a Gram matrix over inducing
and data points without the data-data block, which the sparse DKM propagates
(:mod:`probtheory.gp.dkm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from gpytorch.constraints import Positive
from torch import Tensor, nn

from probtheory._checks import check_floating, check_name, check_real
from probtheory.errors import InputDataError
from probtheory.kernels.activations import SlopeReLUActivation

__all__ = [
    "GramKernel",
    "LinearGramKernel",
    "ReluGramKernel",
    "SEGramKernel",
    "StructuredGram",
    "linear_gram_kernel",
    "relu_gram_kernel",
    "resolve_gram_kernel",
    "se_gram_kernel",
]

_RELU = SlopeReLUActivation(0.0, 1.0, name="relu")
_POSITIVE = Positive()


def linear_gram_kernel(
    cross: Tensor, left: Tensor, right: Tensor, weight_variance: Tensor, bias_variance: Tensor
) -> Tensor:
    r"""Linear (Dense-layer) kernel :math:`K_{12} = \sigma_w^2 G_{12} + \sigma_b^2`.

    Args:
        cross: Gram entries :math:`G_{12}`, any shape.
        left: :math:`G_{11}`, broadcastable to ``cross`` (unused, for a uniform signature).
        right: :math:`G_{22}`, broadcastable to ``cross`` (unused).
        weight_variance: :math:`\sigma_w^2 > 0`.
        bias_variance: :math:`\sigma_b^2 \ge 0`.
    """
    _check_gram_entries(cross, left, right)
    _check_hyperparameters(
        ("weight_variance", weight_variance, False), ("bias_variance", bias_variance, True)
    )
    return _linear(cross, left, right, weight_variance, bias_variance)


def _linear(
    cross: Tensor, left: Tensor, right: Tensor, weight_variance: Tensor, bias_variance: Tensor
) -> Tensor:
    del left, right
    return weight_variance * cross + bias_variance


def relu_gram_kernel(
    cross: Tensor, left: Tensor, right: Tensor, weight_variance: Tensor, bias_variance: Tensor
) -> Tensor:
    r"""Arc-cosine (ReLU) kernel of a Gram matrix, as in the NNGP recursion.

    :math:`K_{12} = \sigma_w^2 \frac{\sqrt{G_{11}G_{22}}}{2\pi}(\sin\theta + (\pi-\theta)\cos\theta)
    + \sigma_b^2` with :math:`\theta = \arccos(G_{12}/\sqrt{G_{11}G_{22}})` (Cho & Saul 2009). It
    reuses the closed form and the gradient-safe arccos of
    :class:`probtheory.kernels.activations.SlopeReLUActivation`.

    Args:
        cross: Gram entries :math:`G_{12}`, any shape.
        left: :math:`G_{11}`, broadcastable to ``cross``.
        right: :math:`G_{22}`, broadcastable to ``cross``.
        weight_variance: :math:`\sigma_w^2 > 0`.
        bias_variance: :math:`\sigma_b^2 \ge 0`.
    """
    _check_gram_entries(cross, left, right)
    _check_hyperparameters(
        ("weight_variance", weight_variance, False), ("bias_variance", bias_variance, True)
    )
    return _relu(cross, left, right, weight_variance, bias_variance)


def _relu(
    cross: Tensor, left: Tensor, right: Tensor, weight_variance: Tensor, bias_variance: Tensor
) -> Tensor:
    return weight_variance * _RELU.pair(cross, left, right)[0] + bias_variance


def se_gram_kernel(
    cross: Tensor, left: Tensor, right: Tensor, lengthscale: Tensor, outputscale: Tensor
) -> Tensor:
    r"""Squared-exponential kernel :math:`s\,\exp(-(G_{11} - 2G_{12} + G_{22}) / 2\ell^2)`.

    Args:
        cross: Gram entries :math:`G_{12}`, any shape.
        left: :math:`G_{11}`, broadcastable to ``cross``.
        right: :math:`G_{22}`, broadcastable to ``cross``.
        lengthscale: :math:`\ell > 0`.
        outputscale: :math:`s > 0`.
    """
    _check_gram_entries(cross, left, right)
    _check_hyperparameters(("lengthscale", lengthscale, False), ("outputscale", outputscale, False))
    return _se(cross, left, right, lengthscale, outputscale)


def _se(cross: Tensor, left: Tensor, right: Tensor, lengthscale: Tensor, outputscale: Tensor) -> Tensor:
    # The squared distance is >= 0 in exact arithmetic. Round-off can make it slightly negative.
    sq_dist = (left - 2.0 * cross + right).clamp_min(0.0)
    return outputscale * torch.exp(-sq_dist / (2.0 * lengthscale**2))


@dataclass(frozen=True)
class StructuredGram:
    """A Gram (or kernel) matrix over inducing and data points, without the data-data block.

    Attributes:
        ii: The `P_i x P_i` inducing block.
        ti: The `P_t x P_i` data-inducing block.
        t: The `P_t` diagonal of the data block.
    """

    ii: Tensor
    ti: Tensor
    t: Tensor

    def __post_init__(self) -> None:
        """Require floating blocks of consistent shapes: `P_i x P_i`, `P_t x P_i` and `P_t`."""
        for name in ("ii", "ti", "t"):
            check_floating(name, getattr(self, name))
        p_i = self.ii.shape[-1] if self.ii.dim() == 2 else -1
        if self.ii.dim() != 2 or self.ii.shape[0] != p_i:
            raise InputDataError("ii", "a square `P_i x P_i` inducing block", f"shape {tuple(self.ii.shape)}")
        if self.ti.dim() != 2 or self.ti.shape[1] != p_i:
            raise InputDataError(
                "ti", f"a `P_t x {p_i}` data-inducing block", f"shape {tuple(self.ti.shape)}"
            )
        if self.t.shape != self.ti.shape[:1]:
            raise InputDataError(
                "t", f"the `{self.ti.shape[0]}` diagonal of the data block", f"shape {tuple(self.t.shape)}"
            )


class GramKernel(nn.Module):
    """A kernel computed from a Gram matrix alone: ``K(G)``, elementwise in (G_12, G_11, G_22).

    Subclasses implement :meth:`pairwise`. Calling the module maps a full `P x P` Gram matrix
    to its (symmetrised) kernel matrix, and a :class:`StructuredGram` to a :class:`StructuredGram`.
    """

    def pairwise(self, cross: Tensor, left: Tensor, right: Tensor) -> Tensor:
        """K entries from the Gram entries G_12 (``cross``) and the diagonals G_11, G_22."""
        raise NotImplementedError

    def forward(self, gram: Tensor | StructuredGram) -> Tensor | StructuredGram:
        """Apply the kernel to a `P x P` Gram matrix or to a :class:`StructuredGram`.

        Raises:
            InputDataError: for a Gram matrix that is not a square floating tensor.
        """
        if not isinstance(gram, StructuredGram):
            check_floating("gram", gram)
            if gram.dim() < 2 or gram.shape[-1] != gram.shape[-2]:
                raise InputDataError(
                    "gram",
                    "a square `... x P x P` Gram matrix or a StructuredGram",
                    f"shape {tuple(gram.shape)}",
                )
        if isinstance(gram, StructuredGram):
            d = gram.ii.diagonal()
            return StructuredGram(
                self._full(gram.ii),
                self.pairwise(gram.ti, gram.t[:, None], d[None, :]),
                self.pairwise(gram.t, gram.t, gram.t),
            )
        return self._full(gram)

    def input_layer(self, gram: Tensor | StructuredGram) -> Tensor | StructuredGram:
        """The first layer's map of the input Gram G_0 (by default the kernel itself)."""
        return self(gram)

    def _full(self, gram: Tensor) -> Tensor:
        d = gram.diagonal(dim1=-2, dim2=-1)
        k = self.pairwise(gram, d[..., :, None], d[..., None, :])
        # The elementwise formulas are symmetric only up to round-off. Symmetrise exactly.
        return 0.5 * (k + k.transpose(-2, -1))

    def _register_positive(self, name: str, value: float, *, allow_zero: bool = False) -> None:
        value = check_real(name, value, positive=not allow_zero, nonnegative=allow_zero)
        if value == 0.0:
            # softplus(-inf) = 0 exactly. As a buffer the variance stays zero and gets no gradient.
            self.register_buffer(f"raw_{name}", torch.tensor(-math.inf, dtype=torch.float64))
        else:
            raw = _POSITIVE.inverse_transform(torch.tensor(value, dtype=torch.float64))
            self.register_parameter(f"raw_{name}", nn.Parameter(raw))

    def _positive(self, name: str) -> Tensor:
        return _POSITIVE.transform(getattr(self, f"raw_{name}"))


class _VarianceGramKernel(GramKernel):
    """Shared hyperparameters of the linear and ReLU kernels."""

    def __init__(self, weight_variance: float = 2.0, bias_variance: float = 0.1) -> None:
        super().__init__()
        self._register_positive("weight_variance", weight_variance)
        self._register_positive("bias_variance", bias_variance, allow_zero=True)

    @property
    def weight_variance(self) -> Tensor:
        """sigma_w^2 (learnable, > 0)."""
        return self._positive("weight_variance")

    @property
    def bias_variance(self) -> Tensor:
        """sigma_b^2 (learnable, > 0; fixed at exactly 0 if created as 0)."""
        return self._positive("bias_variance")


class LinearGramKernel(_VarianceGramKernel):
    r"""K(G) = sigma_w^2 G + sigma_b^2: a Dense layer. With (1, 0) it is the identity K(G) = G.

    Args:
        weight_variance: sigma_w^2 > 0 (learnable).
        bias_variance: sigma_b^2 >= 0 (learnable; exactly 0 stays 0).
    """

    def pairwise(self, cross: Tensor, left: Tensor, right: Tensor) -> Tensor:  # noqa: D102
        return _linear(cross, left, right, self.weight_variance, self.bias_variance)


class ReluGramKernel(_VarianceGramKernel):
    r"""Arc-cosine kernel sigma_w^2 E[relu(u) relu(v)] + sigma_b^2, (u, v) ~ N(0, G).

    The first layer applies a Dense layer with the same variances before the ReLU
    (:meth:`input_layer`). A DKM of depth L with infinite dof is then the NNGP of a ReLU network
    with L + 1 hidden layers (:class:`probtheory.kernels.NNGPKernel` with ``depth=L + 1``).

    Args:
        weight_variance: sigma_w^2 > 0 (learnable).
        bias_variance: sigma_b^2 >= 0 (learnable; exactly 0 stays 0).
    """

    def pairwise(self, cross: Tensor, left: Tensor, right: Tensor) -> Tensor:  # noqa: D102
        return _relu(cross, left, right, self.weight_variance, self.bias_variance)

    def input_layer(self, gram: Tensor | StructuredGram) -> Tensor | StructuredGram:
        """K(sigma_w^2 G_0 + sigma_b^2): Dense on the raw inputs, then the ReLU kernel."""
        wv, bv = self.weight_variance, self.bias_variance
        if isinstance(gram, StructuredGram):
            return self(StructuredGram(wv * gram.ii + bv, wv * gram.ti + bv, wv * gram.t + bv))
        return self(wv * gram + bv)


class SEGramKernel(GramKernel):
    r"""Squared-exponential kernel of a Gram matrix: the layers of a deep GP.

    Args:
        lengthscale: ell > 0 (learnable, shared by the layers).
        outputscale: s > 0 (learnable, shared by the layers).
    """

    def __init__(self, lengthscale: float = 1.0, outputscale: float = 1.0) -> None:
        super().__init__()
        self._register_positive("lengthscale", lengthscale)
        self._register_positive("outputscale", outputscale)

    @property
    def lengthscale(self) -> Tensor:
        """Ell (learnable, > 0)."""
        return self._positive("lengthscale")

    @property
    def outputscale(self) -> Tensor:
        """S (learnable, > 0)."""
        return self._positive("outputscale")

    def pairwise(self, cross: Tensor, left: Tensor, right: Tensor) -> Tensor:  # noqa: D102
        return _se(cross, left, right, self.lengthscale, self.outputscale)


_KERNELS = {"relu": ReluGramKernel, "se": SEGramKernel, "linear": LinearGramKernel}


def resolve_gram_kernel(kernel: str | GramKernel) -> GramKernel:
    """``kernel`` itself, or a new kernel of the named kind (``"relu"``, ``"se"``, ``"linear"``)."""
    if isinstance(kernel, GramKernel):
        return kernel
    return _KERNELS[check_name("kernel", kernel, _KERNELS, meaning="a Gram kernel name or a GramKernel")]()


def _check_gram_entries(cross: object, left: object, right: object) -> None:
    """Floating Gram entries, with diagonals that broadcast against ``cross``."""
    for name, value in (("cross", cross), ("left", left), ("right", right)):
        check_floating(name, value)
    try:
        torch.broadcast_shapes(cross.shape, left.shape, right.shape)
    except RuntimeError as err:
        raise InputDataError(
            "right", f"diagonals broadcastable to `cross` {tuple(cross.shape)}",
            f"shapes {tuple(left.shape)} and {tuple(right.shape)}",
        ) from err  # fmt: skip


def _check_hyperparameters(*specs: tuple[str, object, bool]) -> None:
    """Each ``(name, value, allow_zero)``: a finite number (or tensor) > 0, or >= 0 if ``allow_zero``."""
    for name, value, allow_zero in specs:
        if not isinstance(value, Tensor):
            check_real(name, value, positive=not allow_zero, nonnegative=allow_zero)
            continue
        low_ok = (value >= 0) if allow_zero else (value > 0)
        if not value.is_floating_point() or not (torch.isfinite(value) & low_ok).all():
            raise InputDataError(
                name, "finite values " + (">= 0" if allow_zero else "> 0"), value.detach().tolist()
            )
