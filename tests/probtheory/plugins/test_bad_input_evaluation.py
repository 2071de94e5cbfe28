"""Bad input to the measures of probtheory.plugins.evaluation and the update strategies' helpers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers.spiking import reset_neurons, temporal_detach
from probtheory.plugins.evaluation import accuracy, accuracy_verdict, count_parameters, matched_width
from probtheory.sciml.linear import MultigridPoisson
from probtheory.training.local import batch_inputs
from tests.bad_input import BadInput, check_case


def enter(context):
    with context:
        pass


CASES = [
    BadInput(
        "accuracy",
        "fewer labels than inputs",
        lambda: accuracy(nn.Linear(3, 2), torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64)),
        InputDataError,
        "y",
    ),
    BadInput(
        "accuracy_verdict",
        "a percentage",
        lambda: accuracy_verdict("a", 97.0, "b", 0.9, 100),
        InputDataError,
        "value",
    ),
    BadInput(
        "accuracy_verdict",
        "no test points",
        lambda: accuracy_verdict("a", 0.9, "b", 0.9, 0),
        InputDataError,
        "n_test",
    ),
    BadInput(
        "count_parameters",
        "a parameter list",
        lambda: count_parameters([torch.zeros(2)]),
        InputDataError,
        "model",
    ),
    BadInput(
        "matched_width",
        "a zero target",
        lambda: matched_width(lambda w: nn.Linear(2, w), 0),
        InputDataError,
        "target",
    ),
    BadInput("batch_inputs", "a dictionary batch", lambda: batch_inputs({"x": 1}), InputDataError, "batch"),
    BadInput("reset_neurons", "a list of neurons", lambda: reset_neurons([]), InputDataError, "model"),
    BadInput(
        "temporal_detach", "a list of neurons", lambda: enter(temporal_detach([])), InputDataError, "model"
    ),
    BadInput(
        "LinearSolver.solve",
        "a right-hand side with NaN",
        lambda: MultigridPoisson(n=8).solve(MultigridPoisson(n=8).matrix, torch.full((64,), float("nan"))),
        InputDataError,
        "b",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
