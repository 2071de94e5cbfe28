"""Preconditioned GD on a nonlinear variational PDE and the Barron norm (Marwah et al., ICML 2023)."""

from __future__ import annotations

import math

import pytest
import torch

from probtheory.theory.pde_beyond_linearity import (
    barron_norm,
    barron_step_bound,
    unrolled_preconditioned_gd,
    variational_energy,
)

F64 = torch.float64


def grid(n):
    x = torch.arange(n, dtype=F64) * 2 * math.pi / n
    return torch.meshgrid(x, x, indexing="ij")


def forcing(n):
    x, y = grid(n)
    return torch.sin(x) * torch.cos(2 * y) + 0.5 * torch.cos(x + y) + 0.3 * torch.sin(3 * y - x)


def spectral_laplacian(u):
    n = u.shape[0]
    k = torch.fft.fftfreq(n, d=1.0 / n).to(F64)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    return torch.fft.ifft2(-k2 * torch.fft.fft2(u)).real


def test_one_preconditioned_step_solves_the_quadratic_energy_exactly():
    f = forcing(32)
    x, y = grid(32)
    start = torch.cos(5 * x) - 0.2 * torch.sin(x + 7 * y)  # any start
    result = unrolled_preconditioned_gd(f, gamma=0.0, steps=1, step_size=1.0, initial=start)
    exact = torch.sin(x) * torch.cos(2 * y) / 5 + 0.5 * torch.cos(x + y) / 2 + 0.3 * torch.sin(3 * y - x) / 10
    assert (result.solution - exact).abs().max().item() <= 1e-12
    assert (-spectral_laplacian(result.solution) - f).abs().max().item() <= 1e-12
    assert result.residual_norms[-1].item() <= 1e-14


def test_nonlinear_solution_satisfies_the_pde_and_lowers_the_energy():
    f = forcing(64)
    result = unrolled_preconditioned_gd(f, gamma=0.3, steps=100, tol=1e-11)
    assert result.converged and result.iterations < 40
    u = result.solution
    n = 64
    k = torch.fft.fftfreq(n, d=1.0 / n).to(F64)
    ux = torch.fft.ifft2(1j * k[:, None] * torch.fft.fft2(u)).real
    uy = torch.fft.ifft2(1j * k[None, :] * torch.fft.fft2(u)).real
    flux = 1 + 0.3 * (ux**2 + uy**2)
    div = torch.fft.ifft2(
        1j * k[:, None] * torch.fft.fft2(flux * ux) + 1j * k[None, :] * torch.fft.fft2(flux * uy)
    ).real
    # -div((1 + γ|∇u|²)∇u) = f up to the aliasing of the cubic term on the grid
    assert (-div - f).abs().max().item() <= 1e-6
    energies = [variational_energy(u0, f, gamma=0.3).item() for u0 in (torch.zeros_like(f), u)]
    assert energies[1] < energies[0]
    # the minimiser: perturbing it raises the energy
    x, y = grid(n)
    bumped = variational_energy(u + 1e-3 * torch.cos(x - 2 * y), f, gamma=0.3).item()
    assert bumped > energies[1]


def test_residuals_decay_geometrically_at_a_resolution_independent_rate():
    counts = []
    for n in (32, 64, 128):
        result = unrolled_preconditioned_gd(forcing(n), gamma=0.3, steps=100, tol=1e-10)
        counts.append(result.iterations)
        r = result.residual_norms
        ratios = (r[6:] / r[5:-1]).tolist()
        assert max(ratios) < 0.35 and max(ratios) / min(ratios) < 1.5
    assert max(counts) - min(counts) <= 1


def test_unpreconditioned_descent_needs_steps_that_grow_with_the_grid():
    counts = []
    for n in (8, 16):
        eta = 2 / (1 + 0.75 * n * n)
        result = unrolled_preconditioned_gd(
            forcing(n), gamma=0.3, steps=2000, tol=1e-3, preconditioned=False, step_size=eta
        )
        assert result.converged
        counts.append(result.iterations)
    assert 3.0 <= counts[1] / counts[0] <= 5.0  # ~4x per doubling of N


def test_barron_norm_of_a_trigonometric_polynomial_is_the_definition():
    g = torch.Generator().manual_seed(0)
    x, y = grid(32)
    u = torch.zeros_like(x)
    for _ in range(6):
        kx, ky = torch.randint(-5, 6, (2,), generator=g).tolist()
        a, b = torch.randn(2, generator=g, dtype=F64).tolist()
        u = u + a * torch.cos(kx * x + ky * y) + b * torch.sin(kx * x + ky * y)
    # a cos + b sin = (a - ib)/2 e^{ik.x} + (a + ib)/2 e^{-ik.x}; draws may repeat or oppose a mode
    coefficients: dict[tuple[int, int], complex] = {}
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        kx, ky = torch.randint(-5, 6, (2,), generator=g).tolist()
        a, b = torch.randn(2, generator=g, dtype=F64).tolist()
        for sign in (1, -1):
            key = (sign * kx, sign * ky)
            coefficients[key] = coefficients.get(key, 0) + (a - 1j * sign * b) / 2
    definition = sum((1 + math.hypot(*k)) * abs(c) for k, c in coefficients.items())
    assert barron_norm(u).item() == pytest.approx(definition, rel=1e-12, abs=1e-12)
    assert barron_norm(torch.ones(8, 8, dtype=F64)).item() == pytest.approx(1.0)
    # a 1-D and a 3-D grid work the same way
    t = torch.arange(16, dtype=F64) * 2 * math.pi / 16
    assert barron_norm(3 * torch.cos(2 * t)).item() == pytest.approx(3 * 3)


def test_barron_norm_grows_within_the_one_step_recursion():
    f = forcing(32)
    eta, gamma = 0.8, 0.2
    result = unrolled_preconditioned_gd(f, gamma=gamma, steps=6, step_size=eta, record_barron=True)
    k = torch.fft.fftfreq(32, d=1.0 / 32).to(F64)
    k2 = (k[:, None] ** 2 + k[None, :] ** 2).clamp_min(1.0)
    forcing_barron = barron_norm(torch.fft.ifft2(torch.fft.fft2(f) / k2).real).item()
    b = result.barron_norms.tolist()
    assert b[0] == 0.0 and b[1] == pytest.approx(eta * forcing_barron, rel=1e-12)
    for before, after in zip(b, b[1:], strict=False):
        assert after <= barron_step_bound(before, forcing_barron, gamma=gamma, step_size=eta) * (1 + 1e-12)


def test_per_step_sizes_are_differentiable():
    f = forcing(16)
    etas = torch.full((5,), 0.7, dtype=F64, requires_grad=True)
    result = unrolled_preconditioned_gd(f, gamma=0.2, steps=5, step_size=etas)
    reference = unrolled_preconditioned_gd(f, gamma=0.2, steps=60, tol=1e-13).solution
    loss = (result.solution - reference).square().mean()
    loss.backward()
    assert etas.grad is not None and torch.isfinite(etas.grad).all() and (etas.grad < 0).all()
