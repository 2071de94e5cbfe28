"""The pig reproduction's plumbing on a tiny budget (the real budgets run in benchmarks/plugins.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

import probtheory.plugins.reproductions.pig as pig


@pytest.mark.parametrize("quick", [True, False])
def test_tiny_budget_reports_both_models_on_the_same_footing(monkeypatch, tmp_path, quick):
    name = "_QUICK" if quick else "_FULL"
    tiny = dataclasses.replace(getattr(pig, name), iterations=6, evaluations=3, points=32, gaussians=8)
    monkeypatch.setattr(pig, name, tiny)
    result = pig.reproduce(quick=quick, seed=0, out_dir=tmp_path)
    assert result.method == "pig" and result.quick is quick and not result.higher_is_better
    assert 0 < result.value < 10 and 0 < result.baseline_value < 10
    assert math.isclose(result.details["PIG / PINN error ratio"], result.value / result.baseline_value)
    assert result.details["iterations"] == 6 and result.details["collocation points per step"] == 32
    assert ("1-D" in result.metric) is quick
    assert "bar" in result.verdict and (tmp_path / "pig.png").is_file()
