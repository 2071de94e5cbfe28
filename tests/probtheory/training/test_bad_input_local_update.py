"""Bad input to the update-strategy path of fit, LocalUpdate, and the evaluation measures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.plugins.evaluation import relative_l2, saved_tensor_bytes
from probtheory.training import LocalUpdate, UpdateStrategy, fit
from tests.bad_input import BadInput, check_case

X = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
Y = torch.tensor([0, 1, 0, 1, 0, 1])


def blocks() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def objective(h, batch):
    return h.pow(2).mean()


def fit_with(update) -> object:
    return fit(blocks(), [(X, Y)], epochs=1, update=update, progress=False)


CASES = [
    BadInput(
        "LocalUpdate",
        "three objectives for two blocks",
        lambda: LocalUpdate(blocks(), [objective] * 3),
        InputDataError,
        "objectives",
    ),
    BadInput(
        "LocalUpdate",
        "one module instead of its blocks",
        lambda: LocalUpdate(nn.Linear(3, 4), [objective]),
        InputDataError,
        "blocks",
    ),
    BadInput("LocalUpdate", "no blocks", lambda: LocalUpdate([], []), InputDataError, "blocks"),
    BadInput(
        "LocalUpdate",
        "a string as a block",
        lambda: LocalUpdate(["linear"], [objective]),
        InputDataError,
        "blocks[0]",
    ),
    BadInput(
        "LocalUpdate",
        "no objective for a learning block",
        lambda: LocalUpdate(blocks(), [objective, None]),
        InputDataError,
        "objectives[1]",
    ),
    BadInput(
        "LocalUpdate",
        "a block index out of range in train",
        lambda: LocalUpdate(blocks(), [objective] * 2, train=[2]),
        InputDataError,
        "train",
    ),
    BadInput(
        "LocalUpdate",
        "zero inner steps",
        lambda: LocalUpdate(blocks(), [objective] * 2, inner_steps=0),
        InputDataError,
        "inner_steps",
    ),
    BadInput(
        "LocalUpdate",
        "an objective returning per-sample losses",
        lambda: fit_with(LocalUpdate(blocks(), [lambda h, b: h.pow(2).sum(1)] * 2)),
        InputDataError,
        "objectives[0]",
    ),
    BadInput(
        "LocalUpdate",
        "an objective that ignores the block output",
        lambda: fit_with(LocalUpdate(blocks(), [lambda h, b: torch.tensor(1.0)] * 2)),
        InputDataError,
        "objectives[0]",
    ),
    BadInput(
        "UpdateStrategy",
        "an update strategy that returns a float",
        lambda: fit_with(lambda state, batch: 1.0),
        InputDataError,
        "update",
    ),
    BadInput(
        "UpdateStrategy",
        "an update strategy returning NaN",
        lambda: fit_with(lambda state, batch: torch.tensor(float("nan"))),
        InputDataError,
        "update",
    ),
    BadInput("fit", "an update strategy that is not callable", lambda: fit_with(3), InputDataError, "update"),
    BadInput(
        "relative_l2",
        "shapes differ",
        lambda: relative_l2(torch.zeros(3), torch.ones(4)),
        InputDataError,
        "prediction",
    ),
    BadInput(
        "relative_l2",
        "a zero reference",
        lambda: relative_l2(torch.ones(3), torch.zeros(3)),
        InputDataError,
        "target",
    ),
    BadInput(
        "relative_l2",
        "NaN in the prediction",
        lambda: relative_l2(torch.tensor([float("nan")]), torch.ones(1)),
        InputDataError,
        "prediction",
    ),
    BadInput(
        "saved_tensor_bytes",
        "a tensor instead of a callable",
        lambda: saved_tensor_bytes(torch.ones(2)),
        InputDataError,
        "run",
    ),
    BadInput(
        "saved_tensor_bytes",
        "a module in exclude",
        lambda: saved_tensor_bytes(lambda: None, exclude=[nn.Linear(2, 2)]),
        InputDataError,
        "exclude[0]",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_update_strategy_is_a_protocol():
    assert isinstance(LocalUpdate(blocks(), [objective] * 2), UpdateStrategy)
