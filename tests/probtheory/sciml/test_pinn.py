"""PDE problems on a box, the PINN loss and the collocation samplers (uniform, RAD)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.sciml.pinn import CollocationBatch, ResidualSampler, UniformSampler, pinn_loss
from probtheory.sciml.problems import Helmholtz2D, Poisson1D, TwoPeaksPoisson2D, laplacian
from probtheory.training import fit

PROBLEMS = [
    Poisson1D(),
    Poisson1D("peak", center=0.3),
    Helmholtz2D(1, 4),
    Helmholtz2D(10, 10),
    TwoPeaksPoisson2D(),
]


def points(problem, n=400, seed=0):
    return problem.sample_interior(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: type(p).__name__)
def test_residual_vanishes_on_the_exact_solution(problem):
    x = torch.cat([points(problem), problem.sample_boundary(50, dtype=torch.float64)])
    residual = problem.residual(problem.exact, x)
    scale = problem.source(x).abs().max()
    assert scale > 1.0  # the source is not trivially zero, so the check has teeth
    assert residual.abs().max() <= 1e-8


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: type(p).__name__)
def test_residual_of_a_wrong_solution_does_not_vanish(problem):
    x = points(problem)
    residual = problem.residual(lambda z: 1.01 * problem.exact(z), x)
    assert residual.abs().max() > 1e-3 * problem.source(x).abs().max()


def test_source_equals_minus_finite_difference_laplacian():
    problem = TwoPeaksPoisson2D()
    x = points(problem, 50)
    h = 1e-4
    fd = torch.zeros(len(x), dtype=torch.float64)
    for k in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[k] = h
        fd += (problem.exact(x + e) - 2 * problem.exact(x) + problem.exact(x - e)) / h**2
    assert torch.allclose(problem.source(x), -fd, atol=1e-3 * problem.source(x).abs().max())


def test_laplacian_of_a_cubic_and_of_a_linear_function():
    x = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    cubic = (x**3).sum(-1)
    assert torch.allclose(laplacian(cubic, x), 6 * x.sum(-1))
    linear = x @ torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.equal(laplacian(linear, x), torch.zeros(20, dtype=torch.float64))


def test_residual_is_differentiable_in_the_parameters():
    problem = Poisson1D(frequency=1.0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    x = points(problem, 16)
    problem.residual(model, x).pow(2).mean().backward()
    # every parameter but the output bias (the Laplacian of a constant is zero) gets a gradient
    assert all(p.grad.abs().sum() > 0 for p in list(model.parameters())[:-1])


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: type(p).__name__)
def test_sampled_points_stay_in_the_box_and_boundary_points_on_it(problem):
    gen = torch.Generator().manual_seed(1)
    inside = problem.sample_interior(1000, generator=gen)
    assert problem.contains(inside).all()
    edge = problem.sample_boundary(1000, generator=gen, dtype=torch.float64)
    assert problem.contains(edge).all()
    on_face = (edge == problem.lower).any(-1) | (edge == problem.upper).any(-1)
    assert on_face.all()


def test_boundary_points_follow_the_face_measure():
    class Strip(Poisson1D):  # a 4 x 1 box: the long faces carry 4/5 of the boundary measure
        pass

    problem = Helmholtz2D()
    problem.upper = torch.tensor([3.0, 1.0], dtype=torch.float64)  # box [-1, 3] x [-1, 1]
    edge = problem.sample_boundary(20_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    long_faces = ((edge[:, 1] == -1) | (edge[:, 1] == 1)).double().mean()
    assert abs(long_faces - 8 / 12) < 5 * math.sqrt((8 / 12) * (4 / 12) / 20_000)


def test_pinn_loss_is_zero_on_the_exact_solution_and_the_mean_square_otherwise():
    problem = Helmholtz2D(1, 4)
    batch = CollocationBatch(points(problem, 100), problem.sample_boundary(40, dtype=torch.float64))
    loss = pinn_loss(problem, boundary_weight=3.0)
    assert loss(problem.exact, batch) <= 1e-16

    def shifted(x):
        return problem.exact(x) + 0.5

    expected = (problem.k**2 * 0.5) ** 2 + 3.0 * 0.25  # residual -k^2 * 0.5, boundary mismatch 0.5
    assert loss(shifted, batch).item() == pytest.approx(expected, rel=1e-12)


def test_fit_draws_fresh_points_each_step_or_every_k_steps():
    problem = Poisson1D(frequency=1.0)
    seen = []

    def recording_loss(model, batch):
        seen.append(batch.interior)
        return pinn_loss(problem)(model, batch)

    model = nn.Linear(1, 1)
    fit(
        model,
        UniformSampler(problem, 8, seed=0),
        loss=recording_loss,
        epochs=2,
        steps_per_epoch=3,
        progress=False,
    )
    assert len(seen) == 6 and len({tuple(x.flatten().tolist()) for x in seen}) == 6
    seen.clear()
    sampler = UniformSampler(problem, 8, resample_every=3, seed=0)
    fit(model, sampler, loss=recording_loss, epochs=6, progress=False)
    assert len({tuple(x.flatten().tolist()) for x in seen}) == 2
    assert all(torch.equal(seen[0], x) for x in seen[:3])


def test_a_seeded_sampler_is_reproducible():
    problem = TwoPeaksPoisson2D()
    a, b = (next(iter(UniformSampler(problem, 10, seed=3))) for _ in range(2))
    assert torch.equal(a.interior, b.interior) and torch.equal(a.boundary, b.boundary)


def test_fit_trains_a_pinn_on_poisson1d():
    problem = Poisson1D(frequency=1.0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    sampler = UniformSampler(problem, 64, boundary_points=2, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    fit(
        model,
        sampler,
        loss=pinn_loss(problem),
        epochs=4,
        steps_per_epoch=100,
        optimizer=optimizer,
        progress=False,
    )
    x = torch.linspace(-1, 1, 101)[:, None]
    error = (model(x).squeeze(-1) - problem.exact(x)).norm() / problem.exact(x).norm()
    assert error < 0.05


class _Zero(nn.Module):
    def forward(self, x):
        return 0.0 * x.sum(-1)


def test_rad_weights_are_the_papers_formula():
    problem = Poisson1D("peak", sharpness=100.0)
    sampler = ResidualSampler(problem, _Zero(), 10, candidates=100, k=2.0, c=0.5, seed=0)
    x = points(problem, 30).float()
    r = problem.source(x).abs()  # the zero model's residual is -f
    expected = r**2 / (r**2).mean() + 0.5
    assert torch.allclose(sampler.density_weights(x), expected, rtol=1e-5)


def test_rad_concentrates_where_the_residual_is_and_c_large_is_uniform():
    problem = Poisson1D("peak", sharpness=1000.0, center=0.0)
    near_peak = 0.1  # |x| < 0.1: 10% of the interval [-1, 1]
    sharp = ResidualSampler(problem, _Zero(), 500, candidates=5000, c=0.0, seed=0)
    x = next(iter(sharp)).interior
    assert problem.contains(x).all()
    assert (x.abs() < near_peak).double().mean() > 0.5
    flat = ResidualSampler(problem, _Zero(), 500, candidates=5000, c=1e6, seed=0)
    fraction = (next(iter(flat)).interior.abs() < near_peak).double().mean()
    assert abs(fraction - 0.1) < 5 * math.sqrt(0.1 * 0.9 / 500)


def test_rad_draws_distinct_candidates():
    problem = Poisson1D()
    x = next(iter(ResidualSampler(problem, _Zero(), 100, candidates=100, seed=0))).interior
    assert len(torch.unique(x)) == 100
