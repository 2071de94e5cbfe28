"""``probtheory bo``: a tiny benchmark writes per-run results, a summary and a plot, and resumes."""

from __future__ import annotations

import argparse
import json

import pytest

from bo.cli import main, register
from bo.results import BOResult


def _parse(argv):
    parser = argparse.ArgumentParser(prog="probtheory")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_tiny_benchmark_writes_results_summary_and_plot(tmp_path, capsys):
    argv = ["bo", "--problem", "branin", "--surrogates", "random,gp", "--seeds", "2", "--n-init", "4"]
    argv += ["--budget", "2", "--out", str(tmp_path), "--no-progress"]
    args = _parse(argv)
    assert args.func(args) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["gp_seed0.json", "gp_seed1.json", "random_seed0.json", "random_seed1.json"]
    result = BOResult.load(tmp_path / "runs" / "gp_seed1.json")
    assert result.seed == 1 and result.n_evaluations == 6 and result.complete
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["problem"] == "branin" and set(summary["surrogates"]) == {"random", "gp"}
    gp = summary["surrogates"]["gp"]
    assert gp["seeds"] == [0, 1] and len(gp["final_simple_regret"]) == 2
    low, median, high = gp["final_simple_regret_quartiles"]
    assert low <= median <= high
    assert (tmp_path / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()

    # a second invocation skips finished runs; a larger budget resumes them
    stamp = (tmp_path / "runs" / "gp_seed0.json").stat().st_mtime_ns
    assert args.func(args) == 0
    assert "skipped" in capsys.readouterr().out
    assert (tmp_path / "runs" / "gp_seed0.json").stat().st_mtime_ns == stamp
    assert main(argv[1:-4] + ["3", "--out", str(tmp_path), "--no-progress"]) == 0
    assert BOResult.load(tmp_path / "runs" / "gp_seed0.json").n_evaluations == 7


@pytest.mark.parametrize(
    "extra", [["--surrogates", "gp,nope"], ["--acquisition", "ei"], ["--seeds", "0"], ["--problem", "x"]]
)
def test_bad_arguments_give_an_error_message(tmp_path, capsys, extra):
    argv = ["bo", "--problem", "branin", "--out", str(tmp_path), "--budget", "1", "--no-progress", *extra]
    args = _parse(argv)
    assert args.func(args) == 2
    assert "error" in capsys.readouterr().err


def test_a_folder_of_another_problem_is_refused_not_mixed_into_the_summary(tmp_path, capsys):
    from probtheory.cli import main as probtheory_main

    common = ["--surrogates", "random", "--seeds", "1", "--n-init", "3", "--budget", "1", "--no-progress"]
    assert probtheory_main(["bo", "--problem", "branin", *common, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert probtheory_main(["bo", "--problem", "hartmann6", *common, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "problem" in err[0] and "'branin'" in err[0] and "'hartmann6'" in err[0]
    assert json.loads((tmp_path / "summary.json").read_text())["problem"] == "branin"  # untouched


def test_trust_region_runs_are_their_own_files_and_summary_says_so(tmp_path, capsys):
    argv = ["bo", "--problem", "branin", "--surrogates", "gp", "--seeds", "1", "--n-init", "4"]
    argv += ["--budget", "2", "--out", str(tmp_path), "--no-progress"]
    assert main(argv[1:]) == 0
    capsys.readouterr()
    assert main([*argv[1:], "--trust-region", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["configuration"]["trust_region"] is True
    assert summary["configuration"]["acquisition"] == {"gp": "qlogei"}
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["gp_seed0.json", "gp_trust-region_seed0.json"]
    result = BOResult.load(tmp_path / "runs" / "gp_trust-region_seed0.json")
    assert result.trust_region is not None and result.trust_region_state is not None
    assert result.probtheory_version is not None
