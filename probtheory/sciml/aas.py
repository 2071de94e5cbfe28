r"""Adversarial adaptive sampling (AAS): collocation points from a flow trained by ascent on the residual.

Tang, Zhai, Wan, Yang, "Adversarial Adaptive Sampling: Unify PINN and Optimal Transport for the
Approximation of PDEs", ICLR 2024. The PINN :math:`u_\theta` and the density :math:`p_\alpha` of
the collocation points play a min-max game,

.. math:: \min_\theta \max_\alpha \; J(u_\theta, p_\alpha)
          = \int_\Omega r^2(x; u_\theta)\, p_\alpha(x)\,dx - \beta\, R(p_\alpha),
          \qquad R(p) = \int_\Omega |\nabla_x p(x)|^2\,dx .

Without the regulariser the maximising density would be a point mass at the largest residual;
:math:`R`, the squared :math:`H^1` seminorm of the density, keeps it spread. Its maximiser
solves :math:`2\beta\Delta p = -(r^2 - \lambda)` (Neumann conditions, :math:`\lambda` the
multiplier of :math:`\int p = 1`), and the maximum is
:math:`\frac{1}{4\beta}\|r^2 - \lambda\|_{\dot H^{-1}}^2`: the negative Sobolev norm that
linearises the Wasserstein-2 distance between the residual-induced density
:math:`r^2/\int r^2` and the uniform one. That is how the paper's abstract describes the
regulariser ("implicitly embedding the Wasserstein distance between the residual-induced
distribution and the uniform distribution"); we could not check the exact form of its Sec. 3
against the published text, and take this reading of it (see docs/sciml.md).

The alternation (the paper's Algorithm 1, as we read it): ``ascent_every`` descent steps of
the PINN on points drawn from :math:`p_\alpha` (the ordinary :func:`probtheory.training.fit`
loop with :func:`probtheory.sciml.pinn.pinn_loss`), then ``ascent_steps`` Adam ascent steps on
:math:`\alpha` at fixed :math:`\theta` (:class:`AdversarialSampler`'s ``on_step_end`` hook).

Estimating the ascent direction. Both terms are integrals over the box, estimated by importance
sampling from the defensive mixture :math:`q = \frac12 p_\alpha + \frac12\,\mathrm{uniform}`
(half the ascent points from the flow, half uniform; Hesterberg, Technometrics 1995), with
:math:`q` and the points held fixed: :math:`\int r^2 p_\alpha = E_q[r^2 p_\alpha/q]` and
:math:`R(p_\alpha) = E_q[p_\alpha^2|\nabla\log p_\alpha|^2/q]`, differentiated in
:math:`\alpha` through :math:`p_\alpha` at the points. The uniform half sees large residuals
where the flow has little mass yet, and spikes of the density anywhere. Only the residual's
values are needed, never its gradient in the points (which would cost third derivatives of the
PINN). The squared residual is divided by its mean over the box,
:math:`c = |\Omega|^{-1}\int r^2\,dx` (estimated once per ascent phase from uniform points,
while the PINN is fixed), so :math:`\beta` is dimensionless and the objective of a phase is one
fixed function of :math:`\alpha` (its maximiser in :math:`p` is that of the unscaled objective
with :math:`\beta c` in place of :math:`\beta`).

A safeguard of ours: fixed-step Adam overshoots once the density is sharp (the regulariser grows
like width^-(d+2)), so each phase is checked on a fixed set of points drawn at its start; a
phase that lowered the objective there by more than 1% is undone and the flow's learning rate
halved, down to 1/8 of its initial value (``rejected_phases`` counts them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor

from probtheory._checks import check_instance, check_int, check_interval, check_real
from probtheory.errors import InputDataError
from probtheory.sciml.box_flow import BoxFlow
from probtheory.sciml.pinn import CollocationSampler
from probtheory.sciml.problems import PDEProblem
from probtheory.training.loop import TrainingCallback, TrainState

__all__ = ["AdversarialSampler"]

ResidualFn = Callable[[Tensor], Tensor]


class AdversarialSampler(CollocationSampler, TrainingCallback):
    r"""AAS collocation points: drawn from a :class:`~probtheory.sciml.box_flow.BoxFlow` trained by ascent.

    It is both the data policy and the callback that trains its flow; pass it twice::

        sampler = AdversarialSampler(problem, points=1000)
        fit(model, sampler, loss=pinn_loss(problem), callbacks=[sampler], epochs=..., steps_per_epoch=...)

    Every ``ascent_every`` optimiser steps of the PINN, the flow takes ``ascent_steps`` Adam
    steps up the objective :math:`J = E_p[r^2]/c - \beta\int|\nabla p|^2` (``c`` the mean
    squared residual over the box), with the model fixed. A new flow is the uniform
    density, so training starts as uniform sampling.

    Args:
        problem: The PDE problem (its box is the flow's support).
        points: Interior points per batch, the fixed budget.
        flow: The flow; default ``BoxFlow(problem.lower, problem.upper)`` (4 coupling layers).
        beta: :math:`\beta` (> 0), the weight of the regulariser.
        ascent_every: PINN steps between ascent phases (>= 1).
        ascent_steps: Ascent steps per phase (>= 1).
        ascent_points: Points per ascent step (default ``points``).
        lr: Adam learning rate of the flow.
        uniform_fraction: Fraction of each batch's points drawn uniformly instead (in [0, 1);
            0: the paper's method).
        boundary_points: Boundary points per batch.
        resample_every: Redraw the batch every this many PINN steps.
        dtype: dtype of the points (the model's).
        seed: Seed of the sampler's random generator.
    """

    def __init__(
        self,
        problem: PDEProblem,
        points: int,
        *,
        flow: BoxFlow | None = None,
        beta: float = 1e-3,
        ascent_every: int = 100,
        ascent_steps: int = 20,
        ascent_points: int | None = None,
        lr: float = 1e-3,
        uniform_fraction: float = 0.0,
        boundary_points: int = 100,
        resample_every: int = 1,
        dtype: torch.dtype = torch.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            problem,
            points,
            boundary_points=boundary_points,
            resample_every=resample_every,
            dtype=dtype,
            seed=seed,
        )
        if flow is None:
            flow = BoxFlow(problem.lower.tolist(), problem.upper.tolist())
        self.flow = check_instance("flow", flow, BoxFlow, "a BoxFlow")
        if flow.dim != problem.dim or not (
            torch.equal(flow.lower.double().cpu(), problem.lower)
            and torch.equal(flow.upper.double().cpu(), problem.upper)
        ):
            raise InputDataError(
                "flow",
                "a BoxFlow on the problem's box",
                f"a flow on {flow.lower.tolist()}, {flow.upper.tolist()}",
            )
        self.beta = check_real("beta", beta, positive=True)
        self.ascent_every = check_int("ascent_every", ascent_every, minimum=1)
        self.ascent_steps = check_int("ascent_steps", ascent_steps, minimum=1)
        self.ascent_points = (
            self.points if ascent_points is None else check_int("ascent_points", ascent_points, minimum=2)
        )
        self.lr = check_real("lr", lr, positive=True)
        self.uniform_fraction = check_interval(
            "uniform_fraction", uniform_fraction, 0.0, 1.0, closed=(True, False)
        )
        self.optimizer = torch.optim.Adam(self.flow.parameters(), lr=self.lr)
        self.objective_history: list[float] = []
        self.rejected_phases = 0

    # -- the data policy ----------------------------------------------------------------------

    def sample_interior(self, n: int) -> Tensor:
        """``n`` points: ``uniform_fraction`` of them uniform, the rest from the flow (`n x d`)."""
        uniform = int(round(self.uniform_fraction * n))
        drawn = (
            self.flow.sample(n - uniform, generator=self.generator, dtype=self.dtype) if n > uniform else None
        )
        if uniform == 0:
            return drawn
        extra = self.problem.sample_interior(uniform, generator=self.generator, dtype=self.dtype)
        return extra if drawn is None else torch.cat([drawn, extra])

    # -- the ascent ---------------------------------------------------------------------------

    def _squared_residual(self, residual_fn: ResidualFn, x: Tensor) -> Tensor:
        with torch.enable_grad():
            residual = residual_fn(x)
        if not isinstance(residual, Tensor) or residual.shape != (x.shape[0],):
            shape = tuple(residual.shape) if isinstance(residual, Tensor) else type(residual).__name__
            raise InputDataError("residual_fn", f"`{x.shape[0]}` residuals, one per point", f"{shape}")
        squared = residual.detach().double().pow(2)
        if not torch.isfinite(squared).all():
            raise InputDataError("residual_fn", "finite residuals", "NaN or infinity")
        return squared

    def residual_scale(self, residual_fn: ResidualFn) -> float:
        r"""The mean squared residual over the box, :math:`c = |\Omega|^{-1}\int r^2 dx`, from uniform points.

        Uses ``4 * ascent_points`` uniform points; a residual that vanishes everywhere gives 1
        (nothing to adapt to).
        """
        x = self.problem.sample_interior(4 * self.ascent_points, generator=self.generator, dtype=self.dtype)
        scale = float(self._squared_residual(residual_fn, x).mean())
        return scale if scale > 0 else 1.0

    def _ascent_points(self) -> Tensor:
        """Half from the flow, half uniform: the defensive mixture ``q = (p + uniform) / 2``."""
        half = self.ascent_points // 2
        from_flow = self.flow.sample(self.ascent_points - half, generator=self.generator, dtype=self.dtype)
        uniform = self.problem.sample_interior(half, generator=self.generator, dtype=self.dtype)
        return torch.cat([from_flow, uniform])

    def _mixture(self, x: Tensor) -> Tensor:
        """The defensive mixture density ``q = p / 2 + uniform / 2`` of the current flow at ``x`` (fixed)."""
        with torch.no_grad():
            density = self.flow.log_prob(x.to(next(self.flow.parameters()).dtype)).double().exp()
        return 0.5 * density + 0.5 / self.problem.volume

    def _surrogate(self, rho: Tensor, x: Tensor, mixture: Tensor) -> tuple[Tensor, float]:
        """The surrogate whose gradient is the ascent direction, and the objective's estimate.

        Args:
            rho: The scaled squared residual at the points.
            x: The points, drawn from ``mixture``.
            mixture: Their density under the sampling distribution ``q``, held fixed.
        """
        param_dtype = next(self.flow.parameters()).dtype
        z = x.detach().to(param_dtype).requires_grad_(True)
        log_p = self.flow.log_prob(z)
        (score,) = torch.autograd.grad(log_p.sum(), z, create_graph=True)
        score_sq = score.pow(2).sum(-1).double()
        density = log_p.double().exp()
        weights = (density / mixture).detach()
        baseline = (rho * weights).sum() / weights.sum()  # int (rho - b) p has the gradient of int rho p
        data_term = ((rho - baseline) * density / mixture).mean()
        regulariser = (density.pow(2) * score_sq / mixture).mean()  # int |grad p|^2 = int p^2 |s|^2
        surrogate = data_term - self.beta * regulariser
        estimate = float((rho * density.detach() / mixture).mean() - self.beta * regulariser.detach())
        return surrogate, estimate

    def _draw_terms(self, residual_fn: ResidualFn, scale: float) -> tuple[Tensor, Tensor, Tensor]:
        x = self._ascent_points()
        return self._squared_residual(residual_fn, x) / scale, x, self._mixture(x)

    def objective(self, residual_fn: ResidualFn, scale: float | None = None) -> float:
        r"""A Monte-Carlo estimate of :math:`J = E_p[r^2]/c - \beta\int|\nabla p|^2` from fresh flow points.

        Args:
            residual_fn: Maps `n x d` points to `n` residuals.
            scale: :math:`c` (default :meth:`residual_scale`).
        """
        scale = (
            self.residual_scale(residual_fn) if scale is None else check_real("scale", scale, positive=True)
        )
        return self._surrogate(*self._draw_terms(residual_fn, scale))[1]

    def ascend(self, residual_fn: ResidualFn, steps: int | None = None) -> list[float]:
        """Take ``steps`` Adam ascent steps of the flow on the AAS objective at a fixed residual.

        Args:
            residual_fn: Maps `n x d` points of the box to `n` residuals (the PINN's, or any
                function, e.g. a fixed bump in tests).
            steps: Number of steps (default ``ascent_steps``).

        Returns:
            The objective's estimate at each step (before the step).

        Raises:
            InputDataError: If ``residual_fn`` is not callable or returns other than one finite
                residual per point.
        """
        if not callable(residual_fn):
            raise InputDataError(
                "residual_fn",
                "a callable mapping `n x d` points to `n` residuals",
                type(residual_fn).__name__,
            )
        steps = self.ascent_steps if steps is None else check_int("steps", steps, minimum=1)
        scale = self.residual_scale(residual_fn)  # the model is fixed during the phase
        # a fixed evaluation set (common random numbers) to check that the phase went uphill
        check = self._draw_terms(residual_fn, scale)
        start_value = self._surrogate(*check)[1]
        start_state = copy.deepcopy((self.flow.state_dict(), self.optimizer.state_dict()))
        was_training = self.flow.training
        self.flow.train()
        estimates = []
        for _ in range(steps):
            surrogate, estimate = self._surrogate(*self._draw_terms(residual_fn, scale))
            self.optimizer.zero_grad(set_to_none=True)
            (-surrogate).backward()
            torch.nn.utils.clip_grad_norm_(self.flow.parameters(), 1.0)
            self.optimizer.step()
            estimates.append(estimate)
        self.flow.train(was_training)
        # a clear drop, beyond the check set's sampling noise in the PINN's changing residual
        if self._surrogate(*check)[1] < start_value - 0.01 * abs(start_value):
            # fixed-step Adam overshoots once the density is sharp (R grows like width^-(d+2)):
            # undo the phase and halve the step size
            self.flow.load_state_dict(start_state[0])
            self.optimizer.load_state_dict(start_state[1])
            for group in self.optimizer.param_groups:  # never below 1/8 of the initial rate
                group["lr"] = max(0.5 * group["lr"], self.lr / 8)
            self.rejected_phases += 1
        self.objective_history.extend(estimates)
        return estimates

    def exact_objective(self, residual_fn: ResidualFn, resolution: int = 200) -> float:
        r"""The objective :math:`\int (r^2/c)\, p\,dx - \beta\int|\nabla p|^2 dx` by the midpoint rule.

        With :math:`c` the grid's mean of :math:`r^2`: what :meth:`ascend` raises. For tests and
        diagnostics, in 1-D and 2-D.

        Args:
            residual_fn: Maps `n x d` points to `n` residuals.
            resolution: Grid points per dimension.

        Raises:
            InputDataError: If the problem has more than two dimensions.
        """
        resolution = check_int("resolution", resolution, minimum=2)
        if self.problem.dim > 2:
            raise InputDataError(
                "problem", "a 1-D or 2-D problem for quadrature", f"dimension {self.problem.dim}"
            )
        axes = [
            lo + (hi - lo) * (torch.arange(resolution, dtype=torch.float64) + 0.5) / resolution
            for lo, hi in zip(self.problem.lower.tolist(), self.problem.upper.tolist(), strict=True)
        ]
        grid = torch.stack([g.flatten() for g in torch.meshgrid(*axes, indexing="ij")], -1)
        cell = self.problem.volume / grid.shape[0]
        param_dtype = next(self.flow.parameters()).dtype
        z = grid.to(param_dtype).requires_grad_(True)
        log_p = self.flow.log_prob(z)
        (score,) = torch.autograd.grad(log_p.sum(), z)
        p = log_p.detach().double().exp()
        squared = self._squared_residual(residual_fn, grid.to(self.dtype))
        scale = float(squared.mean()) if squared.mean() > 0 else 1.0
        gradient_sq = p.pow(2) * score.double().pow(2).sum(-1)
        return float(((squared / scale * p).sum() - self.beta * gradient_sq.sum()) * cell)

    # -- the callback -------------------------------------------------------------------------

    def on_step_end(self, state: TrainState) -> None:
        """Every ``ascent_every`` PINN steps, ascend the flow on the current model's residual."""
        if state.step % self.ascent_every != 0:
            return
        model = state.model
        flags = [p.requires_grad for p in model.parameters()]
        for p in model.parameters():  # the ascent needs the residual's values, not the model's gradients
            p.requires_grad_(False)
        try:
            self.ascend(lambda x: self.problem.residual(model, x))
        finally:
            for p, flag in zip(model.parameters(), flags, strict=True):
                p.requires_grad_(flag)
