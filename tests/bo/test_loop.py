"""The BO loop: traces, checkpoints and resumption, input validation."""

from __future__ import annotations

import json

import pytest
import torch

from bo.loop import AcquisitionOptions, propose, run
from bo.models import GP
from bo.problems import get_problem
from bo.results import BOResult
from probtheory.errors import ConfigurationError, InputDataError

TINY = dict(n_init=4, budget=3, seed=0, progress=False)


@pytest.fixture(scope="module")
def gp_run():
    return run("branin", "gp", **TINY)


@pytest.mark.parametrize("surrogate", ["gp", "random"])
def test_tiny_run_records_everything_with_monotone_traces(surrogate, gp_run):
    result = gp_run if surrogate == "gp" else run("branin", "random", **TINY)
    assert result.X.shape == (7, 2) and result.Y.shape == (7,)
    assert ((result.X >= 0) & (result.X <= 1)).all()
    problem = get_problem("branin")
    torch.testing.assert_close(result.Y, problem.evaluate_unit(result.X)[:, 0])
    best = result.best_so_far
    assert (best[1:] >= best[:-1]).all() and best[-1] == result.Y.max()
    regret = result.simple_regret
    torch.testing.assert_close(regret, problem.optimal_value - best)
    assert (regret >= 0).all() and (regret[1:] <= regret[:-1]).all()
    assert len(result.fit_seconds) == len(result.acquisition_seconds) == 3
    assert result.complete
    # the initial design is the seeded scrambled Sobol design, the same for every surrogate
    torch.testing.assert_close(result.X[:4], gp_run.X[:4], rtol=0, atol=0)


def test_json_round_trip_is_exact(gp_run, tmp_path):
    restored = BOResult.from_json(gp_run.to_json())
    assert torch.equal(restored.X, gp_run.X) and torch.equal(restored.Y, gp_run.Y)
    assert restored.fit_seconds == gp_run.fit_seconds and restored.problem == "branin"
    data = json.loads(gp_run.to_json())
    assert data["best_so_far"] == gp_run.best_so_far.tolist()
    gp_run.save(tmp_path / "run.json")
    assert torch.equal(BOResult.load(tmp_path / "run.json").Y, gp_run.Y)
    with pytest.raises(InputDataError):
        BOResult.from_json('{"format": "something else"}')


def test_resumed_run_equals_the_uninterrupted_run(gp_run, tmp_path):
    path = tmp_path / "checkpoint.json"
    partial = run("branin", "gp", **dict(TINY, budget=1), checkpoint=path)
    assert partial.n_evaluations == 5 and BOResult.load(path).n_evaluations == 5
    resumed = run("branin", "gp", **TINY, resume_from=path)
    assert torch.equal(resumed.X, gp_run.X) and torch.equal(resumed.Y, gp_run.Y)
    assert BOResult.load(path).n_evaluations == 7  # the checkpoint defaults to resume_from


def test_an_interrupted_run_keeps_its_checkpoint_and_resumes(gp_run, tmp_path):
    path = tmp_path / "interrupted.json"
    calls = []

    def gp(train_X, train_Y):
        calls.append(len(train_X))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return GP(train_X, train_Y).fit()

    with pytest.raises(KeyboardInterrupt):
        run("branin", gp, **TINY, checkpoint=path)
    assert BOResult.load(path).n_evaluations == 6  # initial design + 2 finished iterations
    resumed = run("branin", gp, **TINY, resume_from=path)
    assert calls == [4, 5, 6, 6]
    assert torch.equal(resumed.X, gp_run.X) and torch.equal(resumed.Y, gp_run.Y)


def test_the_callers_random_state_is_untouched():
    torch.manual_seed(4)
    expected = torch.rand(2)
    torch.manual_seed(4)
    run("branin", "random", **TINY)
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("acquisition", ["qlognei", "qucb", "ts"])
def test_other_acquisitions_and_batches(acquisition):
    result = run("branin", "gp", acquisition=acquisition, n_init=4, budget=3, q=2, seed=1, progress=False)
    assert result.n_evaluations == 7  # batches of 2 then 1: the last batch is cut to the budget
    assert len(result.fit_seconds) == 2


def test_thompson_sampling_picks_sobol_candidates():
    problem = get_problem("branin")
    X = torch.rand(6, 2, dtype=torch.float64)
    model = GP(X, problem.evaluate_unit(X)).fit()
    options = AcquisitionOptions(ts_candidates=64)
    chosen = propose(model, "ts", X, problem.evaluate_unit(X), 2, seed=0, options=options)
    from torch.quasirandom import SobolEngine

    candidates = SobolEngine(2, scramble=True, seed=0).draw(64, dtype=torch.float64)
    assert all((candidates == row).all(-1).any() for row in chosen)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"surrogate": "gpp"}, "surrogate"),
        ({"surrogate": 3}, "surrogate"),
        ({"problem": "braninn"}, "problem"),
        ({"acquisition": "ei"}, "acquisition"),
        ({"budget": 0}, "budget"),
        ({"budget": -2}, "budget"),
        ({"n_init": 1}, "n_init"),
        ({"q": 0}, "q"),
        ({"surrogate_options": {"seed": object()}}, "surrogate_options"),
    ],
)
def test_bad_input_raises_input_data_error(kwargs, argument, tmp_path):
    arguments = dict(problem="branin", surrogate="gp", **TINY)
    arguments.update(kwargs)
    with pytest.raises(InputDataError) as info:
        run(**arguments)
    assert info.value.argument == argument


def test_resuming_with_other_settings_or_a_missing_file_raises(gp_run, tmp_path):
    path = tmp_path / "run.json"
    gp_run.save(path)
    with pytest.raises(ConfigurationError, match="seed"):
        run("branin", "gp", **dict(TINY, seed=1), resume_from=path)
    with pytest.raises(ConfigurationError, match="surrogate"):
        run("branin", "random", **TINY, resume_from=path)
    with pytest.raises(InputDataError, match="budget"):
        run("branin", "gp", **dict(TINY, budget=2), resume_from=path)
    with pytest.raises(InputDataError) as info:
        run("branin", "gp", **TINY, resume_from=tmp_path / "missing.json")
    assert info.value.argument == "resume_from"
