"""Bad input to PROSE and the ODE family data."""

from __future__ import annotations

import pytest
import sympy
import torch

from probtheory.errors import InputDataError, UnknownNameError, UnsupportedError
from probtheory.sciml.problems import ODE_SYSTEMS, ode_family_dataset
from probtheory.sciml.prose import PROSE, SymbolTokenizer, noisy_symbols, prose_loss
from tests.bad_input import BadInput, check_case

TOKENIZER = SymbolTokenizer(2)
X0 = sympy.Symbol("x0")
FAMILY = ODE_SYSTEMS["van-der-pol"]


def model(**kwargs):
    return PROSE(TOKENIZER, torch.linspace(0, 1, 4), d_model=8, heads=2, layers=1, **kwargs)


CASES = [
    BadInput("SymbolTokenizer", "zero variables", lambda: SymbolTokenizer(0), InputDataError, "variables"),
    BadInput(
        "SymbolTokenizer.decode",
        "an unknown symbol token",
        lambda: TOKENIZER.decode(["add", "x0", "tan"]),
        InputDataError,
        "tokens",
    ),
    BadInput(
        "SymbolTokenizer.decode",
        "an incomplete expression",
        lambda: TOKENIZER.decode(["add", "x0"]),
        InputDataError,
        "tokens",
    ),
    BadInput(
        "SymbolTokenizer.encode",
        "a variable beyond the system's",
        lambda: TOKENIZER.encode([sympy.Symbol("x5")]),
        UnsupportedError,
        "equations",
    ),
    BadInput(
        "SymbolTokenizer.encode",
        "a division by a variable",
        lambda: TOKENIZER.encode([1 / X0]),
        UnsupportedError,
        "equations",
    ),
    BadInput(
        "SymbolTokenizer.ids",
        "a length too short",
        lambda: TOKENIZER.ids(["x0", "|", "x1"], 3),
        InputDataError,
        "length",
    ),
    BadInput(
        "PROSE",
        "d_model not divisible by heads",
        lambda: PROSE(TOKENIZER, torch.zeros(3), d_model=10, heads=4),
        InputDataError,
        "d_model",
    ),
    BadInput(
        "PROSE", "observation times as a list", lambda: PROSE(TOKENIZER, [0.0, 1.0]), InputDataError, "t_obs"
    ),
    BadInput(
        "PROSE",
        "a tokenizer of the wrong type",
        lambda: PROSE("x0 x1", torch.zeros(3)),
        InputDataError,
        "tokenizer",
    ),
    BadInput(
        "PROSE.forward",
        "observations at the wrong number of times",
        lambda: model()(torch.zeros(2, 5, 2), torch.zeros(3), torch.zeros(2, 4, dtype=torch.int64)),
        InputDataError,
        "u_obs",
    ),
    BadInput(
        "PROSE.forward",
        "no symbols for a model that uses them",
        lambda: model()(torch.zeros(2, 4, 2), torch.zeros(3)),
        InputDataError,
        "symbols",
    ),
    BadInput(
        "PROSE.symbol_logits",
        "decoding symbols with a data-only model",
        lambda: model(use_symbols=False).symbol_logits(
            torch.zeros(1, 4, 8), None, torch.zeros(1, 2, dtype=torch.int64)
        ),
        UnsupportedError,
        "use_symbols",
    ),
    BadInput(
        "prose_loss",
        "a negative symbol weight",
        lambda: prose_loss(torch.zeros(3), -1.0),
        InputDataError,
        "symbol_weight",
    ),
    BadInput(
        "noisy_symbols",
        "noise of 100%",
        lambda: noisy_symbols(FAMILY.rhs, FAMILY.coefficients, coefficient_noise=1.0),
        InputDataError,
        "coefficient_noise",
    ),
    BadInput(
        "ode_family_dataset",
        "an unknown family",
        lambda: ode_family_dataset(2, ["lorenz-96"]),
        UnknownNameError,
        "systems",
    ),
    BadInput(
        "ode_family_dataset",
        "a prediction window before the observations",
        lambda: ode_family_dataset(2, predict=(1.0, 2.0)),
        InputDataError,
        "predict",
    ),
    BadInput(
        "ode_family_dataset",
        "a spread of 100%",
        lambda: ode_family_dataset(2, coefficient_spread=1.0),
        InputDataError,
        "coefficient_spread",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
