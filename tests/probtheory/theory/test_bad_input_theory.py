"""Bad input to probtheory.theory: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.theory.bandlimited import (
    fourier_least_squares,
    out_of_band_fraction,
    random_feature_error_curve,
    sample_sinc_features,
    sinc_feature_spectra,
    wave_packet,
    wave_packet_spectrum,
    window_least_squares,
)
from probtheory.theory.batch_hessian import (
    TanhRegression,
    batch_eigenvalues,
    batch_hessian,
    lanczos_top_eigenvalue,
    marchenko_pastur_edge,
    max_stable_learning_rate,
    spiked_covariance_sample,
    spiked_top_eigenvalue,
)
from probtheory.theory.logistic import (
    batch_perceptron,
    check_labels,
    first_separating_iterate,
    logistic_gd,
    logistic_loss,
    perceptron_iteration_bound,
    perceptron_limit_gap,
    separability,
    small_step_separation_bound,
    smooth_step_limit,
    stable_sigmoid,
    steps_to_separation,
)
from probtheory.theory.wide_deep import (
    DualActivation,
    deep_kernel_path,
    deep_kernels,
    gram_correlations,
    interpolating_classifier,
    majority_vote,
    named_dual,
    nearest_neighbour,
    polynomial_dual,
    singular_exponent,
    singular_kernel_classifier,
)
from tests.bad_input import BadInput, check_case

X64 = torch.float64
NAN = float("nan")
A = torch.tensor([[1.0, 0.5], [0.8, -0.2], [-1.0, -0.4], [-0.6, 0.3]], dtype=X64)
Y = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=X64)
FEATURES_A, FEATURES_B = torch.tensor([0.5, -1.0], dtype=X64), torch.tensor([0.1, 0.2], dtype=X64)
HESSIANS = torch.eye(3, dtype=X64).expand(4, 3, 3)
UNIT = torch.nn.functional.normalize(
    torch.randn(4, 3, dtype=X64, generator=torch.Generator().manual_seed(0)), dim=1
)


CASES = [
    # bandlimited
    BadInput(
        "wave_packet", "NaN frequency", lambda: wave_packet(torch.zeros(3), NAN), InputDataError, "frequency"
    ),
    BadInput("wave_packet", "a list of points", lambda: wave_packet([0.0, 1.0], 2.0), InputDataError, "x"),
    BadInput(
        "wave_packet_spectrum",
        "integer frequencies",
        lambda: wave_packet_spectrum(torch.arange(3), 2.0),
        InputDataError,
        "omega",
    ),
    BadInput(
        "out_of_band_fraction",
        "negative bandwidth",
        lambda: out_of_band_fraction(2.0, -1.0),
        InputDataError,
        "bandwidth",
    ),
    BadInput(
        "sample_sinc_features",
        "float seed",
        lambda: sample_sinc_features(5, 1.0, seed=0.5),
        InputDataError,
        "seed",
    ),
    BadInput(
        "sinc_feature_spectra",
        "a zero hidden weight (constant feature)",
        lambda: sinc_feature_spectra(
            torch.zeros(3, dtype=X64), torch.tensor([0.0], dtype=X64), torch.tensor([1.0], dtype=X64)
        ),
        InputDataError,
        "a",
    ),
    BadInput(
        "fourier_least_squares",
        "offsets of another length",
        lambda: fourier_least_squares(2.0, FEATURES_A, FEATURES_B[:1]),
        InputDataError,
        "b",
    ),
    BadInput(
        "window_least_squares",
        "NaN hidden weight",
        lambda: window_least_squares(2.0, torch.tensor([NAN], dtype=X64), torch.tensor([0.0], dtype=X64)),
        InputDataError,
        "a",
    ),
    BadInput(
        "random_feature_error_curve",
        "empty bandwidths",
        lambda: random_feature_error_curve(2.0, []),
        InputDataError,
        "bandwidths",
    ),
    BadInput(
        "random_feature_error_curve",
        "unknown activation",
        lambda: random_feature_error_curve(2.0, [1.0], activation="Tanh"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "random_feature_error_curve",
        "bandwidths as a 2-d tensor",
        lambda: random_feature_error_curve(2.0, torch.ones(2, 2)),
        InputDataError,
        "bandwidths",
    ),
    # logistic
    BadInput("check_labels", "0/1 labels", lambda: check_labels(A, (Y > 0).double()), InputDataError, "y"),
    BadInput("check_labels", "no features", lambda: check_labels(A[:, :0], Y), InputDataError, "a"),
    BadInput("logistic_gd", "NaN step", lambda: logistic_gd(A, Y, NAN, 3), InputDataError, "step"),
    BadInput(
        "logistic_gd",
        "initial weights of the wrong size",
        lambda: logistic_gd(A, Y, 0.1, 3, initial=torch.zeros(3, dtype=X64)),
        InputDataError,
        "initial",
    ),
    BadInput(
        "logistic_loss",
        "weights of the wrong size",
        lambda: logistic_loss(A, Y, torch.zeros(3, dtype=X64)),
        InputDataError,
        "w",
    ),
    BadInput(
        "batch_perceptron",
        "tie weight above 1",
        lambda: batch_perceptron(A, Y, 3, tie_weight=2.0),
        InputDataError,
        "tie_weight",
    ),
    BadInput(
        "batch_perceptron",
        "initial of the wrong size",
        lambda: batch_perceptron(A, Y, 3, initial=torch.zeros(5, dtype=X64)),
        InputDataError,
        "initial",
    ),
    BadInput(
        "perceptron_limit_gap",
        "negative iterations",
        lambda: perceptron_limit_gap(A, Y, 1.0, -1),
        InputDataError,
        "iterations",
    ),
    BadInput(
        "separability", "NaN features", lambda: separability(torch.full_like(A, NAN), Y), InputDataError, "a"
    ),
    BadInput(
        "perceptron_iteration_bound",
        "non-separable data",
        lambda: perceptron_iteration_bound(torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=X64), Y[:2]),
        InputDataError,
        "a, y",
    ),
    BadInput(
        "smooth_step_limit",
        "all-zero features (no curvature)",
        lambda: smooth_step_limit(torch.zeros(3, 2, dtype=X64)),
        InputDataError,
        "a",
    ),
    BadInput(
        "small_step_separation_bound",
        "a step beyond 1/L",
        lambda: small_step_separation_bound(A, Y, 1e6),
        InputDataError,
        "step",
    ),
    BadInput(
        "steps_to_separation",
        "negative budget",
        lambda: steps_to_separation(A, Y, 0.1, -5),
        InputDataError,
        "max_iterations",
    ),
    BadInput(
        "first_separating_iterate",
        "zero chunk",
        lambda: first_separating_iterate(logistic_gd, A, Y, 0.1, 10, chunk=0),
        InputDataError,
        "chunk",
    ),
    BadInput(
        "stable_sigmoid", "integer logits", lambda: stable_sigmoid(torch.arange(3)), InputDataError, "z"
    ),
    # batch Hessians
    BadInput(
        "TanhRegression",
        "float seed",
        lambda: TanhRegression(n=4, d=2, width=3, seed=0.5),
        InputDataError,
        "seed",
    ),
    BadInput(
        "TanhRegression",
        "parameters of the wrong length",
        lambda: TanhRegression(4, 2, 3, 0).loss(
            torch.zeros(5, dtype=X64), torch.zeros(2, dtype=X64), torch.tensor(0.0)
        ),
        InputDataError,
        "params",
    ),
    BadInput(
        "batch_hessian",
        "index out of range",
        lambda: batch_hessian(HESSIANS, torch.tensor([0, 4])),
        InputDataError,
        "index",
    ),
    BadInput(
        "batch_eigenvalues",
        "batch larger than the data",
        lambda: batch_eigenvalues(HESSIANS, [5], 2),
        InputDataError,
        "batch_sizes",
    ),
    BadInput(
        "batch_eigenvalues",
        "one batch (no standard error)",
        lambda: batch_eigenvalues(HESSIANS, [2], 1),
        InputDataError,
        "num_batches",
    ),
    BadInput(
        "marchenko_pastur_edge",
        "NaN aspect ratio",
        lambda: marchenko_pastur_edge(NAN),
        InputDataError,
        "aspect_ratio",
    ),
    BadInput(
        "spiked_top_eigenvalue",
        "zero spike",
        lambda: spiked_top_eigenvalue(0.0, 0.5),
        InputDataError,
        "spike",
    ),
    BadInput(
        "spiked_covariance_sample",
        "negative spike",
        lambda: spiked_covariance_sample(10, 3, -1.0),
        InputDataError,
        "spike",
    ),
    BadInput(
        "lanczos_top_eigenvalue",
        "matvec returning the wrong size",
        lambda: lanczos_top_eigenvalue(lambda v: v[:2], 3, seed=0),
        InputDataError,
        "matvec",
    ),
    BadInput(
        "lanczos_top_eigenvalue",
        "a matrix instead of a matvec",
        lambda: lanczos_top_eigenvalue(torch.eye(3, dtype=X64), 3),
        InputDataError,
        "matvec",
    ),
    BadInput(
        "max_stable_learning_rate",
        "negative definite Hessian",
        lambda: max_stable_learning_rate(-torch.eye(3, dtype=X64)),
        InputDataError,
        "hessian",
    ),
    # wide and deep limits
    BadInput(
        "named_dual",
        "sine without a number",
        lambda: named_dual("sine:abc"),
        InputDataError,
        "name",
        pattern="sine:<a>",
    ),
    BadInput(
        "named_dual", "fractional Hermite degree", lambda: named_dual("hermite:2.5"), InputDataError, "name"
    ),
    BadInput("named_dual", "capitalised name", lambda: named_dual("ReLU"), InputDataError, "name"),
    BadInput("named_dual", "zero sine parameter", lambda: named_dual("sine:0"), InputDataError, "name"),
    BadInput(
        "polynomial_dual",
        "negative coefficient",
        lambda: polynomial_dual([0.5, -0.5]),
        InputDataError,
        "coefficients",
    ),
    BadInput(
        "polynomial_dual", "a single number", lambda: polynomial_dual(1.0), InputDataError, "coefficients"
    ),
    BadInput(
        "DualActivation",
        "slope at a correlation outside [-1, 1]",
        lambda: named_dual("relu").slope_at(2.0),
        InputDataError,
        "xi",
    ),
    BadInput(
        "deep_kernels",
        "correlation above 1",
        lambda: deep_kernels(torch.tensor([1.5], dtype=X64), 3, named_dual("relu")),
        InputDataError,
        "xi",
    ),
    BadInput(
        "deep_kernels",
        "a name instead of a DualActivation",
        lambda: deep_kernels(torch.tensor([0.5], dtype=X64), 3, "relu"),
        InputDataError,
        "dual",
    ),
    BadInput(
        "deep_kernel_path",
        "no depths",
        lambda: deep_kernel_path(torch.tensor([0.5], dtype=X64), [], named_dual("relu")),
        InputDataError,
        "depths",
    ),
    BadInput(
        "singular_exponent",
        "a dual outside the singular regime",
        lambda: singular_exponent(named_dual("relu")),
        InputDataError,
        "dual",
    ),
    BadInput(
        "gram_correlations",
        "inputs not on the sphere",
        lambda: gram_correlations(UNIT * 2, UNIT),
        InputDataError,
        "x1",
    ),
    BadInput(
        "gram_correlations",
        "different dimensions",
        lambda: gram_correlations(UNIT, UNIT[:, :2] / UNIT[:, :2].norm(dim=1, keepdim=True)),
        InputDataError,
        "x2",
    ),
    BadInput(
        "interpolating_classifier",
        "labels of another length",
        lambda: interpolating_classifier(torch.eye(4, dtype=X64), torch.ones(2, 4, dtype=X64), Y[:3]),
        InputDataError,
        "y",
    ),
    BadInput(
        "interpolating_classifier",
        "NaN Gram matrix",
        lambda: interpolating_classifier(torch.full((4, 4), NAN, dtype=X64), torch.ones(2, 4, dtype=X64), Y),
        InputDataError,
        "kernel_train",
    ),
    BadInput(
        "nearest_neighbour",
        "0/1 labels",
        lambda: nearest_neighbour(torch.ones(2, 4, dtype=X64), (Y > 0).double()),
        InputDataError,
        "y",
    ),
    BadInput(
        "majority_vote",
        "negative number of test points",
        lambda: majority_vote(-1, Y),
        InputDataError,
        "num_test",
    ),
    BadInput(
        "singular_kernel_classifier",
        "NaN complements",
        lambda: singular_kernel_classifier(torch.full((2, 4), NAN, dtype=X64), Y, 3.0),
        InputDataError,
        "eps_test",
    ),
    BadInput(
        "singular_kernel_classifier",
        "zero exponent",
        lambda: singular_kernel_classifier(torch.ones(2, 4, dtype=X64), Y, 0.0),
        InputDataError,
        "exponent",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_dual_activation_is_what_named_dual_returns():
    assert isinstance(named_dual("hermite:3"), DualActivation)
