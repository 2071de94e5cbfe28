r"""PIG against a tanh MLP-PINN: the same PDE, Adam iterations and collocation points.

The paper's claim (Kang et al., "PIG: Physics-Informed Gaussians as Adaptive Parametric Mesh
Representations", ICLR 2025, Sec. 4, Table 2): a trainable Gaussian feature embedding followed
by a tiny MLP solves PDEs far more accurately than an MLP-PINN; on the 2-D Helmholtz problem with
:math:`(a_1, a_2) = (1, 4)` PIG reaches a relative L2 error of 2.22e-5 (PIXEL 8.63e-4), at
:math:`(10, 10)` 7.09e-3 against PIXEL's 7.47e-2, where the PINN fails.

Here, full budget: :class:`probtheory.sciml.problems.Helmholtz2D` with :math:`(a_1, a_2) = (1,
4)`, :math:`k = 1` on :math:`[-1, 1]^2`; quick budget: :class:`probtheory.sciml.problems.Poisson1D`,
:math:`-u'' = f` with :math:`u = \sin 8\pi x` on :math:`[-1, 1]`. Both models train through
:func:`probtheory.training.fit` on :func:`probtheory.sciml.pinn.pinn_loss` with a
:class:`probtheory.sciml.pinn.UniformSampler` of the same seed (so both see the same points,
redrawn every step as in the official code), Adam with an exponential learning-rate decay to
1% over the run (the code: 0.9995 per step over 60k steps), the same number of iterations. The
boundary weight makes the residual term the size of the boundary term: the official code's
``f_scale = 1e-4`` for Helmholtz (weight 1e4 on the boundary here), :math:`(8\pi)^{-4}` for the
1-D problem. The error is :func:`probtheory.plugins.evaluation.relative_l2` on a uniform grid
(2001 points; 101 x 101).

PIG: :class:`probtheory.layers.PhysicsInformedGaussians` (Gaussians shared by 16 feature channels,
one hidden layer of 16 tanh units), learning rate 0.01 as in the code; baseline: a tanh MLP
(4 x 64 in 2-D, 3 x 64 in 1-D), learning rate 1e-3, the usual PINN setting. The CPU budget is a
small fraction of the paper's (60k iterations, 10k points per step, 4 x 800 Gaussians), so the
absolute errors are larger; the verdict says so where it matters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from probtheory.layers import PhysicsInformedGaussians
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import count_parameters, relative_l2
from probtheory.sciml.pinn import UniformSampler, pinn_loss
from probtheory.sciml.problems import Helmholtz2D, PDEProblem, Poisson1D
from probtheory.training import TrainingCallback, TrainState, fit

__all__ = ["reproduce"]

#: The paper's Table 2 (relative L2 on Helmholtz), for the verdict and the docs.
PAPER = {"PIG (1, 4)": 2.22e-5, "PIXEL (1, 4)": 8.63e-4, "PIG (10, 10)": 7.09e-3, "PIXEL (10, 10)": 7.47e-2}


@dataclass(frozen=True)
class _Budget:
    problem: str
    iterations: int
    points: int
    boundary_points: int
    boundary_weight: float
    gaussians: int
    scale: float
    mlp_depth: int
    evaluations: int = 20


_QUICK = _Budget("1-D Poisson, u = sin 8 pi x", 2000, 256, 100, (8 * math.pi) ** 4, 64, 0.05, 3)
_FULL = _Budget("2-D Helmholtz, (a1, a2) = (1, 4)", 3000, 1000, 400, 1e4, 256, 0.1, 4)


class _DecayAndTrack(TrainingCallback):
    """Exponential learning-rate decay every step; the test error at every epoch's end."""

    def __init__(
        self, scheduler: torch.optim.lr_scheduler.LRScheduler, error: Callable[[nn.Module], float]
    ) -> None:
        self.scheduler, self.error = scheduler, error
        self.errors: list[float] = []

    def on_step_end(self, state: TrainState) -> None:
        self.scheduler.step()

    def on_epoch_end(self, state: TrainState) -> None:
        self.errors.append(self.error(state.model))


def _test_points(problem: PDEProblem) -> torch.Tensor:
    if problem.dim == 1:
        return torch.linspace(-1.0, 1.0, 2001).unsqueeze(-1)
    grid = torch.linspace(-1.0, 1.0, 101)
    return torch.cartesian_prod(grid, grid)


