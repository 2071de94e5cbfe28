"""VCycleConv and MgNO (He, Liu and Xu, ICLR 2024): classical multigrid as one choice of weights.

With circular padding, residual restriction, zero coarse guess and classical weights, the layer
must equal an independent NumPy V-cycle (written with ``np.roll``) and contract the residual of
periodic -Laplace(u) + u = f by at most 0.25 per cycle at every grid size. Zero padding on an
even grid is no consistent Dirichlet hierarchy, so there the layer is tested as an operator only
(equal to the NumPy cycle with zero-extended stencils, symmetric positive definite).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from probtheory.layers import MgNO, VCycleConv
from proofs_checks.catalog.mgno import apply_operator, numpy_vcycle


def classical(grid_size: int, levels: int, padding_mode: str = "circular") -> VCycleConv:
    layer = VCycleConv(
        1, 1, levels, (2, 2), padding_mode=padding_mode, restrict="residual", coarse_guess="zero"
    )
    return layer.double().set_classical_weights(grid_size, mass=1.0, omega=0.8)


def apply(layer: VCycleConv, f: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return layer(torch.from_numpy(f)[None, None])[0, 0].numpy()


@pytest.mark.parametrize("n", [32, 64, 128])
def test_classical_weights_equal_numpy_vcycle_and_contract(n):
    levels = int(math.log2(n)) + 1  # down to one periodic cell, solved exactly
    layer = classical(n, levels)
    f = np.random.default_rng(n).standard_normal((n, n))
    reference = numpy_vcycle(f, levels)
    assert np.linalg.norm(apply(layer, f) - reference) <= 1e-10 * np.linalg.norm(reference)
    u, residual = np.zeros_like(f), f.copy()
    for _ in range(6):
        u = u + apply(layer, residual)
        new_residual = f - apply_operator(u, 1.0)
        assert np.linalg.norm(new_residual) <= 0.25 * np.linalg.norm(residual)
        residual = new_residual


def test_zero_padding_is_the_zero_extended_cycle_and_a_symmetric_positive_operator():
    n, levels = 16, 3
    layer = classical(n, levels, padding_mode="zeros")
    f = np.random.default_rng(1).standard_normal((n, n))
    reference = numpy_vcycle(f, levels, periodic=False)
    assert np.linalg.norm(apply(layer, f) - reference) <= 1e-12 * np.linalg.norm(reference)
    basis = torch.eye(n * n, dtype=torch.float64).reshape(n * n, 1, n, n)
    with torch.no_grad():
        matrix = layer(basis).reshape(n * n, n * n).numpy()
    # full weighting is linear interpolation's adjoint / 4 and the sweeps are symmetric: B = B^T
    assert np.abs(matrix - matrix.T).max() <= 1e-12 * np.abs(matrix).max()
    assert np.linalg.eigvalsh((matrix + matrix.T) / 2).min() > 0


def test_prolongation_wraps_the_coarse_grid_only_when_periodic():
    for mode, expected in (("circular", 0.5), ("zeros", 0.0)):
        layer = VCycleConv(1, 1, 2, (1, 0), padding_mode=mode, restrict="residual", coarse_guess="zero")
        layer.double()
        with torch.no_grad():
            layer.prolongations[0].weight.copy_(
                torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=torch.float64)
            )
            coarse = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
            coarse[0, 0, 3, 0] = 1.0  # coarse (3, 0) sits on fine (6, 0)
            fine = layer.prolongations[0](coarse)[0, 0]
        assert fine[6, 0] == 1.0 and fine[5, 0] == 0.5 and fine[7, 0] == 0.5 and fine[7, 1] == 0.25
        assert fine[0, 0] == 0.0  # fine row 0 is coarse row 0's own point
        # fine column 7 lies between coarse column 3 and, across the seam, coarse column 0
        assert fine[6, 7] == expected and fine[7, 7] == expected / 2


@pytest.mark.parametrize(("restrict", "coarse_guess"), [("f", "conv"), ("residual", "conv"), ("f", "zero")])
def test_random_periodic_cycle_is_linear_and_shift_equivariant(restrict, coarse_guess):
    torch.manual_seed(0)
    layer = VCycleConv(2, 3, 3, [(1, 1), (2, 0), (1, 1)], padding_mode="circular", restrict=restrict,
                       coarse_guess=coarse_guess).double()  # fmt: skip
    f, g = torch.randn(2, 2, 2, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        out = layer(f)
        assert out.shape == (2, 3, 16, 16)
        assert torch.allclose(layer(2 * f - 3 * g), 2 * out - 3 * layer(g), atol=1e-12)
        # a shift by the coarsest spacing 2^(levels-1) = 4 commutes with every level
        assert torch.allclose(layer(f.roll((4, -8), (2, 3))), out.roll((4, -8), (2, 3)), atol=1e-12)


def test_mgno_maps_fields_to_fields_and_trains():
    torch.manual_seed(0)
    model = MgNO(1, 4, 2, layers=2, smoothing=(1, 0))
    x = torch.randn(4, 1, 8, 8)
    target = torch.randn(4, 1, 8, 8)
    out = model(x)
    assert out.shape == (4, 1, 8, 8)
    loss = (out - target).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    for _ in range(10):  # plain gradient descent (the first optimizer step would import torch._dynamo)
        model.zero_grad()
        step_loss = (model(x) - target).pow(2).mean()
        step_loss.backward()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= 0.05 * parameter.grad
    assert step_loss.item() < loss.item()
