"""The box flow (support, normalisation, sampling) and adversarial adaptive sampling (AAS)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.sciml.aas import AdversarialSampler
from probtheory.sciml.box_flow import BoxFlow, inverse_rational_quadratic_spline, rational_quadratic_spline
from probtheory.sciml.pinn import pinn_loss
from probtheory.sciml.problems import Poisson1D, TwoPeaksPoisson2D
from probtheory.training import fit


def perturbed(flow: BoxFlow, scale: float, seed: int = 0) -> BoxFlow:
    """The flow with random parameters (a new flow is the uniform density: too easy a test)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return flow


def midpoints(lower: float, upper: float, n: int) -> torch.Tensor:
    return lower + (upper - lower) * (torch.arange(n, dtype=torch.float64) + 0.5) / n


def test_spline_inverse_and_log_derivative():
    gen = torch.Generator().manual_seed(0)
    u = torch.rand(50, 3, generator=gen, dtype=torch.float64)
    raw = torch.randn(50, 3, 3 * 6 + 1, generator=gen, dtype=torch.float64)
    y, log_derivative = rational_quadratic_spline(u, raw, 6)
    assert torch.allclose(inverse_rational_quadratic_spline(y, raw, 6), u, atol=1e-10)
    h = 1e-6
    finite_difference = (
        rational_quadratic_spline(u + h, raw, 6)[0] - rational_quadratic_spline(u - h, raw, 6)[0]
    ) / (2 * h)
    assert torch.allclose(log_derivative.exp(), finite_difference, rtol=1e-5)
    ends, _ = rational_quadratic_spline(torch.tensor([[0.0, 1.0]], dtype=torch.float64), raw[:1, :2], 6)
    assert torch.allclose(ends, torch.tensor([[0.0, 1.0]], dtype=torch.float64))


def test_a_new_flow_is_the_uniform_density():
    flow = BoxFlow([-1.0, 0.0], [1.0, 3.0]).double()
    x = torch.rand(20, 2, dtype=torch.float64) * torch.tensor([2.0, 3.0]) + torch.tensor([-1.0, 0.0])
    assert torch.allclose(flow.log_prob(x), torch.full((20,), -math.log(6.0), dtype=torch.float64))


def test_flow_density_integrates_to_one_on_the_box_2d():
    flow = perturbed(BoxFlow([-1.0, -1.0], [1.0, 1.0]).double(), 0.1)
    g = midpoints(-1.0, 1.0, 200)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    density = flow.log_prob(grid).exp()
    assert density.max() > 1.2 * density.min()  # not the uniform density
    assert abs(float(density.detach().mean() * 4.0) - 1.0) <= 1e-2


def test_flow_density_integrates_to_one_on_the_box_1d():
    flow = perturbed(BoxFlow([0.0], [2.0], layers=2).double(), 1.0)
    x = midpoints(0.0, 2.0, 20_000)[:, None]
    assert abs(float(flow.log_prob(x).detach().exp().mean() * 2.0) - 1.0) <= 1e-3


@pytest.mark.parametrize(
    "box", [([0.0], [2.0]), ([-1.0, -1.0], [1.0, 1.0]), ([0.0, 0.0, -2.0], [1.0, 1.0, 2.0])]
)
def test_samples_stay_in_the_box(box):
    flow = perturbed(BoxFlow(*box), 1.0)
    x = flow.sample(5000, generator=torch.Generator().manual_seed(0))
    lower, upper = torch.tensor(box[0]), torch.tensor(box[1])
    assert ((x >= lower) & (x <= upper)).all()


