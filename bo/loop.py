"""The Bayesian-optimisation loop: initial design, then fit / acquire / evaluate, with checkpoints.

``run(problem, surrogate)`` maximises a :class:`bo.problems.Problem` in the unit cube:

1. a scrambled Sobol initial design of ``n_init`` points (seeded by ``seed``);
2. for each of the ``budget`` further evaluations (in batches of ``q``): fit a fresh
   surrogate on all data so far, maximise the acquisition function with ``optimize_acqf``
   (or draw Thompson samples over Sobol candidates), evaluate the chosen points, record;
3. after every iteration write the :class:`BOResult` as JSON when ``checkpoint`` is given.

Every iteration re-seeds torch's generator (and the surrogate's own seed) from
``(seed, iteration)``, so an iteration depends only on the data before it: a run resumed
from its JSON (``resume_from=path``) continues exactly as the uninterrupted run would have.
JSON stores float64 values exactly (``repr`` round-trips), so the resumed data are
bit-identical. The caller's global random state is restored when ``run`` returns.

The acquisition optimiser defaults are sized for a CPU (:class:`AcquisitionOptions`):
bnn-bo used 2 restarts / 16 raw samples / 10 iterations with a stochastic sampler; here the
samplers are seeded quasi-Monte-Carlo (deterministic acquisition values, so L-BFGS-B is
sound) with 5 restarts chosen among 128 raw samples (BoTorch's tutorials: 10 and 512).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from botorch.acquisition import (
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qUpperConfidenceBound,
)
from botorch.generation import MaxPosteriorSampling
from botorch.models.model import Model
from botorch.optim import optimize_acqf
from botorch.sampling.get_sampler import get_sampler
from torch import Tensor
from torch.quasirandom import SobolEngine
from tqdm.auto import tqdm

import probtheory
from bo.models import DKL, GP, HMCBNN, IBNN, SVIBNN, DeepEnsemble, LaplaceBNN, PFNSurrogate, StudentTP
from bo.problems import PROBLEMS, Problem, get_problem
from bo.results import BOResult
from bo.trust_region import TrustRegion, TrustRegionState, input_lengthscales, restart_design
from probtheory._checks import check_finite, check_inputs, check_int, check_name, check_real
from probtheory.errors import ConfigurationError, InputDataError

__all__ = [
    "ACQUISITIONS",
    "SURROGATES",
    "NETWORK_SURROGATES",
    "AcquisitionOptions",
    "default_acquisition",
    "make_surrogate",
    "propose",
    "run",
]

#: Surrogate names :func:`run` accepts ("random" is random search: no model).
SURROGATES = ("gp", "ibnn", "tp", "hmc", "svi", "ensemble", "dkl", "laplace", "pfn", "random")
#: Acquisition names :func:`run` accepts.
ACQUISITIONS = ("qlogei", "qlognei", "qucb", "ts")

_SURROGATE_CLASSES: dict[str, type[Model]] = {
    "gp": GP,
    "ibnn": IBNN,
    "hmc": HMCBNN,
    "svi": SVIBNN,
    "ensemble": DeepEnsemble,
    "dkl": DKL,
    "laplace": LaplaceBNN,
    "tp": StudentTP,
    "pfn": PFNSurrogate,  # the shipped PFNs are one-dimensional
}
#: The surrogates built on a trained network: in a trust region they default to Thompson sampling.
NETWORK_SURROGATES = ("hmc", "svi", "ensemble", "dkl", "laplace")
_SEEDED = NETWORK_SURROGATES  # their fits draw random numbers

#: ``factory(train_X, train_Y)`` -> a fitted BoTorch model, for `n x d` unit-cube inputs and `n x 1` outputs.
SurrogateFactory = Callable[[Tensor, Tensor], Model]


@dataclass(frozen=True)
class AcquisitionOptions:
    """How the next points are chosen.

    Attributes:
        num_restarts: L-BFGS-B restarts of ``optimize_acqf``.
        raw_samples: Raw points scored to pick the restarts.
        maxiter: L-BFGS-B iterations per restart.
        mc_samples: Quasi-Monte-Carlo samples of the MC acquisition functions.
        ucb_beta: The exploration weight beta of qUCB.
        ts_candidates: Sobol candidates among which Thompson sampling picks.
    """

    num_restarts: int = 5
    raw_samples: int = 128
    maxiter: int = 100
    mc_samples: int = 128
    ucb_beta: float = 2.0
    ts_candidates: int = 1024

    def __post_init__(self) -> None:
        for name in ("num_restarts", "raw_samples", "maxiter", "mc_samples", "ts_candidates"):
            check_int(name, getattr(self, name), minimum=1)
        check_real("ucb_beta", self.ucb_beta, nonnegative=True)


def make_surrogate(
    name: str, train_X: Tensor, train_Y: Tensor, *, seed: int, options: Mapping[str, Any] | None = None
) -> Model:
    """Build and fit a named surrogate.

    Args:
        name: One of :data:`SURROGATES` except ``"random"``.
        train_X: `n x d` inputs in the unit cube.
        train_Y: `n x 1` observations.
        seed: Seed passed to the surrogates that take one.
        options: Extra keyword options of the surrogate's constructor.

    Returns:
        The fitted surrogate.
    """
    check_name("surrogate", name, _SURROGATE_CLASSES, meaning="a surrogate name")
    options = dict(options or {})
    if name in _SEEDED:
        options.setdefault("seed", seed)
    return _SURROGATE_CLASSES[name](train_X, train_Y, **options).fit()


def propose(
    model: Model,
    acquisition: str,
    train_X: Tensor,
    train_Y: Tensor,
    q: int,
    *,
    seed: int,
    options: AcquisitionOptions | None = None,
    bounds: Tensor | None = None,
) -> Tensor:
    """The next `q x d` points in the unit cube, chosen by ``acquisition`` on ``model``.

    Args:
        model: A fitted surrogate.
        acquisition: One of :data:`ACQUISITIONS`.
        train_X: `n x d` evaluated points (qLogNEI's baseline).
        train_Y: `n x 1` observed values (qLogEI's incumbent).
        q: The number of points.
        seed: Seed of the quasi-Monte-Carlo sampler and of the Thompson-sampling candidates.
        options: The optimiser settings.
        bounds: A `2 x d` box inside the unit cube to search (a trust region; default the cube).

    Returns:
        A `q x d` tensor inside ``bounds``.
    """
    if not isinstance(model, Model):
        raise InputDataError("model", "a fitted botorch Model", type(model).__name__)
    check_name("acquisition", acquisition, ACQUISITIONS, meaning="an acquisition name")
    check_inputs("train_X", train_X)
    if train_X.dim() != 2:
        raise InputDataError("train_X", "an `n x d` tensor", f"shape {tuple(train_X.shape)}")
    check_finite("train_Y", train_Y)
    if train_Y.shape != (train_X.shape[0], 1):
        raise InputDataError(
            "train_Y", f"an `n x 1` tensor with n = {train_X.shape[0]}", f"shape {tuple(train_Y.shape)}"
        )
    q = check_int("q", q, minimum=1)
    if options is not None and not isinstance(options, AcquisitionOptions):
        raise InputDataError("options", "an AcquisitionOptions", type(options).__name__)
    options = options or AcquisitionOptions()
    d = train_X.shape[-1]
    bounds = _check_box(bounds, d).to(train_X)
    if acquisition == "ts":
        candidates = SobolEngine(d, scramble=True, seed=seed).draw(options.ts_candidates, dtype=torch.float64)
        candidates = bounds[0] + (bounds[1] - bounds[0]) * candidates.to(train_X)
        with torch.no_grad():
            return MaxPosteriorSampling(model, replacement=False)(candidates, num_samples=q)
    sampler = get_sampler(model.posterior(train_X[:1]), torch.Size([options.mc_samples]), seed=seed)
    if acquisition == "qlogei":
        acqf = qLogExpectedImprovement(model, best_f=train_Y.max(), sampler=sampler)
    elif acquisition == "qlognei":
        acqf = qLogNoisyExpectedImprovement(model, X_baseline=train_X, sampler=sampler, prune_baseline=True)
    elif acquisition == "qucb":
        acqf = qUpperConfidenceBound(model, beta=options.ucb_beta, sampler=sampler)
    else:
        raise InputDataError("acquisition", f"one of {list(ACQUISITIONS)}", repr(acquisition))
    candidates, _ = optimize_acqf(
        acqf,
        bounds=bounds,
        q=q,
        num_restarts=options.num_restarts,
        raw_samples=options.raw_samples,
        options={"batch_limit": 8, "maxiter": options.maxiter},
    )
    return candidates.detach().clamp(bounds[0], bounds[1])


def _check_box(bounds: Tensor | None, d: int) -> Tensor:
    """``bounds`` checked to be a `2 x d` box inside the unit cube (default: the cube)."""
    if bounds is None:
        return torch.stack([torch.zeros(d), torch.ones(d)]).to(torch.float64)
    if not isinstance(bounds, Tensor) or bounds.shape != (2, d) or not bounds.is_floating_point():
        shape = tuple(bounds.shape) if isinstance(bounds, Tensor) else type(bounds).__name__
        raise InputDataError("bounds", f"a floating `2 x {d}` tensor (lower row, upper row)", shape)
    if not bool(torch.all((0 <= bounds[0]) & (bounds[0] < bounds[1]) & (bounds[1] <= 1))):
        raise InputDataError("bounds", "0 <= lower < upper <= 1 in every dimension", bounds.tolist())
    return bounds


def default_acquisition(surrogate: str | SurrogateFactory, trust_region: bool | TrustRegion = False) -> str:
    """The acquisition :func:`run` uses when it is given none.

    Thompson sampling (``"ts"``, TuRBO's own acquisition; Eriksson et al., NeurIPS 2019) for a
    surrogate of :data:`NETWORK_SURROGATES` in a trust region; qLogEI otherwise. In the
    trust-region benchmark (``benchmarks/bo_surrogates.py --trust-region``, docs: Benchmarks),
    qLogEI left the deep ensemble and DKL on Ackley-10 and Laplace on Branin no better than random
    search, while with Thompson sampling every network surrogate beat it wherever it ran; the
    GP-based surrogates did as well or better with qLogEI.

    Args:
        surrogate: A name of :data:`SURROGATES` or a factory (factories get qLogEI).
        trust_region: As passed to :func:`run`.
    """
    if isinstance(surrogate, str):
        check_name("surrogate", surrogate, SURROGATES, meaning="a factory or a surrogate name")
    elif not callable(surrogate):
        raise InputDataError("surrogate", f"a factory or one of {list(SURROGATES)}", repr(surrogate))
    in_region = _resolve_trust_region(trust_region) is not None
    return "ts" if in_region and surrogate in NETWORK_SURROGATES else "qlogei"


def run(
    problem: str | Problem,
    surrogate: str | SurrogateFactory,
    acquisition: str | None = None,
    n_init: int = 10,
    budget: int = 40,
    q: int = 1,
    seed: int = 0,
    progress: bool = True,
    resume_from: str | Path | None = None,
    *,
    checkpoint: str | Path | None = None,
    surrogate_options: Mapping[str, Any] | None = None,
    acquisition_options: AcquisitionOptions | None = None,
    trust_region: bool | TrustRegion = False,
) -> BOResult:
    """Run Bayesian optimisation (maximisation) on a problem.

    Args:
        problem: A :class:`~bo.problems.Problem` or one of :data:`bo.problems.PROBLEMS`.
        surrogate: One of :data:`SURROGATES`, or a factory ``(train_X, train_Y) -> fitted model``
            taking `n x d` unit-cube inputs and `n x 1` outputs.
        acquisition: One of :data:`ACQUISITIONS` (``"ts"``: Thompson sampling by
            ``MaxPosteriorSampling`` over Sobol candidates); None (default) for
            :func:`default_acquisition` (qLogEI, or Thompson sampling for a network surrogate in
            a trust region).
        n_init: Size of the scrambled Sobol initial design (>= 2).
        budget: Evaluations after the initial design (>= 1); the last batch is cut to fit.
        q: Points per BO iteration.
        seed: Seed of the initial design and of every iteration.
        progress: Show a tqdm progress bar with the best value so far.
        resume_from: A result JSON of an interrupted run with the same settings to continue
            (``budget`` may be larger than that run's).
        checkpoint: Write the result JSON here after the initial design and every
            iteration (default: ``resume_from``).
        surrogate_options: Keyword options of a named surrogate's constructor (JSON values).
        acquisition_options: Optimiser settings (default :class:`AcquisitionOptions`).
        trust_region: Optimise inside a TuRBO trust region (:mod:`bo.trust_region`): True for
            the paper's settings, or a :class:`~bo.trust_region.TrustRegion`. The surrogate is
            then fitted on the points of the current region only. Random search ignores it.

    Returns:
        The :class:`BOResult`.

    Raises:
        InputDataError: For an unknown problem, surrogate or acquisition name, or a bad
            number (``budget < 1``, ...).
        ConfigurationError: If ``resume_from`` holds a run with other settings (its message
            names every differing field: problem, dimension, bounds, surrogate, ..., package version).
    """
    problem = _resolve_problem(problem)
    surrogate_name, factory = _resolve_surrogate(surrogate, surrogate_options)
    region = _resolve_trust_region(trust_region) if factory is not None else None  # random search: none
    if acquisition is None:
        acquisition = default_acquisition(surrogate, region is not None)
    check_name("acquisition", acquisition, ACQUISITIONS, meaning="an acquisition name")
    n_init = check_int("n_init", n_init, minimum=2)
    budget = check_int("budget", budget, minimum=1)
    q = check_int("q", q, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if acquisition_options is not None and not isinstance(acquisition_options, AcquisitionOptions):
        raise InputDataError(
            "acquisition_options", "an AcquisitionOptions", type(acquisition_options).__name__
        )
    acq_options = acquisition_options or AcquisitionOptions()
    settings = {
        "problem": problem.name,
        "dim": problem.dim,
        "bounds": problem.bounds.tolist(),
        "surrogate": surrogate_name,
        "acquisition": acquisition,
        "seed": seed,
        "n_init": n_init,
        "q": q,
        "surrogate_options": dict(surrogate_options or {}),
        "acquisition_options": asdict(acq_options),
        "trust_region": None if region is None else asdict(region),
        "probtheory_version": probtheory.__version__,
    }
    _check_json("surrogate_options", settings["surrogate_options"])
    if resume_from is not None:
        result = _resumed(BOResult.load(resume_from), settings, budget)
        checkpoint = resume_from if checkpoint is None else checkpoint
    else:
        X = SobolEngine(problem.dim, scramble=True, seed=seed).draw(n_init, dtype=torch.float64)
        result = BOResult(
            **{key: value for key, value in settings.items() if key not in ("dim", "bounds")},
            budget=budget,
            bounds=problem.bounds.clone(),
            optimal_value=problem.optimal_value,
            X=X,
            Y=problem.evaluate_unit(X)[:, 0],
        )
        if region is not None:
            result.trust_region_state = region.start(0).updated(region, result.Y, problem.dim, q).to_dict()
        if checkpoint is not None:
            result.save(checkpoint)
    with torch.random.fork_rng(devices=[]):
        _iterate(result, problem, surrogate_name, factory, acq_options, region, progress, checkpoint)
    return result


def _iterate(
    result: BOResult,
    problem: Problem,
    surrogate_name: str,
    factory: Callable[[Tensor, Tensor, int], Model] | None,
    options: AcquisitionOptions,
    region: TrustRegion | None,
    progress: bool,
    checkpoint: str | Path | None,
) -> None:
    q, n_iterations = result.q, math.ceil(result.budget / result.q)
    done = math.ceil((result.n_evaluations - result.n_init) / q)
    bar = tqdm(
        total=n_iterations, initial=done, desc=f"{problem.name}/{surrogate_name}", disable=not progress
    )
    with bar:
        bar.set_postfix(best=f"{result.Y.max().item():.6g}")
        for iteration in range(done, n_iterations):
            batch = min(q, result.n_init + result.budget - result.n_evaluations)
            seed = _iteration_seed(result.seed, iteration)
            torch.manual_seed(seed)
            start = time.perf_counter()
            in_region = region is not None
            X_new, fitted = _next_points(result, problem, factory, options, batch, seed, in_region)
            chosen = time.perf_counter()
            Y_new = problem.evaluate_unit(X_new)[:, 0]
            result.X = torch.cat([result.X, X_new.to(result.X)])
            result.Y = torch.cat([result.Y, Y_new])
            if region is not None:
                result.trust_region_state = _region_after(result, region, Y_new).to_dict()
            result.fit_seconds.append(fitted - start)
            result.acquisition_seconds.append(chosen - fitted)
            if checkpoint is not None:
                result.save(checkpoint)
            bar.update(1)
            bar.set_postfix(best=f"{result.Y.max().item():.6g}")


def _next_points(
    result: BOResult,
    problem: Problem,
    factory: Callable[[Tensor, Tensor, int], Model] | None,
    options: AcquisitionOptions,
    batch: int,
    seed: int,
    in_region: bool,
) -> tuple[Tensor, float]:
    """The next ``batch`` points and the time the surrogate's fit ended.

    In a trust region, a restarted region's Sobol design comes first; then the surrogate is
    fitted on the region's points only and the acquisition searches the region's box.
    """
    state = TrustRegionState.from_dict(result.trust_region_state) if in_region else None
    if state is not None and state.designing(result.n_evaluations, result.n_init):
        # whole batches of the design's Sobol sequence (its prefixes are nested), so that every
        # iteration evaluates ``batch`` points even where q does not divide n_init
        done = result.n_evaluations - state.start
        design = restart_design(problem.dim, done + batch, result.seed, state.restarts)
        return design[done:], time.perf_counter()
    first = 0 if state is None else state.start
    train_X, train_Y = result.X[first:], result.Y[first:].unsqueeze(-1)
    model = None if factory is None else factory(train_X, train_Y, seed)
    fitted = time.perf_counter()
    if model is None:  # random search
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(batch, problem.dim, generator=generator, dtype=torch.float64), fitted
    bounds = None
    if state is not None:
        center = train_X[train_Y[:, 0].argmax()]
        bounds = state.box(center, input_lengthscales(model, problem.dim))
    X_new = propose(
        model, result.acquisition, train_X, train_Y, batch, seed=seed, options=options, bounds=bounds
    )
    return X_new, fitted


def _region_after(result: BOResult, settings: TrustRegion, Y_new: Tensor) -> TrustRegionState:
    """The region's state after the batch ``Y_new`` (already appended to ``result``)."""
    state = TrustRegionState.from_dict(result.trust_region_state)
    before = result.n_evaluations - Y_new.shape[0]
    if state.designing(before, result.n_init):  # a restart's design: the best once it is complete
        if state.designing(result.n_evaluations, result.n_init):
            return state
        return state.updated(settings, result.Y[state.start :], result.bounds.shape[-1], result.q)
    state = state.updated(settings, Y_new, result.bounds.shape[-1], result.q)
    if state.collapsed(settings):
        return settings.start(result.n_evaluations, state.restarts + 1)
    return state


def _iteration_seed(seed: int, iteration: int) -> int:
    """A distinct seed per (run seed, iteration) pair."""
    return (seed * 1_000_003 + iteration + 1) % 2**31


def _resolve_problem(problem: str | Problem) -> Problem:
    if isinstance(problem, Problem):
        return problem
    check_name("problem", problem, PROBLEMS, meaning="a Problem or a problem name")
    return get_problem(problem)


def _resolve_surrogate(
    surrogate: str | SurrogateFactory, options: Mapping[str, Any] | None
) -> tuple[str, Callable[[Tensor, Tensor, int], Model] | None]:
    """The name and a ``(train_X, train_Y, seed) -> fitted model`` builder (None: random search)."""
    if isinstance(surrogate, str):
        check_name("surrogate", surrogate, SURROGATES, meaning="a factory or a surrogate name")
        if surrogate == "random":
            return surrogate, None
        return surrogate, lambda X, Y, seed: make_surrogate(surrogate, X, Y, seed=seed, options=options)
    if not callable(surrogate):
        raise InputDataError("surrogate", f"a factory or one of {list(SURROGATES)}", repr(surrogate))
    if options:
        raise ConfigurationError("`surrogate_options` apply to named surrogates only, not to a factory")
    return getattr(surrogate, "__name__", type(surrogate).__name__), lambda X, Y, seed: surrogate(X, Y)


def _resolve_trust_region(trust_region: bool | TrustRegion) -> TrustRegion | None:
    if isinstance(trust_region, TrustRegion):
        return trust_region
    if isinstance(trust_region, bool):
        return TrustRegion() if trust_region else None
    raise InputDataError("trust_region", "a bool or a bo.trust_region.TrustRegion", repr(trust_region))


def _resumed(result: BOResult, settings: dict[str, Any], budget: int) -> BOResult:
    stored = {key: getattr(result, key) for key in settings if key not in ("dim", "bounds")}
    stored["dim"], stored["bounds"] = result.bounds.shape[-1], result.bounds.tolist()
    mismatched = {key: (stored[key], value) for key, value in settings.items() if stored[key] != value}
    if mismatched:
        details = ", ".join(
            f"{key}: stored {old!r}, requested {new!r}" for key, (old, new) in mismatched.items()
        )
        raise ConfigurationError(f"cannot resume a run with other settings ({details})")
    if result.n_evaluations > result.n_init + budget:
        raise InputDataError(
            "budget", f"at least the {result.n_evaluations - result.n_init} evaluations already done", budget
        )
    result.budget = budget
    return result


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value)
    except TypeError as error:
        raise InputDataError(name, "JSON-serialisable values", str(error)) from None
