"""Bad input to AugLocal (probtheory.training.auglocal): one row per realistic mistake."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.training.auglocal import (
    AugmentedAuxiliary,
    auglocal_update,
    fresh_copy,
    pyramid_depths,
    sampled_layer_indices,
)
from tests.bad_input import BadInput, check_case


def net(layers: int = 4) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in range(layers)], nn.Linear(4, 3))


X = torch.randn(5, 4)
Y = torch.tensor([0, 1, 2, 0, 1])
BN_AUX = AugmentedAuxiliary(nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 3)))
LINEAR_AUX = AugmentedAuxiliary(nn.Linear(4, 3))

CASES = [
    BadInput(
        "auglocal_update",
        "more modules than layers",
        lambda: auglocal_update(net(4), num_modules=5, depth=2),
        InputDataError,
        "num_modules",
    ),
    BadInput(
        "auglocal_update",
        "one module (that is backprop)",
        lambda: auglocal_update(net(), num_modules=1, depth=2),
        InputDataError,
        "num_modules",
    ),
    BadInput(
        "auglocal_update",
        "zero auxiliary depth",
        lambda: auglocal_update(net(), num_modules=3, depth=0),
        InputDataError,
        "depth",
    ),
    BadInput(
        "auglocal_update",
        "negative pyramid coefficient",
        lambda: auglocal_update(net(), num_modules=3, depth=2, coefficient=-1.0),
        InputDataError,
        "coefficient",
    ),
    BadInput(
        "auglocal_update",
        "a plain module, not a Sequential",
        lambda: auglocal_update(nn.Linear(4, 3), num_modules=2, depth=1),
        InputDataError,
        "model",
    ),
    BadInput(
        "auglocal_update",
        "a single layer and a head",
        lambda: auglocal_update(net(1), num_modules=2, depth=1),
        InputDataError,
        "model",
    ),
    BadInput(
        "auglocal_update",
        "copy_layer not callable",
        lambda: auglocal_update(net(), num_modules=2, depth=1, copy_layer="deepcopy"),
        InputDataError,
        "copy_layer",
    ),
    BadInput(
        "AugmentedAuxiliary",
        "BatchNorm auxiliary, batch of one sample",
        lambda: BN_AUX(X[:1], (X[:1], Y[:1])),
        InputDataError,
        "batch",
    ),
    BadInput(
        "AugmentedAuxiliary",
        "labels outside the classes",
        lambda: LINEAR_AUX(X, (X, Y + 3)),
        InputDataError,
        "y",
    ),
    BadInput("AugmentedAuxiliary", "batch without labels", lambda: LINEAR_AUX(X, X), InputDataError, "batch"),
    BadInput(
        "AugmentedAuxiliary",
        "auxiliary is not a module",
        lambda: AugmentedAuxiliary(lambda h: h),
        InputDataError,
        "auxiliary",
    ),
    BadInput("pyramid_depths", "K = 1", lambda: pyramid_depths(2, 1), InputDataError, "num_modules"),
    BadInput(
        "sampled_layer_indices",
        "module ends at the last layer",
        lambda: sampled_layer_indices(7, 8, 2),
        InputDataError,
        "module_end",
    ),
    BadInput(
        "sampled_layer_indices", "zero depth", lambda: sampled_layer_indices(0, 8, 0), InputDataError, "depth"
    ),
    BadInput("fresh_copy", "not a module", lambda: fresh_copy(torch.zeros(3)), InputDataError, "module"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
