"""A check that raises gives an ERROR verdict with its instance; the run and the report go on."""

import json

from hypothesis import strategies as st

import proofs_checks
from probtheory.papers import Paper
from proofs_checks import Claim, Evidence, Mutant
from proofs_checks.cli import main
from proofs_checks.report import write_report

FOLKLORE = Paper("Squares are non-negative", ("Ada Lovelace",), "folklore", 1843, "https://example.org")


def _square(x):
    return x * x


def _crashes_above_five(x):
    if x > 5:
        raise ZeroDivisionError(f"solver gave up at {x}")
    return x * x


def _claim(claim_id, subject, mutant=lambda x: x**3):
    return Claim(
        id=claim_id,
        title="squares are non-negative",
        paper=FOLKLORE,
        statement="x^2 >= 0",
        formula="x^2 >= 0",
        strategy=lambda: st.integers(0, 10),
        check=lambda x, f: Evidence.at_least("f(x)", f(x), 0.0, "exact"),
        subject=subject,
        mutants=(Mutant("broken", "a broken subject", mutant),),
        examples={"ci": 30, "thorough": 30},
        mutant_examples=30,
    )


def test_an_exception_in_a_check_is_an_error_verdict_with_its_instance(tmp_path):
    crashing = _claim("toy.crashes", _crashes_above_five, mutant=lambda x: -1 - x)
    healthy = _claim("toy.healthy", _square, mutant=lambda x: -1 - x)
    reports = proofs_checks.run([crashing, healthy], progress=False)
    crashed, fine = reports
    assert crashed.verdict.status == "ERROR" and not crashed.ok and crashed.errored
    error = crashed.verdict.error
    assert error.instance > 5 and isinstance(error.exception, ZeroDivisionError)  # the instance it raised on
    assert f"solver gave up at {error.instance}" in str(error) and repr(error.instance) in str(error)
    # the exception's own line ends the message, after its frames (hypothesis's notes left out)
    assert str(error).splitlines()[-1] == f"ZeroDivisionError: solver gave up at {error.instance}"
    assert "Falsifying example" not in str(error) and "_crashes_above_five" in str(error)
    assert fine.verdict.status == "PASS" and fine.ok  # the run went on
    page = write_report(reports, tmp_path, "ci")
    text, markdown = page.read_text(), (tmp_path / "report.md").read_text()
    assert "ERROR" in text and "ZeroDivisionError" in markdown
    # read at a glance: the totals first, then the versions
    totals = "1/2 claims pass, 2/2 mutants rejected, 1 error"
    assert f"<p class='totals'>{totals}</p>" in text and f"**{totals}**" in markdown
    torch_version = json.loads((tmp_path / "results.json").read_text())["environment"]["packages"]["torch"]
    for report_text in (text, markdown):
        assert f"torch {torch_version}" in report_text and "python 3." in report_text
        assert report_text.index(totals) < report_text.index("torch ") < report_text.index("toy.crashes")
    # coloured verdicts, and each claim of the summary table links to its section
    assert (
        "<span class='verdict error'>ERROR</span>" in text
        and "<span class='verdict pass'>PASS</span>" in text
    )
    assert "<a href='#claim-toy-crashes'>toy.crashes</a>" in text and "<h2 id='claim-toy-crashes'>" in text
    assert "[toy.healthy](#claim-toy-healthy)" in markdown and "<a id='claim-toy-healthy'></a>" in markdown
    assert "mathjax@3/es5/tex-mml-chtml.js" in text and "<code>x^2 &gt;= 0</code>" in text  # not TeX: code
    rows = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert [r["verdict"] for r in rows] == ["ERROR", "PASS"]
    assert rows[1]["mutants_rejected"] == 1 and rows[1]["mutants_run"] == 1  # integers, not "1/1"


def test_a_mutant_that_crashes_the_check_is_not_counted_as_rejected():
    claim = _claim("toy.mutant_crashes", _square, _crashes_above_five)
    (report,) = proofs_checks.run([claim], progress=False)
    assert report.verdict.status == "PASS"
    assert report.mutants[0].status == "ERROR" and report.mutants_rejected == 0
    assert not report.ok and report.errored


def test_the_command_line_tells_error_from_failure(tmp_path):
    proofs_checks.register(_claim("toy.cli_error", _crashes_above_five))
    proofs_checks.register(_claim("toy.cli_fail", lambda x: -1 - x))
    proofs_checks.register(_claim("toy.cli_pass", _square, mutant=lambda x: -1 - x))
    common = ["--out", str(tmp_path), "--no-progress"]
    assert main(["--claims", "toy.cli_pass", *common]) == 0
    assert main(["--claims", "toy.cli_fail", *common]) == 1
    assert main(["--claims", "toy.cli_error", "toy.cli_pass", *common]) == 3
    assert (tmp_path / "report.html").exists()


def test_check_json_is_one_document_with_evidence_versions_and_integer_counts(tmp_path, capsys):
    proofs_checks.register(_claim("toy.json", _square, mutant=lambda x: -1 - x))
    assert main(["--claims", "toy.json", "--json", "--out", str(tmp_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["totals"] == {
        "claims": 1,
        "passed": 1,
        "mutants": 1,
        "mutants_rejected": 1,
        "errors": 0,
        "undrawn_regimes": 0,
    }
    (row,) = document["claims"]
    assert (
        row["verdict"] == "PASS" and row["mutants_rejected"] == 1 and row["evidence"][0]["quantity"] == "f(x)"
    )
    assert document["environment"]["packages"]["torch"] and "git_commit" in document["environment"]
    assert json.loads((tmp_path / "results.json").read_text())["totals"] == document["totals"]
    assert main(["--list", "--json"]) == 0
    assert any(c["id"] == "toy.json" for c in json.loads(capsys.readouterr().out))
