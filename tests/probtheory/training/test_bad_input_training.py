"""Bad input to probtheory.training and probtheory.plugins: one row per realistic mistake."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError, UnknownNameError, UnsupportedError
from probtheory.plugins import Paper, PluginEntry, ReproductionResult, get_method, methods
from probtheory.training import (
    STNMLP,
    BackwardCompatibleLoss,
    BasisTransform,
    ClipGradNorm,
    HardBatches,
    LanczosLR,
    LLPBeliefPropagation,
    Minibatches,
    SaRA,
    ScalingLaw,
    SelfTuning,
    TrainedRankPruning,
    TrainingCallback,
    TrainState,
    classification_loss,
    decompose_low_rank,
    fit,
    fit_batch_size_law,
    fit_convex_relu,
    fit_convex_relu_adversarial,
    fit_scaling_law,
    two_layer_objective,
)
from probtheory.training.bt2 import CompatibleEmbedder
from tests.bad_input import BadInput, check_case

_G = torch.Generator().manual_seed(0)
X = torch.randn(12, 3, generator=_G)
LABELS = torch.randint(0, 2, (12,), generator=_G)
BATCHES = [(X[:6], LABELS[:6]), (X[6:], LABELS[6:])]
BAGS = torch.tensor([0, 0, 0, 1, 1, 1])
PAPER = Paper("A title", ("Ada Lovelace", "Charles Babbage"), "folklore", 1843, "https://example.org")


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def quiet_fit(data, **kwargs):
    kwargs.setdefault("epochs", 1)
    return fit(net(), data, progress=False, **kwargs)


class SkipAll(TrainingCallback):
    def on_batch_start(self, state, batch):
        return None


def batches_forever():
    while True:
        yield from BATCHES


def llp(counts):
    return LLPBeliefPropagation(epochs=1).fit(torch.randn(6, 2, generator=_G), BAGS, counts)


def _influence_with_float_labels():
    old, new = CompatibleEmbedder(nn.Linear(3, 4), 2, 4), CompatibleEmbedder(nn.Linear(3, 4), 2, 4)
    rule = BackwardCompatibleLoss(old, old_classifier=torch.randn(2, 4), transfer_weight=0.0)
    new(X)
    return rule.terms(new, X, LABELS.float())


def entry(**changes) -> PluginEntry:
    fields = dict(name="toy", paper=PAPER, kind="layer", status="planned", summary="a toy")
    return PluginEntry(**{**fields, **changes})


CASES = [
    # fit: the data
    BadInput(
        "fit", "empty data", lambda: quiet_fit([]), InputDataError, "data", pattern="at least one batch"
    ),
    BadInput(
        "fit",
        "a generator for several epochs",
        lambda: quiet_fit((b for b in BATCHES), epochs=3),
        InputDataError,
        "data",
        pattern="one-shot",
    ),
    BadInput(
        "fit",
        "an endless cycle without steps_per_epoch",
        lambda: quiet_fit(itertools.cycle(BATCHES)),
        InputDataError,
        "data",
        pattern="steps_per_epoch",
    ),
    BadInput(
        "fit",
        "a one-shot iterator that runs out",
        lambda: quiet_fit(iter(BATCHES), epochs=2, steps_per_epoch=2),
        InputDataError,
        "data",
        pattern="ran out after 2 batches",
    ),
    BadInput("fit", "an empty generator", lambda: quiet_fit(b for b in []), InputDataError, "data"),
    BadInput("fit", "a tensor instead of batches", lambda: quiet_fit(X), InputDataError, "data"),
    BadInput("fit", "a number instead of batches", lambda: quiet_fit(5), InputDataError, "data"),
    BadInput(
        "fit",
        "zero steps per epoch",
        lambda: quiet_fit(batches_forever(), steps_per_epoch=0),
        InputDataError,
        "steps_per_epoch",
    ),
    BadInput(
        "fit",
        "every batch skipped by a callback",
        lambda: quiet_fit(BATCHES, callbacks=[SkipAll()]),
        InputDataError,
        "callbacks",
        pattern="skipped",
    ),
    BadInput("fit", "the model class", lambda: fit(nn.Linear, BATCHES, epochs=1), InputDataError, "model"),
    BadInput(
        "fit",
        "the optimizer class",
        lambda: quiet_fit(BATCHES, optimizer=torch.optim.Adam),
        InputDataError,
        "optimizer",
    ),
    BadInput("fit", "a loss name", lambda: quiet_fit(BATCHES, loss="cross_entropy"), InputDataError, "loss"),
    BadInput("fit", "zero epochs", lambda: quiet_fit(BATCHES, epochs=0), InputDataError, "epochs"),
    # fit: the labels (classification_loss)
    BadInput(
        "classification_loss",
        "float labels",
        lambda: quiet_fit([(X, LABELS.float())]),
        InputDataError,
        "y",
        pattern="float32",
    ),
    BadInput(
        "classification_loss",
        "a label outside the classes",
        lambda: quiet_fit([(X, LABELS + 1)]),
        InputDataError,
        "y",
        pattern=r"\[0, 2\)",
    ),
    BadInput(
        "classification_loss",
        "negative labels",
        lambda: classification_loss(net(), (X, LABELS - 1)),
        InputDataError,
        "y",
    ),
    BadInput(
        "classification_loss",
        "one-hot labels",
        lambda: classification_loss(net(), (X, nn.functional.one_hot(LABELS, 2))),
        InputDataError,
        "y",
    ),
    BadInput(
        "classification_loss",
        "one-hot float labels",
        lambda: quiet_fit([(X, nn.functional.one_hot(LABELS, 2).float())]),
        InputDataError,
        "y",
        pattern="argmax",
    ),
    BadInput(
        "classification_loss",
        "boolean labels",
        lambda: classification_loss(net(), (X, LABELS.bool())),
        InputDataError,
        "y",
        pattern="bool",
    ),
    BadInput(
        "BackwardCompatibleLoss",
        "float labels reach the influence term through a custom loss",
        lambda: _influence_with_float_labels(),
        InputDataError,
        "y",
    ),
    BadInput(
        "classification_loss",
        "fewer labels than inputs",
        lambda: classification_loss(net(), (X, LABELS[:5])),
        InputDataError,
        "y",
    ),
    BadInput(
        "classification_loss",
        "the pair (x, y) given as the data",
        lambda: quiet_fit((X, LABELS)),
        InputDataError,
        "batch",
    ),
    # the loop's objects
    BadInput(
        "TrainState",
        "a model name instead of a model",
        lambda: TrainState("mlp", torch.optim.SGD(net().parameters(), lr=0.1)),
        InputDataError,
        "model",
    ),
    BadInput(
        "TrainingCallback",
        "the callback class instead of an instance",
        lambda: quiet_fit(BATCHES, callbacks=[ClipGradNorm]),
        InputDataError,
        "callbacks[0]",
        pattern="instantiate",
    ),
    BadInput(
        "ClipGradNorm",
        "a single callback not in a list",
        lambda: quiet_fit(BATCHES, callbacks=ClipGradNorm(1.0)),
        InputDataError,
        "callbacks",
    ),
    BadInput("ClipGradNorm", "zero max norm", lambda: ClipGradNorm(0.0), InputDataError, "max_norm"),
    BadInput(
        "Minibatches",
        "tensors given as one list",
        lambda: Minibatches([X, LABELS], batch_size=4),
        InputDataError,
        "tensors[0]",
    ),
    BadInput(
        "Minibatches",
        "misaligned tensors",
        lambda: Minibatches(X, LABELS[:5], batch_size=4),
        InputDataError,
        "tensors",
    ),
    BadInput(
        "Minibatches",
        "zero batch size",
        lambda: Minibatches(X, LABELS, batch_size=0),
        InputDataError,
        "batch_size",
    ),
    BadInput(
        "Minibatches",
        "no samples",
        lambda: Minibatches(X[:0], LABELS[:0], batch_size=4),
        InputDataError,
        "tensors",
    ),
    # training-time methods
    BadInput(
        "HardBatches",
        "delta as a percentage",
        lambda: HardBatches(BATCHES, net(), classification_loss, delta=25),
        InputDataError,
        "delta",
    ),
    BadInput(
        "HardBatches",
        "an endless stream to re-score (would hang)",
        lambda: HardBatches(itertools.cycle(BATCHES), net(), classification_loss, delta=0.5),
        InputDataError,
        "data",
        pattern="re-iterable",
    ),
    BadInput(
        "HardBatches",
        "a generator, used up by the first scoring",
        lambda: HardBatches((b for b in BATCHES), net(), classification_loss, delta=0.5),
        InputDataError,
        "data",
    ),
    BadInput(
        "SelfTuning",
        "validation data as one tensor",
        lambda: SelfTuning(STNMLP(3, [8], 2).hyperparameters, X),
        InputDataError,
        "val_data",
    ),
    BadInput(
        "LLPBeliefPropagation",
        "proportions instead of counts",
        lambda: llp(torch.tensor([1 / 3, 2 / 3])),
        InputDataError,
        "counts",
        pattern="proportions",
    ),
    BadInput(
        "LLPBeliefPropagation",
        "a count above the bag size",
        lambda: llp(torch.tensor([4.0, 1.0])),
        InputDataError,
        "counts",
        pattern="bag 0 of 3",
    ),
    BadInput(
        "LLPBeliefPropagation",
        "fractional counts",
        lambda: llp(torch.tensor([1.5, 2.0])),
        InputDataError,
        "counts",
    ),
    BadInput(
        "LLPBeliefPropagation",
        "one count for two bags",
        lambda: llp(torch.tensor([3.0])),
        InputDataError,
        "counts",
    ),
    BadInput(
        "LLPBeliefPropagation.predict_proba",
        "wrong number of features",
        lambda: (
            LLPBeliefPropagation(epochs=1).fit(X[:6], BAGS, torch.tensor([1.0, 2.0])).predict_proba(X[:, :2])
        ),
        InputDataError,
        "x",
    ),
    BadInput("LanczosLR", "zero Lanczos steps", lambda: LanczosLR(k=0), InputDataError, "k"),
    BadInput("STNMLP", "one hidden size as an int", lambda: STNMLP(3, 16, 2), InputDataError, "hidden_sizes"),
    BadInput("STNMLP", "dropout above 1", lambda: STNMLP(3, [16], 2, dropout=1.5), InputDataError, "dropout"),
    BadInput(
        "SelfTuning",
        "a network instead of its hyperparameters",
        lambda: SelfTuning(net(), BATCHES),
        InputDataError,
        "hyperparameters",
    ),
    BadInput(
        "SaRA",
        "unknown selection rule",
        lambda: SaRA(net(), fraction=0.1, selection="smalest"),
        InputDataError,
        "selection",
    ),
    BadInput(
        "SaRA",
        "threshold and fraction together",
        lambda: SaRA(net(), threshold=0.1, fraction=0.1),
        ConfigurationError,
    ),
    BadInput(
        "TrainedRankPruning",
        "energy as a percentage",
        lambda: TrainedRankPruning(energy=99),
        InputDataError,
        "energy",
    ),
    BadInput(
        "decompose_low_rank",
        "rank zero",
        lambda: decompose_low_rank((m := nn.Sequential(net())), {m[0]: 0}),
        InputDataError,
        "rank of layer 0",
    ),
    BadInput(
        "ScalingLaw",
        "a negative exponent",
        lambda: ScalingLaw(1e9, -0.07, 1e4, 0.5, 1e6, 0.3),
        InputDataError,
        "alpha_n",
    ),
    BadInput("fit_scaling_law", "no runs", lambda: fit_scaling_law([]), InputDataError, "runs"),
    BadInput(
        "fit_scaling_law",
        "a dict instead of a RunLog",
        lambda: fit_scaling_law([{"params": 1e6}]),
        InputDataError,
        "runs[0]",
    ),
    BadInput(
        "fit_batch_size_law",
        "lengths differ",
        lambda: fit_batch_size_law([8, 16, 32], [3.0, 2.0]),
        InputDataError,
        "top_eigenvalues",
    ),
    BadInput(
        "fit_convex_relu",
        "negative regularisation",
        lambda: fit_convex_relu(X, X[:, 0], -1.0),
        InputDataError,
        "beta",
    ),
    BadInput(
        "fit_convex_relu",
        "two target columns",
        lambda: fit_convex_relu(X, X[:, :2], 0.1),
        InputDataError,
        "y",
    ),
    BadInput(
        "fit_convex_relu_adversarial",
        "negative radius",
        lambda: fit_convex_relu_adversarial(X, X[:, 0], 0.1, -0.1),
        InputDataError,
        "epsilon",
    ),
    BadInput(
        "two_layer_objective",
        "a network with two outputs",
        lambda: two_layer_objective(net(), X, X[:, 0], 0.1),
        InputDataError,
        "network",
    ),
    BadInput(
        "BasisTransform", "zero new dimensions", lambda: BasisTransform(4, 0, 2), InputDataError, "new_dim"
    ),
    BadInput(
        "BackwardCompatibleLoss",
        "negative compatibility weight",
        lambda: BackwardCompatibleLoss(net(), compatibility_weight=-1.0),
        InputDataError,
        "compatibility_weight",
    ),
    # plugins
    BadInput(
        "get_method",
        "misspelt method",
        lambda: get_method("polycomm"),
        UnknownNameError,
        "name",
        pattern="did you mean 'polycom'",
    ),
    BadInput(
        "methods",
        "plural kind",
        lambda: methods(kind="layers"),
        UnknownNameError,
        "kind",
        pattern="did you mean 'layer'",
    ),
    BadInput("PluginEntry", "unknown status", lambda: entry(status="done"), InputDataError, "status"),
    BadInput(
        "PluginEntry.reproduce",
        "a planned method",
        lambda: entry().reproduce(quick=True),
        UnsupportedError,
        "name",
    ),
    BadInput(
        "PluginEntry.reproduce",
        "negative seed",
        lambda: get_method("polycom").reproduce(seed=-1),
        InputDataError,
        "seed",
    ),
    BadInput(
        "ReproductionResult",
        "a metric value as text",
        lambda: ReproductionResult("toy", "accuracy", "0.9", "baseline", 0.8, 1.0, "ok"),
        InputDataError,
        "value",
    ),
    BadInput(
        "Paper",
        "authors as one string",
        lambda: Paper("T", "Ada Lovelace", "folklore", 1843, "https://x.org"),
        InputDataError,
        "authors",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
