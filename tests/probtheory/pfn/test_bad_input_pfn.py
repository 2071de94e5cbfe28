"""Bad input to every public entry point of probtheory.pfn: one row per realistic mistake."""

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
from probtheory.pfn import (
    PFN,
    BarDistribution,
    Batch,
    FunctionPrior,
    GPHyperPrior,
    GPPrior,
    PFNTransformer,
    PyroPrior,
    TrainConfig,
    TransformerConfig,
    bnn_model,
    bucket_borders,
    gp_sample,
    read_checkpoint,
    rehash_checkpoint,
    train_pfn,
    write_checkpoint,
)
from probtheory.pfn.evaluation import (
    bar_projection,
    discretisation_floor,
    exact_gp_predictive,
    hyperprior_gp_predictive,
    ks_uniform,
)
from probtheory.pfn.training import initial_borders
from tests.bad_input import BadInput, check_case

nan = math.nan


def _logits_with_one_nan():
    logits = torch.zeros(3, 2, 4)
    logits[1, 1, 2] = nan
    return logits


WEIGHTS = Path(__file__).resolve().parents[3] / "probtheory" / "pfn" / "weights"
TINY = TransformerConfig(num_buckets=4, emsize=8, nhead=2, nhid=8, nlayers=1)


@cache
def _pfn() -> PFN:
    return PFN(TINY, torch.linspace(-2.0, 2.0, 5), {"x_support": [0.0, 1.0]})


@cache
def _dist() -> BarDistribution:
    return BarDistribution(torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]), torch.zeros(3, 4))


def _g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _x(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=_g())


def _edited_copy(folder: Path) -> Path:
    """A copy of the shipped gp-rbf-1d checkpoint whose JSON says nhead 2 instead of 4."""
    for suffix in (".safetensors", ".json"):
        shutil.copy(WEIGHTS / f"gp-rbf-1d{suffix}", folder / f"edited{suffix}")
    config = json.loads((folder / "edited.json").read_text())
    config["transformer"]["nhead"] = 2
    (folder / "edited.json").write_text(json.dumps(config, indent=2))
    return folder / "edited"


_FOLDERS: list[Path] = []  # the rows' files, removed after the module


@pytest.fixture(scope="module", autouse=True)
def _remove_files():
    yield
    for folder in _FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)


def _tmp() -> Path:
    _FOLDERS.append(Path(tempfile.mkdtemp(prefix="bad_input_pfn_")))
    return _FOLDERS[-1]


