"""Exact GP regression with an RBF kernel, batched over datasets with their own hyperparameters.

The priors draw from it (:func:`~probtheory.pfn.priors.gp_sample`) and condition on a context
with it (the posterior targets of :class:`~probtheory.pfn.priors.Batch`); the evaluation's
reference predictives (:mod:`probtheory.pfn.evaluation`) are built on it. The predictive of a
noisy observation has mean ``k_*^T (K + s^2 I)^{-1} y`` and variance
``k_** - k_*^T (K + s^2 I)^{-1} k_* + s^2`` (Rasmussen & Williams 2006, eq. 2.23-2.24); the log
marginal likelihood is eq. 2.30.
"""

from __future__ import annotations

import math

import torch
from gpytorch.kernels import RBFKernel, ScaleKernel
from torch import Tensor

__all__ = ["gp_predictive", "rbf_kernels"]


def rbf_kernels(lengthscale: Tensor, outputscale: Tensor) -> ScaleKernel:
    """N batched RBF kernels (GPyTorch's), one per row of the `N` hyperparameter tensors."""
    n = lengthscale.shape[0]
    kernel = ScaleKernel(RBFKernel(batch_shape=torch.Size([n])), batch_shape=torch.Size([n])).to(lengthscale)
    kernel.base_kernel.lengthscale = lengthscale.reshape(n, 1, 1)
    kernel.outputscale = outputscale
    return kernel


def gp_predictive(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, lengthscale: Tensor, outputscale: Tensor, noise: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Predictive mean and variance of noisy observations (`N x Q`) and log marginal likelihood (`N`).

    One GP per row: ``x_train`` `N x S x F` (S may be 0: the prior predictive), ``y_train``
    `N x S`, ``x_test`` `N x Q x F`, and `N` tensors of hyperparameters (RBF lengthscale, kernel
    variance, noise variance), all of one floating dtype (float64 for accurate solves). No
    argument checks: the public callers check.
    """
    prior_var = (outputscale + noise)[:, None].expand(x_test.shape[:2])
    if x_train.shape[1] == 0:
        return torch.zeros_like(prior_var), prior_var, torch.zeros_like(outputscale)
    n = x_train.shape[1]
    kernel = rbf_kernels(lengthscale, outputscale)
    k_tt = kernel(x_train).to_dense() + noise[:, None, None] * torch.eye(n, dtype=x_train.dtype)
    chol = torch.linalg.cholesky(k_tt)
    k_qt = kernel(x_test, x_train).to_dense()
    alpha = torch.cholesky_solve(y_train.unsqueeze(-1), chol)
    mean = (k_qt @ alpha).squeeze(-1)
    v = torch.linalg.solve_triangular(chol, k_qt.transpose(-2, -1), upper=False)
    var = (prior_var - v.square().sum(-2)).clamp_min(1e-12)
    white = torch.linalg.solve_triangular(chol, y_train.unsqueeze(-1), upper=False).squeeze(-1)
    log_evidence = (
        -0.5 * white.square().sum(-1)
        - torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)
        - 0.5 * n * math.log(2 * math.pi)
    )
    return mean, var, log_evidence
