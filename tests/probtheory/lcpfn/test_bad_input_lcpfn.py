"""Bad input to every public entry point of probtheory.lcpfn: one row per realistic mistake."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest
import torch

from probtheory.errors import CheckpointError, ConfigurationError, InputDataError
from probtheory.lcpfn import (
    BASIS_CURVES,
    LCPFN,
    PEAKED_PRIORS,
    CurveNormalizer,
    CurvePrior,
    GaussianMixture,
    ImportanceSamplingExtrapolator,
    MCMCExtrapolator,
    parametric_predictive,
)
from probtheory.lcpfn.cli import read_curve
from probtheory.lcpfn.curves import observation_range
from probtheory.lcpfn.real_curves import LearningCurveSet, generate_learning_curves, load_real_curves, main
from probtheory.pfn import PFN, GPPrior, TransformerConfig
from tests.bad_input import BadInput, check_case

nan = math.nan
inf = math.inf
WEIGHTS = Path(__file__).resolve().parents[3] / "probtheory" / "pfn" / "weights"
EPOCHS = torch.arange(1, 101, dtype=torch.float64)
CURVE = 0.9 - 0.6 * EPOCHS**-0.7  # an accuracy curve
X, Y, XQ = EPOCHS[:10], CURVE[:10], EPOCHS[10:20]
_FOLDERS: list[Path] = []  # the rows' files, removed after the module


@pytest.fixture(scope="module", autouse=True)
def _remove_files():
    yield
    for folder in _FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)


def _tmp() -> Path:
    _FOLDERS.append(Path(tempfile.mkdtemp(prefix="bad_input_lcpfn_")))
    return _FOLDERS[-1]


def _file(text: str) -> Path:
    path = _tmp() / "curve.csv"
    path.write_text(text)
    return path


@cache
def _lcpfn() -> LCPFN:
    return LCPFN.from_pretrained()


@cache
def _importance() -> ImportanceSamplingExtrapolator:
    return ImportanceSamplingExtrapolator(num_samples=500, num_components=20)


def _edited_lcpfn() -> Path:
    """A copy of the shipped LC-PFN whose JSON says max_epochs 50."""
    folder = _tmp()
    for suffix in (".safetensors", ".json"):
        shutil.copy(WEIGHTS / f"lcpfn{suffix}", folder / f"lcpfn{suffix}")
    config = json.loads((folder / "lcpfn.json").read_text())
    config["prior"]["max_epochs"] = 50
    (folder / "lcpfn.json").write_text(json.dumps(config, indent=2))
    return folder / "lcpfn"


def _mixture(**change) -> GaussianMixture:
    parts = {"logits": torch.zeros(2, 3), "loc": torch.zeros(2, 3), "scale": torch.ones(2, 3)}
    return GaussianMixture(**{**parts, **change})


def _params(n: int = 4) -> dict[str, torch.Tensor]:
    return CurvePrior().sample_parameters(n, 100, torch.Generator().manual_seed(0))


def _peaked(component: str, parameter: str, spec) -> dict:
    return {**PEAKED_PRIORS, component: {**PEAKED_PRIORS[component], parameter: spec}}


CASES = [
    # the model
    BadInput(
        "LCPFN",
        "a PFN that is not a curve model",
        lambda: LCPFN(
            PFN(
                TransformerConfig(num_buckets=4, emsize=8, nhead=2, nhid=8, nlayers=1),
                torch.linspace(0, 1, 5),
            )
        ),
        InputDataError,
        "pfn",
    ),
    BadInput("LCPFN", "a path instead of a PFN", lambda: LCPFN("lcpfn"), InputDataError, "pfn"),
    BadInput(
        "LCPFN.from_pretrained",
        "a GP PFN's name",
        lambda: LCPFN.from_pretrained("gp-rbf"),
        InputDataError,
        "name",
    ),
    BadInput(
        "LCPFN.load",
        "an edited max_epochs",
        lambda: LCPFN.load(_edited_lcpfn()),
        CheckpointError,
        pattern="config_sha256",
    ),
    BadInput(
        "LCPFN.load",
        "a missing checkpoint",
        lambda: LCPFN.load(_tmp() / "none"),
        CheckpointError,
        pattern="does not exist",
    ),
    # the extrapolation API (the LC-PFN and the baselines answer the same calls)
    BadInput(
        "CurveExtrapolator.predict_quantiles",
        "a NaN level",
        lambda: _lcpfn().predict_quantiles(X, Y, XQ, [nan, 0.5]),
        InputDataError,
        "qs",
    ),
    BadInput(
        "CurveExtrapolator.predict_quantiles",
        "levels in percent",
        lambda: _lcpfn().predict_quantiles(X, Y, XQ, [5, 50, 95]),
        InputDataError,
        "qs",
    ),
    BadInput(
        "CurveExtrapolator.predict_quantiles",
        "no levels",
        lambda: _lcpfn().predict_quantiles(X, Y, XQ, []),
        InputDataError,
        "qs",
    ),
    BadInput(
        "CurveExtrapolator.predict_quantiles",
        "a level of 1",
        lambda: _importance().predict_quantiles(X, Y, XQ, [0.5, 1.0]),
        InputDataError,
        "qs",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "a curve in percent",
        lambda: _lcpfn().predict(X, 100 * Y, XQ),
        InputDataError,
        "y_train",
        pattern="divide it by 100",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "a NaN observation",
        lambda: _lcpfn().predict(X, torch.where(X == 3, nan, Y), XQ),
        InputDataError,
        "y_train",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "epochs counted from 0",
        lambda: _lcpfn().predict(X - 1, Y, XQ),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "epochs beyond the model",
        lambda: _lcpfn().predict(X, Y, torch.tensor([150.0])),
        InputDataError,
        "x_test",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "a loss without its normaliser",
        lambda: _lcpfn().predict(X, 20 * (1 - Y), XQ),
        InputDataError,
        "y_train",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "the normaliser's arguments as a tuple",
        lambda: _lcpfn().predict(X, Y, XQ, (0, 1)),
        InputDataError,
        "normalizer",
    ),
    BadInput(
        "CurveExtrapolator.predict",
        "lists instead of tensors",
        lambda: _lcpfn().predict(X.tolist(), Y, XQ),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "CurveExtrapolator.predict_mean",
        "shuffled epochs",
        lambda: _lcpfn().predict_mean(X.flip(0), Y, XQ),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "CurveExtrapolator.predict_mean",
        "one value too few",
        lambda: _importance().predict_mean(X, Y[:-1], XQ),
        InputDataError,
        "y_train",
    ),
    BadInput(
        "CurveExtrapolator.nll_loss",
        "a NaN held-out value",
        lambda: _lcpfn().nll_loss(X, Y, XQ, torch.full((10,), nan)),
        InputDataError,
        "y_test",
    ),
    BadInput(
        "CurveExtrapolator.nll_loss",
        "held-out values of another length",
        lambda: _lcpfn().nll_loss(X, Y, XQ, CURVE[:3]),
        InputDataError,
        "y_test",
    ),
    BadInput(
        "CurveExtrapolator.predict_normalized",
        "an empty curve",
        lambda: _lcpfn().predict_normalized(X[:0], Y[:0], XQ),
        InputDataError,
        "x_train",
    ),
    # the normaliser
    BadInput(
        "CurveNormalizer",
        "lower above upper",
        lambda: CurveNormalizer(1.0, 0.0),
        InputDataError,
        "lower, upper",
    ),
    BadInput("CurveNormalizer", "a NaN bound", lambda: CurveNormalizer(nan, 1.0), InputDataError, "lower"),
    BadInput(
        "CurveNormalizer", "a bound as a string", lambda: CurveNormalizer(0.0, "100"), InputDataError, "upper"
    ),
    BadInput(
        "CurveNormalizer",
        "minimize as a string",
        lambda: CurveNormalizer(minimize="yes"),
        InputDataError,
        "minimize",
    ),
    BadInput(
        "CurveNormalizer",
        "an infinite bound without a soft range",
        lambda: CurveNormalizer(0.0, math.inf),
        ConfigurationError,
        pattern="soft range",
    ),
    BadInput(
        "CurveNormalizer",
        "a soft range beyond the bounds",
        lambda: CurveNormalizer(0.0, 1.0, soft_lower=0.0, soft_upper=2.0),
        InputDataError,
        "soft_lower, soft_upper",
    ),
    BadInput(
        "CurveNormalizer",
        "a NaN soft bound",
        lambda: CurveNormalizer(0.0, math.inf, soft_lower=0.0, soft_upper=nan),
        InputDataError,
        "soft_upper",
    ),
    BadInput(
        "CurveNormalizer.check",
        "values beyond the range",
        lambda: CurveNormalizer().check("y", torch.tensor([0.5, 1.2])),
        InputDataError,
        "y",
    ),
    BadInput(
        "CurveNormalizer.check",
        "NaN values",
        lambda: CurveNormalizer().check("y", torch.tensor([nan])),
        InputDataError,
        "y",
    ),
    # the curve prior and its parametric model
    BadInput(
        "CurvePrior",
        "an unknown basis curve",
        lambda: CurvePrior(components=("pow3", "pow5")),
        InputDataError,
        "components",
    ),
    BadInput(
        "CurvePrior",
        "one component as a string",
        lambda: CurvePrior(components="pow3"),
        InputDataError,
        "components",
    ),
    BadInput(
        "CurvePrior",
        "a parameter prior of an unknown kind",
        lambda: CurvePrior(parameter_priors=_peaked("pow3", "a", ("beta", 0, 1))),
        InputDataError,
        "parameter_priors['pow3']['a']",
    ),
    BadInput(
        "CurvePrior",
        "a uniform prior with low > high",
        lambda: CurvePrior(parameter_priors=_peaked("ilog2", "c", ("uniform", 1.0, 0.0))),
        InputDataError,
        "parameter_priors['ilog2']['c']",
    ),
    BadInput(
        "CurvePrior",
        "a NaN prior parameter",
        lambda: CurvePrior(parameter_priors=_peaked("ilog2", "c", ("uniform", 0.0, nan))),
        InputDataError,
        "parameter_priors['ilog2']['c'][2]",
    ),
    BadInput(
        "CurvePrior",
        "a missing parameter prior",
        lambda: CurvePrior(parameter_priors={**PEAKED_PRIORS, "pow3": {"a": ("uniform", 0, 1)}}),
        InputDataError,
        "parameter_priors['pow3']",
    ),
    BadInput(
        "CurvePrior",
        "a NaN noise level",
        lambda: CurvePrior(log_noise=(nan, 1.0)),
        InputDataError,
        "log_noise[0]",
    ),
    BadInput(
        "CurvePrior",
        "a negative noise spread",
        lambda: CurvePrior(log_noise=(-4.0, -1.0)),
        InputDataError,
        "log_noise[1]",
    ),
    BadInput(
        "CurvePrior", "the noise level alone", lambda: CurvePrior(log_noise=-4.0), InputDataError, "log_noise"
    ),
    BadInput(
        "CurvePrior", "curves of one epoch", lambda: CurvePrior(max_epochs=1), InputDataError, "max_epochs"
    ),
    BadInput(
        "CurvePrior.sample",
        "curves longer than the prior",
        lambda: CurvePrior().sample(2, 101, torch.Generator()),
        InputDataError,
        "seq_len",
    ),
    BadInput(
        "CurvePrior.sample",
        "a seed instead of a generator",
        lambda: CurvePrior().sample(2, 10, 0),
        InputDataError,
        "generator",
    ),
    BadInput(
        "CurvePrior.sample_parameters",
        "no curves",
        lambda: CurvePrior().sample_parameters(0, 10, torch.Generator()),
        InputDataError,
        "batch_size",
    ),
    BadInput(
        "CurvePrior.sample_parameters",
        "a prior of decreasing curves only (sampling would never end)",
        lambda: CurvePrior(
            components=("ilog2",),
            parameter_priors={"ilog2": {"c": ("uniform", 0.5, 0.6), "a": ("uniform", -0.1, -0.01)}},
        ).sample_parameters(2, 10, torch.Generator().manual_seed(0)),
        ConfigurationError,
        pattern="accepted none",
    ),
    BadInput(
        "CurvePrior.observation_range",
        "a tail probability of 0",
        lambda: CurvePrior().observation_range(0.0),
        InputDataError,
        "tail",
    ),
    BadInput(
        "observation_range",
        "no observations",
        lambda: observation_range((-4.0, 1.0), 0),
        InputDataError,
        "observations",
    ),
    BadInput(
        "observation_range",
        "a NaN noise level",
        lambda: observation_range((nan, 1.0), 100),
        InputDataError,
        "log_noise[0]",
    ),
    BadInput(
        "BasisCurve",
        "a missing parameter",
        lambda: BASIS_CURVES["pow3"](EPOCHS, c=torch.tensor(0.9), a=torch.tensor(0.5)),
        InputDataError,
        "pow3 parameters",
    ),
    BadInput(
        "BasisCurve",
        "a misspelt parameter",
        lambda: BASIS_CURVES["ilog2"](EPOCHS, c=torch.tensor(0.9), b=torch.tensor(0.5)),
        InputDataError,
        "ilog2 parameters",
    ),
    BadInput(
        "BasisCurve",
        "integer epochs",
        lambda: BASIS_CURVES["ilog2"](torch.arange(1, 5), c=torch.tensor(0.9), a=torch.tensor(0.5)),
        InputDataError,
        "t",
    ),
    BadInput(
        "parametric_predictive",
        "a GP prior",
        lambda: parametric_predictive(GPPrior(), _params(), EPOCHS[None]),
        InputDataError,
        "prior",
    ),
    BadInput(
        "parametric_predictive",
        "parameters without the noise",
        lambda: parametric_predictive(
            CurvePrior(), {k: v for k, v in _params().items() if k != "log_sigma"}, EPOCHS[None]
        ),
        InputDataError,
        "params",
    ),
    BadInput(
        "GaussianMixture", "a zero scale", lambda: _mixture(scale=torch.zeros(2, 3)), InputDataError, "scale"
    ),
    BadInput(
        "GaussianMixture", "NaN means", lambda: _mixture(loc=torch.full((2, 3), nan)), InputDataError, "loc"
    ),
    BadInput(
        "GaussianMixture",
        "a NaN logit",
        lambda: _mixture(logits=torch.tensor([[0.0, nan, 1.0], [0.0, 0.0, 0.0]])),
        InputDataError,
        "logits",
    ),
    BadInput(
        "GaussianMixture",
        "a mixture whose logits are all -inf (no weight)",
        lambda: _mixture(logits=torch.tensor([[0.0, -inf, 1.0], [-inf, -inf, -inf]])),
        InputDataError,
        "logits",
        pattern="finite logit per mixture",
    ),
    BadInput(
        "GaussianMixture",
        "no components",
        lambda: _mixture(logits=torch.zeros(2, 0), loc=torch.zeros(2, 0), scale=torch.ones(2, 0)),
        InputDataError,
        "logits, loc, scale",
        pattern="N >= 1",
    ),
    BadInput(
        "GaussianMixture",
        "shapes that differ",
        lambda: _mixture(loc=torch.zeros(2, 4)),
        InputDataError,
        "logits, loc, scale",
    ),
    BadInput(
        "GaussianMixture.icdf",
        "a NaN level",
        lambda: _mixture().icdf(torch.tensor([nan, 0.5])),
        InputDataError,
        "value",
    ),
    BadInput(
        "GaussianMixture.icdf",
        "a level above 1",
        lambda: _mixture().icdf(torch.tensor(1.5)),
        InputDataError,
        "value",
    ),
    # the baselines
    BadInput(
        "ImportanceSamplingExtrapolator",
        "a GP prior",
        lambda: ImportanceSamplingExtrapolator(GPPrior(), num_samples=10),
        InputDataError,
        "prior",
    ),
    BadInput(
        "ImportanceSamplingExtrapolator",
        "no samples",
        lambda: ImportanceSamplingExtrapolator(num_samples=0),
        InputDataError,
        "num_samples",
    ),
    BadInput(
        "ImportanceSamplingExtrapolator",
        "a negative seed",
        lambda: ImportanceSamplingExtrapolator(num_samples=10, seed=-1),
        InputDataError,
        "seed",
    ),
    BadInput(
        "MCMCExtrapolator",
        "an odd number of walkers",
        lambda: MCMCExtrapolator(walkers=31),
        ConfigurationError,
        pattern="even",
    ),
    BadInput(
        "MCMCExtrapolator",
        "burn-in longer than the run",
        lambda: MCMCExtrapolator(steps=100, burn_in=100),
        ConfigurationError,
        pattern="burn_in",
    ),
    BadInput(
        "MCMCExtrapolator", "a NaN stretch", lambda: MCMCExtrapolator(stretch=nan), InputDataError, "stretch"
    ),
    BadInput("MCMCExtrapolator", "a float seed", lambda: MCMCExtrapolator(seed=0.5), InputDataError, "seed"),
    # the command line's reader and the real curves
    BadInput(
        "read_curve",
        "a missing file",
        lambda: read_curve(_tmp() / "missing.csv"),
        InputDataError,
        "curve",
        pattern="missing.csv",
    ),
    BadInput(
        "read_curve",
        "a malformed row",
        lambda: read_curve(_file("epoch,acc\n1,0.2\n2;0.3\n")),
        InputDataError,
        "curve",
        pattern=r"row 3 .*'2;0.3'",
    ),
    BadInput("read_curve", "a bytes path", lambda: read_curve(b"curve.csv"), InputDataError, "path"),
    BadInput(
        "LearningCurveSet",
        "curves in percent",
        lambda: LearningCurveSet("digits", ({},), torch.tensor([[10.0, 50.0]]), 0),
        InputDataError,
        "curves",
    ),
    BadInput(
        "LearningCurveSet",
        "one config too few",
        lambda: LearningCurveSet("digits", (), torch.tensor([[0.1, 0.5]]), 0),
        InputDataError,
        "configs",
    ),
    BadInput(
        "LearningCurveSet.from_json",
        "a missing file",
        lambda: LearningCurveSet.from_json(_tmp() / "none.json"),
        InputDataError,
        "path",
    ),
    BadInput(
        "LearningCurveSet.from_json",
        "a file that is not JSON",
        lambda: LearningCurveSet.from_json(_file("epoch,acc\n")),
        InputDataError,
        "path",
    ),
    BadInput(
        "generate_learning_curves",
        "an unknown data set",
        lambda: generate_learning_curves("mnist", 2),
        InputDataError,
        "dataset",
    ),
    BadInput(
        "generate_learning_curves",
        "zero epochs",
        lambda: generate_learning_curves("digits", 2, epochs=0),
        InputDataError,
        "epochs",
    ),
    BadInput(
        "load_real_curves",
        "an unknown data set",
        lambda: load_real_curves("cifar10"),
        InputDataError,
        "dataset",
    ),
    BadInput(
        "main",
        "zero threads",
        lambda: main(["--dataset", "digits", "--threads", "0", "--out", str(_tmp() / "c.json")]),
        InputDataError,
        "--threads",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
