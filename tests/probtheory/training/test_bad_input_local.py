"""Bad input to the local rules' objectives and layers: forward-forward, tpSGD and PhyLL."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers.physical import BlackBoxLayer, IntensityTransmission
from probtheory.plugins.reproductions.tpsgd import DRTP
from probtheory.training import LocalUpdate, fit
from probtheory.training.local import (
    FFGoodness,
    LabelOverlay,
    LengthNormalization,
    TargetProjection,
    batch_labels,
    predict_by_goodness,
)
from probtheory.training.phyll import CosineGoodness
from tests.bad_input import BadInput, check_case

X = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
Y = torch.tensor([0, 1, 2, 1])


def ff_blocks() -> list[nn.Module]:
    torch.manual_seed(0)
    return [nn.Sequential(LengthNormalization(), nn.Linear(8, 4), nn.ReLU())]


def fit_ff(labels) -> object:
    blocks = ff_blocks()
    update = LocalUpdate(blocks, [FFGoodness(1.0)], inputs=LabelOverlay(3))
    return fit(nn.ModuleList(blocks), [(X, labels)], epochs=1, update=update, progress=False)


CASES = [
    BadInput("FFGoodness", "a zero threshold", lambda: FFGoodness(0.0), InputDataError, "theta"),
    BadInput("FFGoodness", "a negative threshold", lambda: FFGoodness(-1.0), InputDataError, "theta"),
    BadInput("FFGoodness", "a NaN threshold", lambda: FFGoodness(float("nan")), InputDataError, "theta"),
    BadInput(
        "FFGoodness",
        "an odd number of rows (no positive/negative halves)",
        lambda: FFGoodness(1.0)(torch.ones(3, 4)),
        InputDataError,
        "h",
    ),
    BadInput("LabelOverlay", "one class", lambda: LabelOverlay(1), InputDataError, "classes"),
    BadInput(
        "LabelOverlay", "an unknown mode", lambda: LabelOverlay(3, mode="prepend"), InputDataError, "mode"
    ),
    BadInput(
        "LabelOverlay", "a zero label scale", lambda: LabelOverlay(3, scale=0.0), InputDataError, "scale"
    ),
    BadInput(
        "LabelOverlay",
        "a batch label outside the classes",
        lambda: fit_ff(torch.tensor([0, 1, 3, 1])),
        InputDataError,
        "y",
    ),
    BadInput(
        "LabelOverlay",
        "a negative batch label",
        lambda: LabelOverlay(3)((X, torch.tensor([0, -1, 2, 1]))),
        InputDataError,
        "y",
    ),
    BadInput(
        "LabelOverlay.overlay",
        "a label outside the classes",
        lambda: LabelOverlay(3).overlay(X, torch.tensor([0, 1, 5, 1])),
        InputDataError,
        "labels",
    ),
    BadInput(
        "LabelOverlay.overlay",
        "float labels",
        lambda: LabelOverlay(3).overlay(X, Y.float()),
        InputDataError,
        "labels",
    ),
    BadInput(
        "LabelOverlay.overlay",
        "fewer features than classes to overwrite",
        lambda: LabelOverlay(6, mode="replace").overlay(X, Y),
        InputDataError,
        "x",
    ),
    BadInput(
        "LabelOverlay.negative_labels",
        "a label outside the classes",
        lambda: LabelOverlay(3).negative_labels(torch.tensor([3])),
        InputDataError,
        "labels",
    ),
    BadInput("LengthNormalization", "a zero eps", lambda: LengthNormalization(0.0), InputDataError, "eps"),
    BadInput(
        "predict_by_goodness",
        "goodness for one of two blocks",
        lambda: predict_by_goodness(ff_blocks() * 2, [FFGoodness.goodness], X, LabelOverlay(3)),
        InputDataError,
        "goodness",
    ),
    BadInput(
        "predict_by_goodness",
        "no block counted",
        lambda: predict_by_goodness(ff_blocks(), [None], X, LabelOverlay(3)),
        InputDataError,
        "goodness",
    ),
    BadInput(
        "predict_by_goodness",
        "a plain function as the overlay",
        lambda: predict_by_goodness(ff_blocks(), [FFGoodness.goodness], X, lambda b: b),
        InputDataError,
        "overlay",
    ),
    BadInput(
        "predict_by_goodness",
        "a 1-d input",
        lambda: predict_by_goodness(ff_blocks(), [FFGoodness.goodness], X[0], LabelOverlay(3)),
        InputDataError,
        "x",
    ),
    BadInput(
        "TargetProjection",
        "a projection of the wrong shape",
        lambda: TargetProjection(4, 3, projection=torch.zeros(3, 4)),
        InputDataError,
        "projection",
    ),
    BadInput(
        "TargetProjection",
        "an unknown loss",
        lambda: TargetProjection(4, 3, loss="huber"),
        InputDataError,
        "loss",
    ),
    BadInput("TargetProjection", "one class", lambda: TargetProjection(4, 1), InputDataError, "classes"),
    BadInput(
        "TargetProjection", "a zero scale", lambda: TargetProjection(4, 3, scale=0.0), InputDataError, "scale"
    ),
    BadInput(
        "TargetProjection",
        "a block output wider than the projection",
        lambda: TargetProjection(4, 3)(torch.ones(4, 5), (X, Y)),
        InputDataError,
        "h",
    ),
    BadInput(
        "TargetProjection",
        "a label outside the classes",
        lambda: TargetProjection(4, 3)(torch.ones(4, 4), (X, torch.tensor([0, 1, 2, 3]))),
        InputDataError,
        "y",
    ),
    BadInput(
        "DRTP",
        "a projection of the wrong shape",
        lambda: DRTP(4, 3, projection=torch.zeros(4, 2)),
        InputDataError,
        "projection",
    ),
    BadInput("batch_labels", "a batch without labels", lambda: batch_labels(X), InputDataError, "batch"),
    BadInput("CosineGoodness", "a zero theta", lambda: CosineGoodness(4, theta=0.0), InputDataError, "theta"),
    BadInput("CosineGoodness", "a zero width", lambda: CosineGoodness(0), InputDataError, "width"),
    BadInput(
        "CosineGoodness",
        "an odd number of rows",
        lambda: CosineGoodness(4)(torch.ones(3, 4)),
        InputDataError,
        "h",
    ),
    BadInput(
        "CosineGoodness.goodness",
        "an output wider than the probe",
        lambda: CosineGoodness(4).goodness(torch.ones(2, 5)),
        InputDataError,
        "h",
    ),
    BadInput(
        "BlackBoxLayer", "a system that is not callable", lambda: BlackBoxLayer(3), InputDataError, "system"
    ),
    BadInput("BlackBoxLayer", "an empty name", lambda: BlackBoxLayer(abs, name=""), InputDataError, "name"),
    BadInput(
        "BlackBoxLayer",
        "a system returning a list",
        lambda: BlackBoxLayer(lambda x: [x])(X),
        InputDataError,
        "system",
    ),
    BadInput(
        "IntensityTransmission",
        "negative measurement noise",
        lambda: IntensityTransmission(5, 3, noise=-0.1),
        InputDataError,
        "noise",
    ),
    BadInput(
        "IntensityTransmission",
        "zero outputs",
        lambda: IntensityTransmission(5, 0),
        InputDataError,
        "out_features",
    ),
    BadInput(
        "IntensityTransmission",
        "inputs of the wrong width",
        lambda: IntensityTransmission(6, 3)(X),
        InputDataError,
        "x",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