CASES = [
    # the model
    BadInput(
        "PFN", "borders not a tensor", lambda: PFN(TINY, [0.0, 1.0, 2.0, 3.0, 4.0]), InputDataError, "borders"
    ),
    BadInput(
        "PFN",
        "borders of another length",
        lambda: PFN(TINY, torch.linspace(0, 1, 9)),
        InputDataError,
        "borders",
    ),
    BadInput(
        "PFN",
        "unsorted borders",
        lambda: PFN(TINY, torch.tensor([0.0, 2, 1, 3, 4])),
        InputDataError,
        "borders",
    ),
    BadInput(
        "PFN",
        "a dict as config",
        lambda: PFN({"emsize": 8}, torch.linspace(0, 1, 5)),
        InputDataError,
        "config",
    ),
    BadInput(
        "PFN.predict",
        "NaN in y_train",
        lambda: _pfn().predict(_x(5, 1), torch.tensor([0.1, nan, 0, 0, 0]), _x(3, 1)),
        InputDataError,
        "y_train",
    ),
    BadInput(
        "PFN.predict",
        "x without a feature axis",
        lambda: _pfn().predict(_x(5), _x(5), _x(3)),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "PFN.predict",
        "one y too few",
        lambda: _pfn().predict(_x(5, 1), _x(4), _x(3, 1)),
        InputDataError,
        "y_train",
    ),
    BadInput(
        "PFN.predict",
        "integer inputs",
        lambda: _pfn().predict(torch.ones(5, 1, dtype=torch.long), _x(5), _x(3, 1)),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "PFN.predict",
        "x outside the prior's support",
        lambda: _pfn().predict(_x(5, 1) + 3, _x(5), _x(3, 1)),
        UserWarning,
        pattern="support",
        warns=True,
    ),
    BadInput(
        "PFN.condition",
        "a list as x_train",
        lambda: _pfn().condition([[0.1]], torch.zeros(1)),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "PFN.condition",
        "queries of the wrong width",
        lambda: _pfn().condition(_x(5, 1), _x(5))(_x(3, 2)),
        InputDataError,
        "x_test",
    ),
    BadInput(
        "PFN.save",
        "metadata that is not JSON",
        lambda: _pfn().save(_tmp() / "m", note=object()),
        InputDataError,
        "config",
    ),
    BadInput("PFN.save", "a path that is not a path", lambda: _pfn().save(3), InputDataError, "path"),
    BadInput(
        "PFN.load",
        "a missing checkpoint",
        lambda: PFN.load(_tmp() / "nothing"),
        CheckpointError,
        pattern="does not exist",
    ),
    BadInput(
        "PFN.load",
        "an edited configuration (nhead 2)",
        lambda: PFN.load(_edited_copy(_tmp())),
        CheckpointError,
        pattern="config_sha256",
    ),
    BadInput(
        "PFN.from_pretrained",
        "a misspelt name",
        lambda: PFN.from_pretrained("gp-rbf"),
        InputDataError,
        "name",
    ),
    BadInput(
        "PFN.from_pretrained",
        "a recipe object instead of a name",
        lambda: PFN.from_pretrained(None),
        InputDataError,
        "name",
    ),
    # checkpoints
    BadInput(
        "read_checkpoint",
        "an edited configuration",
        lambda: read_checkpoint(_edited_copy(_tmp())),
        CheckpointError,
        pattern="config_sha256",
    ),
    BadInput(
        "read_checkpoint",
        "a non-bool flag",
        lambda: read_checkpoint(WEIGHTS / "gp-rbf-1d", require_config_hash="yes"),
        InputDataError,
        "require_config_hash",
    ),
    BadInput(
        "write_checkpoint",
        "a config that is not a dict",
        lambda: write_checkpoint(_tmp() / "c", {}, ["a"]),
        InputDataError,
        "config",
    ),
    BadInput(
        "write_checkpoint",
        "a NaN-free but unserialisable config",
        lambda: write_checkpoint(_tmp() / "c", {}, {"f": torch.ones(1)}),
        InputDataError,
        "config",
    ),
    BadInput(
        "rehash_checkpoint",
        "an edit not accepted",
        lambda: rehash_checkpoint(_edited_copy(_tmp())),
        CheckpointError,
        pattern="--accept-changes",
    ),
    BadInput(
        "rehash_checkpoint",
        "a missing file",
        lambda: rehash_checkpoint(_tmp() / "none.json"),
        CheckpointError,
        pattern="does not exist",
    ),
    # the bar distribution
    BadInput(
        "BarDistribution",
        "NaN logits",
        lambda: BarDistribution(torch.linspace(0, 1, 5), torch.full((4,), nan)),
        InputDataError,
        "logits",
    ),
    BadInput(
        "BarDistribution",
        "+inf logits",
        lambda: BarDistribution(torch.linspace(0, 1, 5), torch.tensor([0.0, math.inf, 0, 0])),
        InputDataError,
        "logits",
    ),
    BadInput(
        "BarDistribution",
        "one NaN logit among finite ones, in one row of a batch",
        lambda: BarDistribution(torch.linspace(0, 1, 5), _logits_with_one_nan()),
        InputDataError,
        "logits",
    ),
    BadInput(
        "BarDistribution",
        "a row of -inf logits (no mass to normalise)",
        lambda: BarDistribution(torch.linspace(0, 1, 5), torch.tensor([[0.0, 0, 0, 0], [-math.inf] * 4])),
        InputDataError,
        "logits",
    ),
    BadInput(
        "BarDistribution",
        "logits of the wrong width",
        lambda: BarDistribution(torch.linspace(0, 1, 5), torch.zeros(3)),
        InputDataError,
        "logits",
    ),
    BadInput(
        "BarDistribution",
        "a list as logits",
        lambda: BarDistribution(torch.linspace(0, 1, 5), [0.0] * 4),
        InputDataError,
        "logits",
    ),
    BadInput(
        "BarDistribution",
        "decreasing borders",
        lambda: BarDistribution(torch.linspace(1, 0, 5), torch.zeros(4)),
        InputDataError,
        "borders",
    ),
    BadInput(
        "BarDistribution.log_prob",
        "a NaN target",
        lambda: _dist().log_prob(torch.tensor([0.1, nan, 0.3])),
        InputDataError,
        "value",
    ),
    BadInput(
        "BarDistribution.log_prob",
        "targets of another batch shape",
        lambda: _dist().log_prob(torch.zeros(4)),
        InputDataError,
        "value",
    ),
    BadInput(
        "BarDistribution.cdf", "a NaN value", lambda: _dist().cdf(torch.tensor(nan)), InputDataError, "value"
    ),
    BadInput(
        "BarDistribution.icdf",
        "a NaN level",
        lambda: _dist().icdf(torch.tensor([nan, 0.5, 0.5])),
        InputDataError,
        "value",
    ),
    BadInput(
        "BarDistribution.icdf",
        "a percentage",
        lambda: _dist().icdf(torch.tensor(95.0)),
        InputDataError,
        "value",
    ),
    BadInput(
        "BarDistribution.sample",
        "a seed instead of a generator",
        lambda: _dist().sample(torch.Size([2]), generator=0),
        InputDataError,
        "generator",
    ),
    BadInput(
        "BarDistribution.sample",
        "an int as sample_shape",
        lambda: _dist().sample(5),
        InputDataError,
        "sample_shape",
    ),
    BadInput(
        "bucket_borders",
        "NaN prior draws",
        lambda: bucket_borders(4, torch.tensor([0.0, nan, 1, 2, 3])),
        InputDataError,
        "samples",
    ),
    BadInput(
        "bucket_borders",
        "zero buckets",
        lambda: bucket_borders(0, torch.rand(10)),
        InputDataError,
        "num_buckets",
    ),
    BadInput(
        "bucket_borders",
        "a power above one",
        lambda: bucket_borders(4, torch.rand(10), power=2.0),
        InputDataError,
        "power",
    ),
    # priors
    BadInput(
        "GPPrior", "a negative lengthscale", lambda: GPPrior(lengthscale=-0.2), InputDataError, "lengthscale"
    ),
    BadInput("GPPrior", "NaN noise", lambda: GPPrior(noise=nan), InputDataError, "noise"),
    BadInput(
        "GPPrior.sample", "no datasets", lambda: GPPrior().sample(0, 10, _g()), InputDataError, "batch_size"
    ),
    BadInput(
        "GPPrior.sample",
        "a seed instead of a generator",
        lambda: GPPrior().sample(2, 10, 0),
        InputDataError,
        "generator",
    ),
    BadInput(
        "GPHyperPrior",
        "a NaN hyper-prior scale",
        lambda: GPHyperPrior(log_noise_scale=nan),
        InputDataError,
        "log_noise_scale",
    ),
    BadInput(
        "GPHyperPrior",
        "a negative hyper-prior scale",
        lambda: GPHyperPrior(log_lengthscale_scale=-0.5),
        InputDataError,
        "log_lengthscale_scale",
    ),
    BadInput(
        "PyroPrior", "a model that is not callable", lambda: PyroPrior(model="bnn"), InputDataError, "model"
    ),
    BadInput(
        "PyroPrior.sample",
        "a model without a y site",
        lambda: PyroPrior(model=lambda x: None).sample(1, 3, _g()),
        InputDataError,
        "model",
    ),
    BadInput("FunctionPrior", "fn not callable", lambda: FunctionPrior(fn=3), InputDataError, "fn"),
    BadInput(
        "FunctionPrior.sample",
        "fn returning a tuple",
        lambda: FunctionPrior(lambda b, t, g: (1, 2)).sample(2, 3, _g()),
        InputDataError,
        "fn",
    ),
    BadInput(
        "Batch",
        "x without a feature axis",
        lambda: Batch(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3)),
        InputDataError,
        "x",
    ),
    BadInput(
        "Batch",
        "a list as y",
        lambda: Batch(torch.zeros(2, 3, 1), [[0.0] * 3] * 2, torch.zeros(2, 3)),
        InputDataError,
        "y",
    ),
    BadInput(
        "Batch",
        "the posterior's tensors instead of the function giving them",
        lambda: Batch(
            torch.zeros(2, 3, 1), torch.zeros(2, 3), torch.zeros(2, 3), posterior=(torch.zeros(2, 3),) * 2
        ),
        InputDataError,
        "posterior",
    ),
    BadInput(
        "Batch.posterior_targets",
        "a posterior returning one column too few",
        lambda: Batch(
            torch.zeros(2, 3, 1),
            torch.zeros(2, 3),
            torch.zeros(2, 3),
            posterior=lambda s, end: (torch.zeros(2, end - s - 1), torch.ones(2, end - s - 1)),
        ).posterior_targets(1, 3),
        InputDataError,
        "posterior's loc",
    ),
    BadInput(
        "gp_sample",
        "x without a feature axis",
        lambda: gp_sample(_x(2, 5), 0.2, 1.0, 0.01, _g()),
        InputDataError,
        "x",
    ),
    BadInput(
        "gp_sample",
        "a zero outputscale",
        lambda: gp_sample(_x(2, 5, 1), 0.2, 0.0, 0.01, _g()),
        InputDataError,
        "outputscale",
    ),
    BadInput(
        "gp_sample",
        "a NaN lengthscale",
        lambda: gp_sample(_x(2, 5, 1), nan, 1.0, 0.01, _g()),
        InputDataError,
        "lengthscale",
    ),
    BadInput("bnn_model", "no hidden units", lambda: bnn_model(_x(5, 1), hidden=0), InputDataError, "hidden"),
    BadInput(
        "bnn_model", "a negative noise", lambda: bnn_model(_x(5, 1), noise=-0.1), InputDataError, "noise"
    ),
    # the network and its training
    BadInput(
        "TransformerConfig",
        "emsize not divisible by nhead",
        lambda: TransformerConfig(emsize=10, nhead=4),
        ConfigurationError,
        pattern="divisible",
    ),
    BadInput(
        "TransformerConfig",
        "a float number of heads",
        lambda: TransformerConfig(nhead=4.0),
        InputDataError,
        "nhead",
    ),
    BadInput(
        "PFNTransformer", "a dict as config", lambda: PFNTransformer({"emsize": 8}), InputDataError, "config"
    ),
    BadInput(
        "PFNTransformer.forward",
        "x_train without a batch axis",
        lambda: PFNTransformer(TINY)(_x(5, 1), _x(5), _x(3, 1)),
        InputDataError,
        "x_train",
    ),
    BadInput(
        "PFNTransformer.forward",
        "queries of another batch size",
        lambda: PFNTransformer(TINY)(_x(2, 5, 1), _x(2, 5), _x(3, 3, 1)),
        InputDataError,
        "x_test",
    ),
    BadInput(
        "PFNTransformer.encode_context",
        "y_train with a feature axis",
        lambda: PFNTransformer(TINY).encode_context(_x(2, 5, 1), _x(2, 5, 1)),
        InputDataError,
        "y_train",
    ),
    BadInput("TrainConfig", "zero steps", lambda: TrainConfig(steps=0), InputDataError, "steps"),
    BadInput("TrainConfig", "a NaN learning rate", lambda: TrainConfig(lr=nan), InputDataError, "lr"),
    BadInput(
        "TrainConfig",
        "a NaN weight decay",
        lambda: TrainConfig(weight_decay=nan),
        InputDataError,
        "weight_decay",
    ),
    BadInput(
        "TrainConfig",
        "a warmup fraction in percent",
        lambda: TrainConfig(warmup_fraction=5.0),
        InputDataError,
        "warmup_fraction",
    ),
    BadInput(
        "TrainConfig", "a zero clip norm", lambda: TrainConfig(clip_norm=0.0), InputDataError, "clip_norm"
    ),
    BadInput("TrainConfig", "zero queries", lambda: TrainConfig(queries=0), InputDataError, "queries"),
    BadInput(
        "TrainConfig",
        "a restart after the last step",
        lambda: TrainConfig(steps=100, restarts=(50, 100)),
        InputDataError,
        "restarts",
    ),
    BadInput(
        "TrainConfig",
        "restarts out of order",
        lambda: TrainConfig(steps=100, restarts=(60, 30)),
        InputDataError,
        "restarts",
    ),
    BadInput(
        "TrainConfig",
        "a restart at a fractional step",
        lambda: TrainConfig(steps=100, restarts=(50.5,)),
        InputDataError,
        "restarts[0]",
    ),
    BadInput(
        "TrainConfig",
        "one step number as restarts",
        lambda: TrainConfig(restarts=50),
        InputDataError,
        "restarts",
    ),
    BadInput(
        "TrainConfig",
        "a zero restart learning-rate factor",
        lambda: TrainConfig(restart_lr_factor=0.0),
        InputDataError,
        "restart_lr_factor",
    ),
    BadInput(
        "TrainConfig",
        "a negative border power",
        lambda: TrainConfig(border_power=-0.5),
        InputDataError,
        "border_power",
    ),
    BadInput(
        "TrainConfig",
        "more queries than the sequence holds after the largest context",
        lambda: TrainConfig(seq_len=60, max_context=50, queries=11),
        ConfigurationError,
        pattern="max_context \\+ queries",
    ),
    BadInput(
        "TrainConfig",
        "no query left",
        lambda: TrainConfig(seq_len=50, max_context=50),
        ConfigurationError,
        pattern="max_context",
    ),
    BadInput(
        "TrainConfig.from_dict",
        "a dict missing the architecture",
        lambda: TrainConfig.from_dict({"steps": 2}),
        InputDataError,
        "data",
    ),
    BadInput(
        "train_pfn",
        "a config dict instead of a TrainConfig",
        lambda: train_pfn(GPPrior(), {"steps": 2}),
        InputDataError,
        "config",
    ),
    BadInput(
        "Prior",
        "an object without num_features and sample()",
        lambda: train_pfn(object(), TrainConfig(steps=1)),
        InputDataError,
        "prior",
    ),
    BadInput(
        "train_pfn",
        "a prior that is not a Prior",
        lambda: train_pfn("gp", TrainConfig(steps=1)),
        InputDataError,
        "prior",
    ),
    BadInput(
        "initial_borders",
        "a dict instead of a TrainConfig",
        lambda: initial_borders(GPPrior(), {"steps": 1}),
        InputDataError,
        "config",
    ),
    BadInput(
        "train_pfn",
        "features of the prior and the network differ",
        lambda: train_pfn(GPPrior(num_features=2), TrainConfig(steps=1, transformer=TINY), progress=False),
        ConfigurationError,
        pattern="num_features",
    ),
    # evaluation
    BadInput(
        "exact_gp_predictive",
        "a negative noise",
        lambda: exact_gp_predictive(_x(1, 5, 1), _x(1, 5), _x(1, 2, 1), 0.2, 1.0, -0.01),
        InputDataError,
        "noise",
    ),
    BadInput(
        "exact_gp_predictive",
        "NaN in x_test",
        lambda: exact_gp_predictive(_x(1, 5, 1), _x(1, 5), torch.full((1, 2, 1), nan), 0.2, 1.0, 0.01),
        InputDataError,
        "x_test",
    ),
    BadInput(
        "hyperprior_gp_predictive",
        "a GPPrior instead of a GPHyperPrior",
        lambda: hyperprior_gp_predictive(_x(1, 5, 1), _x(1, 5), _x(1, 2, 1), GPPrior()),
        InputDataError,
        "prior",
    ),
    BadInput(
        "hyperprior_gp_predictive",
        "a seed instead of a generator",
        lambda: hyperprior_gp_predictive(_x(1, 5, 1), _x(1, 5), _x(1, 2, 1), GPHyperPrior(), 16, 0),
        InputDataError,
        "generator",
    ),
    BadInput(
        "bar_projection",
        "a Student-t predictive (no closed-form bucket masses)",
        lambda: bar_projection(torch.distributions.StudentT(3.0), torch.linspace(-1, 1, 5)),
        InputDataError,
        "predictive",
    ),
    BadInput(
        "bar_projection",
        "decreasing borders",
        lambda: bar_projection(torch.distributions.Normal(0.0, 1.0), torch.linspace(1, -1, 5)),
        InputDataError,
        "borders",
    ),
    BadInput(
        "bar_projection",
        "a chunk of 0 rows",
        lambda: bar_projection(torch.distributions.Normal(0.0, 1.0), torch.linspace(-1, 1, 5), chunk=0),
        InputDataError,
        "chunk",
    ),
    BadInput(
        "discretisation_floor",
        "a Student-t predictive",
        lambda: discretisation_floor(torch.distributions.StudentT(3.0), torch.linspace(-1, 1, 5)),
        InputDataError,
        "predictive",
    ),
    BadInput(
        "discretisation_floor",
        "zero draws",
        lambda: discretisation_floor(torch.distributions.Normal(0.0, 1.0), torch.linspace(-1, 1, 5), draws=0),
        InputDataError,
        "draws",
    ),
    BadInput(
        "discretisation_floor",
        "a chunk of 0 rows",
        lambda: discretisation_floor(torch.distributions.Normal(0.0, 1.0), torch.linspace(-1, 1, 5), chunk=0),
        InputDataError,
        "chunk",
    ),
    BadInput(
        "discretisation_floor",
        "a seed instead of a generator",
        lambda: discretisation_floor(torch.distributions.Normal(0.0, 1.0), torch.linspace(-1, 1, 5), 4, 7),
        InputDataError,
        "generator",
    ),
    BadInput(
        "discretisation_floor",
        "NaN borders",
        lambda: discretisation_floor(torch.distributions.Normal(0.0, 1.0), torch.tensor([0.0, math.nan, 1])),
        InputDataError,
        "borders",
    ),
    BadInput(
        "ks_uniform",
        "NaN PIT values",
        lambda: ks_uniform(torch.tensor([0.1, nan, 0.5])),
        InputDataError,
        "pit",
    ),
    BadInput(
        "ks_uniform",
        "PIT values outside [0, 1]",
        lambda: ks_uniform(torch.tensor([0.1, 1.5])),
        InputDataError,
        "pit",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
