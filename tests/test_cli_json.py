"""`--json`: one JSON document on stdout and nothing else, for every listing and run command."""

import json

import pytest

from probtheory.cli import main


@pytest.mark.parametrize(
    ("argv", "check"),
    [
        (["check", "--list", "--json"], lambda d: any(c["id"] == "kernels.psd" for c in d)),
        (["list", "--json"], lambda d: any(m["name"] == "polycom" for m in d)),
        (["pfn", "list", "--json"], lambda d: {r["name"] for r in d} >= {"gp-rbf-1d", "lcpfn"}),
        (["cite", "sltt", "ntk.convergence", "--json"], lambda d: d[0]["key"] == "meng2023towards"),
    ],
    ids=["check --list", "list", "pfn list", "cite"],
)
def test_listings(argv, check, capsys):
    assert main(argv) == 0
    assert check(json.loads(capsys.readouterr().out))


def test_check_and_bo_runs(tmp_path, capsys):
    assert (
        main(
            [
                "check",
                "--claims",
                "pdlt.relu_kurtosis",
                "--no-mutants",
                "--json",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["totals"]["passed"] == 1 and document["claims"][0]["evidence"]
    argv = [
        "bo",
        "--problem",
        "branin",
        "--surrogates",
        "gp",
        "--seeds",
        "1",
        "--n-init",
        "3",
        "--budget",
        "1",
    ]
    assert main([*argv, "--out", str(tmp_path / "bo"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["problem"] == "branin" and "gp" in summary["surrogates"]
