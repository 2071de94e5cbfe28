"""Bad input to probtheory.energy: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from probtheory.energy import DenseHebbian, EquilibriumPropagation, MonotoneDBM
from probtheory.energy.categorical_mean_field import (
    default_step,
    mean_field_free_energy,
    mean_field_residual,
    solve_mean_field,
)
from probtheory.energy.equilibrium_propagation import asymmetry_bias
from probtheory.energy.hebbian import prototype_normalisation
from probtheory.energy.hebbian_theory import (
    dataset_entropy,
    erf_overlap,
    phase_diagram,
    plot_phase_diagram,
    zero_temperature_overlaps,
)
from probtheory.energy.hebbian_theory import solve_mean_field as hebbian_mean_field
from probtheory.energy.hopfield_network import HopfieldNetwork
from probtheory.energy.proximal_softmax import block_softmax, prox_softmax
from probtheory.errors import InputDataError, UnsupportedError
from tests.bad_input import BadInput, check_case

X64 = torch.float64
NAN = float("nan")
STATES = torch.tensor([[0, 1], [1, 0], [1, 1]])


def dbm() -> MonotoneDBM:
    return MonotoneDBM([2, 2], seed=0)


def hebbian() -> DenseHebbian:
    return DenseHebbian.synthetic(K=2, N=8, r=0.8, M=3, seed=0)


def ep() -> EquilibriumPropagation:
    return EquilibriumPropagation(3, 4, 2, seed=0)


def hopfield() -> HopfieldNetwork:
    return HopfieldNetwork(3, 4, 2, seed=0)


X, Y = torch.randn(5, 3, dtype=X64), torch.randn(5, 2, dtype=X64)
SPINS = torch.ones(8, dtype=torch.int8)


CASES = [
    # MonotoneDBM
    BadInput(
        "MonotoneDBM",
        "fit on an empty tensor",
        lambda: dbm().fit(torch.zeros(0, 2, dtype=torch.long), progress=False),
        InputDataError,
        "x",
    ),
    BadInput("MonotoneDBM", "m of 1", lambda: MonotoneDBM([2, 2], m=1.0), InputDataError, "m"),
    BadInput("MonotoneDBM", "NaN m", lambda: MonotoneDBM([2, 2], m=NAN), InputDataError, "m"),
    BadInput("MonotoneDBM", "NaN step", lambda: MonotoneDBM([2, 2], alpha=NAN), InputDataError, "alpha"),
    BadInput(
        "MonotoneDBM",
        "a variable with one category",
        lambda: MonotoneDBM([2, 1]),
        InputDataError,
        "visible_sizes[1]",
    ),
    BadInput("MonotoneDBM", "float seed", lambda: MonotoneDBM([2, 2], seed=0.5), InputDataError, "seed"),
    BadInput(
        "MonotoneDBM",
        "state out of range",
        lambda: dbm().classify(torch.tensor([[0, 2]])),
        InputDataError,
        "x",
    ),
    BadInput(
        "MonotoneDBM",
        "NaN observe_prob",
        lambda: dbm().fit(STATES, observe_prob=NAN, progress=False),
        InputDataError,
        "observe_prob",
    ),
    BadInput(
        "MonotoneDBM",
        "unknown mask strategy",
        lambda: dbm().fit(STATES, mask_strategy="random", progress=False),
        InputDataError,
        "mask_strategy",
    ),
    BadInput(
        "MonotoneDBM",
        "mask of another shape",
        lambda: dbm().complete(STATES, torch.ones(3, 3, dtype=torch.bool)),
        InputDataError,
        "mask",
    ),
    BadInput(
        "MonotoneDBM",
        "NaN marginals to free_energy",
        lambda: dbm().free_energy(torch.full((4,), NAN, dtype=X64)),
        InputDataError,
        "q",
    ),
    BadInput(
        "MonotoneDBM",
        "variable index out of range",
        lambda: dbm().predict_proba(STATES, variable=2),
        InputDataError,
        "variable",
    ),
    # mean-field functions
    BadInput(
        "solve_mean_field",
        "NaN bias",
        lambda: solve_mean_field(torch.zeros(4, 4, dtype=X64), torch.full((4,), NAN, dtype=X64), [2, 2]),
        InputDataError,
        "bias",
    ),
    BadInput(
        "solve_mean_field",
        "coupling of the wrong size",
        lambda: solve_mean_field(torch.zeros(3, 3, dtype=X64), torch.zeros(4, dtype=X64), [2, 2]),
        InputDataError,
        "coupling",
    ),
    BadInput(
        "solve_mean_field",
        "step above 1",
        lambda: solve_mean_field(torch.zeros(4, 4, dtype=X64), torch.zeros(4, dtype=X64), [2, 2], alpha=1.5),
        InputDataError,
        "alpha",
    ),
    BadInput(
        "default_step",
        "a non-square coupling",
        lambda: default_step(torch.zeros(3, 4, dtype=X64)),
        InputDataError,
        "coupling",
    ),
    BadInput(
        "mean_field_residual",
        "NaN marginals",
        lambda: mean_field_residual(
            torch.full((1, 4), NAN, dtype=X64),
            torch.zeros(4, 4, dtype=X64),
            torch.zeros(4, dtype=X64),
            [2, 2],
        ),
        InputDataError,
        "q",
    ),
    BadInput(
        "mean_field_free_energy",
        "bias of the wrong size",
        lambda: mean_field_free_energy(
            torch.full((4,), 0.5, dtype=X64), torch.zeros(4, 4, dtype=X64), torch.zeros(3, dtype=X64)
        ),
        InputDataError,
        "coupling",
    ),
    BadInput(
        "prox_softmax",
        "NaN logits (every Newton loop would run to its cap)",
        lambda: prox_softmax(torch.full((4,), NAN, dtype=X64), [2, 2], 0.5),
        InputDataError,
        "y",
    ),
    BadInput(
        "prox_softmax",
        "zero step",
        lambda: prox_softmax(torch.zeros(4, dtype=X64), [2, 2], 0.0),
        InputDataError,
        "alpha",
    ),
    BadInput(
        "block_softmax",
        "sizes not summing to the width",
        lambda: block_softmax(torch.zeros(5, dtype=X64), [2, 2]),
        InputDataError,
        "y",
    ),
    # DenseHebbian and its theory
    BadInput(
        "DenseHebbian",
        "0/1 pixels instead of +-1 spins",
        lambda: DenseHebbian(torch.randint(0, 2, (2, 3, 8))),
        InputDataError,
        "examples",
    ),
    BadInput(
        "DenseHebbian",
        "odd interaction order",
        lambda: DenseHebbian(torch.ones(2, 3, 8), P=3),
        UnsupportedError,
        "P",
    ),
    BadInput(
        "DenseHebbian", "NaN quality", lambda: DenseHebbian.synthetic(2, 8, NAN, 3), InputDataError, "r"
    ),
    BadInput(
        "DenseHebbian",
        "unknown rule",
        lambda: DenseHebbian(torch.ones(2, 3, 8), rule="hebbian"),
        InputDataError,
        "rule",
    ),
    BadInput(
        "DenseHebbian",
        "state of the wrong length",
        lambda: hebbian().retrieve(torch.ones(7), progress=False),
        InputDataError,
        "state",
    ),
    BadInput(
        "DenseHebbian",
        "negative temperature",
        lambda: hebbian().retrieve(SPINS, beta=-1.0, progress=False),
        InputDataError,
        "beta",
    ),
    BadInput(
        "HebbianChain",
        "spin index -1 (silently wrapped)",
        lambda: hebbian().chain(SPINS).flip(-1),
        InputDataError,
        "i",
    ),
    BadInput(
        "HebbianChain",
        "spin index N",
        lambda: hebbian().chain(SPINS).energy_difference(8),
        InputDataError,
        "i",
    ),
    BadInput(
        "HebbianChain",
        "visiting order of the wrong length",
        lambda: hebbian().chain(SPINS).sweep(math.inf, np.arange(4), np.zeros(4)),
        InputDataError,
        "order",
    ),
    BadInput(
        "prototype_normalisation",
        "quality above 1",
        lambda: prototype_normalisation(1.5, 3),
        InputDataError,
        "r",
    ),
    BadInput("dataset_entropy", "zero examples", lambda: dataset_entropy(0.5, 0), InputDataError, "M"),
    BadInput("erf_overlap", "NaN quality", lambda: erf_overlap(NAN, 10), InputDataError, "r"),
    BadInput(
        "zero_temperature_overlaps",
        "non-integer M",
        lambda: zero_temperature_overlaps(0.5, 2.5),
        InputDataError,
        "M",
    ),
    BadInput(
        "solve_mean_field",
        "Hebbian theory: unknown branch",
        lambda: hebbian_mean_field(0.5, 5, 2.0, branch="stable"),
        InputDataError,
        "branch",
    ),
    BadInput(
        "phase_diagram",
        "three axes",
        lambda: phase_diagram(r=[0.5], M=[3], beta=[1.0]),
        InputDataError,
        "r, M, beta",
    ),
    BadInput(
        "phase_diagram",
        "NaN fixed M",
        lambda: phase_diagram(r=[0.5, 0.6], M=NAN, beta=[1.0, 2.0]),
        InputDataError,
        "M",
    ),
    BadInput(
        "plot_phase_diagram",
        "the overlaps array instead of the PhaseDiagram",
        lambda: plot_phase_diagram(np.zeros((2, 2))),
        InputDataError,
        "diagram",
    ),
    # Hopfield network and equilibrium propagation
    BadInput(
        "HopfieldNetwork", "NaN nudge", lambda: hopfield().relax(X, Y, beta=NAN), InputDataError, "beta"
    ),
    BadInput(
        "HopfieldNetwork",
        "complex NaN nudge",
        lambda: hopfield().relax(X, Y, beta=complex(NAN, 1.0)),
        InputDataError,
        "beta",
    ),
    BadInput("HopfieldNetwork", "empty batch", lambda: hopfield().predict(X[:0]), InputDataError, "x"),
    BadInput(
        "HopfieldNetwork",
        "unknown method",
        lambda: HopfieldNetwork(3, 4, 2, method="rk4"),
        InputDataError,
        "method",
    ),
    BadInput(
        "HopfieldNetwork",
        "ReLU (not holomorphic)",
        lambda: HopfieldNetwork(3, 4, 2, activation="relu"),
        UnsupportedError,
        "activation",
    ),
    BadInput(
        "HopfieldNetwork",
        "NaN starting state",
        lambda: hopfield().relax(X, initial=torch.full((5, 6), NAN, dtype=X64)),
        InputDataError,
        "initial",
    ),
    BadInput(
        "EquilibriumPropagation",
        "fit on an empty data set",
        lambda: ep().fit(X[:0], Y[:0], progress=False),
        InputDataError,
        "x",
    ),
    BadInput(
        "EquilibriumPropagation",
        "NaN targets",
        lambda: ep().fit(X, torch.full_like(Y, NAN), progress=False),
        InputDataError,
        "y",
    ),
    BadInput(
        "EquilibriumPropagation",
        "zero nudge",
        lambda: ep().fit(X, Y, beta=0.0, progress=False),
        InputDataError,
        "beta",
    ),
    BadInput(
        "EquilibriumPropagation",
        "unknown estimator",
        lambda: ep().fit(X, Y, estimator="centered", progress=False),
        InputDataError,
        "estimator",
    ),
    BadInput(
        "EquilibriumPropagation",
        "error vector of the wrong shape",
        lambda: ep().error_vector_to_gradient(torch.zeros(5, 6, dtype=X64), X, torch.zeros(5, 2, dtype=X64)),
        InputDataError,
        "delta",
    ),
    BadInput(
        "asymmetry_bias",
        "non-square Jacobians",
        lambda: asymmetry_bias(torch.zeros(2, 3, 4, dtype=X64), torch.zeros(2, 3, dtype=X64)),
        InputDataError,
        "jacobian",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_hopfield_predictions_come_back_in_the_input_dtype():
    model = hopfield()  # float64
    out = model.predict(X.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, model.predict(X.float().double()).float())
