r"""PowerNorm: batch normalisation by a running quadratic mean, with an approximate backward.

Shen, Yao, Gholami, Mahoney, Keutzer, "PowerNorm: Rethinking Batch Normalization in
Transformers", ICML 2020, Algorithm 1; exact gradients in docs/derivations.md, §3. Per
feature channel, over the batch :math:`B` (all leading dimensions of a ``... x d`` input):

.. math::
    \text{forward: }\; \psi_B^2 = \tfrac1B \textstyle\sum_b x_b^2, \quad
    \hat x = x / \psi_{t-1}, \quad y = \gamma \odot \hat x + \beta, \quad
    \psi_t^2 = \alpha \psi_{t-1}^2 + (1 - \alpha) \psi_B^2,

.. math::
    \text{backward: }\; \tilde x = \gamma \odot \tfrac{\partial L}{\partial y} - \nu_{t-1} \hat x, \quad
    \tfrac{\partial L}{\partial x} = \tilde x / \psi_{t-1}, \quad
    \nu_t = \nu_{t-1} + (1 - \alpha)\, \tfrac1B \textstyle\sum_b \tilde x_b \hat x_b .

No centring (a quadratic mean, not a variance). The :math:`\nu` recursion is the paper's
:math:`\nu_t = \nu_{t-1}(1 - (1-\alpha)\Gamma_t) + (1-\alpha)\Lambda_t` with
:math:`\Gamma_t = \operatorname{mean}(\hat x^2)`, :math:`\Lambda_t = \operatorname{mean}(\gamma
\tfrac{\partial L}{\partial y} \hat x)`, written as in the official code
(``sIncerass/powernorm``, ``mask_powernorm.py``: ``ema_gz += mean(approx_grad_g * z)``). Unlike
the official code, the backward divides by the running :math:`\psi_{t-1}` used in the forward
(Algorithm 1), not by the current batch's quadratic mean, and no ``GroupScaling1D`` precedes
the layer. :math:`\psi` includes ``eps``: :math:`\psi = \sqrt{\psi^2 + \epsilon}`.

Warm-up: for the first ``warmup_iters`` training batches the forward normalises by the
batch's own quadratic mean (PN-V, :func:`power_norm_batch`) and the backward is its exact
gradient; the running :math:`\psi^2` is updated all along, :math:`\nu` only after warm-up.
Evaluation mode uses the running statistic: :math:`y = \gamma x / \psi + \beta`.

Shape convention: features are the *last* dimension (as ``nn.LayerNorm``), every leading
dimension is batch: a ``B x T x d`` token tensor is normalised over its ``B * T`` tokens (no
padding mask). For ``nn.BatchNorm1d``'s ``N x C x L`` layout, transpose to ``N x L x C`` first.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.layers.powernorm import PowerNorm
    >>> from probtheory.layers.swap import swap_modules
    >>> block = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
    >>> swap_modules(block, nn.LayerNorm, lambda old: PowerNorm(old.normalized_shape[0]))
    2
    >>> block(torch.randn(4, 5, 16)).shape
    torch.Size([4, 5, 16])

Warning:
    ``nn.TransformerEncoderLayer``'s inference fast path (eval mode, no autograd) calls a fused
    kernel that hard-codes layer normalisation and never calls ``norm1``/``norm2``; disable it
    with ``torch.backends.mha.set_fastpath_enabled(False)`` before evaluating such a block.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd import Function

from probtheory._checks import check_floating, check_int, check_interval, check_real, match_parameter_dtype
from probtheory.errors import InputDataError

__all__ = ["PowerNorm", "batch_norm_exact_grad", "power_norm_batch", "power_norm_exact_grad"]


class _ApproximatePowerNormBackward(Function):
    """Algorithm 1's forward with the running psi, and its approximate backward (updates nu)."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, weight: Tensor | None, bias: Tensor | None, psi: Tensor, nu: Tensor, alpha: float
    ) -> Tensor:
        x_hat = x / psi
        ctx.save_for_backward(x_hat, psi, weight)
        # nu is a buffer updated in place by the backward: kept by reference, not versioned
        ctx.nu, ctx.alpha = nu, alpha
        out = x_hat if weight is None else x_hat * weight
        return out if bias is None else out + bias

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x_hat, psi, weight = ctx.saved_tensors
        g_hat = grad_out if weight is None else grad_out * weight
        x_tilde = g_hat - ctx.nu.to(x_hat.dtype) * x_hat
        with torch.no_grad():
            ctx.nu.add_((1 - ctx.alpha) * (x_tilde * x_hat).mean(0).to(ctx.nu.dtype))
        grad_weight = (grad_out * x_hat).sum(0) if weight is not None and ctx.needs_input_grad[1] else None
        grad_bias = grad_out.sum(0) if ctx.needs_input_grad[2] else None
        return x_tilde / psi, grad_weight, grad_bias, None, None, None


