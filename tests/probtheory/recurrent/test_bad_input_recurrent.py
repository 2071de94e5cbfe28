"""Bad input to probtheory.recurrent: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import InputDataError, NotFittedError
from probtheory.recurrent import PVRNN, ErrorRegression, PVRNNLayerConfig, pattern_switching_sequences
from probtheory.recurrent.data import classify_segments, pattern_templates, switching_rate
from probtheory.recurrent.gaussian_kl import gaussian_kl
from tests.bad_input import BadInput, check_case

X64 = torch.float64
NAN = float("nan")
LAYER = PVRNNLayerConfig(4, 1, 2.0)
DATA = torch.randn(2, 6, 2, dtype=X64)
ONES = torch.ones(3, dtype=X64)


def model(**kw) -> PVRNN:
    return PVRNN(2, [LAYER], seed=0, **kw)


def regression() -> ErrorRegression:
    return ErrorRegression(model(), window=2, iterations=1, seed=0)


CASES = [
    BadInput("PVRNN", "float seed", lambda: PVRNN(2, [LAYER], seed=0.0), InputDataError, "seed"),
    BadInput(
        "PVRNN",
        "a layer given as a dict",
        lambda: PVRNN(2, [{"d_size": 4, "z_size": 1, "tau": 2.0}]),
        InputDataError,
        "layers",
    ),
    BadInput(
        "PVRNN",
        "unknown likelihood",
        lambda: PVRNN(2, [LAYER], likelihood="normal"),
        InputDataError,
        "likelihood",
    ),
    BadInput("PVRNN", "integer dtype", lambda: PVRNN(2, [LAYER], dtype=torch.int64), InputDataError, "dtype"),
    BadInput(
        "PVRNN",
        "fit on zero sequences",
        lambda: model().fit(DATA[:0], epochs=1, progress=False),
        InputDataError,
        "sequences",
    ),
    BadInput(
        "PVRNN",
        "NaN observation",
        lambda: model().fit(torch.full_like(DATA, NAN), epochs=1, progress=False),
        InputDataError,
        "sequences",
    ),
    BadInput(
        "PVRNN",
        "observations of another dimension",
        lambda: model().fit(DATA[..., :1], epochs=1, progress=False),
        InputDataError,
        "sequences",
    ),
    BadInput(
        "PVRNN",
        "a mask without one valid step",
        lambda: model().fit(DATA, epochs=1, progress=False, mask=torch.tensor([[True] * 6, [False] * 6])),
        InputDataError,
        "mask",
    ),
    BadInput("PVRNN", "zero length", lambda: model().generate(2, 0), InputDataError, "length"),
    BadInput(
        "PVRNN", "unknown noise mode", lambda: model().unroll(3, n=2, noise="prior"), InputDataError, "noise"
    ),
    BadInput(
        "PVRNN",
        "adaptive vectors of the wrong width (z_size instead of 2 z_size)",
        lambda: model().unroll(3, A=[torch.zeros(2, 3, 1, dtype=X64)]),
        InputDataError,
        "A",
    ),
    BadInput("PVRNN", "reconstruct before fit", lambda: model().reconstruct(), NotFittedError),
    BadInput(
        "PVRNN", "loss given the sequences twice", lambda: model().loss(DATA, DATA), InputDataError, "result"
    ),
    BadInput(
        "PVRNNLayerConfig",
        "time constant below 1",
        lambda: PVRNNLayerConfig(4, 1, 0.5),
        InputDataError,
        "tau",
    ),
    BadInput(
        "PVRNNLayerConfig", "NaN meta-prior", lambda: PVRNNLayerConfig(4, 1, 2.0, w=NAN), InputDataError, "w"
    ),
    BadInput(
        "ErrorRegression",
        "run on an empty sequence",
        lambda: regression().run(torch.zeros(0, 2, dtype=X64), progress=False),
        InputDataError,
        "observations",
    ),
    BadInput(
        "ErrorRegression",
        "run on zero sequences",
        lambda: regression().run(torch.zeros(0, 5, 2, dtype=X64), progress=False),
        InputDataError,
        "observations",
    ),
    BadInput(
        "ErrorRegression",
        "NaN observation",
        lambda: regression().open_loop(torch.full((5, 2), NAN, dtype=X64)),
        InputDataError,
        "observations",
    ),
    BadInput(
        "ErrorRegression",
        "a model that is not a PVRNN",
        lambda: ErrorRegression(torch.nn.GRU(2, 4)),
        InputDataError,
        "model",
    ),
    BadInput(
        "ErrorRegression", "zero window", lambda: ErrorRegression(model(), window=0), InputDataError, "window"
    ),
    BadInput(
        "ErrorRegression", "float seed", lambda: ErrorRegression(model(), seed=0.5), InputDataError, "seed"
    ),
    BadInput(
        "gaussian_kl",
        "zero standard deviation (log 0)",
        lambda: gaussian_kl(ONES, ONES * 0, ONES, ONES),
        InputDataError,
        "sigma_q",
    ),
    BadInput(
        "gaussian_kl", "NaN mean", lambda: gaussian_kl(ONES * NAN, ONES, ONES, ONES), InputDataError, "mu_q"
    ),
    BadInput(
        "pattern_switching_sequences",
        "switch probability above 1",
        lambda: pattern_switching_sequences(2, 20, switch_prob=1.5),
        InputDataError,
        "switch_prob",
    ),
    BadInput(
        "pattern_switching_sequences",
        "NaN switch probability",
        lambda: pattern_switching_sequences(2, 20, switch_prob=NAN),
        InputDataError,
        "switch_prob",
    ),
    BadInput(
        "pattern_switching_sequences",
        "float seed",
        lambda: pattern_switching_sequences(2, 20, seed=1.5),
        InputDataError,
        "seed",
    ),
    BadInput(
        "pattern_templates", "four patterns", lambda: pattern_templates(4), InputDataError, "num_patterns"
    ),
    BadInput(
        "classify_segments",
        "zero sequences",
        lambda: classify_segments(torch.zeros(0, 40, 2, dtype=X64)),
        InputDataError,
        "sequences",
    ),
    BadInput(
        "switching_rate",
        "a single segment",
        lambda: switching_rate(torch.zeros(2, 10, 2, dtype=X64)),
        InputDataError,
        "sequences",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_error_regression_results_come_back_in_the_observations_dtype():
    er = regression()
    observations = torch.randn(4, 2, dtype=torch.float32)
    result = er.run(observations, progress=False)
    assert result.predictions.dtype == torch.float32 and result.errors.dtype == torch.float32
