"""Bad input to probtheory.processes: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.processes import (
    CNP,
    MPNP,
    NP,
    GPTaskSampler,
    MPNPConfig,
    NeuralProcessConfig,
    NPConfig,
    exact_gp_log_likelihood,
    meta_train,
)
from probtheory.processes.mpnp import ISAB, PseudoContextGenerator
from probtheory.processes.neural_process import GaussianDecoder, SetEncoder
from probtheory.processes.tasks import TaskBatch, gp_kernel_matrix
from tests.bad_input import BadInput, check_case

NAN = float("nan")
CX, CY = torch.randn(2, 5, 1), torch.randn(2, 5)
TX, TY = torch.randn(2, 3, 1), torch.randn(2, 3)


def nan_targets() -> torch.Tensor:
    y = TY.clone()
    y[0, 1] = NAN
    return y


def cnp() -> CNP:
    return CNP(NeuralProcessConfig(hidden=8, depth=1), seed=0)


def np_model() -> NP:
    return NP(NPConfig(hidden=8, depth=1, latent=4), seed=0)


def mpnp() -> MPNP:
    return MPNP(
        MPNPConfig(hidden=8, depth=1, num_heads=2, num_inducing=2, num_pseudo=2, num_samples=2), seed=0
    )


def batch() -> TaskBatch:
    return GPTaskSampler().sample(2, num_context=4, num_target=3, seed=0)


CASES = [
    BadInput(
        "CNP",
        "NaN target in log_likelihood (was a finite log-density)",
        lambda: cnp().log_likelihood(CX, CY, TX, nan_targets()),
        InputDataError,
        "target_y",
    ),
    BadInput(
        "NP",
        "NaN target in log_likelihood",
        lambda: np_model().log_likelihood(CX, CY, TX, nan_targets(), seed=0),
        InputDataError,
        "target_y",
    ),
    BadInput(
        "MPNP",
        "NaN target in log_likelihood",
        lambda: mpnp().log_likelihood(CX, CY, TX, nan_targets(), seed=0),
        InputDataError,
        "target_y",
    ),
    BadInput(
        "CNP",
        "no target points (mean over nothing is NaN)",
        lambda: cnp().log_likelihood(CX, CY, TX[:, :0], TY[:, :0]),
        InputDataError,
        "target_x",
    ),
    BadInput(
        "CNP", "empty context", lambda: cnp().predict(CX[:, :0], CY[:, :0], TX), InputDataError, "context_x"
    ),
    BadInput(
        "CNP",
        "NaN context output",
        lambda: cnp().predict(CX, torch.full_like(CY, NAN), TX),
        InputDataError,
        "context_y",
    ),
    BadInput(
        "CNP",
        "context_y with a trailing 1",
        lambda: cnp().predict(CX, CY[..., None], TX),
        InputDataError,
        "context_y",
    ),
    BadInput(
        "CNP",
        "inputs of the wrong dimension",
        lambda: cnp().predict(torch.randn(2, 5, 2), CY, TX),
        InputDataError,
        "context_x",
    ),
    BadInput(
        "CNP",
        "integer targets inputs",
        lambda: cnp().predict(CX, CY, torch.ones(2, 3, 1, dtype=torch.long)),
        InputDataError,
        "target_x",
    ),
    BadInput("NP", "float seed", lambda: np_model().predict(CX, CY, TX, seed=0.5), InputDataError, "seed"),
    BadInput(
        "MPNP",
        "zero samples",
        lambda: mpnp().sample_parameters(CX, CY, num_samples=0),
        InputDataError,
        "num_samples",
    ),
    BadInput(
        "CNP", "a config of the wrong class", lambda: NP(NeuralProcessConfig()), InputDataError, "config"
    ),
    BadInput(
        "CNP",
        "loss of a dict instead of a TaskBatch",
        lambda: cnp().loss(dataclasses.asdict(batch())),
        InputDataError,
        "batch",
    ),
    BadInput(
        "CNP",
        "load from a missing file",
        lambda: CNP.load("/nonexistent/model.safetensors"),
        InputDataError,
        "path",
    ),
    BadInput(
        "NeuralProcessConfig",
        "min_std of 1",
        lambda: NeuralProcessConfig(min_std=1.0),
        InputDataError,
        "min_std",
    ),
    BadInput(
        "NeuralProcessConfig",
        "NaN min_std",
        lambda: NeuralProcessConfig(min_std=NAN),
        InputDataError,
        "min_std",
    ),
    BadInput("NPConfig", "zero latent width", lambda: NPConfig(latent=0), InputDataError, "latent"),
    BadInput(
        "MPNPConfig",
        "heads not dividing the width",
        lambda: MPNPConfig(hidden=10, num_heads=4),
        InputDataError,
        "num_heads",
    ),
    BadInput(
        "MPNPConfig",
        "NaN loss weight",
        lambda: MPNPConfig(pseudo_weight=NAN),
        InputDataError,
        "pseudo_weight",
    ),
    BadInput(
        "ISAB",
        "heads not dividing the width (a bare assert in torch)",
        lambda: ISAB(10, 4, 2),
        InputDataError,
        "heads",
    ),
    BadInput(
        "ISAB",
        "a set without its batch dimension",
        lambda: ISAB(8, 2, 2)(torch.randn(5, 8)),
        InputDataError,
        "x",
    ),
    BadInput(
        "PseudoContextGenerator",
        "a seed instead of a generator",
        lambda: PseudoContextGenerator(8, 2, 2)(torch.randn(2, 5, 8), 3, 4, 0),
        InputDataError,
        "generator",
    ),
    BadInput(
        "SetEncoder",
        "outputs with a trailing 1",
        lambda: SetEncoder(1, 8, 1)(CX, CY[..., None]),
        InputDataError,
        "y",
    ),
    BadInput(
        "GaussianDecoder", "zero min_std", lambda: GaussianDecoder(1, 8, 8, 1, 0.0), InputDataError, "min_std"
    ),
    BadInput("GPTaskSampler", "unknown kernel", lambda: GPTaskSampler("RBF"), InputDataError, "kernel"),
    BadInput(
        "GPTaskSampler",
        "reversed lengthscale range",
        lambda: GPTaskSampler(lengthscale=(0.6, 0.1)),
        InputDataError,
        "lengthscale",
    ),
    BadInput(
        "GPTaskSampler", "NaN x_range", lambda: GPTaskSampler(x_range=(NAN, 2.0)), InputDataError, "x_range"
    ),
    BadInput(
        "GPTaskSampler", "float seed", lambda: GPTaskSampler().sample(2, seed=0.5), InputDataError, "seed"
    ),
    BadInput("GPTaskSampler", "zero tasks", lambda: GPTaskSampler().sample(0), InputDataError, "batch_size"),
    BadInput(
        "TaskBatch",
        "targets of another length",
        lambda: dataclasses.replace(batch(), target_y=TY[:, :2]),
        InputDataError,
        "target_y",
    ),
    BadInput(
        "TaskBatch",
        "NaN context input",
        lambda: dataclasses.replace(batch(), context_x=torch.full((2, 4, 1), NAN, dtype=torch.float64)),
        InputDataError,
        "context_x",
    ),
    BadInput(
        "gp_kernel_matrix",
        "unknown kernel",
        lambda: gp_kernel_matrix("se", TX, TX, *torch.ones(3, 2)),
        InputDataError,
        "kernel",
    ),
    BadInput(
        "gp_kernel_matrix",
        "2-d inputs",
        lambda: gp_kernel_matrix("rbf", TX[..., 0], TX[..., 0], *torch.ones(3, 2)),
        InputDataError,
        "x1",
    ),
    BadInput(
        "exact_gp_log_likelihood",
        "a tuple instead of a TaskBatch",
        lambda: exact_gp_log_likelihood(dataclasses.astuple(batch())),
        InputDataError,
        "batch",
    ),
    BadInput(
        "meta_train",
        "a sampler without `sample`",
        lambda: meta_train(cnp(), [batch()], steps=1, progress=False),
        InputDataError,
        "task_sampler",
    ),
    BadInput(
        "meta_train",
        "NaN learning rate",
        lambda: meta_train(cnp(), GPTaskSampler(), steps=1, lr=NAN, progress=False),
        InputDataError,
        "lr",
    ),
    BadInput(
        "meta_train",
        "a plain function as the model",
        lambda: meta_train(lambda b, g: 0.0, GPTaskSampler(), steps=1, progress=False),
        InputDataError,
        "model",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_predictions_come_back_in_the_dtype_of_the_inputs():
    model = cnp()  # float32 parameters
    out = model.predict(CX.double(), CY.double(), TX.double())
    assert out.mean.dtype == torch.float64
    torch.testing.assert_close(out.mean, model.predict(CX, CY, TX).mean.double())
