r"""Closed-form training dynamics of wide networks under kernel gradient descent.

In the infinite-width limit, full-batch gradient descent on the mean squared error
:math:`\mathcal L = \frac{1}{2NK}\sum_i \lVert f(x_i) - y_i\rVert^2` (N examples, K outputs;
neural-tangents' normalisation) moves the network function by the NTK
(Jacot et al. 2018, §5; Lee et al. 2019, eq. (8)):

.. math::
    f_{k+1}(X) = f_k(X) - \tfrac{\eta}{NK}\,\Theta(X, X)\,(f_k(X) - Y), \qquad
    f_{k+1}(x_*) = f_k(x_*) - \tfrac{\eta}{NK}\,\Theta(x_*, X)\,(f_k(X) - Y).

Discrete GD is stable iff :math:`\eta < 2NK/\lambda_{\max}(\Theta)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_finite, check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["KernelGDTrajectory", "gradient_descent_mse"]


@dataclass(frozen=True)
class KernelGDTrajectory:
    """Predicted outputs after each step: `steps+1 x N x K` (train) and `steps+1 x M x K` (test)."""

    train: Tensor
    test: Tensor | None


def gradient_descent_mse(
    k_train_train: Tensor,
    y_train: Tensor,
    learning_rate: float,
    steps: int,
    *,
    f0_train: Tensor | None = None,
    k_test_train: Tensor | None = None,
    f0_test: Tensor | None = None,
) -> KernelGDTrajectory:
    """Outputs of discrete kernel gradient descent on the MSE, step by step.

    Args:
        k_train_train: The `N x N` NTK on the training inputs.
        y_train: An `N x K` tensor of targets.
        learning_rate: The step size eta (> 0).
        steps: Number of steps (>= 0).
        f0_train: Outputs at initialisation on the training inputs (`N x K`, default 0).
        k_test_train: The `M x N` NTK between test and training inputs.
        f0_test: Outputs at initialisation on the test inputs (`M x K`, default 0).

    Returns:
        The trajectory of train (and test) outputs, including step 0.
    """
    check_finite("k_train_train", k_train_train)
    check_finite("y_train", y_train)
    n = k_train_train.shape[-1] if k_train_train.dim() else 0
    if k_train_train.dim() != 2 or k_train_train.shape != (n, n) or n == 0:
        raise InputDataError(
            "k_train_train", "a square `N x N` matrix with N >= 1", tuple(k_train_train.shape)
        )
    if y_train.dim() != 2 or y_train.shape[0] != n or y_train.shape[1] == 0:
        raise InputDataError("y_train", f"an `{n} x K` tensor with K >= 1", tuple(y_train.shape))
    lr = check_real("learning_rate", learning_rate, positive=True)
    steps = check_int("steps", steps, minimum=0)
    # functions follow their inputs: every tensor in the common (widest) floating dtype
    dtype = torch.promote_types(k_train_train.dtype, y_train.dtype)
    k_train_train, y_train = k_train_train.to(dtype), y_train.to(dtype)
    if f0_train is None:
        f = torch.zeros_like(y_train)
    else:
        f = check_finite("f0_train", f0_train).to(dtype).clone()
        if f.shape != y_train.shape:
            raise InputDataError("f0_train", f"shape {tuple(y_train.shape)}", tuple(f.shape))
    g = None
    if k_test_train is None and f0_test is not None:
        raise InputDataError("k_test_train", "the `M x N` test-train NTK when `f0_test` is given", None)
    if k_test_train is not None:
        check_finite("k_test_train", k_test_train)
        if k_test_train.dim() != 2 or k_test_train.shape[1] != n:
            raise InputDataError("k_test_train", f"an `M x {n}` matrix", tuple(k_test_train.shape))
        k_test_train = k_test_train.to(dtype)
        m = k_test_train.shape[0]
        if f0_test is None:
            g = y_train.new_zeros(m, y_train.shape[1])
        else:
            g = check_finite("f0_test", f0_test).to(dtype).clone()
            if g.shape != (m, y_train.shape[1]):
                raise InputDataError("f0_test", f"shape {(m, y_train.shape[1])}", tuple(g.shape))
    scale = lr / y_train.numel()
    train, test = [f], [g]
    for _ in range(steps):
        residual = f - y_train
        f = f - scale * (k_train_train @ residual)
        if g is not None:
            g = g - scale * (k_test_train @ residual)
        train.append(f)
        test.append(g)
    return KernelGDTrajectory(torch.stack(train), None if g is None else torch.stack(test))
