"""darcy_dataset: thresholded Gaussian random field coefficients and their finite-volume solutions."""

from __future__ import annotations

import numpy as np
import torch

from probtheory.sciml.problems import darcy_dataset, poisson2d_matrix


def test_pairs_solve_the_finite_volume_system_and_are_reproducible():
    a, u = darcy_dataset(4, 16, seed=3)
    assert a.shape == u.shape == (4, 1, 16, 16) and a.dtype == u.dtype == torch.float64
    assert set(a.unique().tolist()) == {3.0, 12.0}
    for coefficient, solution in zip(a[:, 0].numpy(), u[:, 0].numpy(), strict=True):
        residual = poisson2d_matrix(16, coefficient) @ solution.ravel() - 1.0
        assert np.abs(residual).max() <= 1e-9
    # f = 1 > 0 with zero boundary values: the discrete maximum principle gives u > 0
    assert bool((u > 0).all())
    again_a, again_u = darcy_dataset(4, 16, seed=3)
    assert torch.equal(a, again_a) and torch.equal(u, again_u)
    assert not torch.equal(a, darcy_dataset(4, 16, seed=4)[0])


def test_forcing_scales_the_solution_and_both_phases_appear():
    a, u = darcy_dataset(2, 16, seed=0, forcing=1.0)
    a2, u2 = darcy_dataset(2, 16, seed=0, forcing=-2.0)
    assert torch.equal(a, a2) and torch.allclose(u2, -2.0 * u, rtol=1e-12, atol=0)
    # the field is centred (no constant mode): over many samples each value covers about half
    many, _ = darcy_dataset(40, 16, seed=1)
    assert 0.35 <= float((many == 12.0).double().mean()) <= 0.65
