"""Predictive early stopping and the random-search loop that uses it."""

import pytest
import torch

from bo.early_stopping import PredictiveEarlyStopping
from bo.hpo import HPOResult, random_search, replay
from probtheory.errors import InputDataError
from probtheory.lcpfn import CurveNormalizer, CurvePrior, ImportanceSamplingExtrapolator


@pytest.fixture(scope="module")
def model():
    return ImportanceSamplingExtrapolator(num_samples=20_000, num_components=500)


def _flat(level, n=30):
    return [level + 0.002 * ((i % 3) - 1) for i in range(n)]


def test_probability_to_beat_orders_hopeless_and_promising_runs(model):
    rule = PredictiveEarlyStopping(model, final_epoch=30)
    hopeless = rule.probability_to_beat(_flat(0.3, 10), incumbent=0.9)
    promising = rule.probability_to_beat(_flat(0.85, 10), incumbent=0.6)
    assert hopeless < 0.05 < 0.95 < promising
    assert rule.should_stop(_flat(0.3, 10), incumbent=0.9)
    assert not rule.should_stop(_flat(0.85, 10), incumbent=0.6)


def test_never_stops_without_incumbent_before_min_epochs_or_at_the_end(model):
    rule = PredictiveEarlyStopping(model, final_epoch=30, min_epochs=5)
    assert not rule.should_stop(_flat(0.3, 10), incumbent=None)
    assert not rule.should_stop(_flat(0.3, 4), incumbent=0.9)
    assert not rule.should_stop(_flat(0.3, 30), incumbent=0.9)


def test_minimised_metric_gives_the_same_decision(model):
    acc = PredictiveEarlyStopping(model, final_epoch=30)
    loss = PredictiveEarlyStopping(model, final_epoch=30, normalizer=CurveNormalizer(0, 2, minimize=True))
    values = _flat(0.6, 12)
    p_acc = acc.probability_to_beat(values, incumbent=0.65)
    p_loss = loss.probability_to_beat([2 * (1 - v) for v in values], incumbent=2 * (1 - 0.65))
    assert p_loss == pytest.approx(p_acc, abs=1e-9)


def test_random_search_saves_epochs_and_keeps_the_best_run(model):
    curves = CurvePrior().sample(12, 30, torch.Generator().manual_seed(3)).y.clamp(0, 1).tolist()
    full = random_search(replay(curves), list(range(12)), 30, progress=False)
    assert full.total_epochs == 12 * 30 and not any(r.stopped_early for r in full.runs)
    rule = PredictiveEarlyStopping(model, final_epoch=30, min_epochs=3)
    stopped = random_search(replay(curves), list(range(12)), 30, rule, progress=False)
    assert stopped.total_epochs < full.total_epochs
    assert stopped.best.config == full.best.config == max(range(12), key=lambda i: curves[i][-1])
    assert [r.config for r in stopped.runs] == [r.config for r in full.runs]  # same seeded order


def test_result_round_trips_through_json(tmp_path):
    result = random_search(replay([[0.1, 0.2], [0.3, 0.5]]), [0, 1], 2, progress=False)
    result.to_json(tmp_path / "r.json")
    again = HPOResult.from_json(tmp_path / "r.json")
    assert again.total_epochs == 4 and again.best.config == 1 and again.incumbents == result.incumbents


def test_bad_input(model):
    with pytest.raises(InputDataError, match="configs"):
        random_search(replay([[0.1]]), [], 5, progress=False)
    with pytest.raises(InputDataError, match="curves"):
        replay([])
    with pytest.raises(InputDataError, match="epochs"):
        random_search(replay([[0.1, 0.2]]), [0], 5, progress=False)
    with pytest.raises(InputDataError, match="delta"):
        PredictiveEarlyStopping(model, final_epoch=30, delta=1.5)
    with pytest.raises(InputDataError, match="final_epoch"):
        PredictiveEarlyStopping(model, final_epoch=500)
    with pytest.raises(InputDataError, match="incumbent"):
        PredictiveEarlyStopping(model, final_epoch=30).probability_to_beat([0.5], incumbent=3.0)
    with pytest.raises(InputDataError, match="early_stopping"):
        random_search(
            replay([[0.1]]), [0], 1, PredictiveEarlyStopping(model, 30), minimize=True, progress=False
        )
