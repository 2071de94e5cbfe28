"""Bad input to the spiking neurons and SLTT: one row per realistic mistake."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers import LIFNeuron, TemporalSum, rate_code
from probtheory.training import fit
from probtheory.training.sltt import SLTT, bptt_loss
from tests.bad_input import BadInput, check_case

X = torch.rand(4, 3, 5, generator=torch.Generator().manual_seed(0)).round()  # 4 sequences, T = 3
Y = torch.tensor([0, 1, 0, 1])


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), LIFNeuron(), nn.Linear(6, 2))


def shape_change():
    neuron = LIFNeuron()
    neuron(torch.zeros(2, 3))
    return neuron(torch.zeros(4, 3))


CASES = [
    BadInput("LIFNeuron", "a time constant below 1", lambda: LIFNeuron(tau=0.5), InputDataError, "tau"),
    BadInput("LIFNeuron", "a zero threshold", lambda: LIFNeuron(v_th=0.0), InputDataError, "v_th"),
    BadInput(
        "LIFNeuron",
        "an unknown surrogate",
        lambda: LIFNeuron(surrogate="arctan"),
        InputDataError,
        "surrogate",
    ),
    BadInput("LIFNeuron", "a negative sharpness", lambda: LIFNeuron(alpha=-1.0), InputDataError, "alpha"),
    BadInput("LIFNeuron", "a new batch size without reset()", shape_change, InputDataError, "current"),
    BadInput(
        "TemporalSum", "a function instead of a module", lambda: TemporalSum(len), InputDataError, "net"
    ),
    BadInput(
        "TemporalSum",
        "an input without a time dimension",
        lambda: TemporalSum(net())(X[:, 0]),
        InputDataError,
        "x",
    ),
    BadInput(
        "rate_code",
        "intensities above 1",
        lambda: rate_code(torch.full((2, 3), 2.0), 4),
        InputDataError,
        "intensities",
    ),
    BadInput(
        "rate_code",
        "integer pixel values",
        lambda: rate_code(torch.ones(2, 3, dtype=torch.int64), 4),
        InputDataError,
        "intensities",
    ),
    BadInput("rate_code", "zero time steps", lambda: rate_code(torch.rand(2, 3), 0), InputDataError, "steps"),
    BadInput("SLTT", "K larger than T", lambda: SLTT(4, K=5), InputDataError, "K"),
    BadInput("SLTT", "zero time steps", lambda: SLTT(0), InputDataError, "T"),
    BadInput(
        "SLTT",
        "a batch without a time dimension",
        lambda: fit(net(), [(X[:, 0], Y)], epochs=1, update=SLTT(3), progress=False),
        InputDataError,
        "x",
    ),
    BadInput(
        "SLTT",
        "sequences of another length than T",
        lambda: fit(net(), [(X, Y)], epochs=1, update=SLTT(8), progress=False),
        InputDataError,
        "x",
    ),
    BadInput(
        "SLTT",
        "a batch that is not a pair",
        lambda: fit(net(), [X], epochs=1, update=SLTT(3), progress=False),
        InputDataError,
        "batch",
    ),
    BadInput(
        "bptt_loss",
        "a batch without a time dimension",
        lambda: bptt_loss(net(), (X[:, 0], Y)),
        InputDataError,
        "x",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
