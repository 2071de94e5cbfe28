"""Bad input to the linear solvers (probtheory.sciml.linear) and poisson2d_matrix: one row per mistake."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.sciml.linear import (
    DCDMSolver,
    DirectionCNN,
    MultigridPoisson,
    RitzRightHandSides,
    conjugate_gradient,
    dcdm_loss,
)
from probtheory.sciml.problems import poisson2d_matrix
from tests.bad_input import BadInput, check_case

_G = torch.Generator().manual_seed(0)
SPD = poisson2d_matrix(4)  # 16 x 16 scipy sparse
B = torch.randn(16, generator=_G, dtype=torch.float64)
NONSYMMETRIC = torch.as_tensor(SPD.toarray()) + torch.triu(torch.ones(16, 16, dtype=torch.float64), 1)
INDEFINITE = torch.diag(torch.linspace(-1.0, 1.0, 16, dtype=torch.float64))
NAN_B = B.clone()
NAN_B[3] = float("nan")
BATCH = torch.randn(4, 16, generator=_G)


def nonsymmetric_function(v):
    return NONSYMMETRIC @ v


BAD = InputDataError
cg = conjugate_gradient


def ID(r):
    return r


class Zero(nn.Module):
    def forward(self, r):
        return torch.zeros_like(r)


CASES = [
    BadInput("conjugate_gradient", "non-symmetric matrix", lambda: cg(NONSYMMETRIC, B),
             BAD, "matvec", r"symmetric"),
    BadInput("conjugate_gradient", "non-symmetric matvec function (random probe)",
             lambda: cg(nonsymmetric_function, B), BAD, "matvec", r"u\^T A v"),
    BadInput("conjugate_gradient", "indefinite matrix (q^T A q <= 0)", lambda: cg(INDEFINITE, B),
             BAD, "matvec", r"q\^T A q"),
    BadInput("conjugate_gradient", "matrix of the wrong size", lambda: cg(torch.eye(5), B),
             BAD, "matvec"),
    BadInput("conjugate_gradient", "matvec returns the wrong shape",
             lambda: cg(lambda v: v[:3], B), BAD, "matvec"),
    BadInput("conjugate_gradient", "NaN right-hand side", lambda: cg(SPD, NAN_B),
             BAD, "b"),
    BadInput("conjugate_gradient", "right-hand side as a matrix", lambda: cg(SPD, B[:, None]),
             BAD, "b"),
    BadInput("conjugate_gradient", "initial guess of the wrong length", lambda: cg(SPD, B, B[:4]),
             BAD, "x0"),
    BadInput("conjugate_gradient", "tolerance >= 1", lambda: cg(SPD, B, tol=1.0),
             BAD, "tol"),
    BadInput("conjugate_gradient", "maxiter 0", lambda: cg(SPD, B, maxiter=0),
             BAD, "maxiter"),
    BadInput("conjugate_gradient", "preconditioner not callable",
             lambda: cg(SPD, B, preconditioner="jacobi"), BAD, "preconditioner"),
    BadInput("conjugate_gradient", "indefinite preconditioner",
             lambda: cg(SPD, B, preconditioner=lambda r: -r), BAD, "preconditioner"),
    BadInput("DCDMSolver", "direction not callable", lambda: DCDMSolver("cnn"), BAD, "direction"),
    BadInput("DCDMSolver.solve", "non-symmetric matrix", lambda: DCDMSolver(ID).solve(NONSYMMETRIC, B),
             BAD, "matvec"),
    BadInput("DCDMSolver.solve", "indefinite matrix (q^T A q <= 0)",
             lambda: DCDMSolver(ID).solve(INDEFINITE, B), BAD, "matvec", r"q\^T A q"),
    BadInput("DCDMSolver.solve", "NaN right-hand side", lambda: DCDMSolver(ID).solve(SPD, NAN_B),
             BAD, "b"),
    BadInput("DCDMSolver.solve", "network returns NaN",
             lambda: DCDMSolver(lambda r: r * float("nan")).solve(SPD, B), BAD, "direction"),
    BadInput("DCDMSolver.solve", "network returns zero", lambda: DCDMSolver(Zero()).solve(SPD, B),
             BAD, "direction"),
    BadInput("DCDMSolver.solve", "network returns the wrong shape",
             lambda: DCDMSolver(lambda r: r[:, :3]).solve(SPD, B), BAD, "direction"),
    BadInput("dcdm_loss", "non-symmetric matrix",
             lambda: dcdm_loss(NONSYMMETRIC.float())(nn.Identity(), BATCH),
             BAD, "matvec"),
    BadInput("dcdm_loss", "NaN right-hand sides", lambda: dcdm_loss(SPD)(nn.Identity(), BATCH * float("nan")),
             BAD, "batch"),
    BadInput("dcdm_loss", "a single right-hand side, not a batch",
             lambda: dcdm_loss(SPD)(nn.Identity(), BATCH[0]), BAD, "batch"),
    BadInput("dcdm_loss", "network output zero (q^T A q = 0)", lambda: dcdm_loss(SPD)(Zero(), BATCH),
             BAD, "matvec", r"q\^T A q"),
    BadInput("RitzRightHandSides", "as many Ritz vectors as unknowns",
             lambda: RitzRightHandSides(SPD, num_vectors=16), BAD, "num_vectors"),
    BadInput("RitzRightHandSides", "a matvec function without n",
             lambda: RitzRightHandSides(lambda v: v), BAD, "n"),
    BadInput("RitzRightHandSides", "non-symmetric matrix", lambda: RitzRightHandSides(NONSYMMETRIC),
             BAD, "matvec"),
    BadInput("RitzRightHandSides", "batch size 0",
             lambda: RitzRightHandSides(SPD, num_vectors=4, batch_size=0),
             BAD, "batch_size"),
    BadInput("DirectionCNN", "zero channels", lambda: DirectionCNN(channels=0), BAD, "channels"),
    BadInput("DirectionCNN", "residual not on a square grid",
             lambda: DirectionCNN(levels=2)(torch.randn(2, 15)),
             BAD, "residual"),
    BadInput("DirectionCNN", "coefficient of another grid",
             lambda: DirectionCNN(levels=2, coefficient=torch.ones(8, 8))(torch.randn(2, 16)),
             BAD, "coefficient"),
    BadInput("MultigridPoisson", "grid not divisible by 2^(levels - 1)",
             lambda: MultigridPoisson(n=12, levels=4), BAD, "levels"),
    BadInput("MultigridPoisson", "neither coefficient nor n", lambda: MultigridPoisson(), BAD, "n"),
    BadInput("MultigridPoisson", "negative coefficient", lambda: MultigridPoisson(-torch.ones(8, 8)),
             BAD, "coefficient"),
    BadInput("MultigridPoisson", "non-square coefficient", lambda: MultigridPoisson(torch.ones(8, 4)),
             BAD, "coefficient"),
    BadInput("MultigridPoisson", "damping 0", lambda: MultigridPoisson(n=8, omega=0.0), BAD, "omega"),
    BadInput("MultigridPoisson", "residual of another grid", lambda: MultigridPoisson(n=8)(B),
             BAD, "residual"),
    BadInput("MultigridPoisson.solve", "NaN right-hand side",
             lambda: MultigridPoisson(n=4, levels=2).solve(SPD, NAN_B), BAD, "b"),
    BadInput("poisson2d_matrix", "one cell per side", lambda: poisson2d_matrix(1), BAD, "n"),
    BadInput("poisson2d_matrix", "coefficient of another grid", lambda: poisson2d_matrix(4, torch.ones(3, 3)),
             BAD, "coefficient"),
    BadInput("poisson2d_matrix", "zero coefficient", lambda: poisson2d_matrix(4, torch.zeros(4, 4)),
             BAD, "coefficient"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
