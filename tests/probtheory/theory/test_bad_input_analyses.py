"""Bad input to the inductive-bias and PDE-beyond-linearity analyses: one row per realistic mistake."""

from __future__ import annotations

import math

import pytest
import torch
from gpytorch.kernels import RBFKernel

from probtheory.errors import InputDataError
from probtheory.theory.inductive_bias import (
    NoncentralChi2Fit,
    fit_scaled_noncentral_chi2,
    hypothesis_test_errors,
    inductive_bias,
)
from probtheory.theory.pde_beyond_linearity import (
    barron_norm,
    barron_step_bound,
    unrolled_preconditioned_gd,
    variational_energy,
)
from tests.bad_input import BadInput, check_case

F64 = torch.float64
NAN = float("nan")
X = torch.linspace(0, 1, 12, dtype=F64)[:, None]
Y = torch.sin(3 * X[:, 0])
KERNEL = RBFKernel().double()
ERRORS = torch.rand(200, dtype=F64, generator=torch.Generator().manual_seed(0)) + 0.1
GRID = torch.arange(16, dtype=F64) * 2 * math.pi / 16
F = torch.sin(GRID)[:, None] * torch.cos(2 * GRID)[None, :]


def ib(**overrides):
    arguments = dict(
        kernel=KERNEL, train_x=X[:8], train_y=Y[:8], test_x=X[8:], test_y=Y[8:], target_error=0.1
    )
    arguments.update(overrides)
    return inductive_bias(n_hypotheses=200, seed=0, **arguments)


