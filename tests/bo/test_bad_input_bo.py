"""Bad input to bo's public entry points: one row per realistic mistake."""

from __future__ import annotations

import argparse
import functools
import itertools
import warnings

import pytest
import torch
from botorch.exceptions import InputDataWarning

from bo import cli as bo_cli
from bo.early_stopping import PredictiveEarlyStopping
from bo.hpo import HPOResult, random_search, replay
from bo.loop import AcquisitionOptions, default_acquisition, make_surrogate, propose, run
from bo.models import (
    DKL,
    GP,
    HMCBNN,
    IBNN,
    SVIBNN,
    BNNConfig,
    DeepEnsemble,
    DeepEnsembleConfig,
    DKLConfig,
    HMCBNNConfig,
    IBNNConfig,
    LaplaceBNN,
    LaplaceBNNConfig,
    PFNSurrogate,
    PFNSurrogateConfig,
    SampleSurrogate,
    StudentTP,
    StudentTPConfig,
    SVIBNNConfig,
    WeightSampleBNN,
)
from bo.posteriors import MarginalPosterior, SampleEnsemblePosterior
from bo.problems import Problem, estimate_maximum, get_problem
from bo.results import BOResult
from bo.testing import SurrogateContract, contract_objective
from bo.trust_region import TrustRegion, TrustRegionState, input_lengthscales, restart_design
from probtheory.errors import (
    AlreadyFittedError,
    ConfigurationError,
    InputDataError,
    NotFittedError,
    UnknownNameError,
    UnsupportedError,
)
from tests.bad_input import BadInput, check_case

