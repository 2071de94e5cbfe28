r"""The NNGP and NTK recursions of deep fully connected networks (NTK parameterisation).

For an input dimension :math:`d`, weight variance :math:`\sigma_w^2`, bias variance
:math:`\sigma_b^2` and :math:`L` hidden layers (Jacot et al. 2018, eq. (4)-(5); Lee et al.
2018; conventions of neural-tangents ``stax.Dense(W_std, b_std)``):

.. math::
    \Sigma^1(x,x') &= \sigma_w^2\, x^\top x'/d + \sigma_b^2, \qquad \Theta^1 = \Sigma^1,\\
    \Sigma^{l+1} &= \sigma_w^2\, T(\Lambda^l) + \sigma_b^2, \qquad
    \Theta^{l+1} = \Sigma^{l+1} + \sigma_w^2\, \dot T(\Lambda^l)\, \Theta^l,

and the network's output has NNGP kernel :math:`\Sigma^{L+1}` and NTK :math:`\Theta^{L+1}`.

The Gram matrix is computed in blocks of rows: all layers of one block are processed while
the block sits in cache, which makes the elementwise recursion compute-bound rather than
memory-bound (see ``benchmarks/kernels.py``). The diagonals :math:`q^l = \Sigma^l(x,x)` are
vectors, computed once per layer for the whole input.
"""

from __future__ import annotations

import torch
from torch import Tensor

from probtheory.kernels.activations import Activation

__all__ = ["nngp_ntk", "nngp_ntk_diag", "nngp_ntk_pairs"]

# Elements per block: 2^18 float64 values (2 MiB) per temporary keeps the handful of
# temporaries a layer needs in cache while amortising per-operation overhead (measured on
# n = 2000, depth 10: 2^15 and 2^22 were both clearly slower).
_BLOCK_ELEMENTS = 2**18


def _input_variance(x: Tensor, weight_variance: Tensor, bias_variance: Tensor) -> Tensor:
    # q^1(x) = sigma_w^2 |x|^2 / d + sigma_b^2; returns `... x n` (variances are `... x 1`).
    return weight_variance * (x * x).sum(-1) / x.shape[-1] + bias_variance


def _layer_variances(
    x: Tensor, depth: int, activation: Activation, weight_variance: Tensor, bias_variance: Tensor
) -> list[Tensor]:
    """Return ``[q^1, ..., q^{L+1}]``, each a `... x n` tensor."""
    q = _input_variance(x, weight_variance, bias_variance)
    variances = [q]
    for _ in range(depth):
        q = weight_variance * activation.diag(q)[0] + bias_variance
        variances.append(q)
    return variances


def nngp_ntk_diag(
    x: Tensor,
    depth: int,
    activation: Activation,
    weight_variance: Tensor,
    bias_variance: Tensor,
    *,
    ntk: bool = True,
) -> tuple[Tensor, Tensor | None]:
    r"""Diagonals :math:`\Sigma^{L+1}(x,x)` and :math:`\Theta^{L+1}(x,x)`.

    Args:
        x: A `... x n x d` tensor of inputs.
        depth: Number of hidden layers :math:`L \ge 0`.
        activation: The activation's Gaussian expectations.
        weight_variance: :math:`\sigma_w^2`, a tensor broadcastable to `... x 1`.
        bias_variance: :math:`\sigma_b^2`, a tensor broadcastable to `... x 1`.
        ntk: Whether to compute the NTK diagonal too.

    Returns:
        The NNGP diagonal (`... x n`) and the NTK diagonal (`... x n`, or None).
    """
    q = _input_variance(x, weight_variance, bias_variance)
    theta = q if ntk else None
    for _ in range(depth):
        mean_sq, mean_dsq = activation.diag(q)
        q = weight_variance * mean_sq + bias_variance
        if ntk:
            theta = q + weight_variance * mean_dsq * theta
    return q, theta


