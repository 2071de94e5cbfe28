"""TuRBO trust regions: the box, the length rule, restarts, and the loop with a region."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.models import SingleTaskGP
from hypothesis import given
from hypothesis import strategies as st

from bo.loop import NETWORK_SURROGATES, default_acquisition, propose, run
from bo.models import DKL, GP, IBNN
from bo.results import BOResult
from bo.testing import contract_objective
from bo.trust_region import TrustRegion, TrustRegionState, input_lengthscales, restart_design
from probtheory.errors import ConfigurationError

DTYPE = torch.float64
TINY = dict(n_init=4, seed=0, progress=False)


@given(
    center=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6),
    length=st.floats(2.0**-8, 1.6),
    log_scales=st.lists(st.floats(-4.0, 4.0), min_size=6, max_size=6),
    weighted=st.booleans(),
)
def test_the_box_stays_in_the_cube_around_its_center(center, length, log_scales, weighted):
    center = torch.tensor(center, dtype=DTYPE)
    d = center.shape[0]
    scales = torch.tensor(log_scales[:d], dtype=DTYPE).exp() if weighted else None
    box = TrustRegionState(length=length, start=0).box(center, scales)
    assert box.shape == (2, d)
    assert (box[0] >= 0).all() and (box[1] <= 1).all() and (box[0] < box[1]).all()
    assert (box[0] <= center).all() and (center <= box[1]).all()
    # before clipping the sides are length * w_i with prod(w_i) = 1, so the volume is length^d
    weights = torch.ones(d, dtype=DTYPE) if scales is None else scales / scales.log().mean().exp()
    unclipped = ((center - weights * length / 2) >= 0) & ((center + weights * length / 2) <= 1)
    if unclipped.all():
        assert math.isclose((box[1] - box[0]).log().sum().item(), d * math.log(length), abs_tol=1e-9)
    if scales is not None:  # a longer lengthscale gets a longer side (where neither is clipped)
        sides = box[1] - box[0]
        for i in range(d):
            for j in range(d):
                if unclipped[i] and unclipped[j] and scales[i] > scales[j] * (1 + 1e-9):
                    assert sides[i] > sides[j]


def test_the_length_follows_the_rule_on_a_scripted_sequence():
    settings = TrustRegion(success_tolerance=2, failure_tolerance=3)
    state = settings.start(0).updated(settings, torch.tensor([1.0]), dim=2, q=1)
    assert (state.best, state.length) == (1.0, 0.8)
    trace = []
    # improvements of at least 1e-3 * |best| succeed; 1.0005 does not (below the threshold)
    for value in [2.0, 3.0, 3.0, 3.001, 2.0, 1.0, 1.0, 5.0, 6.0, 6.0, 6.0, 6.0]:
        state = state.updated(settings, torch.tensor([value, -10.0]), dim=2, q=1)
        trace.append((state.successes, state.failures, state.length))
    assert trace == [
        (1, 0, 0.8),
        (0, 0, 1.6),  # two successes: doubled
        (0, 1, 1.6),
        (0, 2, 1.6),  # 3.001 < 3 + 3e-3: a failure
        (0, 0, 0.8),  # three failures: halved
        (0, 1, 0.8),
        (0, 2, 0.8),
        (1, 0, 0.8),  # a success resets the failures
        (0, 0, 1.6),
        (0, 1, 1.6),
        (0, 2, 1.6),
        (0, 0, 0.8),
    ]
    assert state.best == 6.0
    # doubling stops at length_max
    state = TrustRegionState(length=1.6, start=0, successes=1, best=1.0).updated(
        settings, torch.tensor([9.0]), 2, 1
    )
    assert state.length == 1.6


def test_the_default_failure_tolerance_is_the_papers():
    settings = TrustRegion()
    assert settings.failures_allowed(dim=2, q=1) == 4
    assert settings.failures_allowed(dim=10, q=1) == 10
    assert settings.failures_allowed(dim=10, q=4) == 3
    assert settings.failures_allowed(dim=2, q=8) == 1


def test_state_round_trips_through_json_dicts():
    state = TrustRegionState(length=0.1, start=7, restarts=2, successes=1, failures=0, best=-3.25)
    assert TrustRegionState.from_dict(state.to_dict()) == state
    fresh = TrustRegion().start(3)
    assert TrustRegionState.from_dict(fresh.to_dict()) == fresh and fresh.to_dict()["best"] is None


@pytest.mark.parametrize("acquisition", ["qlogei", "qlognei", "qucb", "ts"])
def test_the_acquisitions_argmax_lies_in_the_box(acquisition):
    generator = torch.Generator().manual_seed(1)
    X = torch.rand(10, 3, generator=generator, dtype=DTYPE)
    Y = contract_objective(X)
    model = GP(X, Y).fit()
    box = torch.tensor([[0.2, 0.5, 0.0], [0.4, 0.6, 0.1]], dtype=DTYPE)
    points = propose(model, acquisition, X, Y, 3, seed=0, bounds=box)
    assert points.shape == (3, 3)
    assert ((points >= box[0]) & (points <= box[1])).all()


def test_input_lengthscales_only_where_the_kernel_acts_on_the_inputs():
    X = torch.rand(12, 3, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    Y = contract_objective(X)
    gp = GP(X, Y).fit()
    scales = input_lengthscales(gp, 3)
    assert scales is not None and scales.shape == (3,) and (scales > 0).all()
    user_gp = SingleTaskGP(X, Y)  # a user's own BoTorch model: its ARD lengthscales
    torch.testing.assert_close(input_lengthscales(user_gp, 3), user_gp.covar_module.lengthscale.reshape(3))
    assert input_lengthscales(IBNN(X, Y).fit(), 3) is None  # NNGP kernel: no lengthscale
    assert input_lengthscales(DKL(X, Y, seed=0, train_steps=2).fit(), 3) is None  # lengthscales of features


def test_a_collapsed_region_restarts_from_a_fresh_design():
    # a region that halves after every failure and collapses below 0.3: restarts within the run
    settings = TrustRegion(length_init=0.8, length_min=0.3, failure_tolerance=1, success_tolerance=1)
    result = run("branin", "gp", budget=14, trust_region=settings, **TINY)
    state = TrustRegionState.from_dict(result.trust_region_state)
    assert state.restarts >= 1
    # every restart's first n_init points are that restart's Sobol design over the whole cube
    X = result.X
    starts = [i for i in range(4, X.shape[0] - 3) if torch.equal(X[i : i + 4], restart_design(2, 4, 0, 1))]
    assert len(starts) == 1
    assert starts[0] > 4  # after the first region's own proposals


def test_restart_designs_fill_whole_batches_when_q_does_not_divide_n_init(tmp_path):
    # any failure collapses the region (0.4 < 0.75): restarts come early and often
    settings = TrustRegion(length_min=0.75, length_max=0.8, failure_tolerance=1)
    kwargs = dict(budget=15, q=3, trust_region=settings, **TINY)  # n_init = 4
    full = run("branin", "gp", **kwargs)
    assert full.n_evaluations == 4 + 15 and full.complete
    assert TrustRegionState.from_dict(full.trust_region_state).restarts >= 1
    path = tmp_path / "run.json"
    run("branin", "gp", **dict(kwargs, budget=6), checkpoint=path)
    resumed = run("branin", "gp", **kwargs, resume_from=path)
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.Y, full.Y)


def test_trust_region_resume_is_bit_identical_through_a_restart(tmp_path):
    settings = TrustRegion(length_min=0.3, failure_tolerance=1, success_tolerance=1)
    full = run("branin", "gp", budget=12, trust_region=settings, **TINY)
    path = tmp_path / "run.json"
    run("branin", "gp", budget=5, trust_region=settings, checkpoint=path, **TINY)
    resumed = run("branin", "gp", budget=12, trust_region=settings, resume_from=path, **TINY)
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.Y, full.Y)
    assert resumed.trust_region_state == full.trust_region_state
    assert BOResult.load(path).trust_region_state == full.trust_region_state


def test_batches_with_q_above_one_and_every_surrogate_kind():
    for surrogate, acquisition in [("gp", "qlogei"), ("ensemble", "ts"), ("random", "qlogei")]:
        options = {"n_models": 2, "steps": 20} if surrogate == "ensemble" else None
        result = run(
            "branin",
            surrogate,
            acquisition,
            budget=6,
            q=3,
            trust_region=True,
            surrogate_options=options,
            **TINY,
        )
        assert result.X.shape == (10, 2) and ((result.X >= 0) & (result.X <= 1)).all()
        if surrogate == "random":  # random search has no model, hence no region
            assert result.trust_region is None and result.trust_region_state is None
        else:
            assert result.trust_region == {**TrustRegion().__dict__}
            assert result.trust_region_state is not None


def test_a_user_factory_works_in_a_region():
    def factory(train_X, train_Y):
        return GP(train_X, train_Y).fit()

    result = run("branin", factory, budget=3, trust_region=True, **TINY)
    assert result.n_evaluations == 7


def test_resuming_with_or_without_a_region_is_refused_by_name(tmp_path):
    path = tmp_path / "run.json"
    run("branin", "gp", budget=2, checkpoint=path, **TINY)
    with pytest.raises(ConfigurationError, match="trust_region: stored None"):
        run("branin", "gp", budget=3, trust_region=True, resume_from=path, **TINY)
    stored = BOResult.load(path)
    stored.probtheory_version = "0.0.1"
    stored.save(path)
    with pytest.raises(ConfigurationError, match="probtheory_version: stored '0.0.1'"):
        run("branin", "gp", budget=3, resume_from=path, **TINY)


@pytest.mark.parametrize(
    "surrogate", ["gp", "ibnn", "tp", "pfn", "random", "hmc", "svi", "ensemble", "dkl", "laplace"]
)
@pytest.mark.parametrize("trust_region", [False, True, TrustRegion(success_tolerance=2)])
def test_default_acquisition_is_thompson_for_networks_in_a_region(surrogate, trust_region):
    networks = {"hmc", "svi", "ensemble", "dkl", "laplace"}  # written out: the test pins the set
    assert set(NETWORK_SURROGATES) == networks
    expected = "ts" if trust_region is not False and surrogate in networks else "qlogei"
    assert default_acquisition(surrogate, trust_region) == expected
    assert default_acquisition(lambda X, Y: None, trust_region) == "qlogei"  # a user's factory


def test_run_records_the_default_acquisition_it_used():
    options = {"n_models": 2, "steps": 20}
    region = run("branin", "ensemble", budget=1, trust_region=True, surrogate_options=options, **TINY)
    cube = run("branin", "ensemble", budget=1, surrogate_options=options, **TINY)
    assert (region.acquisition, cube.acquisition) == ("ts", "qlogei")
    assert run("branin", "gp", budget=1, trust_region=True, **TINY).acquisition == "qlogei"