def test_samples_follow_the_density():
    flow = perturbed(BoxFlow([0.0], [2.0], layers=2).double(), 1.0)
    n = 100_000
    x = flow.sample(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    counts = torch.histc(x, bins=10, min=0.0, max=2.0) / n
    for k in range(10):
        cell = torch.linspace(0.2 * k, 0.2 * (k + 1), 2001, dtype=torch.float64)[:, None]
        mass = float(flow.log_prob(cell).detach().exp().mean() * 0.2)
        assert abs(counts[k] - mass) <= 5 * math.sqrt(mass * (1 - mass) / n) + 1e-4


def bump(center: torch.Tensor, width: float = 0.1):
    return lambda x: torch.exp(-((x - center.to(x)) ** 2).sum(-1) / (2 * width**2))


def test_ascent_on_a_fixed_bump_raises_the_objective_and_moves_samples_to_it():
    problem = Poisson1D()
    center = torch.tensor([0.4])
    residual = bump(center)
    sampler = AdversarialSampler(problem, 200, beta=1e-3, lr=3e-3, ascent_points=200, seed=0)
    probe = torch.Generator().manual_seed(5)
    before = sampler.exact_objective(residual, 1000)
    distance_before = (sampler.flow.sample(2000, generator=probe) - center).abs().mean()
    for _ in range(2):
        sampler.ascend(residual, 20)
    after = sampler.exact_objective(residual, 1000)
    probe = torch.Generator().manual_seed(5)
    x = sampler.flow.sample(2000, generator=probe)
    assert problem.contains(x).all()
    assert after > before + 0.5  # the uniform density has objective 1 exactly
    assert (x - center).abs().mean() < 0.85 * distance_before


@pytest.mark.slow
def test_ascent_on_a_fixed_bump_in_2d():
    problem = TwoPeaksPoisson2D()
    center = torch.tensor([0.4, -0.3])
    sampler = AdversarialSampler(problem, 200, beta=1e-3, lr=3e-3, ascent_points=1000, seed=0)
    before = sampler.exact_objective(bump(center), 300)
    for _ in range(3):
        sampler.ascend(bump(center), 20)
    assert sampler.exact_objective(bump(center), 300) > before + 1.0
    x = sampler.flow.sample(2000, generator=torch.Generator().manual_seed(0))
    assert (x - center).norm(dim=-1).mean() < 0.5


def test_the_ascent_direction_is_the_objectives_gradient():
    problem = Poisson1D()
    residual = bump(torch.tensor([0.4]))
    sampler = AdversarialSampler(problem, 100, beta=1e-2, ascent_points=2000, dtype=torch.float64, seed=0)
    perturbed(sampler.flow.double(), 0.3)
    x = midpoints(-1.0, 1.0, 2000)[:, None].requires_grad_(True)
    log_p = sampler.flow.log_prob(x)
    (score,) = torch.autograd.grad(log_p.sum(), x, create_graph=True)
    squared = residual(x).detach() ** 2
    scale = float(squared.mean())
    p = log_p.exp()
    exact = ((squared / scale * p).sum() - 1e-2 * (p**2 * score[:, 0] ** 2).sum()) * (2.0 / 2000)
    params = list(sampler.flow.parameters())
    target = torch.cat([g.flatten() for g in torch.autograd.grad(exact, params)])
    estimate = torch.zeros_like(target)
    for _ in range(5):  # unbiased: the mean of 5 estimates from 2000 points is within a few degrees
        surrogate, _ = sampler._surrogate(*sampler._draw_terms(residual, scale))
        estimate += torch.cat([g.flatten() for g in torch.autograd.grad(surrogate, params)]) / 5
    assert torch.nn.functional.cosine_similarity(target, estimate, dim=0) > 0.99


def test_a_phase_that_goes_downhill_is_undone():
    problem = Poisson1D()
    sampler = AdversarialSampler(problem, 100, beta=1.0, lr=1.0, ascent_points=200, seed=0)
    start = [p.detach().clone() for p in sampler.flow.parameters()]
    sampler.ascend(bump(torch.tensor([0.4])), 10)  # huge steps with a strong regulariser
    if sampler.rejected_phases:
        assert all(torch.equal(a, b) for a, b in zip(start, sampler.flow.parameters(), strict=True))
        assert sampler.optimizer.param_groups[0]["lr"] == 0.5
    else:  # accepted: the objective rose on the check points; the uniform start is the maximum at beta=1
        pytest.fail("a phase from the uniform density with a dominant regulariser should be rejected")


def test_fit_runs_the_ascent_every_k_steps_and_trains_on_flow_points():
    problem = Poisson1D("peak", sharpness=100.0)
    sampler = AdversarialSampler(
        problem, 32, boundary_points=2, ascent_every=5, ascent_steps=2, ascent_points=64, seed=0
    )
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    seen = []

    def loss(model, batch):
        seen.append(batch.interior)
        return pinn_loss(problem)(model, batch)

    state = fit(model, sampler, loss=loss, callbacks=[sampler], epochs=2, steps_per_epoch=10, progress=False)
    assert state.step == 20
    assert len(sampler.objective_history) == 4 * 2  # ascents after steps 5, 10, 15, 20
    assert all(problem.contains(x).all() for x in seen)
    assert all(p.requires_grad for p in model.parameters())  # frozen only during the ascent
