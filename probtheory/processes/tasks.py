r"""Meta-learning tasks for neural processes: 1-D functions drawn from Gaussian processes.

The protocol of the neural-process benchmark used by Lee et al., *Martingale Posterior Neural
Processes* (ICLR 2023), after ``juho-lee/bnp`` (``1d_regression/data/gp.py``):
x ~ U(-2, 2); a batch shares one number of context points n_c ~ U{3, ..., N - 4} and of target
points n_t ~ U{3, ..., N - n_c - 1} (N = ``max_num_points`` = 50); y ~ N(0, K(x, x) + s^2 I) with
an RBF, Matérn-5/2 or periodic kernel; optionally heavy-tailed noise nu * t_df is added on top
(the paper's robustness task: train on RBF, evaluate with Student-t noise).

Kernel hyperparameters are drawn per task from ranges (a range ``(v, v)`` fixes them), and kept
in the batch so that :func:`exact_gp_log_likelihood` gives the Bayes-optimal reference: with the
true hyperparameters and Gaussian noise, the GP posterior predictive is the best any model can do
in expectation (an upper bound on the expected target log-likelihood of CNP / NP / MPNP).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from scipy import special
from torch import Tensor

from probtheory._checks import check_finite, check_int, check_name, check_real, make_generator
from probtheory.errors import InputDataError

__all__ = ["GPTaskSampler", "TaskBatch", "exact_gp_log_likelihood", "gp_kernel_matrix"]

KERNELS = ("rbf", "matern52", "periodic")


@dataclass(frozen=True)
class TaskBatch:
    """A batch of regression tasks split into context and target points (float64).

    Attributes:
        context_x: A `b x n_c x 1` tensor.
        context_y: A `b x n_c` tensor.
        target_x: A `b x n_t x 1` tensor.
        target_y: A `b x n_t` tensor.
        lengthscale: A `b` tensor, the kernel lengthscale of each task.
        outputscale: A `b` tensor, the kernel variance of each task.
        period: A `b` tensor (periodic kernel; ones otherwise).
        kernel: The kernel family name.
        noise_std: Standard deviation of the Gaussian observation noise.
    """

    context_x: Tensor
    context_y: Tensor
    target_x: Tensor
    target_y: Tensor
    lengthscale: Tensor
    outputscale: Tensor
    period: Tensor
    kernel: str
    noise_std: float

    def __post_init__(self) -> None:
        """Require finite tensors of consistent shapes (see the attributes) and a known kernel."""
        check_name("kernel", self.kernel, KERNELS, meaning="a GP kernel family")
        check_real("noise_std", self.noise_std, positive=True)
        for name in (
            "context_x",
            "context_y",
            "target_x",
            "target_y",
            "lengthscale",
            "outputscale",
            "period",
        ):
            check_finite(name, getattr(self, name))
        cx, tx = self.context_x, self.target_x
        if cx.dim() != 3 or cx.shape[-1] != 1:
            raise InputDataError("context_x", "a `b x n_c x 1` tensor", f"shape {tuple(cx.shape)}")
        b = cx.shape[0]
        if tx.dim() != 3 or tx.shape[0] != b or tx.shape[-1] != 1:
            raise InputDataError("target_x", f"a `{b} x n_t x 1` tensor", f"shape {tuple(tx.shape)}")
        if self.context_y.shape != cx.shape[:2]:
            raise InputDataError(
                "context_y", f"shape {tuple(cx.shape[:2])}", f"shape {tuple(self.context_y.shape)}"
            )
        if self.target_y.shape != tx.shape[:2]:
            raise InputDataError(
                "target_y", f"shape {tuple(tx.shape[:2])}", f"shape {tuple(self.target_y.shape)}"
            )
        for name in ("lengthscale", "outputscale", "period"):
            value = getattr(self, name)
            if value.shape != (b,) or not (value > 0).all():
                raise InputDataError(name, f"a `{b}` tensor of values > 0", f"shape {tuple(value.shape)}")

    @property
    def x(self) -> Tensor:
        """All inputs, context first: a `b x (n_c + n_t) x 1` tensor."""
        return torch.cat([self.context_x, self.target_x], dim=-2)

    @property
    def y(self) -> Tensor:
        """All outputs, context first: a `b x (n_c + n_t)` tensor."""
        return torch.cat([self.context_y, self.target_y], dim=-1)


def gp_kernel_matrix(
    kernel: str, x1: Tensor, x2: Tensor, lengthscale: Tensor, outputscale: Tensor, period: Tensor
) -> Tensor:
    """Kernel matrix of 1-D inputs, one kernel per batch element.

    Args:
        kernel: ``"rbf"``, ``"matern52"`` or ``"periodic"``.
        x1: A `b x n x 1` tensor.
        x2: A `b x m x 1` tensor.
        lengthscale: A `b` tensor.
        outputscale: A `b` tensor.
        period: A `b` tensor (used by the periodic kernel only).

    Returns:
        A `b x n x m` tensor.
    """
    check_name("kernel", kernel, KERNELS, meaning="a GP kernel family")
    for name, x in (("x1", x1), ("x2", x2)):
        check_finite(name, x)
        if x.dim() != 3 or x.shape[-1] != 1:
            raise InputDataError(name, "a `b x n x 1` tensor of 1-d inputs", f"shape {tuple(x.shape)}")
    b = x1.shape[0]
    if x2.shape[0] != b:
        raise InputDataError("x2", f"a `{b} x m x 1` tensor (the batch of `x1`)", f"shape {tuple(x2.shape)}")
    for name, value in (("lengthscale", lengthscale), ("outputscale", outputscale), ("period", period)):
        check_finite(name, value)
        if value.shape != (b,) or not (value > 0).all():
            raise InputDataError(
                name,
                f"a `{b}` tensor of values > 0",
                value.tolist() if value.numel() < 8 else f"shape {tuple(value.shape)}",
            )
    ls, os_, per = (v[:, None, None] for v in (lengthscale, outputscale, period))
    dist = (x1 - x2.transpose(-1, -2)).abs()
    if kernel == "rbf":
        return os_ * torch.exp(-0.5 * (dist / ls) ** 2)
    if kernel == "matern52":
        r = math.sqrt(5.0) * dist / ls
        return os_ * (1 + r + r**2 / 3) * torch.exp(-r)
    if kernel == "periodic":
        return os_ * torch.exp(-2 * torch.sin(math.pi * dist / per) ** 2 / ls**2)
    raise AssertionError(kernel)  # unreachable: checked above


def _uniform(low: float, high: float, size: int, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)


@dataclass(frozen=True)
class GPTaskSampler:
    """Draws batches of 1-D GP regression tasks (see the module docstring).

    Args:
        kernel: ``"rbf"``, ``"matern52"`` or ``"periodic"``.
        lengthscale: Range of the per-task lengthscale (``(v, v)`` fixes it).
        outputscale: Range of the per-task kernel variance.
        period: Range of the per-task period (periodic kernel only).
        noise_std: Gaussian observation-noise standard deviation (> 0).
        t_noise_scale: If set, add ``t_noise_scale * t_{t_noise_df}`` noise (heavy tails).
        t_noise_df: Degrees of freedom of the heavy-tailed noise.
        max_num_points: N, the largest number of context + target points.
        min_context: Fewest context points per batch (the bnp protocol uses 3).
        x_range: Inputs are uniform on this interval.

    Example:
        ```python
        sampler = GPTaskSampler("rbf", lengthscale=(0.3, 0.3))
        batch = sampler.sample(16, seed=0)     # batch.context_x: 16 x n_c x 1, batch.target_y: 16 x n_t
        exact_gp_log_likelihood(batch)         # per-task mean target log-likelihood (oracle)
        ```
    """

    kernel: str = "rbf"
    lengthscale: tuple[float, float] = (0.1, 0.6)
    outputscale: tuple[float, float] = (0.1, 1.0)
    period: tuple[float, float] = (0.5, 1.5)
    noise_std: float = 0.02
    t_noise_scale: float | None = None
    t_noise_df: float = 2.0
    max_num_points: int = 50
    min_context: int = 3
    x_range: tuple[float, float] = field(default=(-2.0, 2.0))

    def __post_init__(self) -> None:
        """Validate the options."""
        check_name("kernel", self.kernel, KERNELS, meaning="a GP kernel family")
        for name in ("lengthscale", "outputscale", "period", "x_range"):
            value = getattr(self, name)
            if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
                raise InputDataError(name, "a range (low, high) of two numbers", repr(value))
            low, high = value
            positive = name != "x_range"
            check_real(name, low, positive=positive)
            if check_real(name, high, positive=positive) < low or (not positive and high == low):
                raise InputDataError(
                    name,
                    "a range (low, high) with low <= high"
                    if positive
                    else "an interval (low, high) with low < high",
                    (low, high),
                )
        check_real("noise_std", self.noise_std, positive=True)
        if self.t_noise_scale is not None:
            check_real("t_noise_scale", self.t_noise_scale, positive=True)
        check_real("t_noise_df", self.t_noise_df, positive=True)
        check_int("min_context", self.min_context, minimum=1)
        check_int("max_num_points", self.max_num_points, minimum=self.min_context + 4)

    def sample(
        self,
        batch_size: int,
        num_context: int | None = None,
        num_target: int | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> TaskBatch:
        """Draw ``batch_size`` tasks and split each into context and target points.

        Args:
            batch_size: Number of tasks b.
            num_context: Context points per task (default: random, bnp protocol).
            num_target: Target points per task (default: random, bnp protocol).
            seed: Seed of a fresh generator (ignored when ``generator`` is given).
            generator: A torch generator to draw from (advanced by the call).

        Returns:
            A :class:`TaskBatch` with float64 tensors.
        """
        batch_size = check_int("batch_size", batch_size, minimum=1)
        generator = make_generator(seed, generator)
        big_n = self.max_num_points
        if num_context is None:
            num_context = int(torch.randint(self.min_context, big_n - 3, (), generator=generator))
        num_context = check_int("num_context", num_context, minimum=1)
        if num_target is None:
            high = max(big_n - num_context, 4)
            num_target = int(torch.randint(3, high, (), generator=generator))
        num_target = check_int("num_target", num_target, minimum=1)
        n = num_context + num_target
        low, high = self.x_range
        x = low + (high - low) * torch.rand(batch_size, n, 1, generator=generator, dtype=torch.float64)
        ls = _uniform(*self.lengthscale, batch_size, generator)
        os_ = _uniform(*self.outputscale, batch_size, generator)
        per = (
            _uniform(*self.period, batch_size, generator)
            if self.kernel == "periodic"
            else torch.ones_like(ls)
        )
        cov = gp_kernel_matrix(self.kernel, x, x, ls, os_, per)
        cov = cov + self.noise_std**2 * torch.eye(n, dtype=torch.float64)
        z = torch.randn(batch_size, n, 1, generator=generator, dtype=torch.float64)
        y = (torch.linalg.cholesky(cov) @ z).squeeze(-1)
        if self.t_noise_scale is not None:
            # t draws by the inverse cdf of a generator-driven uniform: reproducible under `seed`
            u = torch.rand(batch_size, n, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
            t = torch.as_tensor(special.stdtrit(self.t_noise_df, u.numpy()), dtype=torch.float64)
            y = y + self.t_noise_scale * t
        c = num_context
        return TaskBatch(
            x[:, :c], y[:, :c], x[:, c:], y[:, c:], ls, os_, per, self.kernel, float(self.noise_std)
        )


def exact_gp_log_likelihood(batch: TaskBatch) -> Tensor:
    """Per-task mean target log-likelihood under the GP posterior with the true hyperparameters.

    This is the Bayes-optimal predictive when the data are Gaussian (no ``t_noise_scale``): no
    amortised model beats it in expectation. With heavy-tailed noise it is only a reference.

    Returns:
        A `b` tensor: the mean over the targets of log N(y_t; mu_t, var_t + s^2), per task.
    """
    if not isinstance(batch, TaskBatch):
        raise InputDataError("batch", "a TaskBatch (e.g. GPTaskSampler(...).sample(b))", type(batch).__name__)
    args = (batch.lengthscale, batch.outputscale, batch.period)
    k_cc = gp_kernel_matrix(batch.kernel, batch.context_x, batch.context_x, *args)
    k_tc = gp_kernel_matrix(batch.kernel, batch.target_x, batch.context_x, *args)
    k_tt = batch.outputscale[:, None].expand(-1, batch.target_x.shape[-2])
    noise = batch.noise_std**2
    chol = torch.linalg.cholesky(k_cc + noise * torch.eye(k_cc.shape[-1], dtype=k_cc.dtype))
    alpha = torch.cholesky_solve(batch.context_y.unsqueeze(-1), chol)
    mean = (k_tc @ alpha).squeeze(-1)
    v = torch.linalg.solve_triangular(chol, k_tc.transpose(-1, -2), upper=False)
    var = (k_tt - v.square().sum(-2)).clamp_min(0) + noise
    return torch.distributions.Normal(mean, var.sqrt()).log_prob(batch.target_y).mean(-1)