CASES = [
    # inductive bias
    BadInput(
        "inductive_bias", "target error 0", lambda: ib(target_error=0.0), InputDataError, "target_error"
    ),
    BadInput(
        "inductive_bias",
        "negative target error",
        lambda: ib(target_error=-1e-3),
        InputDataError,
        "target_error",
    ),
    BadInput(
        "inductive_bias", "NaN target error", lambda: ib(target_error=NAN), InputDataError, "target_error"
    ),
    BadInput(
        "inductive_bias", "a sklearn-style kernel object", lambda: ib(kernel="rbf"), InputDataError, "kernel"
    ),
    BadInput(
        "hypothesis_test_errors",
        "under 100 hypotheses",
        lambda: hypothesis_test_errors(KERNEL, X[:8], Y[:8], X[8:], Y[8:], n_hypotheses=50),
        InputDataError,
        "n_hypotheses",
    ),
    BadInput(
        "hypothesis_test_errors",
        "targets of the wrong length",
        lambda: hypothesis_test_errors(KERNEL, X[:8], Y[:7], X[8:], Y[8:]),
        InputDataError,
        "train_y",
    ),
    BadInput(
        "hypothesis_test_errors",
        "test inputs with other features",
        lambda: hypothesis_test_errors(KERNEL, X[:8], Y[:8], torch.ones(4, 2, dtype=F64), Y[8:]),
        InputDataError,
        "test_x",
    ),
    BadInput(
        "hypothesis_test_errors",
        "one-hot test targets with fewer classes",
        lambda: hypothesis_test_errors(
            KERNEL, X[:8], torch.ones(8, 3, dtype=F64), X[8:], torch.ones(4, 2, dtype=F64)
        ),
        InputDataError,
        "test_y",
    ),
    BadInput(
        "hypothesis_test_errors",
        "NaN in the training targets",
        lambda: hypothesis_test_errors(KERNEL, X[:8], torch.full((8,), NAN, dtype=F64), X[8:], Y[8:]),
        InputDataError,
        "train_y",
    ),
    BadInput(
        "hypothesis_test_errors",
        "zero jitter",
        lambda: hypothesis_test_errors(KERNEL, X[:8], Y[:8], X[8:], Y[8:], jitter=0.0),
        InputDataError,
        "jitter",
    ),
    BadInput(
        "hypothesis_test_errors",
        "1-d training inputs",
        lambda: hypothesis_test_errors(KERNEL, X[:8, 0], Y[:8], X[8:], Y[8:]),
        InputDataError,
        "train_x",
    ),
    BadInput(
        "fit_scaled_noncentral_chi2",
        "under 100 errors",
        lambda: fit_scaled_noncentral_chi2(ERRORS[:50]),
        InputDataError,
        "len(errors)",
    ),
    BadInput(
        "fit_scaled_noncentral_chi2",
        "a negative error",
        lambda: fit_scaled_noncentral_chi2(torch.cat([ERRORS, torch.tensor([-1.0], dtype=F64)])),
        InputDataError,
        "errors",
    ),
    BadInput(
        "fit_scaled_noncentral_chi2",
        "all errors equal",
        lambda: fit_scaled_noncentral_chi2(torch.ones(200, dtype=F64)),
        InputDataError,
        "errors",
    ),
    BadInput(
        "fit_scaled_noncentral_chi2",
        "a NaN error",
        lambda: fit_scaled_noncentral_chi2(torch.cat([ERRORS, torch.tensor([NAN], dtype=F64)])),
        InputDataError,
        "errors",
    ),
    BadInput(
        "NoncentralChi2Fit", "zero scale", lambda: NoncentralChi2Fit(3.0, 1.0, 0.0), InputDataError, "scale"
    ),
    BadInput(
        "NoncentralChi2Fit",
        "negative noncentrality",
        lambda: NoncentralChi2Fit(3.0, -1.0, 1.0),
        InputDataError,
        "noncentrality",
    ),
    BadInput(
        "NoncentralChi2Fit.log_cdf",
        "NaN error level",
        lambda: NoncentralChi2Fit(3.0, 1.0, 1.0).log_cdf(NAN),
        InputDataError,
        "x",
    ),
    BadInput(
        "NoncentralChi2Fit.log_cdf_standard_error",
        "error level 0 (log P = -inf has no standard error)",
        lambda: NoncentralChi2Fit(3.0, 1.0, 1.0).log_cdf_standard_error(0.0, 10_000),
        InputDataError,
        "x",
    ),
    BadInput(
        "NoncentralChi2Fit.log_cdf_standard_error",
        "a central law (on the boundary, where the delta method does not apply)",
        lambda: NoncentralChi2Fit(3.0, 0.0, 1.0).log_cdf_standard_error(1.0, 10_000),
        InputDataError,
        "noncentrality",
    ),
    BadInput(
        "NoncentralChi2Fit.log_cdf_standard_error",
        "a float sample count",
        lambda: NoncentralChi2Fit(3.0, 1.0, 1.0).log_cdf_standard_error(1.0, 1e4),
        InputDataError,
        "n_samples",
    ),
    # PDEs beyond linearity
    BadInput(
        "unrolled_preconditioned_gd",
        "forcing with nonzero mean on the torus",
        lambda: unrolled_preconditioned_gd(F + 0.1),
        InputDataError,
        "forcing",
        pattern="zero mean",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "odd grid",
        lambda: unrolled_preconditioned_gd(F[:15, :15]),
        InputDataError,
        "forcing",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "non-square grid",
        lambda: unrolled_preconditioned_gd(F[:, :8]),
        InputDataError,
        "forcing",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "NaN in the forcing",
        lambda: unrolled_preconditioned_gd(torch.where(F > 0.9, NAN, F)),
        InputDataError,
        "forcing",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "negative gamma",
        lambda: unrolled_preconditioned_gd(F, gamma=-0.1),
        InputDataError,
        "gamma",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "zero steps",
        lambda: unrolled_preconditioned_gd(F, steps=0),
        InputDataError,
        "steps",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "zero step size",
        lambda: unrolled_preconditioned_gd(F, step_size=0.0),
        InputDataError,
        "step_size",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "per-step sizes of the wrong length",
        lambda: unrolled_preconditioned_gd(F, steps=5, step_size=torch.ones(4, dtype=F64)),
        InputDataError,
        "step_size",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "a negative per-step size",
        lambda: unrolled_preconditioned_gd(F, steps=2, step_size=torch.tensor([1.0, -1.0], dtype=F64)),
        InputDataError,
        "step_size",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "initial iterate on another grid",
        lambda: unrolled_preconditioned_gd(F, initial=torch.zeros(8, 8, dtype=F64)),
        InputDataError,
        "initial",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "tolerance 0",
        lambda: unrolled_preconditioned_gd(F, tol=0.0),
        InputDataError,
        "tol",
    ),
    BadInput(
        "unrolled_preconditioned_gd",
        "integer forcing",
        lambda: unrolled_preconditioned_gd(torch.zeros(8, 8, dtype=torch.long)),
        InputDataError,
        "forcing",
    ),
    BadInput("barron_norm", "a list of values", lambda: barron_norm([0.0, 1.0]), InputDataError, "u"),
    BadInput(
        "barron_norm", "odd grid", lambda: barron_norm(torch.zeros(5, 5, dtype=F64)), InputDataError, "u"
    ),
    BadInput(
        "barron_norm",
        "infinite value",
        lambda: barron_norm(torch.full((4, 4), math.inf, dtype=F64)),
        InputDataError,
        "u",
    ),
    BadInput(
        "barron_step_bound",
        "negative norm",
        lambda: barron_step_bound(-1.0, 1.0, gamma=0.1, step_size=1.0),
        InputDataError,
        "barron",
    ),
    BadInput(
        "barron_step_bound",
        "zero step size",
        lambda: barron_step_bound(1.0, 1.0, gamma=0.1, step_size=0.0),
        InputDataError,
        "step_size",
    ),
    BadInput(
        "variational_energy",
        "forcing with nonzero mean",
        lambda: variational_energy(F, F + 1.0, gamma=0.1),
        InputDataError,
        "forcing",
    ),
    BadInput(
        "variational_energy",
        "iterate on another grid",
        lambda: variational_energy(torch.zeros(8, 8, dtype=F64), F, gamma=0.1),
        InputDataError,
        "u",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