DTYPE = torch.float64
X = torch.rand(8, 2, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
Y = contract_objective(X)
X1 = X[:, :1]
BRANIN_BOUNDS = torch.tensor([[-5.0, 10.0], [0.0, 15.0]], dtype=DTYPE)


@functools.cache
def fitted_gp() -> GP:
    return GP(X, Y).fit()


@functools.cache
def fitted_ensemble() -> DeepEnsemble:
    return DeepEnsemble(X, Y, n_models=2, steps=5, seed=0).fit()


@functools.cache
def lcpfn():
    from probtheory.lcpfn import LCPFN

    return LCPFN.from_pretrained()


def _problem(bounds, **changes) -> Problem:
    fields = dict(
        name="toy",
        bounds=bounds,
        function=lambda x: -(x**2).sum(-1),
        optimal_value=0.0,
        optimizers=torch.zeros(1, 2, dtype=DTYPE),
        optimum_note="exact",
    )
    return Problem(**{**fields, **changes})


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    bo_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bo", "--problem", "branin", "--out", "unused", *argv])
    return bo_cli._benchmark(args)


CASES = [
    # surrogate constructors and their configs
    BadInput(
        "GP",
        "unnormalised training inputs",
        lambda: GP(10 * X, Y),
        InputDataError,
        "train_X",
        pattern="normalize",
    ),
    BadInput(
        "IBNN",
        "an activation without a closed form",
        lambda: IBNN(X, Y, activation="tanh"),
        InputDataError,
        "activation",
    ),
    BadInput("IBNNConfig", "zero depth", lambda: IBNNConfig(depth=0), InputDataError, "depth"),
    BadInput(
        "DeepEnsemble",
        "misspelt option",
        lambda: DeepEnsemble(X, Y, n_model=5),
        ConfigurationError,
        pattern="did you mean 'n_models'",
    ),
    BadInput(
        "DeepEnsembleConfig",
        "train_prop as a percentage",
        lambda: DeepEnsembleConfig(train_prop=80),
        InputDataError,
        "train_prop",
    ),
    BadInput(
        "HMCBNN", "zero posterior samples", lambda: HMCBNN(X, Y, num_samples=0), InputDataError, "num_samples"
    ),
    BadInput(
        "HMCBNNConfig",
        "acceptance probability above 1",
        lambda: HMCBNNConfig(target_accept_prob=1.5),
        InputDataError,
        "target_accept_prob",
    ),
    BadInput(
        "SVIBNN",
        "1-d observations",
        lambda: SVIBNN(X, Y[:, 0]),
        InputDataError,
        "train_Y",
        pattern="unsqueeze",
    ),
    BadInput(
        "SVIBNNConfig",
        "zero particles",
        lambda: SVIBNNConfig(num_particles=0),
        InputDataError,
        "num_particles",
    ),
    BadInput(
        "BNNConfig", "negative prior variance", lambda: BNNConfig(prior_var=-1.0), InputDataError, "prior_var"
    ),
    BadInput(
        "LaplaceBNN",
        "NaN observation",
        lambda: LaplaceBNN(X, torch.where(Y > 0, Y, float("nan"))),
        InputDataError,
        "train_Y",
    ),
    BadInput(
        "LaplaceBNNConfig",
        "negative jitter",
        lambda: LaplaceBNNConfig(jitter=-1e-6),
        InputDataError,
        "jitter",
    ),
    BadInput(
        "DKL",
        "config and options together",
        lambda: DKL(X, Y, config=DKLConfig(), width=8),
        ConfigurationError,
        pattern="not both",
    ),
    BadInput(
        "DKLConfig",
        "unknown base kernel",
        lambda: DKLConfig(base_kernel="rbf2"),
        InputDataError,
        "base_kernel",
    ),
    BadInput("StudentTP", "one training point", lambda: StudentTP(X[:1], Y[:1]), InputDataError, "train_X"),
    BadInput(
        "StudentTPConfig",
        "zero concentration",
        lambda: StudentTPConfig(concentration=0.0),
        InputDataError,
        "concentration",
    ),
    BadInput(
        "PFNSurrogate",
        "two outputs for a one-output PFN",
        lambda: PFNSurrogate(X1, torch.cat([Y, Y], -1)),
        UnsupportedError,
        "train_Y",
    ),
    BadInput(
        "PFNSurrogateConfig",
        "a number instead of a PFN name",
        lambda: PFNSurrogateConfig(pfn=3),
        InputDataError,
        "pfn",
    ),
    BadInput(
        "SurrogateModel",
        "posterior before fit",
        lambda: DeepEnsemble(X, Y).posterior(X),
        NotFittedError,
        pattern="fit",
    ),
    BadInput("FitOnceMixin", "a second fit", lambda: fitted_gp().fit(), AlreadyFittedError),
    BadInput("SampleSurrogate", "instantiating the abstract base", lambda: SampleSurrogate(X, Y), TypeError),
    BadInput("WeightSampleBNN", "instantiating the abstract base", lambda: WeightSampleBNN(X, Y), TypeError),
    # posterior
    BadInput(
        "IBNN.posterior",
        "an output index a one-output GP does not have",
        lambda: fitted_gp().posterior(X, output_indices=[1]),
        InputDataError,
        "output_indices",
    ),
    BadInput(
        "DeepEnsemble.posterior",
        "an output index out of range",
        lambda: fitted_ensemble().posterior(X, output_indices=[1]),
        InputDataError,
        "output_indices",
    ),
    BadInput(
        "GP.posterior",
        "an int instead of a list of indices",
        lambda: fitted_gp().posterior(X, output_indices=0),
        InputDataError,
        "output_indices",
    ),
    BadInput("GP.posterior", "wrong input dimension", lambda: fitted_gp().posterior(X1), InputDataError, "X"),
    BadInput(
        "GP.posterior",
        "unnormalised test inputs",
        lambda: fitted_gp().posterior(10 * X - 5),
        InputDataWarning,
        "X",
        pattern=r"GP\.posterior",
        warns=True,
    ),
    BadInput(
        "DeepEnsemble.posterior",
        "test inputs in the raw bounds",
        lambda: fitted_ensemble().posterior(X * 15.0),
        InputDataWarning,
        "X",
        pattern=r"DeepEnsemble\.posterior",
        warns=True,
    ),
    # posteriors
    BadInput(
        "SampleEnsemblePosterior",
        "draws without a q dimension",
        lambda: SampleEnsemblePosterior.from_values(torch.randn(5, 3)),
        InputDataError,
        "values",
    ),
    BadInput(
        "MarginalPosterior",
        "zero scale",
        lambda: MarginalPosterior(torch.distributions.Normal(torch.zeros(3, 1), 1.0), scale=0.0),
        InputDataError,
        "scale",
    ),
    # the contract
    BadInput(
        "SurrogateContract",
        "make_model not implemented",
        lambda: SurrogateContract().make_model(X, Y),
        NotImplementedError,
        pattern="make_model",
    ),
    BadInput(
        "contract_objective",
        "a 1-d input",
        lambda: contract_objective(torch.rand(4, dtype=DTYPE)),
        InputDataError,
        "X",
    ),
    # the loop
    BadInput(
        "default_acquisition",
        "an unknown surrogate name",
        lambda: default_acquisition("ensembel", True),
        UnknownNameError,
        "surrogate",
        pattern="did you mean 'ensemble'",
    ),
    BadInput(
        "default_acquisition",
        "a trust region given as a string",
        lambda: default_acquisition("ensemble", "yes"),
        InputDataError,
        "trust_region",
    ),
    BadInput(
        "run",
        "unknown problem",
        lambda: run("branine", "gp", progress=False),
        UnknownNameError,
        "problem",
        pattern="did you mean 'branin'",
    ),
    BadInput(
        "run",
        "surrogate in capitals",
        lambda: run("branin", "GP", progress=False),
        UnknownNameError,
        "surrogate",
        pattern="did you mean 'gp'",
    ),
    BadInput(
        "run",
        "unknown acquisition",
        lambda: run("branin", "gp", "qei", progress=False),
        UnknownNameError,
        "acquisition",
    ),
    BadInput(
        "run",
        "a one-point initial design",
        lambda: run("branin", "gp", n_init=1, progress=False),
        InputDataError,
        "n_init",
    ),
    BadInput(
        "run",
        "options as a dict",
        lambda: run("branin", "gp", acquisition_options={"num_restarts": 2}, progress=False),
        InputDataError,
        "acquisition_options",
    ),
    BadInput(
        "run",
        "resuming from a missing file",
        lambda: run("branin", "gp", resume_from="no/such.json", progress=False),
        InputDataError,
        "resume_from",
    ),
    BadInput(
        "make_surrogate",
        "random search has no model",
        lambda: make_surrogate("random", X, Y, seed=0),
        UnknownNameError,
        "surrogate",
    ),
    BadInput(
        "propose",
        "1-d observations",
        lambda: propose(fitted_gp(), "qlogei", X, Y[:, 0], 1, seed=0),
        InputDataError,
        "train_Y",
    ),
    BadInput(
        "propose",
        "the box in the `d x 2` layout (one row per dimension)",
        lambda: propose(
            fitted_gp(), "qlogei", X, Y, 1, seed=0, bounds=torch.tensor([[0.0, 1.0], [0.0, 1.0]])
        ),
        InputDataError,
        "bounds",
    ),
    BadInput(
        "propose",
        "a box reaching outside the unit cube",
        lambda: propose(
            fitted_gp(), "qlogei", X, Y, 1, seed=0, bounds=torch.tensor([[-1.0, 0.0], [1.0, 1.0]])
        ),
        InputDataError,
        "bounds",
    ),
    BadInput(
        "run",
        "trust region given as a string",
        lambda: run("branin", "gp", trust_region="yes", progress=False),
        InputDataError,
        "trust_region",
    ),
    BadInput(
        "TrustRegion",
        "initial length above the maximum",
        lambda: TrustRegion(length_init=2.0),
        InputDataError,
        "length_init",
    ),
    BadInput(
        "TrustRegion",
        "zero failure tolerance",
        lambda: TrustRegion(failure_tolerance=0),
        InputDataError,
        "failure_tolerance",
    ),
    BadInput(
        "TrustRegion",
        "negative improvement",
        lambda: TrustRegion(improvement=-0.1),
        InputDataError,
        "improvement",
    ),
    BadInput(
        "restart_design",
        "an empty design",
        lambda: restart_design(2, 0, seed=0, restarts=1),
        InputDataError,
        "n_init",
    ),
    BadInput(
        "restart_design",
        "a negative restart count",
        lambda: restart_design(2, 4, 0, -1),
        InputDataError,
        "restarts",
    ),
    BadInput(
        "input_lengthscales",
        "a kernel instead of a model",
        lambda: input_lengthscales(fitted_gp().covar_module, 2),
        InputDataError,
        "model",
    ),
    BadInput(
        "input_lengthscales",
        "dimension zero",
        lambda: input_lengthscales(fitted_gp(), 0),
        InputDataError,
        "dim",
    ),
    BadInput(
        "TrustRegionState.box",
        "lengthscales of another dimension",
        lambda: TrustRegionState(length=0.5, start=0).box(torch.full((2,), 0.5), torch.ones(3)),
        InputDataError,
        "lengthscales",
    ),
    BadInput(
        "TrustRegionState.box",
        "a zero lengthscale",
        lambda: TrustRegionState(length=0.5, start=0).box(torch.full((2,), 0.5), torch.tensor([1.0, 0.0])),
        InputDataError,
        "lengthscales",
    ),
    BadInput(
        "propose", "zero points", lambda: propose(fitted_gp(), "qlogei", X, Y, 0, seed=0), InputDataError, "q"
    ),
    BadInput(
        "propose",
        "unknown acquisition",
        lambda: propose(fitted_gp(), "EI", X, Y, 1, seed=0),
        UnknownNameError,
        "acquisition",
    ),
    BadInput(
        "AcquisitionOptions",
        "zero restarts",
        lambda: AcquisitionOptions(num_restarts=0),
        InputDataError,
        "num_restarts",
    ),
    # problems
    BadInput(
        "Problem",
        "bounds in the `d x 2` layout (one row per dimension)",
        lambda: _problem(torch.tensor([[-5.0, 10.0], [0.0, 15.0], [1.0, 2.0]], dtype=DTYPE)),
        InputDataError,
        "bounds",
        pattern=r"2 x d.*bounds\.T",
    ),
    BadInput(
        "Problem",
        "flat bounds",
        lambda: _problem(torch.tensor([0.0, 1.0])),
        InputDataError,
        "bounds",
        pattern="2 x d",
    ),
    BadInput(
        "Problem",
        "lower above upper",
        lambda: _problem(torch.tensor([[1.0, 0.0], [0.0, 1.0]])),
        InputDataError,
        "bounds",
        pattern="dimension 0",
    ),
    BadInput(
        "Problem",
        "infinite bound",
        lambda: _problem(torch.tensor([[0.0, 0.0], [1.0, float("inf")]])),
        InputDataError,
        "bounds",
    ),
    BadInput(
        "Problem", "bounds as a list", lambda: _problem([[0.0, 0.0], [1.0, 1.0]]), InputDataError, "bounds"
    ),
    BadInput(
        "Problem.evaluate_unit",
        "points in the raw bounds",
        lambda: get_problem("branin").evaluate_unit(torch.tensor([[-3.0, 12.0]], dtype=DTYPE)),
        InputDataError,
        "X_unit",
    ),
    BadInput(
        "Problem.evaluate",
        "points beyond the bounds",
        lambda: get_problem("ackley10").evaluate(torch.full((1, 10), 40.0, dtype=DTYPE)),
        InputDataError,
        "X",
        pattern="evaluate_unit",
    ),
    BadInput(
        "Problem.to_unit",
        "points of another dimension",
        lambda: get_problem("branin").to_unit(torch.zeros(3, 3, dtype=DTYPE)),
        InputDataError,
        "X",
    ),
    BadInput(
        "get_problem",
        "misspelt name",
        lambda: get_problem("hartman6"),
        UnknownNameError,
        "problem",
        pattern="did you mean 'hartmann6'",
    ),
    BadInput(
        "estimate_maximum",
        "bounds in the `d x 2` layout",
        lambda: estimate_maximum(lambda x: -(x**2).sum(-1), torch.tensor([[0.0, 1.0]] * 3)),
        InputDataError,
        "bounds",
    ),
    BadInput(
        "estimate_maximum",
        "zero starts",
        lambda: estimate_maximum(lambda x: -(x**2).sum(-1), BRANIN_BOUNDS, num_starts=0),
        InputDataError,
        "num_starts",
    ),
    # results
    BadInput(
        "BOResult",
        "loading a file that is not a result",
        lambda: BOResult.from_json("{}"),
        InputDataError,
        "text",
    ),
    # early stopping and HPO
    BadInput(
        "PredictiveEarlyStopping",
        "delta as a percentage",
        lambda: PredictiveEarlyStopping(lcpfn(), final_epoch=20, delta=95),
        InputDataError,
        "delta",
        pattern="percentage",
    ),
    BadInput(
        "PredictiveEarlyStopping",
        "the class instead of a model",
        lambda: PredictiveEarlyStopping(type(lcpfn()), final_epoch=20),
        InputDataError,
        "model",
    ),
    BadInput(
        "PredictiveEarlyStopping.should_stop",
        "incumbent on another scale",
        lambda: PredictiveEarlyStopping(lcpfn(), final_epoch=20).should_stop([0.3, 0.4], incumbent=93.0),
        InputDataError,
        "incumbent",
    ),
    BadInput(
        "random_search",
        "configs as a generator",
        lambda: random_search(replay([[0.1, 0.2]]), (i for i in range(1)), max_epochs=2, progress=False),
        InputDataError,
        "configs",
    ),
    BadInput(
        "random_search",
        "no configurations",
        lambda: random_search(replay([[0.1]]), [], max_epochs=1, progress=False),
        InputDataError,
        "configs",
    ),
    BadInput(
        "replay", "a single curve not in a list", lambda: replay([0.1, 0.2, 0.3]), InputDataError, "curves[0]"
    ),
    BadInput(
        "HPOResult", "loading a BO result", lambda: HPOResult.from_json(__file__), InputDataError, "path"
    ),
    # the command line
    BadInput("run", "probtheory bo --threads 0", lambda: _cli("--threads", "0"), InputDataError, "--threads"),
    BadInput(
        "run",
        "probtheory bo --surrogates with a typo",
        lambda: _cli("--surrogates", "gp,ensembel"),
        UnknownNameError,
        "--surrogates",
        pattern="did you mean 'ensemble'",
    ),
    BadInput("run", "probtheory bo --seeds 0", lambda: _cli("--seeds", "0"), InputDataError, "--seeds"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_every_surrogate_checks_output_indices_alike():
    """One-output GP-based and sample-based surrogates accept [0] and refuse [1] alike."""
    for model in (fitted_gp(), fitted_ensemble()):
        assert model.posterior(X, output_indices=[0]).mean.shape == (8, 1)
        with pytest.raises(InputDataError, match="output_indices"):
            model.posterior(X, output_indices=[1])


def test_inputs_just_outside_the_cube_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputDataWarning)
        fitted_gp().posterior(torch.tensor([[-0.1, 1.1]], dtype=DTYPE))


def test_the_threads_check_comes_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setattr("bo.problems.get_problem", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(InputDataError, match="--threads"):
        _cli("--threads", "-2")


def test_problem_bounds_are_stored_as_float64():
    problem = _problem(torch.tensor([[0, 0], [1, 2]]))
    assert problem.bounds.dtype == DTYPE and problem.dim == 2
    assert list(itertools.chain(*problem.bounds.tolist())) == [0.0, 0.0, 1.0, 2.0]
