import argparse
import json

import pytest

from probtheory.cli import run_command
from probtheory.plugins import cli, methods


def _run(argv):
    parser = argparse.ArgumentParser(prog="probtheory")
    subparsers = parser.add_subparsers(dest="command")
    cli.register_list(subparsers)
    cli.register_reproduce(subparsers)
    args = parser.parse_args(argv)
    return run_command(args)  # the command line's one error path, as `probtheory` runs it


def test_list_prints_every_method_with_paper_kind_and_status(capsys):
    assert _run(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["method", "kind", "status", "paper", "title"]
    for entry in methods():
        row = next(line for line in lines if line.startswith(entry.name + " "))
        assert entry.kind in row and entry.status in row and entry.paper.short() in row


def test_list_filters(capsys):
    assert _run(["list", "--status", "implemented", "--kind", "layer"]) == 0
    out = capsys.readouterr().out
    assert "polycom" in out and "snnk" in out  # implemented layers
    assert "self-tuning-networks" not in out  # a training method
    assert _run(["list", "--status", "planned"]) == 0
    assert "polycom" not in capsys.readouterr().out


def test_reproduce_one_method_quick_writes_json_and_figure(tmp_path, capsys):
    assert _run(["reproduce", "quadratic-relinear", "--quick", "--seed", "0", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "quadratic-relinear" in out and "conventional" in out and "vs conventional" in out
    record = json.loads((tmp_path / "quadratic-relinear.json").read_text())
    assert record["quick"] is True and record["seed"] == 0 and 0.0 <= record["value"] <= 1.0
    assert record["baseline"] == "conventional" and record["seconds"] > 0
    assert (tmp_path / "quadratic-relinear.png").stat().st_size > 0
    assert [r["method"] for r in json.loads((tmp_path / "results.json").read_text())] == [
        "quadratic-relinear"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce"], "names or --all"),
        (["reproduce", "polycom", "--all"], "names or --all"),
        (["reproduce", "no-such-method"], "registered method"),
        (["reproduce", "planned-method"], "planned"),
    ],
)
def test_reproduce_rejects_bad_requests(argv, message, tmp_path, capsys, monkeypatch):
    from probtheory.plugins import Paper, PluginEntry, registry

    planned = PluginEntry("planned-method", Paper("T", ("A B",), "ICLR", 2024, "u"), "solver", "planned", "s")
    monkeypatch.setitem(registry._BY_NAME, planned.name, planned)
    assert _run([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_list_json_is_one_document(capsys):
    assert _run(["list", "--json", "--status", "implemented"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in listing} == {e.name for e in methods(status="implemented")}
    assert all(e["paper"] and e["url"] and e["kind"] for e in listing)
