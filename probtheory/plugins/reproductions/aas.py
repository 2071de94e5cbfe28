"""Adversarial adaptive sampling against uniform and residual-based (RAD) collocation at a fixed budget.

The paper's claim (Tang, Zhai, Wan, Yang, ICLR 2024, Sec. 5): on PDEs with sharp, localised
solutions -- the two-peak Poisson problem on [-1, 1]^2 -- training the collocation density
adversarially (a flow pushed towards large residuals, kept smooth by the regulariser) gives a
smaller error than uniform points at the same number of points, and the points gather at the
peaks. Here: the same tanh network (boundary values imposed exactly by a factor that vanishes
on the boundary, so that no boundary-loss weight favours any sampler), the same Adam schedule
and the same budget of interior points, redrawn every ``period`` steps by each policy:
uniform, RAD (Wu et al., CMAME 2023; k = 1, c = 1) and AAS
(:class:`probtheory.sciml.aas.AdversarialSampler`, one ascent phase per period).
Full: :class:`~probtheory.sciml.problems.TwoPeaksPoisson2D` with 1000 points, at sharpness
s = 200 rather than the paper's 1000 (at 1000, 2000 Adam steps leave every policy's PINN above
100% error, so the comparison says nothing); quick: a 1-D sharp peak
(:class:`~probtheory.sciml.problems.Poisson1D` ``"peak"``, s = 200).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import relative_l2
from probtheory.sciml.aas import AdversarialSampler
from probtheory.sciml.pinn import CollocationSampler, ResidualSampler, UniformSampler, pinn_loss
from probtheory.sciml.problems import PDEProblem, Poisson1D, TwoPeaksPoisson2D
from probtheory.training import fit

__all__ = ["reproduce"]


@dataclass(frozen=True)
class _Setting:
    problem: PDEProblem
    points: int
    steps: int
    period: int
    width: int
    depth: int
    lr: float
    ascent_steps: int
    beta: float
    test_resolution: int
    peak_radius: float


def _setting(quick: bool) -> _Setting:
    if quick:
        problem: PDEProblem = Poisson1D("peak", sharpness=200.0, center=0.2)
        return _Setting(problem, 32, 1500, 100, 32, 2, 2e-3, 20, 1e-2, 2001, 0.1)
    # s = 200 (peaks of width ~0.07) instead of the paper's 1000: at s = 1000 no policy gets a PINN
    # below 100% error within this CPU budget (relative L2 10-19 for all three at 2000 steps)
    return _Setting(TwoPeaksPoisson2D(200.0), 1000, 5000, 250, 48, 3, 2e-3, 20, 1e-2, 201, 0.1)


class _HardDirichlet(nn.Module):
    """``u(x) = prod_k (x_k - a_k)(b_k - x_k) * net(x)``: zero on the box's boundary by construction.

    Both problems' exact solutions are below 1e-50 on the boundary (the peaks sit far inside).
    """

    def __init__(self, problem: PDEProblem, width: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = problem.dim
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 1))
        self.register_buffer("lower", problem.lower.float())
        self.register_buffer("upper", problem.upper.float())

    def forward(self, x: Tensor) -> Tensor:
        envelope = ((x - self.lower) * (self.upper - x)).prod(-1)
        return envelope * self.net(x).squeeze(-1)


def _test_points(setting: _Setting) -> Tensor:
    problem, n = setting.problem, setting.test_resolution
    axes = [torch.linspace(float(a), float(b), n) for a, b in zip(problem.lower, problem.upper, strict=True)]
    return torch.stack([g.flatten() for g in torch.meshgrid(*axes, indexing="ij")], -1)


def _near_peaks(problem: PDEProblem, x: Tensor, radius: float) -> float:
    centers = torch.tensor(problem.centers if hasattr(problem, "centers") else [[problem.center]])
    distance = torch.cdist(x.float(), centers.float()).min(-1).values
    return float((distance < radius).float().mean())


def _run(setting: _Setting, method: str, seed: int) -> dict[str, float | Tensor]:
    problem = setting.problem
    torch.manual_seed(seed)
    model = _HardDirichlet(problem, setting.width, setting.depth)
    callbacks = []
    common = {"boundary_points": 2, "resample_every": setting.period, "seed": seed}
    sampler: CollocationSampler
    if method == "uniform":
        sampler = UniformSampler(problem, setting.points, **common)
    elif method == "rad":
        sampler = ResidualSampler(problem, model, setting.points, candidates=10 * setting.points, **common)
    else:
        sampler = AdversarialSampler(
            problem,
            setting.points,
            beta=setting.beta,
            ascent_every=setting.period,
            ascent_steps=setting.ascent_steps,
            lr=3e-3,
            **common,
        )
        callbacks = [sampler]
    optimizer = torch.optim.Adam(model.parameters(), lr=setting.lr)
    start = time.perf_counter()
    fit(
        model,
        sampler,
        loss=pinn_loss(problem, boundary_weight=0.0),
        callbacks=callbacks,
        epochs=setting.steps // setting.period,
        steps_per_epoch=setting.period,
        optimizer=optimizer,
        seed=seed,
        progress=False,
    )
    seconds = time.perf_counter() - start
    x = _test_points(setting)
    with torch.no_grad():
        error = relative_l2(model(x), problem.exact(x))
    final = sampler.draw().interior  # the points the policy would train on next
    return {
        "error": error,
        "near_peaks": _near_peaks(problem, final, setting.peak_radius),
        "seconds": seconds,
        "points": final,
        "rejected": float(getattr(sampler, "rejected_phases", 0)),
    }


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """AAS vs uniform and RAD collocation at a fixed budget: relative L2 error of the PINN.

    Args:
        quick: A 1-D sharp peak (s = 200, 32 points, 1500 steps) instead of the two-peak problem
            in 2-D (s = 200, 1000 points, 5000 steps).
        seed: Seed of the networks, the samplers and the training.
        out_dir: Where to write ``aas.png`` (the final collocation points of each policy);
            ``None`` for no figure.
    """
    start = time.perf_counter()
    setting = _setting(quick)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    runs = {method: _run(setting, method, seed) for method in ("uniform", "rad", "aas")}
    problem = setting.problem
    uniform_share = _near_peaks(
        problem,
        problem.sample_interior(100_000, generator=torch.Generator().manual_seed(0)),
        setting.peak_radius,
    )
    aas, uniform, rad = (runs[m]["error"] for m in ("aas", "uniform", "rad"))
    ratio = aas / uniform
    met = ratio <= 0.5
    verdict = (
        f"AAS relative L2 {aas:.3g} vs uniform {uniform:.3g} ({ratio:.2f}x; bar <= 0.5x "
        f"{'met' if met else 'missed'}), RAD {rad:.3g}; share of AAS points within "
        f"{setting.peak_radius:g} of a peak {runs['aas']['near_peaks']:.2f} vs {uniform_share:.3f} under "
        "uniform sampling (one seed). The paper's two-peak experiment (Sec. 5) reports AAS more "
        "accurate than uniform sampling at the same budget, its samples gathered at the two peaks."
    )
    if not met:
        verdict += " At this budget the claimed factor does not show; details hold all three errors."
    figure = _figure(runs, setting, out_dir) if out_dir is not None else None
    details = {
        "uniform_relative_l2": float(uniform),
        "rad_relative_l2": float(rad),
        "aas_relative_l2": float(aas),
        "aas_over_uniform": float(ratio),
        "rad_over_uniform": float(rad / uniform),
        "share_near_peaks_aas": float(runs["aas"]["near_peaks"]),
        "share_near_peaks_rad": float(runs["rad"]["near_peaks"]),
        "share_near_peaks_uniform_expected": float(uniform_share),
        "aas_rejected_phases": float(runs["aas"]["rejected"]),
        "points": float(setting.points),
        "steps": float(setting.steps),
        "seconds_uniform": float(runs["uniform"]["seconds"]),
        "seconds_rad": float(runs["rad"]["seconds"]),
        "seconds_aas": float(runs["aas"]["seconds"]),
    }
    problem_name = "1-D sharp peak" if quick else "two-peak Poisson"
    return ReproductionResult(
        method="aas",
        metric=f"relative L2 error ({problem_name}, {setting.points} points)",
        value=float(aas),
        baseline="uniform collocation",
        baseline_value=float(uniform),
        seconds=time.perf_counter() - start,
        verdict=verdict,
        higher_is_better=False,
        quick=quick,
        seed=seed,
        details=details,
        figure=figure,
    )


def _figure(runs: dict, setting: _Setting, out_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, method in zip(axes, ("uniform", "rad", "aas"), strict=True):
        x = runs[method]["points"].numpy()
        if x.shape[1] == 1:
            ax.hist(
                x[:, 0], bins=40, range=(float(setting.problem.lower[0]), float(setting.problem.upper[0]))
            )
        else:
            ax.scatter(x[:, 0], x[:, 1], s=2)
            ax.set_aspect("equal")
        ax.set_title(f"{method}: rel. L2 {runs[method]['error']:.2g}")
    fig.tight_layout()
    path = out_dir / "aas.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