class PowerNorm(nn.Module):
    r"""Power normalisation (Shen et al., ICML 2020, Algorithm 1): a drop-in for BatchNorm/LayerNorm.

    Args:
        num_features: Number of features ``d`` (the last input dimension).
        alpha_fwd: Moving-average coefficient :math:`\alpha \in (0, 1)` of the running quadratic
            mean :math:`\psi^2` (paper and official code: 0.9).
        alpha_bkw: Coefficient :math:`\alpha \in (0, 1)` of the :math:`\nu` recursion of the
            approximate backward (paper: 0.9).
        eps: :math:`\epsilon > 0` added to :math:`\psi^2` before the square root.
        affine: Learn the per-feature scale :math:`\gamma` (init 1) and shift :math:`\beta` (init 0).
        warmup_iters: Training batches normalised by their own quadratic mean before the running
            statistic takes over (official code: 10000; paper's Algorithm 1: 0).

    Buffers:
        running_phi: ``d``: the running quadratic mean :math:`\psi^2` (init 1).
        running_nu: ``d``: the backward's :math:`\nu` (init 0).
        num_batches_tracked: Training batches seen.
    """

    # the autograd.Function of the post-warm-up training step (a class attribute so that the
    # claim suite's mutants can substitute a broken backward)
    _approximate_step = _ApproximatePowerNormBackward

    def __init__(
        self,
        num_features: int,
        *,
        alpha_fwd: float = 0.9,
        alpha_bkw: float = 0.9,
        eps: float = 1e-5,
        affine: bool = True,
        warmup_iters: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_features = check_int("num_features", num_features, minimum=1)
        self.alpha_fwd = _check_alpha("alpha_fwd", alpha_fwd)
        self.alpha_bkw = _check_alpha("alpha_bkw", alpha_bkw)
        self.eps = check_real("eps", eps, positive=True)
        self.warmup_iters = check_int("warmup_iters", warmup_iters, minimum=0)
        self.affine = bool(affine)
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise InputDataError("dtype", "a floating torch.dtype or None", repr(dtype))
        factory = {"device": device, "dtype": dtype}
        if self.affine:
            self.weight = nn.Parameter(torch.ones(self.num_features, **factory))
            self.bias = nn.Parameter(torch.zeros(self.num_features, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_phi", torch.ones(self.num_features, **factory))
        self.register_buffer("running_nu", torch.zeros(self.num_features, **factory))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x``.

        Args:
            x: A ``... x d`` tensor with at least one leading (batch) dimension; in training mode
                every leading dimension is pooled into one batch of ``prod(x.shape[:-1])`` rows.

        Returns:
            A tensor of ``x``'s shape and dtype. (dtype policy, the package's for every module with
            weights: computed in the dtype of the parameters and running statistics, to which a
            floating ``x`` of another dtype is converted.)
        """
        _check_features("x", x, self.num_features)
        h = match_parameter_dtype("x", x, self.running_phi.dtype)
        if not self.training:
            return _affine(h / torch.sqrt(self.running_phi + self.eps), self.weight, self.bias).to(x.dtype)
        rows = h.reshape(-1, self.num_features)
        if rows.shape[0] == 0:  # the running statistic would become NaN for good
            raise InputDataError("x", "a training batch with at least one row", f"shape {tuple(x.shape)}")
        self.num_batches_tracked.add_(1)
        batch_phi = rows.detach().square().mean(0).to(self.running_phi.dtype)
        if int(self.num_batches_tracked) <= self.warmup_iters:
            out = power_norm_batch(rows, self.weight, self.bias, eps=self.eps)
        else:
            psi = torch.sqrt(self.running_phi + self.eps).to(rows.dtype)
            out = self._approximate_step.apply(
                rows, self.weight, self.bias, psi, self.running_nu, self.alpha_bkw
            )
        with torch.no_grad():
            self.running_phi.mul_(self.alpha_fwd).add_((1 - self.alpha_fwd) * batch_phi)
        return out.reshape(x.shape).to(x.dtype)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"{self.num_features}, alpha_fwd={self.alpha_fwd}, alpha_bkw={self.alpha_bkw}, eps={self.eps}, "
            f"affine={self.affine}, warmup_iters={self.warmup_iters}"
        )


def power_norm_batch(
    x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 0.0
) -> Tensor:
    r"""PN-V: normalise by the batch's own quadratic mean, :math:`y = \gamma x / \psi_B + \beta`.

    Autograd through this function gives the exact gradient (:func:`power_norm_exact_grad`).

    Args:
        x: A ``... x d`` tensor; the batch is every leading dimension.
        weight: ``d`` scale :math:`\gamma` (default 1).
        bias: ``d`` shift :math:`\beta` (default 0).
        eps: :math:`\epsilon \geq 0`; :math:`\psi_B = \sqrt{\operatorname{mean}(x^2) + \epsilon}`.

    Returns:
        A tensor of ``x``'s shape.
    """
    rows = _rows("x", x)
    _check_per_feature("weight", weight, rows.shape[-1])
    _check_per_feature("bias", bias, rows.shape[-1])
    psi = torch.sqrt(rows.square().mean(0) + check_real("eps", eps, nonnegative=True))
    return _affine(rows / psi, weight, bias).reshape(x.shape)


def power_norm_exact_grad(
    x: Tensor, grad_output: Tensor, weight: Tensor | None = None, eps: float = 0.0
) -> Tensor:
    r"""Exact input gradient of :func:`power_norm_batch` (docs/derivations.md, §3), in closed form.

    .. math::
        \frac{\partial L}{\partial x} = \frac{\gamma}{\psi_B}\Big(g - \hat x\,
        \operatorname{mean}_B(g \odot \hat x)\Big), \qquad \hat x = x / \psi_B,

    the projection of :math:`g = \partial L / \partial y` off :math:`\hat x` (``eps`` enters only
    through :math:`\psi_B`).

    Args:
        x: A ``... x d`` input.
        grad_output: ``... x d`` gradient :math:`\partial L / \partial y`, same shape as ``x``.
        weight: ``d`` scale :math:`\gamma` (default 1).
        eps: :math:`\epsilon \geq 0` as in :func:`power_norm_batch`.

    Returns:
        :math:`\partial L / \partial x`, a tensor of ``x``'s shape.
    """
    rows, g = _rows("x", x), _rows("grad_output", grad_output, like=x)
    _check_per_feature("weight", weight, rows.shape[-1])
    psi = torch.sqrt(rows.square().mean(0) + check_real("eps", eps, nonnegative=True))
    x_hat = rows / psi
    grad = (g - x_hat * (g * x_hat).mean(0)) / psi
    return (grad if weight is None else grad * weight).reshape(x.shape)


def batch_norm_exact_grad(
    x: Tensor, grad_output: Tensor, weight: Tensor | None = None, eps: float = 0.0
) -> Tensor:
    r"""Exact input gradient of training-mode batch normalisation (biased variance), in closed form.

    .. math::
        \frac{\partial L}{\partial x} = \frac{\gamma}{\sigma_B}\Big(g - \operatorname{mean}_B(g)
        - \hat x\, \operatorname{mean}_B(g \odot \hat x)\Big), \qquad
        \hat x = (x - \mu_B) / \sigma_B, \quad \sigma_B = \sqrt{\operatorname{var}_B(x) + \epsilon},

    the projection of :math:`g` off :math:`\operatorname{span}\{1, \hat x\}` (docs/derivations.md, §3).

    Args:
        x: A ``... x d`` input.
        grad_output: ``... x d`` gradient :math:`\partial L / \partial y`, same shape as ``x``.
        weight: ``d`` scale :math:`\gamma` (default 1).
        eps: :math:`\epsilon \geq 0`.

    Returns:
        :math:`\partial L / \partial x`, a tensor of ``x``'s shape.
    """
    rows, g = _rows("x", x), _rows("grad_output", grad_output, like=x)
    _check_per_feature("weight", weight, rows.shape[-1])
    centred = rows - rows.mean(0)
    sigma = torch.sqrt(centred.square().mean(0) + check_real("eps", eps, nonnegative=True))
    x_hat = centred / sigma
    grad = (g - g.mean(0) - x_hat * (g * x_hat).mean(0)) / sigma
    return (grad if weight is None else grad * weight).reshape(x.shape)


def _affine(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    out = x_hat if weight is None else x_hat * weight
    return out if bias is None else out + bias


def _check_alpha(name: str, value: object) -> float:
    return check_interval(
        name, value, 0.0, 1.0, closed=(False, False), meaning="a moving-average coefficient"
    )


def _check_features(name: str, x: object, num_features: int) -> Tensor:
    check_floating(name, x)
    if x.dim() < 2 or x.shape[-1] != num_features:
        raise InputDataError(
            name, f"a `... x {num_features}` tensor with a batch dimension", f"shape {tuple(x.shape)}"
        )
    return x


def _check_per_feature(name: str, value: object, num_features: int) -> None:
    """An optional per-feature `d` tensor (the scale or shift), checked against the input's `d`."""
    if value is None:
        return
    check_floating(name, value)
    if value.shape != (num_features,):
        raise InputDataError(
            name, f"a `{num_features}` tensor (one per feature) or None", f"shape {tuple(value.shape)}"
        )


def _rows(name: str, x: object, like: Tensor | None = None) -> Tensor:
    check_floating(name, x)
    if x.dim() < 2:
        raise InputDataError(name, "a `... x d` tensor with a batch dimension", f"shape {tuple(x.shape)}")
    if like is not None and x.shape != like.shape:
        raise InputDataError(name, f"the shape of `x`, {tuple(like.shape)}", f"shape {tuple(x.shape)}")
    return x.reshape(-1, x.shape[-1])
