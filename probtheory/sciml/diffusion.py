"""Gradients through diffusion samplers by the adjoint method (AdjointDPM).

Pan, Liew, Tan, Feng & Yan, *AdjointDPM: Adjoint Sensitivity Method for Gradient Backpropagation
of Diffusion Probabilistic Models*, ICLR 2024, Sec. 3. A DDPM with cumulative signal level
``abar(t)`` and noise predictor ``eps_theta(x, t, c)`` samples by the probability-flow ODE. In the
sigma-form of the paper (the exponential-integrator change of variables that also underlies DDIM
and DPM-Solver), with

    sigma(t) = sqrt((1 - abar(t)) / abar(t)),   y = x / sqrt(abar) = x sqrt(1 + sigma^2),

the semi-linear part of the ODE disappears:

    dy / dsigma = eps_theta(y / sqrt(1 + sigma^2), t(sigma), c),

integrated from sigma_max (pure noise x_T) down to sigma_min. One Euler step of it is exactly the
deterministic DDIM update (Song et al., ICLR 2021, Eq. 12 with eta = 0).

The gradient of a loss L(x_0) with respect to the initial noise x_T, the conditioning c and the
weights theta is computed by the adjoint sensitivity method (Chen et al., NeurIPS 2018; AdjointDPM
Sec. 3): with a(sigma) = dL/dy(sigma),

    da/dsigma = -a^T d eps/dy,   dL/dc = int_{sigma_max}^{sigma_min} a^T d eps/dc dsigma,
    dL/dtheta = int_{sigma_max}^{sigma_min} a^T d eps/dtheta dsigma,

solved *backward* from sigma_min to sigma_max together with y itself (the augmented state
[y, a, dL/dc, dL/dtheta]) by the same fixed-step solver. Nothing of the forward solve is stored,
so the memory held for backward is that of one eps evaluation whatever the number of steps; the
price is one vector-Jacobian product per solver stage and a gradient that matches backprop through
the discretised solve only up to the solver's discretisation error (O(h^4) for RK4).

Choices where the paper leaves room: the step grid is uniform in the DDPM timestep (DDIM's grid),
from t = T - 1 to t = 0, so ``steps`` Euler steps are ``steps`` DDIM steps; between the schedule's
integer timesteps, log sigma is interpolated linearly in t (RK4's half-step stages need t(sigma)
off the grid); the ODE stops at sigma(0), the schedule's first level (0.01 for Ho et al.'s linear
schedule), not at sigma = 0 (DDIM implementations that set abar = 1 for the last step go there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import (
    check_bool,
    check_finite,
    check_generator,
    check_instance,
    check_int,
    check_interval,
    check_name,
)
from probtheory.errors import InputDataError

__all__ = ["NoiseSchedule", "ProbabilityFlowSampler", "denoising_loss"]

METHODS = ("euler", "rk4")


class NoiseSchedule:
    """A DDPM noise schedule: the cumulative signal levels ``abar_0 > abar_1 > ... > abar_{T-1}``.

    ``sigma_t = sqrt((1 - abar_t) / abar_t)`` is the noise-to-signal ratio of timestep ``t``; it must
    grow strictly with ``t``, or the probability-flow ODE in sigma would run backwards in places.
    Between integer timesteps, ``log sigma`` is interpolated linearly in ``t``.

    Args:
        alphas_cumprod: A `T` tensor (T >= 2) of cumulative signal levels in (0, 1), strictly
            decreasing.

    Raises:
        InputDataError: If ``alphas_cumprod`` is not a 1-D tensor of at least two finite values in
            (0, 1), or is not strictly decreasing (a non-monotone schedule).
    """

    def __init__(self, alphas_cumprod: Tensor) -> None:
        if not isinstance(alphas_cumprod, Tensor):
            alphas_cumprod = _as_float64("alphas_cumprod", alphas_cumprod)
        check_finite("alphas_cumprod", alphas_cumprod)
        if alphas_cumprod.dim() != 1 or alphas_cumprod.numel() < 2:
            raise InputDataError(
                "alphas_cumprod", "a 1-D tensor of at least 2 levels", f"shape {tuple(alphas_cumprod.shape)}"
            )
        abar = alphas_cumprod.detach().to(torch.float64)
        if bool(((abar <= 0) | (abar >= 1)).any()):
            raise InputDataError("alphas_cumprod", "levels strictly inside (0, 1)", _extremes(abar))
        rises = torch.nonzero(abar[1:] >= abar[:-1]).flatten()
        if rises.numel():
            k = int(rises[0])
            raise InputDataError(
                "alphas_cumprod",
                "a strictly decreasing schedule (noise grows with t)",
                f"a non-monotone one: abar[{k}] = {abar[k].item():.6g} <= "
                f"abar[{k + 1}] = {abar[k + 1].item():.6g}",
            )
        self._abar = abar
        self._log_sigmas = 0.5 * (torch.log1p(-abar) - torch.log(abar))

    @classmethod
    def from_betas(cls, betas: Tensor) -> NoiseSchedule:
        """The schedule of per-step noise variances ``betas`` (``abar_t = prod_{s <= t} (1 - beta_s)``).

        Args:
            betas: A `T` tensor of variances in (0, 1).

        Raises:
            InputDataError: If a beta is outside (0, 1) or not finite.
        """
        if not isinstance(betas, Tensor):
            betas = _as_float64("betas", betas)
        check_finite("betas", betas)
        betas = betas.detach().to(torch.float64)
        if bool(((betas <= 0) | (betas >= 1)).any()):
            raise InputDataError("betas", "variances strictly inside (0, 1)", _extremes(betas))
        return cls(torch.cumprod(1.0 - betas, dim=0))

    @classmethod
    def linear(cls, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 2e-2) -> NoiseSchedule:
        """Ho et al.'s (NeurIPS 2020) linear schedule: ``betas`` evenly spaced from start to end.

        Args:
            num_steps: Number of timesteps T (>= 2).
            beta_start: The first variance, in (0, 1).
            beta_end: The last variance, in (0, 1), at least ``beta_start``.
        """
        num_steps = check_int("num_steps", num_steps, minimum=2)
        beta_start = check_interval("beta_start", beta_start, 0.0, 1.0, closed=(False, False))
        beta_end = check_interval("beta_end", beta_end, beta_start, 1.0, closed=(True, False))
        return cls.from_betas(torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64))

    @property
    def num_steps(self) -> int:
        """Number of timesteps T."""
        return self._abar.numel()

    @property
    def alphas_cumprod(self) -> Tensor:
        """The `T` float64 tensor of cumulative signal levels."""
        return self._abar.clone()

    @property
    def sigmas(self) -> Tensor:
        """The `T` float64 tensor of noise-to-signal ratios ``sigma_t``, strictly increasing."""
        return self._log_sigmas.exp()

    def sigma(self, t: Tensor | float) -> Tensor:
        """``sigma(t)`` for real ``t`` in ``[0, T - 1]``: log sigma interpolated linearly in t.

        Args:
            t: A tensor (any shape) or a number of timesteps.

        Returns:
            A float64 tensor of the shape of ``t``.

        Raises:
            InputDataError: If a timestep lies outside ``[0, T - 1]`` or is not finite.
        """
        t = _as_float64("t", t)
        if bool(((t < 0) | (t > self.num_steps - 1)).any()):
            raise InputDataError("t", f"timesteps in [0, {self.num_steps - 1}]", _extremes(t))
        low = t.floor().clamp(max=self.num_steps - 2).long()
        frac = t - low
        return torch.exp(self._log_sigmas[low] + frac * (self._log_sigmas[low + 1] - self._log_sigmas[low]))

    def timestep(self, sigma: Tensor | float) -> Tensor:
        """The inverse of :meth:`sigma`: the real timestep of a noise-to-signal ratio.

        Args:
            sigma: A tensor (any shape) or a number in ``[sigma_0, sigma_{T-1}]``.

        Returns:
            A float64 tensor of the shape of ``sigma``.

        Raises:
            InputDataError: If a value lies outside ``[sigma_0, sigma_{T-1}]`` (beyond a relative
                1e-12 of round-off).
        """
        sigma = _as_float64("sigma", sigma)
        log_sigma = torch.log(sigma.clamp(min=torch.finfo(torch.float64).tiny))
        low_end, high_end = self._log_sigmas[0], self._log_sigmas[-1]
        if bool(((log_sigma < low_end - 1e-12) | (log_sigma > high_end + 1e-12) | (sigma <= 0)).any()):
            received = _extremes(sigma)
            expected = f"noise levels in [{low_end.exp().item():.6g}, {high_end.exp().item():.6g}]"
            raise InputDataError("sigma", expected, received)
        log_sigma = log_sigma.clamp(low_end, high_end)
        upper = torch.searchsorted(self._log_sigmas, log_sigma).clamp(1, self.num_steps - 1)
        lower = upper - 1
        frac = (log_sigma - self._log_sigmas[lower]) / (self._log_sigmas[upper] - self._log_sigmas[lower])
        return lower.to(torch.float64) + frac

    def add_noise(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """The forward (noising) process: ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.

        Args:
            x0: An `n x ...` tensor of clean data.
            t: An `n` integer tensor of timesteps in ``[0, T - 1]``.
            noise: A tensor of ``x0``'s shape.

        Returns:
            The `n x ...` noised tensor, in ``x0``'s dtype.
        """
        check_finite("x0", x0)
        if noise.shape != x0.shape:
            raise InputDataError("noise", f"x0's shape {tuple(x0.shape)}", f"shape {tuple(noise.shape)}")
        if t.dim() != 1 or t.shape[0] != x0.shape[0] or t.is_floating_point():
            raise InputDataError(
                "t", f"an integer tensor of {x0.shape[0]} timesteps", f"{t.dtype} {tuple(t.shape)}"
            )
        if bool(((t < 0) | (t >= self.num_steps)).any()):
            raise InputDataError("t", f"timesteps in [0, {self.num_steps - 1}]", _extremes(t))
        abar = self._abar.to(x0.device)[t].to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def __repr__(self) -> str:
        return f"NoiseSchedule(T={self.num_steps}, sigma in [{self.sigmas[0]:.4g}, {self.sigmas[-1]:.4g}])"


def denoising_loss(
    schedule: NoiseSchedule, *, generator: torch.Generator | None = None
) -> Callable[[nn.Module, Any], Tensor]:
    """Ho et al.'s (NeurIPS 2020, Eq. 14) noise-prediction loss, a ``loss`` for ``training.fit``.

    For a batch ``x0`` (or ``(x0,)``, or ``(x0, c)`` with conditioning), draws ``t`` uniformly from
    ``{0, ..., T - 1}`` and ``noise ~ N(0, I)``, and returns ``mean |eps_model(x_t, t, [c]) - noise|^2``
    with ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``. The model gets ``t`` as a float tensor of
    timesteps, as :class:`ProbabilityFlowSampler` passes it.

    Args:
        schedule: The noise schedule.
        generator: Source of ``t`` and the noise (``None``: torch's global generator).

    Returns:
        ``loss(eps_model, batch) -> scalar tensor``.
    """
    check_instance("schedule", schedule, NoiseSchedule, "a NoiseSchedule")
    check_generator("generator", generator)

    def loss(eps_model: nn.Module, batch: Any) -> Tensor:
        if isinstance(batch, Tensor):
            x0, cond = batch, None
        elif isinstance(batch, Sequence) and len(batch) in (1, 2) and isinstance(batch[0], Tensor):
            x0, cond = batch[0], (batch[1] if len(batch) == 2 else None)
        else:
            raise InputDataError("batch", "a tensor x0, (x0,) or (x0, c)", type(batch).__name__)
        t = torch.randint(schedule.num_steps, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        x_t = schedule.add_noise(x0, t, noise)
        args = (x_t, t.to(x0.dtype)) + (() if cond is None else (cond,))
        return (eps_model(*args) - noise).pow(2).mean()

    return loss


class ProbabilityFlowSampler(nn.Module):
    """Deterministic DDPM sampling by the sigma-form probability-flow ODE, differentiable by adjoint.

    ``sampler(x_T, c)`` integrates ``dy/dsigma = eps_model(y / sqrt(1 + sigma^2), t(sigma), c)`` from
    ``y = x_T sqrt(1 + sigma_max^2)`` down to ``sigma_min = sigma(0)`` in ``steps`` fixed steps,
    uniform in the timestep (one Euler step is one DDIM step), and returns
    ``x_0 = y / sqrt(1 + sigma_min^2)``. With ``adjoint=True`` the backward pass solves the adjoint
    ODE backward in sigma (AdjointDPM, Pan et al., ICLR 2024, Sec. 3), giving gradients with
    respect to ``x_T``, ``c`` and every parameter of ``eps_model`` that requires grad, with memory
    independent of ``steps``; with ``adjoint=False`` autograd backpropagates through the discretised
    solve (memory linear in ``steps``).

    Args:
        eps_model: The noise predictor, called ``eps_model(x, t)`` or ``eps_model(x, t, c)`` with
            `x` an `n x ...` tensor, `t` an `n` float tensor of (real) timesteps in ``[0, T - 1]``
            and ``c`` the conditioning as given; returns a tensor of ``x``'s shape.
        schedule: The noise schedule the model was trained with.
        steps: Number of solver steps (>= 1).
        adjoint: Compute gradients by the adjoint ODE (default) instead of by backprop.
        method: ``"rk4"`` (classical Runge-Kutta, order 4) or ``"euler"`` (order 1; DDIM).

    Raises:
        InputDataError: If ``steps < 1``, ``method`` is unknown, ``schedule`` is not a
            :class:`NoiseSchedule` or ``eps_model`` is not an ``nn.Module``.
    """

    def __init__(
        self,
        eps_model: nn.Module,
        schedule: NoiseSchedule,
        steps: int,
        adjoint: bool = True,
        *,
        method: str = "rk4",
    ) -> None:
        super().__init__()
        self.eps_model = check_instance(
            "eps_model", eps_model, nn.Module, "an nn.Module (the noise predictor)"
        )
        self.schedule = check_instance("schedule", schedule, NoiseSchedule, "a NoiseSchedule")
        self.steps = check_int("steps", steps, minimum=1)
        self.adjoint = check_bool("adjoint", adjoint)
        self.method = check_name("method", method, METHODS, meaning="an ODE solver")
        # the grid, uniform in t from T - 1 to 0; python floats so that every stage is float64-exact
        times = torch.linspace(schedule.num_steps - 1, 0, self.steps + 1, dtype=torch.float64)
        sigmas = schedule.sigma(times)
        mid_sigmas = 0.5 * (sigmas[1:] + sigmas[:-1])
        self._times = times.tolist()
        self._sigmas = sigmas.tolist()
        self._mid_sigmas = mid_sigmas.tolist()
        self._mid_times = schedule.timestep(mid_sigmas).tolist()

    @property
    def sigmas(self) -> Tensor:
        """The `steps + 1` float64 grid of noise levels, from sigma_max down to sigma_min."""
        return torch.tensor(self._sigmas, dtype=torch.float64)

    @property
    def timesteps(self) -> Tensor:
        """The `steps + 1` float64 grid of timesteps, from T - 1 down to 0."""
        return torch.tensor(self._times, dtype=torch.float64)

    def forward(self, x_T: Tensor, cond: Tensor | None = None) -> Tensor:
        """Sample ``x_0`` from the initial noise ``x_T``.

        Args:
            x_T: An `n x ...` floating tensor of initial noise (a draw of N(0, I)).
            cond: Conditioning passed to ``eps_model`` as its third argument (a floating tensor,
                e.g. an embedding, gets a gradient; an integer one, e.g. class labels, does not), or
                ``None`` (the model is then called with two arguments).

        Returns:
            The `n x ...` samples ``x_0``, differentiable with respect to ``x_T``, ``cond`` and the
            model's parameters.

        Raises:
            InputDataError: If ``x_T`` is not a finite floating tensor, ``cond`` is neither ``None``
                nor a tensor (finite, if floating), or ``eps_model`` returns a tensor of another shape.
        """
        check_finite("x_T", x_T)
        if x_T.dim() < 1 or x_T.shape[0] == 0:
            raise InputDataError("x_T", "an `n x ...` tensor with n >= 1", f"shape {tuple(x_T.shape)}")
        if cond is not None:
            if not isinstance(cond, Tensor):
                raise InputDataError("cond", "a tensor or None", type(cond).__name__)
            if cond.is_floating_point():
                check_finite("cond", cond)
        params = tuple(p for p in self.eps_model.parameters() if p.requires_grad)
        needs_grad = torch.is_grad_enabled() and (
            x_T.requires_grad or (cond is not None and cond.requires_grad) or bool(params)
        )
        if not self.adjoint or not needs_grad:
            return self._solve(x_T, cond)
        return _AdjointSolve.apply(self, x_T, cond, *params)

    # --- the ODE ---------------------------------------------------------------------------------

    def _velocity(self, y: Tensor, sigma: float, t: float, cond: Tensor | None) -> Tensor:
        """``dy/dsigma = eps(y / sqrt(1 + sigma^2), t, c)``: the sigma-form probability-flow ODE."""
        x = y * (1.0 / math.sqrt(1.0 + sigma * sigma))
        t_batch = torch.full((y.shape[0],), t, dtype=y.dtype, device=y.device)
        eps = self.eps_model(x, t_batch) if cond is None else self.eps_model(x, t_batch, cond)
        if not isinstance(eps, Tensor) or eps.shape != y.shape:
            shape = tuple(eps.shape) if isinstance(eps, Tensor) else type(eps).__name__
            raise InputDataError("eps_model", f"a model returning x's shape {tuple(y.shape)}", shape)
        return eps

    def _solve(self, x_T: Tensor, cond: Tensor | None) -> Tensor:
        """The forward solve from sigma_max to sigma_min (differentiable by autograd if grad is on)."""
        y = x_T * math.sqrt(1.0 + self._sigmas[0] ** 2)
        for i in range(self.steps):
            y = self._step(lambda z, s, t: [self._velocity(z[0], s, t, cond)], [y], i, forward=True)[0]
        return y * (1.0 / math.sqrt(1.0 + self._sigmas[-1] ** 2))

    def _step(
        self, derivative: Callable[[list[Tensor], float, float], list[Tensor]], state: list[Tensor], i: int,
        *, forward: bool,
    ) -> list[Tensor]:  # fmt: skip
        """One solver step between grid points ``i`` and ``i + 1`` (forward) or back (``forward=False``)."""
        start, end = (i, i + 1) if forward else (i + 1, i)
        s0, s1, t0, t1 = self._sigmas[start], self._sigmas[end], self._times[start], self._times[end]
        h = s1 - s0
        k1 = derivative(state, s0, t0)
        if self.method == "euler":
            return [x + h * k for x, k in zip(state, k1, strict=True)]
        sm, tm = self._mid_sigmas[i], self._mid_times[i]
        k2 = derivative([x + (h / 2) * k for x, k in zip(state, k1, strict=True)], sm, tm)
        k3 = derivative([x + (h / 2) * k for x, k in zip(state, k2, strict=True)], sm, tm)
        k4 = derivative([x + h * k for x, k in zip(state, k3, strict=True)], s1, t1)
        return [
            x + (h / 6) * (a + 2 * b + 2 * c + d) for x, a, b, c, d in zip(state, k1, k2, k3, k4, strict=True)
        ]

    # --- the adjoint -----------------------------------------------------------------------------

    def _augmented_derivative(
        self, state: list[Tensor], sigma: float, t: float, cond: Tensor | None, cond_gradient: bool
    ) -> list[Tensor]:
        """d/dsigma of ``[y, a, dL/dc, dL/dtheta...]``: ``[eps, -a^T eps_y, -a^T eps_c, -a^T eps_theta]``."""
        y, a = state[0], state[1]
        with torch.enable_grad():
            y_in = y.detach().requires_grad_(True)
            cond_in = cond.detach().requires_grad_(True) if cond_gradient else cond
            eps = self._velocity(y_in, sigma, t, cond_in)
            wrt = [y_in] + ([cond_in] if cond_gradient else [])
            params = [p for p in self.eps_model.parameters() if p.requires_grad]
            products = torch.autograd.grad(eps, wrt + params, grad_outputs=a, allow_unused=True)
        products = [
            torch.zeros_like(x) if g is None else g for g, x in zip(products, wrt + params, strict=True)
        ]
        products = self._parameter_products(products, len(wrt))
        return [eps.detach()] + [-g for g in products]

    def _parameter_products(self, products: list[Tensor], first_parameter: int) -> list[Tensor]:
        """The vector-Jacobian products ``[a^T eps_y, (a^T eps_c), a^T eps_theta...]`` (a hook for checks)."""
        return products

    def _adjoint_gradients(
        self, x_0: Tensor, grad_x0: Tensor, cond: Tensor | None
    ) -> tuple[Tensor, Tensor | None, list[Tensor]]:
        """Solve ``[y, a, dL/dc, dL/dtheta]`` backward from sigma_min to sigma_max (AdjointDPM Sec. 3)."""
        params = [p for p in self.eps_model.parameters() if p.requires_grad]
        y = x_0 * math.sqrt(1.0 + self._sigmas[-1] ** 2)
        a = grad_x0 * (1.0 / math.sqrt(1.0 + self._sigmas[-1] ** 2))  # dL/dy = dL/dx_0 dx_0/dy
        has_cond = cond is not None and cond.is_floating_point()
        state = (
            [y, a] + ([torch.zeros_like(cond)] if has_cond else []) + [torch.zeros_like(p) for p in params]
        )

        def derivative(s: list[Tensor], sigma: float, t: float) -> list[Tensor]:
            return self._augmented_derivative(s, sigma, t, cond, has_cond)

        for i in reversed(range(self.steps)):
            state = self._step(derivative, state, i, forward=False)
        grad_x_T = state[1] * math.sqrt(1.0 + self._sigmas[0] ** 2)
        grad_cond = state[2] if has_cond else None
        return grad_x_T, grad_cond, state[2 + int(has_cond) :]


class _AdjointSolve(torch.autograd.Function):
    """Forward: the solve without a graph. Backward: the adjoint ODE, solved backward in sigma."""

    @staticmethod
    def forward(ctx, sampler: ProbabilityFlowSampler, x_T: Tensor, cond: Tensor | None, *params: Tensor):
        x_0 = sampler._solve(x_T.detach(), None if cond is None else cond.detach())
        ctx.sampler = sampler
        ctx.has_cond = cond is not None
        ctx.save_for_backward(x_0, *(() if cond is None else (cond,)))
        return x_0

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_x0: Tensor):
        saved = ctx.saved_tensors
        x_0, cond = saved[0], (saved[1] if ctx.has_cond else None)
        grad_x_T, grad_cond, grad_params = ctx.sampler._adjoint_gradients(x_0, grad_x0, cond)
        return (None, grad_x_T, grad_cond, *grad_params)


def _as_float64(name: str, values: object) -> Tensor:
    """A float64 tensor of finite ``values`` (a number, a sequence or a tensor)."""
    if isinstance(values, Tensor):
        tensor = values.detach()
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise InputDataError(name, "real numbers", f"dtype {tensor.dtype}")
        tensor = tensor.to(torch.float64)
    else:
        try:
            tensor = torch.as_tensor(values, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as error:
            raise InputDataError(name, "real numbers", f"{values!r}") from error
    if not torch.isfinite(tensor).all():
        raise InputDataError(name, "finite values", "a value that is NaN or infinite")
    return tensor


def _extremes(values: Tensor) -> str:
    return f"values from {values.min().item():.6g} to {values.max().item():.6g}"
