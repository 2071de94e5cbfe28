"""Reference posteriors for evaluating GP-prior PFNs: the exact GP predictive and calibration.

The exact posterior predictive of GP regression with known hyperparameters is Gaussian:
mean ``k_*^T (K + s^2 I)^{-1} y`` and variance ``k_** - k_*^T (K + s^2 I)^{-1} k_* + s^2``
(Rasmussen & Williams 2006, eq. 2.23-2.24), computed here batched over datasets in float64.
"""

from __future__ import annotations

import torch
from gpytorch.kernels import RBFKernel, ScaleKernel
from scipy import stats
from torch import Tensor

from probtheory._checks import check_finite, check_real
from probtheory.errors import InputDataError

__all__ = ["exact_gp_predictive", "ks_uniform"]


def exact_gp_predictive(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, lengthscale: float, outputscale: float, noise: float
) -> torch.distributions.Normal:
    """Exact GP posterior predictive of noisy observations at the queries.

    Args:
        x_train: A `B x S x F` tensor (S may be 0).
        y_train: A `B x S` tensor.
        x_test: A `B x Q x F` tensor.
        lengthscale: RBF lengthscale.
        outputscale: Kernel variance.
        noise: Observation-noise variance.

    Returns:
        A Normal of batch shape `B x Q` (float64).
    """
    for name, t in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test)):
        check_finite(name, t)
    if x_train.dim() != 3 or y_train.shape != x_train.shape[:2]:
        raise InputDataError("y_train", "`B x S` matching x_train `B x S x F`", tuple(y_train.shape))
    if x_test.dim() != 3 or x_test.shape[0] != x_train.shape[0] or x_test.shape[-1] != x_train.shape[-1]:
        raise InputDataError(
            "x_test", f"a `{x_train.shape[0]} x Q x {x_train.shape[-1]}` tensor", tuple(x_test.shape)
        )
    for name, value in (("lengthscale", lengthscale), ("outputscale", outputscale), ("noise", noise)):
        check_real(name, value, positive=True)
    x_train, y_train, x_test = x_train.double(), y_train.double(), x_test.double()
    kernel = ScaleKernel(RBFKernel()).double()
    kernel.base_kernel.lengthscale = lengthscale
    kernel.outputscale = outputscale
    with torch.no_grad():
        prior_var = torch.full(x_test.shape[:2], outputscale + noise, dtype=torch.float64)
        if x_train.shape[1] == 0:
            return torch.distributions.Normal(torch.zeros_like(prior_var), prior_var.sqrt())
        k_tt = kernel(x_train).to_dense() + noise * torch.eye(x_train.shape[1], dtype=torch.float64)
        k_qt = kernel(x_test, x_train).to_dense()
        chol = torch.linalg.cholesky(k_tt)
        alpha = torch.cholesky_solve(y_train.unsqueeze(-1), chol)
        mean = (k_qt @ alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(chol, k_qt.transpose(-2, -1), upper=False)
        var = prior_var - (v**2).sum(-2)
    return torch.distributions.Normal(mean, var.clamp_min(1e-12).sqrt())


def ks_uniform(pit: Tensor) -> float:
    """Kolmogorov-Smirnov distance of PIT values from U(0, 1) (0: perfectly calibrated)."""
    return float(stats.kstest(pit.detach().flatten().cpu().numpy(), "uniform").statistic)
