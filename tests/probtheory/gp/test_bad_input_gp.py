"""Bad input to probtheory.gp: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.gp import (
    BurrXII,
    DeepKernelMachine,
    GramKernel,
    LinearGramKernel,
    ReluGramKernel,
    ScaleMixtureProcess,
    SEGramKernel,
    StructuredGram,
    StudentTProcess,
    linear_gram_kernel,
    multivariate_t_log_prob,
    regression_dataset,
    relu_gram_kernel,
    se_gram_kernel,
    synthetic_regression,
)
from probtheory.kernels import NNGPKernel
from tests.bad_input import BadInput, check_case

X64 = torch.float64
NAN = float("nan")
G = torch.Generator().manual_seed(0)
TRAIN_X = torch.randn(6, 2, dtype=X64, generator=G)
TRAIN_Y = torch.randn(6, dtype=X64, generator=G)
EMPTY_X, EMPTY_Y = torch.zeros(0, 2, dtype=X64), torch.zeros(0, dtype=X64)


def nan_y() -> torch.Tensor:
    y = TRAIN_Y.clone()
    y[2] = NAN
    return y


def tp() -> StudentTProcess:
    return StudentTProcess(TRAIN_X, TRAIN_Y, NNGPKernel(depth=1))


def dkm(**kw) -> DeepKernelMachine:
    return DeepKernelMachine(TRAIN_X, TRAIN_Y, depth=1, **kw)


def gram() -> torch.Tensor:
    return TRAIN_X @ TRAIN_X.T / 2


CASES = [
    # StudentTProcess
    BadInput(
        "StudentTProcess",
        "zero training points",
        lambda: StudentTProcess(EMPTY_X, EMPTY_Y),
        InputDataError,
        "train_x",
    ),
    BadInput(
        "StudentTProcess", "NaN target", lambda: StudentTProcess(TRAIN_X, nan_y()), InputDataError, "train_y"
    ),
    BadInput(
        "StudentTProcess",
        "targets of another length",
        lambda: StudentTProcess(TRAIN_X, TRAIN_Y[:4]),
        InputDataError,
        "train_y",
    ),
    BadInput(
        "StudentTProcess",
        "1-d inputs",
        lambda: StudentTProcess(TRAIN_X[:, 0], TRAIN_Y),
        InputDataError,
        "train_x",
    ),
    BadInput(
        "StudentTProcess",
        "a kernel name instead of a kernel",
        lambda: StudentTProcess(TRAIN_X, TRAIN_Y, "rbf"),
        InputDataError,
        "kernel",
    ),
    BadInput(
        "StudentTProcess",
        "NaN concentration",
        lambda: StudentTProcess(TRAIN_X, TRAIN_Y, concentration=NAN),
        InputDataError,
        "concentration",
    ),
    BadInput(
        "StudentTProcess",
        "zero noise",
        lambda: StudentTProcess(TRAIN_X, TRAIN_Y, noise=0.0),
        InputDataError,
        "noise",
    ),
    BadInput(
        "StudentTProcess",
        "test inputs of another width",
        lambda: tp().posterior(torch.randn(3, 3, dtype=X64)),
        InputDataError,
        "test_x",
    ),
    BadInput(
        "StudentTProcess.joint_posterior",
        "test inputs of another width",
        lambda: tp().joint_posterior(torch.randn(2, 3, 3, dtype=X64)),
        InputDataError,
        "test_x",
    ),
    BadInput(
        "StudentTProcess.joint_posterior",
        "a single point as a 1-d tensor",
        lambda: tp().joint_posterior(TRAIN_X[0]),
        InputDataError,
        "test_x",
    ),
    BadInput(
        "StudentTProcess.joint_posterior",
        "NaN test input",
        lambda: tp().joint_posterior(torch.full((2, TRAIN_X.shape[1]), NAN, dtype=X64)),
        InputDataError,
        "test_x",
    ),
    BadInput(
        "StudentTProcess.joint_posterior",
        "observation noise as a variance",
        lambda: tp().joint_posterior(TRAIN_X, observation_noise=0.1),
        InputDataError,
        "observation_noise",
    ),
    BadInput(
        "StudentTProcess",
        "NaN learning rate",
        lambda: tp().fit(steps=1, lr=NAN, progress=False),
        InputDataError,
        "lr",
    ),
    BadInput(
        "multivariate_t_log_prob",
        "zero degrees of freedom",
        lambda: multivariate_t_log_prob(TRAIN_Y, 0.0, torch.eye(6, dtype=X64)),
        InputDataError,
        "df",
    ),
    BadInput(
        "multivariate_t_log_prob",
        "factor of the wrong size",
        lambda: multivariate_t_log_prob(TRAIN_Y, 3.0, torch.eye(5, dtype=X64)),
        InputDataError,
        "shape_cholesky",
    ),
    BadInput(
        "multivariate_t_log_prob",
        "a covariance with a negative diagonal, not its Cholesky factor",
        lambda: multivariate_t_log_prob(TRAIN_Y, 3.0, -torch.eye(6, dtype=X64)),
        InputDataError,
        "shape_cholesky",
    ),
    # ScaleMixtureProcess and BurrXII
    BadInput(
        "ScaleMixtureProcess",
        "zero training points",
        lambda: ScaleMixtureProcess(EMPTY_X, EMPTY_Y),
        InputDataError,
        "train_x",
    ),
    BadInput(
        "ScaleMixtureProcess",
        "a mixing callable instead of a distribution",
        lambda: ScaleMixtureProcess(TRAIN_X, TRAIN_Y, mixing=torch.rand),
        InputDataError,
        "mixing",
    ),
    BadInput(
        "ScaleMixtureProcess",
        "float seed",
        lambda: ScaleMixtureProcess(TRAIN_X, TRAIN_Y, seed=0.5),
        InputDataError,
        "seed",
    ),
    BadInput(
        "ScaleMixtureProcess",
        "zero Monte Carlo samples",
        lambda: ScaleMixtureProcess(TRAIN_X, TRAIN_Y, num_samples=0),
        InputDataError,
        "num_samples",
    ),
    BadInput("BurrXII", "negative shape", lambda: BurrXII(-1.0, 1.0), InputDataError, "c"),
    BadInput("BurrXII", "NaN scale", lambda: BurrXII(2.0, 1.0, NAN), InputDataError, "scale"),
    BadInput(
        "BurrXII",
        "log_prob outside the support (was NaN)",
        lambda: BurrXII(2.0, 1.0).log_prob(torch.tensor([-1.0], dtype=X64)),
        InputDataError,
        "value",
    ),
    BadInput(
        "BurrXII",
        "icdf of a probability > 1",
        lambda: BurrXII(2.0, 1.0).icdf(torch.tensor(1.5, dtype=X64)),
        InputDataError,
        "value",
    ),
    # DeepKernelMachine
    BadInput(
        "DeepKernelMachine",
        "zero training points",
        lambda: DeepKernelMachine(EMPTY_X, EMPTY_Y),
        InputDataError,
        "train_x",
    ),
    BadInput(
        "DeepKernelMachine",
        "NaN target",
        lambda: DeepKernelMachine(TRAIN_X, nan_y()),
        InputDataError,
        "train_y",
    ),
    BadInput(
        "DeepKernelMachine",
        "unknown likelihood",
        lambda: dkm(likelihood="Gaussian"),
        InputDataError,
        "likelihood",
    ),
    BadInput("DeepKernelMachine", "NaN degrees of freedom", lambda: dkm(dof=NAN), InputDataError, "dof"),
    BadInput(
        "DeepKernelMachine",
        "more inducing points than data",
        lambda: dkm(num_inducing=10),
        InputDataError,
        "num_inducing",
    ),
    BadInput(
        "DeepKernelMachine",
        "float class labels",
        lambda: DeepKernelMachine(TRAIN_X, TRAIN_Y, likelihood="categorical"),
        InputDataError,
        "train_y",
    ),
    BadInput(
        "DeepKernelMachine",
        "minibatch on the exact model",
        lambda: dkm().fit(steps=1, batch_size=2, progress=False),
        ConfigurationError,
        pattern="batch_size",
    ),
    BadInput(
        "DeepKernelMachine",
        "float minibatch indices",
        lambda: dkm(num_inducing=3).objective(batch=torch.tensor([0.0, 1.0])),
        InputDataError,
        "batch",
    ),
    BadInput(
        "DeepKernelMachine",
        "out-of-range minibatch indices",
        lambda: dkm(num_inducing=3).objective(batch=torch.tensor([0, 9])),
        InputDataError,
        "batch",
    ),
    BadInput(
        "DeepKernelMachine", "unknown kernel name", lambda: dkm(kernel="ReLU"), InputDataError, "kernel"
    ),
    # Gram kernels
    BadInput(
        "GramKernel",
        "a non-square Gram matrix",
        lambda: ReluGramKernel()(torch.ones(3, 4, dtype=X64)),
        InputDataError,
        "gram",
    ),
    BadInput(
        "ReluGramKernel",
        "NaN weight variance",
        lambda: ReluGramKernel(weight_variance=NAN),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "LinearGramKernel",
        "negative bias variance",
        lambda: LinearGramKernel(bias_variance=-1.0),
        InputDataError,
        "bias_variance",
    ),
    BadInput(
        "SEGramKernel",
        "zero lengthscale",
        lambda: SEGramKernel(lengthscale=0.0),
        InputDataError,
        "lengthscale",
    ),
    BadInput(
        "StructuredGram",
        "data-inducing block of the wrong width",
        lambda: StructuredGram(
            torch.eye(3, dtype=X64), torch.ones(4, 2, dtype=X64), torch.ones(4, dtype=X64)
        ),
        InputDataError,
        "ti",
    ),
    BadInput(
        "StructuredGram",
        "integer blocks",
        lambda: StructuredGram(torch.eye(3, dtype=torch.long), torch.ones(4, 3), torch.ones(4)),
        InputDataError,
        "ii",
    ),
    BadInput(
        "relu_gram_kernel",
        "negative weight variance",
        lambda: relu_gram_kernel(gram(), gram().diagonal()[:, None], gram().diagonal()[None, :], -1.0, 0.0),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "linear_gram_kernel",
        "NaN bias variance",
        lambda: linear_gram_kernel(gram(), gram(), gram(), 1.0, NAN),
        InputDataError,
        "bias_variance",
    ),
    BadInput(
        "se_gram_kernel",
        "diagonals that do not broadcast",
        lambda: se_gram_kernel(gram(), torch.ones(5, 1, dtype=X64), torch.ones(1, 6, dtype=X64), 1.0, 1.0),
        InputDataError,
        "right",
    ),
    # data sets
    BadInput(
        "synthetic_regression",
        "unknown set",
        lambda: synthetic_regression("syn_t"),
        InputDataError,
        "name",
        pattern="syn-t",
    ),
    BadInput(
        "synthetic_regression",
        "negative seed",
        lambda: synthetic_regression("syn-t", seed=-1),
        InputDataError,
        "seed",
    ),
    BadInput(
        "regression_dataset",
        "a data set that is not bundled",
        lambda: regression_dataset("boston"),
        InputDataError,
        "name",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_gram_kernel_is_abstract():
    with pytest.raises(NotImplementedError):
        GramKernel()(torch.eye(2, dtype=X64))


def test_predictive_distributions_come_back_in_the_dtype_of_the_test_inputs():
    """GP models compute in float64; the predictive follows the dtype of ``test_x``."""
    test_x = torch.randn(3, 2, dtype=X64)
    model = tp()
    low, high = model.posterior(test_x.float()), model.posterior(test_x)
    assert low.loc.dtype == torch.float32 and high.loc.dtype == X64
    torch.testing.assert_close(low.loc, high.loc.float())
    fitted = dkm()
    fitted.fit(steps=1, progress=False)
    assert fitted.predict(test_x.float()).loc.dtype == torch.float32
