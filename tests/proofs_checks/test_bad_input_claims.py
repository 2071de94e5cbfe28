"""Bad input to proofs_checks' public entry points: one row per realistic mistake."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

import proofs_checks
from probtheory.errors import InputDataError, UnknownNameError
from probtheory.papers import Paper
from proofs_checks import Claim, Evidence, Mutant
from proofs_checks import strategies as pst
from proofs_checks.assertions import (
    assert_claim,
    assert_psd,
    assert_symmetric,
    assert_within_standard_errors,
    min_eigenvalue_ratio,
)
from proofs_checks.statistics import fit_loglog_slope, second_moment_ratio
from tests.bad_input import BadInput, check_case

_PAPER = Paper("Squares are non-negative", ("Ada Lovelace",), "folklore", 1843, "https://example.org")


def _square_claim(claim_id: str = "toy.bad_input_square") -> Claim:
    return Claim(
        id=claim_id,
        title="squares are non-negative",
        paper=_PAPER,
        statement="x^2 >= 0",
        formula="x^2 >= 0",
        strategy=lambda: st.floats(-10, 10),
        check=lambda x, f: Evidence.at_least("f(x)", f(x), 0.0, "exact"),
        subject=lambda x: x * x,
        mutants=(Mutant("cube", "x^3 instead of x^2", lambda x: x**3),),
        examples={"ci": 5, "thorough": 10},
        mutant_examples=5,
    )


SQUARE = proofs_checks.register(_square_claim())
run = proofs_checks.run
SE_OK = torch.ones(3, dtype=torch.float64)


def _claim_with(**changes) -> Claim:
    return dataclasses.replace(SQUARE, **changes)


CASES = [
    # run
    BadInput("run", "unknown claim id", lambda: run(["nope"]), UnknownNameError, "ids"),
    BadInput("run", "unknown id is also a KeyError", lambda: run(["nope"]), KeyError, "ids"),
    BadInput(
        "run",
        "wrong case in an id",
        lambda: run(["ntk.Convergence"]),
        UnknownNameError,
        "ids",
        pattern=r"did you mean 'ntk\.convergence'",
    ),
    BadInput(
        "run",
        "a single id with a typo, as a string",
        lambda: run("pdlt.relu_kurtossis"),
        UnknownNameError,
        "ids",
        pattern=r"received 'pdlt\.relu_kurtossis' \(did you mean 'pdlt\.relu_kurtosis'",
    ),
    BadInput("run", "empty list of ids", lambda: run([]), InputDataError, "ids"),
    BadInput("run", "an int instead of ids", lambda: run(3), InputDataError, "ids"),
    BadInput(
        "run",
        "unknown profile",
        lambda: run([SQUARE.id], "CI"),
        UnknownNameError,
        "profile",
        pattern="did you mean 'ci'",
    ),
    BadInput(
        "run",
        "profile typo is a plain ValueError too",
        lambda: run([SQUARE.id], "thorugh"),
        ValueError,
        "profile",
    ),
    # claims / register / get_claim
    BadInput(
        "register",
        "registering something that is not a Claim",
        lambda: proofs_checks.register("toy.x"),
        InputDataError,
        "claim",
    ),
    BadInput(
        "register",
        "registering a built-in id",
        lambda: proofs_checks.register(_square_claim("kernels.psd")),
        InputDataError,
        "claim",
        pattern="already registered",
    ),
    BadInput(
        "get_claim",
        "wrong case",
        lambda: proofs_checks.get_claim("ntk.Convergence"),
        UnknownNameError,
        "claim_id",
        pattern=r"did you mean 'ntk\.convergence'",
    ),
    BadInput(
        "get_claim",
        "unknown id caught as KeyError",
        lambda: proofs_checks.get_claim("no.such"),
        KeyError,
        "claim_id",
    ),
    BadInput(
        "get_claim",
        "a list instead of an id",
        lambda: proofs_checks.get_claim(["ntk.psd"]),
        UnknownNameError,
        "claim_id",
    ),
    # verify
    BadInput(
        "verify",
        "unknown profile",
        lambda: proofs_checks.verify(SQUARE, profile="fast"),
        UnknownNameError,
        "profile",
    ),
    BadInput(
        "verify",
        "zero examples",
        lambda: proofs_checks.verify(SQUARE, max_examples=0),
        InputDataError,
        "max_examples",
    ),
    BadInput("verify", "claim given as a number", lambda: proofs_checks.verify(7), InputDataError, "claim"),
    # strategies
    BadInput("depths", "swapped range", lambda: pst.depths(5, 1), InputDataError, "max_depth"),
    BadInput(
        "activation_family",
        "a torch-style name",
        lambda: pst.activation_family("LeakyReLU"),
        InputDataError,
        "activation",
    ),
    BadInput(
        "activation_cases",
        "one name as a string, not a tuple",
        lambda: pst.activation_cases("relu"),
        InputDataError,
        "names",
    ),
    BadInput(
        "activation_regimes",
        "no activation at all",
        lambda: pst.activation_regimes(()),
        InputDataError,
        "names",
    ),
    BadInput(
        "activation_regimes",
        "an unknown activation among the names",
        lambda: pst.activation_regimes(("relu", "swish")),
        InputDataError,
        "activation",
    ),
    # regimes
    BadInput(
        "Regimes",
        "the cases as a list of names",
        lambda: proofs_checks.Regimes(of=lambda i: {"parity": "odd"}, cases=["odd", "even"]),
        InputDataError,
        "cases",
    ),
    BadInput(
        "Regimes",
        "a facet without cases",
        lambda: proofs_checks.Regimes(of=lambda i: {"parity": "odd"}, cases={"parity": {}}),
        InputDataError,
        "cases['parity']",
    ),
    BadInput(
        "Regimes",
        "a dict where the labelling function belongs",
        lambda: proofs_checks.Regimes(of={"parity": "odd"}, cases={"parity": {"odd": None}}),
        InputDataError,
        "of",
    ),
    BadInput(
        "Regimes",
        "a minimum of zero instances",
        lambda: proofs_checks.Regimes(of=lambda i: {}, cases={"parity": {"odd": None}}, minimum=0),
        InputDataError,
        "minimum",
    ),
    BadInput(
        "Claim",
        "regimes given as a plain dict",
        lambda: _claim_with(regimes={"parity": ("odd", "even")}),
        InputDataError,
        "regimes",
    ),
    BadInput(
        "activations",
        "a string for the flag",
        lambda: pst.activations("yes"),
        InputDataError,
        "closed_form_only",
    ),
    BadInput(
        "kernel_hyperparameters",
        "swapped std range",
        lambda: pst.kernel_hyperparameters(weight_std=(2.5, 0.5)),
        InputDataError,
        "weight_std",
    ),
    BadInput(
        "kernel_hyperparameters",
        "negative std",
        lambda: pst.kernel_hyperparameters(bias_std=(-1.0, 1.0)),
        InputDataError,
        "bias_std",
    ),
    BadInput(
        "sphere_inputs",
        "a number instead of a range",
        lambda: pst.sphere_inputs(n=5),
        InputDataError,
        "n",
    ),
    BadInput(
        "sphere_inputs",
        "unknown radius mode",
        lambda: pst.sphere_inputs(radius="vary"),
        UnknownNameError,
        "radius",
        pattern="did you mean 'varied'",
    ),
    BadInput(
        "sphere_inputs",
        "zero dimensions",
        lambda: pst.sphere_inputs(d=(0, 3)),
        InputDataError,
        "d",
    ),
    BadInput(
        "psd_matrices",
        "rank 0 (was silently full rank)",
        lambda: pst.psd_matrices(rank=0),
        InputDataError,
        "rank",
    ),
    BadInput(
        "psd_matrices",
        "swapped size range",
        lambda: pst.psd_matrices(n=(8, 1)),
        InputDataError,
        "n",
    ),
    BadInput(
        "mlps",
        "unknown parameterization",
        lambda: pst.mlps(parameterization="mu"),
        InputDataError,
        "parameterization",
    ),
    BadInput("mlps", "zero width", lambda: pst.mlps(width=0), InputDataError, "width"),
    BadInput(
        "network_instances",
        "a tensor instead of a strategy",
        lambda: pst.network_instances(inputs=torch.randn(3, 2)),
        InputDataError,
        "inputs",
    ),
    BadInput("seeds", "a range given to seeds()", lambda: pst.seeds(0, 10), TypeError),
    BadInput(
        "KernelHyperparameters",
        "a negative variance",
        lambda: pst.KernelHyperparameters(-1.0, 0.1),
        InputDataError,
        "weight_variance",
    ),
    BadInput(
        "NetworkInstance",
        "a 1-d input for an explicit example",
        lambda: pst.NetworkInstance(torch.ones(3, dtype=torch.float64), 2, "relu", 1.0, 0.1, 0),
        InputDataError,
        "x",
    ),
    BadInput(
        "NetworkInstance",
        "a negative depth",
        lambda: pst.NetworkInstance(torch.ones(2, 3, dtype=torch.float64), -1, "relu", 1.0, 0.1, 0),
        InputDataError,
        "depth",
    ),
    # Claim, Mutant, Evidence
    BadInput(
        "Claim",
        "a strategy object instead of a function returning one",
        lambda: _claim_with(strategy=st.floats(-1, 1)),
        InputDataError,
        "strategy",
    ),
    BadInput(
        "Claim",
        "no 'ci' entry in examples",
        lambda: _claim_with(examples={"thorough": 5}),
        InputDataError,
        "examples",
    ),
    BadInput(
        "Claim",
        "zero mutant examples",
        lambda: _claim_with(mutant_examples=0),
        InputDataError,
        "mutant_examples",
    ),
    BadInput(
        "Mutant",
        "a bare function instead of a Mutant",
        lambda: _claim_with(mutants=(lambda x: x**3,)),
        InputDataError,
        "mutants",
    ),
    BadInput(
        "Evidence",
        "a negative tolerance",
        lambda: Evidence.within("q", 1.0, 1.0, -0.1, "r"),
        InputDataError,
        "tolerance",
    ),
    BadInput(
        "Evidence",
        "a vector as the measurement",
        lambda: Evidence.at_most("q", torch.ones(3), 1.0, "r"),
        InputDataError,
        "measured",
    ),
    BadInput(
        "Evidence",
        "swapped range",
        lambda: Evidence.in_range("q", 0.5, 1.0, 0.0, "r"),
        InputDataError,
        "high",
    ),
    # statistics
    BadInput(
        "fit_loglog_slope",
        "two widths only",
        lambda: fit_loglog_slope([128, 256], [1.0, 0.5]),
        InputDataError,
        "xs",
    ),
    BadInput(
        "fit_loglog_slope",
        "lengths differ",
        lambda: fit_loglog_slope([1, 2, 4, 8], [1.0, 0.5, 0.2]),
        InputDataError,
        "ys",
    ),
    BadInput(
        "fit_loglog_slope",
        "a zero width",
        lambda: fit_loglog_slope([0, 2, 4], [1.0, 0.5, 0.2]),
        InputDataError,
        "xs",
    ),
    BadInput(
        "second_moment_ratio",
        "a single sample",
        lambda: second_moment_ratio(np.ones(1)),
        InputDataError,
        "samples",
    ),
    # assertions
    BadInput(
        "assert_claim",
        "misspelt profile",
        lambda: assert_claim(SQUARE, profile="thorugh"),
        UnknownNameError,
        "profile",
    ),
    BadInput(
        "assert_psd",
        "non-square matrix",
        lambda: assert_psd(torch.randn(3, 4)),
        InputDataError,
        "matrix",
    ),
    BadInput("assert_psd", "numpy array", lambda: assert_psd(np.eye(3)), InputDataError, "matrix"),
    BadInput(
        "assert_psd",
        "negative tolerance",
        lambda: assert_psd(torch.eye(3), rtol=-1e-9),
        InputDataError,
        "rtol",
    ),
    BadInput(
        "assert_psd",
        "integer matrix",
        lambda: assert_psd(torch.eye(3, dtype=torch.long)),
        InputDataError,
        "matrix",
    ),
    BadInput(
        "assert_symmetric",
        "a vector",
        lambda: assert_symmetric(torch.ones(3)),
        InputDataError,
        "matrix",
    ),
    BadInput(
        "min_eigenvalue_ratio",
        "empty matrix",
        lambda: min_eigenvalue_ratio(torch.zeros(0, 0)),
        InputDataError,
        "matrix",
    ),
    BadInput(
        "assert_within_standard_errors",
        "shapes that do not broadcast",
        lambda: assert_within_standard_errors(torch.zeros(3), torch.zeros(4), SE_OK),
        InputDataError,
        "reference",
    ),
    BadInput(
        "assert_within_standard_errors",
        "negative standard error",
        lambda: assert_within_standard_errors(torch.zeros(3), torch.zeros(3), -SE_OK),
        InputDataError,
        "standard_error",
    ),
    BadInput(
        "assert_within_standard_errors",
        "a float reference",
        lambda: assert_within_standard_errors(torch.zeros(3), 0.0, SE_OK),
        InputDataError,
        "reference",
    ),
    BadInput(
        "assert_within_standard_errors",
        "z of zero",
        lambda: assert_within_standard_errors(torch.zeros(3), torch.zeros(3), SE_OK, z=0.0),
        InputDataError,
        "z",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_run_takes_a_single_id_and_runs_a_claim_named_twice_once():
    reports = run(SQUARE.id, progress=False)
    assert [r.claim.id for r in reports] == [SQUARE.id] and reports[0].ok
    reports = run([SQUARE.id, SQUARE.id], mutants=False, progress=False)
    assert len(reports) == 1 and reports[0].mutants == []


def test_an_unknown_claim_fails_before_any_claim_runs():
    with pytest.raises(UnknownNameError):
        run([SQUARE.id, "nope"], progress=False)


def test_broken_measurements_fail_the_evidence_instead_of_raising():
    assert not Evidence.within("q", float("nan"), 1.0, 0.1, "r").passed
    assert not Evidence.at_most("q", 1.0, float("nan"), "r").passed
    assert not Evidence.within("q", 1.0, 1.0, float("nan"), "r").passed
    assert math.isnan(fit_loglog_slope([1, 2, 4], [1.0, 0.0, 0.5]).slope)  # a y that broke down


def test_a_property_failure_is_still_an_assertion_error():
    with pytest.raises(AssertionError, match="not positive semi-definite"):
        assert_psd(torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64)))
    with pytest.raises(AssertionError, match="standard errors"):
        assert_within_standard_errors(torch.zeros(3), torch.full((3,), 10.0), SE_OK.float())
