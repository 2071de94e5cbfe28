"""Bad input to the PDE problems, the PINN loss and the collocation samplers: one row per mistake."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError, UnknownNameError, UnsupportedError
from probtheory.sciml.aas import AdversarialSampler
from probtheory.sciml.box_flow import BoxFlow
from probtheory.sciml.pinn import (
    CollocationBatch,
    CollocationSampler,
    ResidualSampler,
    UniformSampler,
    pinn_loss,
)
from probtheory.sciml.problems import Helmholtz2D, PDEProblem, Poisson1D, TwoPeaksPoisson2D, laplacian
from tests.bad_input import BadInput, check_case

HELMHOLTZ = Helmholtz2D()
POISSON = Poisson1D()
INSIDE = torch.zeros(4, 2)
OUTSIDE = torch.tensor([[0.0, 0.0], [1.5, 0.0]])
EDGE = HELMHOLTZ.sample_boundary(4)


def aas() -> AdversarialSampler:
    return AdversarialSampler(POISSON, 10, ascent_points=8, seed=0)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(2, 1)


CASES = [
    BadInput(
        "PDEProblem",
        "upper corner below the lower",
        lambda: PDEProblem([0.0, 0.0], [1.0, -1.0]),
        InputDataError,
        "upper[1]",
    ),
    BadInput(
        "PDEProblem",
        "corners of different lengths",
        lambda: PDEProblem([0.0, 0.0], [1.0]),
        InputDataError,
        "upper",
    ),
    BadInput("PDEProblem", "NaN corner", lambda: PDEProblem([math.nan], [1.0]), InputDataError, "lower[0]"),
    BadInput(
        "PDEProblem.exact",
        "no known exact solution",
        lambda: PDEProblem([0.0], [1.0]).exact(torch.zeros(1, 1)),
        UnsupportedError,
        "exact",
    ),
    BadInput(
        "PDEProblem.residual",
        "a point outside the domain",
        lambda: HELMHOLTZ.residual(net(), OUTSIDE),
        InputDataError,
        "x",
        pattern="outside",
    ),
    BadInput(
        "PDEProblem.residual",
        "NaN point",
        lambda: HELMHOLTZ.residual(net(), torch.full((2, 2), math.nan)),
        InputDataError,
        "x",
    ),
    BadInput(
        "PDEProblem.residual",
        "points of the wrong dimension",
        lambda: HELMHOLTZ.residual(net(), torch.zeros(3, 1)),
        InputDataError,
        "x",
    ),
    BadInput(
        "PDEProblem.residual",
        "no points",
        lambda: HELMHOLTZ.residual(net(), torch.zeros(0, 2)),
        InputDataError,
        "x",
    ),
    BadInput(
        "PDEProblem.residual",
        "model with two outputs",
        lambda: HELMHOLTZ.residual(nn.Linear(2, 2), INSIDE),
        InputDataError,
        "model",
    ),
    BadInput(
        "PDEProblem.residual",
        "model not callable",
        lambda: HELMHOLTZ.residual("u", INSIDE),
        InputDataError,
        "model",
    ),
    BadInput(
        "PDEProblem.boundary_loss",
        "boundary point outside the box",
        lambda: HELMHOLTZ.boundary_loss(net(), OUTSIDE),
        InputDataError,
        "x",
    ),
    BadInput(
        "PDEProblem.sample_interior", "zero points", lambda: HELMHOLTZ.sample_interior(0), InputDataError, "n"
    ),
    BadInput(
        "PDEProblem.sample_boundary",
        "fractional count",
        lambda: HELMHOLTZ.sample_boundary(2.5),
        InputDataError,
        "n",
    ),
    BadInput(
        "PDEProblem.contains",
        "points of the wrong dimension",
        lambda: HELMHOLTZ.contains(torch.zeros(3, 5)),
        InputDataError,
        "x",
    ),
    BadInput("Poisson1D", "unknown solution", lambda: Poisson1D("cosine"), UnknownNameError, "solution"),
    BadInput(
        "Poisson1D",
        "peak outside the interval",
        lambda: Poisson1D("peak", center=2.0),
        InputDataError,
        "center",
    ),
    BadInput(
        "Poisson1D", "negative frequency", lambda: Poisson1D(frequency=-1.0), InputDataError, "frequency"
    ),
    BadInput("Poisson1D", "empty interval", lambda: Poisson1D(domain=(1.0, 1.0)), InputDataError, "upper[0]"),
    BadInput("Helmholtz2D", "zero frequency", lambda: Helmholtz2D(0.0, 4.0), InputDataError, "a1"),
    BadInput("Helmholtz2D", "negative wave number", lambda: Helmholtz2D(k=-1.0), InputDataError, "k"),
    BadInput(
        "TwoPeaksPoisson2D", "zero sharpness", lambda: TwoPeaksPoisson2D(0.0), InputDataError, "sharpness"
    ),
    BadInput(
        "laplacian",
        "points without grad",
        lambda: laplacian(torch.zeros(3), torch.zeros(3, 2)),
        InputDataError,
        "x",
    ),
    BadInput(
        "laplacian",
        "two values per point",
        lambda: laplacian(torch.zeros(3, 2), torch.zeros(3, 2, requires_grad=True)),
        InputDataError,
        "u",
    ),
    BadInput("pinn_loss", "not a PDE problem", lambda: pinn_loss("poisson"), InputDataError, "problem"),
    BadInput(
        "pinn_loss",
        "negative boundary weight",
        lambda: pinn_loss(POISSON, boundary_weight=-1.0),
        InputDataError,
        "boundary_weight",
    ),
    BadInput(
        "pinn_loss",
        "a classification batch",
        lambda: pinn_loss(HELMHOLTZ)(net(), [INSIDE, EDGE, EDGE]),
        InputDataError,
        "batch",
    ),
    BadInput(
        "CollocationBatch",
        "interior point outside the box",
        lambda: pinn_loss(HELMHOLTZ)(net(), CollocationBatch(OUTSIDE, EDGE)),
        InputDataError,
        "x",
    ),
    BadInput(
        "CollocationSampler", "zero points", lambda: UniformSampler(HELMHOLTZ, 0), InputDataError, "points"
    ),
    BadInput(
        "CollocationSampler",
        "not a PDE problem",
        lambda: CollocationSampler("box", 10),
        InputDataError,
        "problem",
    ),
    BadInput(
        "UniformSampler",
        "integer dtype",
        lambda: UniformSampler(HELMHOLTZ, 10, dtype=torch.int64),
        InputDataError,
        "dtype",
    ),
    BadInput(
        "UniformSampler",
        "resample every 0 steps",
        lambda: UniformSampler(HELMHOLTZ, 10, resample_every=0),
        InputDataError,
        "resample_every",
    ),
    BadInput(
        "ResidualSampler",
        "fewer candidates than points",
        lambda: ResidualSampler(HELMHOLTZ, net(), 100, candidates=50),
        InputDataError,
        "candidates",
    ),
    BadInput(
        "ResidualSampler",
        "negative uniform floor",
        lambda: ResidualSampler(HELMHOLTZ, net(), 10, c=-1.0),
        InputDataError,
        "c",
    ),
    BadInput(
        "ResidualSampler",
        "model is a function",
        lambda: ResidualSampler(HELMHOLTZ, HELMHOLTZ.exact, 10),
        InputDataError,
        "model",
    ),
    BadInput(
        "BoxFlow",
        "upper corner below the lower",
        lambda: BoxFlow([0.0, 1.0], [1.0, 0.0]),
        InputDataError,
        "upper[1]",
    ),
    BadInput("BoxFlow", "a single spline bin", lambda: BoxFlow([0.0], [1.0], bins=1), InputDataError, "bins"),
    BadInput(
        "BoxFlow", "no coupling layers", lambda: BoxFlow([0.0], [1.0], layers=0), InputDataError, "layers"
    ),
    BadInput(
        "BoxFlow.log_prob",
        "NaN point",
        lambda: BoxFlow([0.0], [1.0]).log_prob(torch.full((2, 1), math.nan)),
        InputDataError,
        "x",
    ),
    BadInput(
        "BoxFlow.log_prob",
        "points of the wrong dimension",
        lambda: BoxFlow([0.0], [1.0]).log_prob(torch.zeros(2, 3)),
        InputDataError,
        "x",
    ),
    BadInput("BoxFlow.sample", "zero samples", lambda: BoxFlow([0.0], [1.0]).sample(0), InputDataError, "n"),
    BadInput(
        "AdversarialSampler",
        "zero regulariser weight",
        lambda: AdversarialSampler(POISSON, 10, beta=0.0),
        InputDataError,
        "beta",
    ),
    BadInput(
        "AdversarialSampler",
        "a flow on another box",
        lambda: AdversarialSampler(POISSON, 10, flow=BoxFlow([0.0], [1.0])),
        InputDataError,
        "flow",
    ),
    BadInput(
        "AdversarialSampler",
        "all points uniform",
        lambda: AdversarialSampler(POISSON, 10, uniform_fraction=1.0),
        InputDataError,
        "uniform_fraction",
    ),
    BadInput(
        "AdversarialSampler",
        "ascent every 0 steps",
        lambda: AdversarialSampler(POISSON, 10, ascent_every=0),
        InputDataError,
        "ascent_every",
    ),
    BadInput(
        "AdversarialSampler.ascend",
        "residual function not callable",
        lambda: aas().ascend(3.0),
        InputDataError,
        "residual_fn",
    ),
    BadInput(
        "AdversarialSampler.ascend",
        "two residuals per point",
        lambda: aas().ascend(lambda x: torch.zeros(len(x), 2)),
        InputDataError,
        "residual_fn",
    ),
    BadInput(
        "AdversarialSampler.ascend",
        "NaN residual",
        lambda: aas().ascend(lambda x: x[:, 0] * math.nan),
        InputDataError,
        "residual_fn",
    ),
    BadInput(
        "AdversarialSampler.exact_objective",
        "a 3-D problem",
        lambda: AdversarialSampler(PDEProblem([0.0] * 3, [1.0] * 3), 4).exact_objective(lambda x: x[:, 0]),
        InputDataError,
        "problem",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
