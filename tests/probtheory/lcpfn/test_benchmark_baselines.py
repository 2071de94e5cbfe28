"""The LC-PFN benchmark's store of baseline scores (benchmarks/lcpfn.py): hours of MCMC must
survive a stopped run and be shared by processes that split the cells, and a mismatched or
replaced store must not leak into the paired comparison."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("lcpfn_benchmark", ROOT / "benchmarks" / "lcpfn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BASELINES", tmp_path / "lcpfn_baselines.json")
    return module


def _chunk(value: float) -> dict:
    return {"log_likelihood": [value], "coverage_90": [1.0], "seconds": 1.0}


def _cells(bench) -> dict:
    return json.loads(bench.BASELINES.read_text())["cells"]


def test_processes_splitting_the_cells_both_keep_their_chunks(bench):
    settings = {"curves": 10}
    bench._merge_baselines({"mcmc/prior/10": {"0": _chunk(1.0)}}, settings, "a", replace=False)
    bench._merge_baselines({"mcmc/prior/40": {"0": _chunk(2.0)}}, settings, "b", replace=False)
    bench._merge_baselines(
        {"mcmc/prior/10": {"0": _chunk(1.0), "5": _chunk(3.0)}}, settings, "a", replace=False
    )
    assert _cells(bench) == {
        "mcmc/prior/10": {"0": _chunk(1.0), "5": _chunk(3.0)},
        "mcmc/prior/40": {"0": _chunk(2.0)},
    }


def test_lcpfn_cells_are_not_baselines(bench):
    bench._merge_baselines({"lcpfn/prior/10": {"0": _chunk(0.0)}, "mcmc/real/10": {}}, {}, "c", replace=False)
    assert _cells(bench) == {"mcmc/real/10": {}}


def test_replace_drops_the_old_chunks_and_other_settings_are_never_merged(bench):
    bench._merge_baselines({"mcmc/prior/10": {"0": _chunk(1.0)}}, {"curves": 10}, "a", replace=False)
    bench._merge_baselines({"mcmc/prior/20": {"0": _chunk(2.0)}}, {"curves": 10}, "a", replace=True)
    assert _cells(bench) == {"mcmc/prior/20": {"0": _chunk(2.0)}}
    bench._merge_baselines({"mcmc/prior/40": {"0": _chunk(4.0)}}, {"curves": 20}, "a", replace=False)
    assert _cells(bench) == {"mcmc/prior/40": {"0": _chunk(4.0)}}
    assert json.loads(bench.BASELINES.read_text())["settings"] == {"curves": 20}


def test_nothing_new_leaves_the_file_untouched(bench):
    bench._merge_baselines({"mcmc/prior/10": {"0": _chunk(1.0)}}, {}, "a", replace=False)
    before = bench.BASELINES.read_text()
    bench.BASELINES.write_text(before.replace('"command": "a"', '"command": "kept"'))
    bench._merge_baselines({"mcmc/prior/10": {"0": _chunk(1.0)}}, {}, "b", replace=False)
    assert json.loads(bench.BASELINES.read_text())["meta"]["command"] == "kept"
    assert not bench.BASELINES.with_name(bench.BASELINES.name + ".tmp").exists()