def nngp_ntk_pairs(
    x1: Tensor,
    x2: Tensor,
    depth: int,
    activation: Activation,
    weight_variance: Tensor,
    bias_variance: Tensor,
    *,
    ntk: bool = True,
) -> tuple[Tensor, Tensor | None]:
    r"""Kernel values :math:`\Sigma^{L+1}(x_{1,i}, x_{2,i})` and :math:`\Theta^{L+1}(x_{1,i}, x_{2,i})`.

    The diagonal of the Gram matrix of two sets of the same size, pair by pair: the recursion
    of :func:`nngp_ntk` on the `n` pairs only (the activation maps are elementwise).

    Args:
        x1: A `... x n x d` tensor of inputs.
        x2: A `... x n x d` tensor of inputs (batch dims broadcast with `x1`).
        depth: Number of hidden layers :math:`L \ge 0`.
        activation: The activation's Gaussian expectations.
        weight_variance: :math:`\sigma_w^2`, a tensor broadcastable to `... x 1`.
        bias_variance: :math:`\sigma_b^2`, a tensor broadcastable to `... x 1`.
        ntk: Whether to compute the NTK values too.

    Returns:
        The NNGP values (`... x n`) and the NTK values (`... x n`, or None).
    """
    q1 = _input_variance(x1, weight_variance, bias_variance)
    q2 = _input_variance(x2, weight_variance, bias_variance)
    sigma = weight_variance * (x1 * x2).sum(-1) / x1.shape[-1] + bias_variance
    theta = sigma if ntk else None
    for _ in range(depth):
        mean, mean_d = activation.pair(sigma, q1, q2)
        sigma = weight_variance * mean + bias_variance
        if ntk:
            theta = sigma + weight_variance * mean_d * theta
        q1 = weight_variance * activation.diag(q1)[0] + bias_variance
        q2 = weight_variance * activation.diag(q2)[0] + bias_variance
    return sigma, theta


def nngp_ntk(
    x1: Tensor,
    x2: Tensor,
    depth: int,
    activation: Activation,
    weight_variance: Tensor,
    bias_variance: Tensor,
    *,
    ntk: bool = True,
) -> tuple[Tensor, Tensor | None]:
    r"""Gram matrices :math:`\Sigma^{L+1}(X_1, X_2)` and :math:`\Theta^{L+1}(X_1, X_2)`.

    Args:
        x1: A `... x n x d` tensor of inputs.
        x2: A `... x m x d` tensor of inputs (batch dims broadcast with `x1`).
        depth: Number of hidden layers :math:`L \ge 0`.
        activation: The activation's Gaussian expectations.
        weight_variance: :math:`\sigma_w^2`, a tensor broadcastable to `... x 1 x 1`.
        bias_variance: :math:`\sigma_b^2`, a tensor broadcastable to `... x 1 x 1`.
        ntk: Whether to compute the NTK too (the NNGP comes at no extra cost with it).

    Returns:
        The NNGP Gram matrix (`... x n x m`) and the NTK Gram matrix (or None).
    """
    wv1, bv1 = weight_variance[..., 0], bias_variance[..., 0]  # `... x 1` for the diagonals
    q1s = [q.unsqueeze(-1) for q in _layer_variances(x1, depth, activation, wv1, bv1)]
    q2s = [q.unsqueeze(-2) for q in _layer_variances(x2, depth, activation, wv1, bv1)]
    in_place = not torch.is_grad_enabled() or not any(
        t.requires_grad for t in (x1, x2, weight_variance, bias_variance)
    )
    x2t = x2.transpose(-2, -1)
    n, m = x1.shape[-2], x2.shape[-2]
    rows = max(1, _BLOCK_ELEMENTS // max(1, m * activation.cost))
    nngp_blocks, ntk_blocks = [], []
    for start in range(0, max(n, 1), rows):  # n = 0: one empty block of the right shape
        stop = min(n, start + rows)
        sigma = weight_variance * (x1[..., start:stop, :] @ x2t) / x1.shape[-1] + bias_variance
        theta = sigma.clone() if ntk else None
        for layer in range(depth):
            q1 = q1s[layer][..., start:stop, :]
            if in_place:
                activation.layer_(sigma, theta, q1, q2s[layer], weight_variance, bias_variance)
                continue
            if not ntk:
                sigma = activation.nngp_layer(sigma, q1, q2s[layer], weight_variance, bias_variance)
                continue
            mean, mean_d = activation.pair(sigma, q1, q2s[layer])
            sigma = torch.addcmul(bias_variance, weight_variance, mean)
            theta = torch.addcmul(sigma, weight_variance * mean_d, theta)
        nngp_blocks.append(sigma)
        ntk_blocks.append(theta)
    nngp = torch.cat(nngp_blocks, dim=-2) if len(nngp_blocks) > 1 else nngp_blocks[0]
    if not ntk:
        return nngp, None
    return nngp, torch.cat(ntk_blocks, dim=-2) if len(ntk_blocks) > 1 else ntk_blocks[0]