def _mlp(dim: int, depth: int, width: int = 64) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(dim, width), nn.Tanh()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def _train(
    model: nn.Module, problem: PDEProblem, budget: _Budget, lr: float, seed: int
) -> tuple[list[float], list[float], float]:
    """Train with Adam and decay; return the error and mean loss of each epoch, and the seconds."""
    x_test = _test_points(problem)
    exact = problem.exact(x_test)

    def error(net: nn.Module) -> float:
        with torch.no_grad():
            prediction = net(x_test).reshape(-1)
        return relative_l2(prediction, exact) if bool(torch.isfinite(prediction).all()) else math.nan

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.01 ** (1.0 / budget.iterations))
    tracker = _DecayAndTrack(scheduler, error)
    sampler = UniformSampler(problem, budget.points, boundary_points=budget.boundary_points, seed=seed)
    start = time.perf_counter()
    state = fit(
        model,
        sampler,
        epochs=budget.evaluations,
        steps_per_epoch=budget.iterations // budget.evaluations,
        loss=pinn_loss(problem, boundary_weight=budget.boundary_weight),
        optimizer=optimizer,
        callbacks=[tracker],
        seed=seed,
        stop_on_nonfinite=True,
        progress=False,
    )
    return tracker.errors, list(state.epoch_losses), time.perf_counter() - start


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """PIG vs a tanh MLP-PINN: relative L2 error of the PDE solution.

    Args:
        quick: The 1-D problem with 2000 Adam iterations (else 2-D Helmholtz with 3000).
        seed: Seed of the initialisations and of the (shared) collocation points.
        out_dir: Where to write ``pig.png`` (error against iteration); ``None`` for no figure.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: intra-op threads mostly spin on a shared machine
    try:
        return _reproduce(quick, seed, out_dir)
    finally:
        torch.set_num_threads(threads)


def _reproduce(quick: bool, seed: int, out_dir: Path | None) -> ReproductionResult:
    start = time.perf_counter()
    budget = _QUICK if quick else _FULL
    problem: PDEProblem = Poisson1D("sine", frequency=8.0) if quick else Helmholtz2D(1.0, 4.0, k=1.0)
    pig = PhysicsInformedGaussians(
        problem.dim, budget.gaussians, features=16, hidden_features=16, scale=budget.scale, seed=seed
    )
    torch.manual_seed(seed)
    mlp = _mlp(problem.dim, budget.mlp_depth)
    pig_errors, pig_losses, pig_seconds = _train(pig, problem, budget, 1e-2, seed)
    mlp_errors, mlp_losses, mlp_seconds = _train(mlp, problem, budget, 1e-3, seed)
    value = pig_errors[-1] if pig_errors else math.nan
    baseline = mlp_errors[-1] if mlp_errors else math.nan

    ratio = value / baseline if baseline > 0 else math.inf
    met = value <= 1e-2 and ratio <= 0.2
    verdict = (
        f"PIG relative L2 {value:.2e} vs MLP-PINN {baseline:.2e} ({ratio:.2f}x) after "
        f"{budget.iterations} Adam steps on {budget.problem}: "
        + (
            "the paper's claim shows (bar: <= 1e-2 and <= 0.2x the PINN's)"
            if met
            else "the bar (<= 1e-2 and <= 0.2x the PINN's) is missed"
        )
        + (
            f"; paper at (1, 4): PIG {PAPER['PIG (1, 4)']:.2e} after 60k steps with 10k points per step"
            if not quick
            else "; the 1-D check stands in for the paper's 2-D Helmholtz runs"
        )
    )
    best = min(range(len(pig_errors)), key=pig_errors.__getitem__) if pig_errors else 0
    best_step = (best + 1) * (budget.iterations // budget.evaluations)
    rose_while_loss_fell = best + 1 < len(pig_errors) == len(pig_losses) and pig_losses[-1] < pig_losses[best]
    if not met and value > 1e-2 and rose_while_loss_fell:
        verdict += (
            f" -- PIG's error was lowest ({pig_errors[best]:.1e}) at step {best_step} and rose after it "
            "while the loss kept falling: the residual loss is nearly blind to a smooth, low-frequency "
            "error (weighed by the operator's lowest eigenvalue, not the solution's frequency), so "
            "lowering the loss does not lower it"
        )
    elif not met and value > 1e-2:
        verdict += (
            " -- PIG's error is still falling or stalled at this budget (the paper trains 60k steps "
            "with 10k points per step and 4 x 800 Gaussians)"
        )
    figure = None
    if out_dir is not None:
        figure = _plot(Path(out_dir) / "pig.png", budget, pig_errors, mlp_errors)
    sigmas = pig.embedding.log_scales.detach().exp()
    return ReproductionResult(
        method="pig",
        metric=f"relative L2 error ({budget.problem})",
        value=value,
        baseline="tanh MLP-PINN",
        baseline_value=baseline,
        seconds=time.perf_counter() - start,
        verdict=verdict,
        higher_is_better=False,
        quick=quick,
        seed=seed,
        details={
            "PIG / PINN error ratio": ratio,
            "iterations": float(budget.iterations),
            "collocation points per step": float(budget.points),
            "PIG parameters": float(count_parameters(pig)),
            "PINN parameters": float(count_parameters(mlp)),
            "PIG final loss": pig_losses[-1],
            "PINN final loss": mlp_losses[-1],
            "PIG seconds": pig_seconds,
            "PINN seconds": mlp_seconds,
            "PIG best error during training": min(pig_errors, default=math.nan),
            "PIG step of the best error": float(best_step),
            "PINN best error during training": min(mlp_errors, default=math.nan),
            "Gaussian scale, median after training": float(sigmas.median()),
            "Gaussian scale, min after training": float(sigmas.min()),
            **{f"paper: {name}": number for name, number in PAPER.items()},
        },
        figure=figure,
    )


def _plot(path: Path, budget: _Budget, pig_errors: list[float], mlp_errors: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    steps = [(i + 1) * (budget.iterations // budget.evaluations) for i in range(len(pig_errors))]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.semilogy(steps, pig_errors, "o-", ms=3, label="PIG")
    ax.semilogy(steps[: len(mlp_errors)], mlp_errors, "s-", ms=3, label="tanh MLP-PINN")
    ax.axhline(1e-2, color="grey", ls=":", lw=1, label="bar 1e-2")
    ax.set_xlabel("Adam iteration")
    ax.set_ylabel("relative L2 error")
    ax.set_title(budget.problem, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
