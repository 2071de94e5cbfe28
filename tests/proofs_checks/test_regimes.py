"""Regimes: every declared case is checked, the report shows the counts and flags a case never drawn."""

import json
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

import proofs_checks
from probtheory.papers import Paper
from proofs_checks import Claim, Evidence, Mutant, Regimes
from proofs_checks.report import write_report
from proofs_checks.results import totals_line
from proofs_checks.strategies import activation_family

FOLKLORE = Paper("Squares are non-negative", ("Ada Lovelace",), "folklore", 1843, "https://example.org")
RARE = 2000  # an even number the strategy never draws: only its pin reaches it


@dataclass(frozen=True)
class Number:
    n: int
    seed: int


def _parity(number: Number) -> dict:
    return {
        "parity": "even" if number.n % 2 == 0 else "odd",
        "value": f"{RARE} (rare)" if number.n == RARE else "any other",
        "checked as": ("int", "float"),  # every instance covers both
    }


PARITY_REGIMES = Regimes(
    of=_parity,
    cases={
        "parity": {"even": None, "odd": {"n": st.integers(0, 499).map(lambda k: 2 * k + 1)}},
        "value": {f"{RARE} (rare)": {"n": RARE}, "any other": None},
        "checked as": {"int": None, "float": None},
    },
)


def _claim(claim_id, regimes=PARITY_REGIMES, subject=lambda n: n * n, mutant=lambda n: -1.0):
    return Claim(
        id=claim_id,
        title="squares are non-negative",
        paper=FOLKLORE,
        statement="n^2 >= 0",
        formula="n^2 >= 0",
        strategy=lambda: st.builds(Number, st.integers(0, 998).map(lambda k: 2 * k), st.integers(0, 9)),
        check=lambda number, f: Evidence.at_least("f(n)", f(number.n), 0.0, "exact"),
        subject=subject,
        mutants=(Mutant("negative", "-1", mutant),),
        examples={"ci": 3, "thorough": 3},
        mutant_examples=3,
        regimes=regimes,
    )


def test_every_declared_case_gets_an_instance_pinned_when_the_draws_miss_it():
    verdict = proofs_checks.verify(_claim("toy.regimes_pinned"))
    assert verdict.status == "PASS"
    # the strategy draws even numbers only: odd and RARE come from the pins, one instance each
    assert verdict.regimes["parity"]["even"] >= 3 and verdict.regimes["parity"]["odd"] == 1
    assert verdict.regimes["value"][f"{RARE} (rare)"] == 1
    assert verdict.examples == 5  # the 3 drawn and the 2 pinned
    assert verdict.regimes["checked as"] == {"int": 5, "float": 5}  # an instance covers both cases
    drawn = [number.n for number, _ in verdict.records]
    assert RARE in drawn and sum(n % 2 for n in drawn) == 1


def test_regimes_can_be_left_out():
    verdict = proofs_checks.verify(_claim("toy.regimes_off"), cover_regimes=False)
    assert verdict.examples == 3 and verdict.regimes["parity"]["odd"] == 0


def test_a_mutant_broken_in_one_regime_only_is_rejected_through_the_pin():
    def wrong_for_odd(n):
        return -1.0 if n % 2 else n * n

    claim = _claim("toy.regimes_mutant", mutant=wrong_for_odd)
    (report,) = proofs_checks.run([claim], progress=False)
    assert report.ok and report.mutants[0].status == "FAIL"
    assert report.mutants[0].failure.instance.n % 2 == 1


def _unreachable_claim(claim_id):
    # "odd" is declared but neither pinned nor ever drawn: the filtered strategy finds none
    regimes = Regimes(of=_parity, cases={"parity": {"even": None, "odd": None}})
    return _claim(claim_id, regimes=regimes)


def test_a_declared_case_never_drawn_is_flagged_in_every_output(tmp_path):
    reports = proofs_checks.run(
        [_unreachable_claim("toy.regimes_undrawn"), _claim("toy.regimes_drawn")], progress=False
    )
    undrawn, drawn = reports
    assert undrawn.verdict.status == "PASS" and undrawn.verdict.regimes["parity"]["odd"] == 0
    page = write_report(reports, tmp_path, "ci")
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {row["claim"]: row for row in results["claims"]}
    assert rows["toy.regimes_undrawn"]["undrawn_regimes"] == ["parity = odd"]
    assert (
        rows["toy.regimes_undrawn"]["regimes_drawn"],
        rows["toy.regimes_undrawn"]["regimes_declared"],
    ) == (1, 2)
    assert rows["toy.regimes_drawn"]["undrawn_regimes"] == []
    assert results["totals"]["undrawn_regimes"] == 1
    assert totals_line(results["totals"]).endswith(", 1 declared regime not drawn")
    html, markdown = page.read_text(), (tmp_path / "report.md").read_text()
    for text in (html, markdown):
        assert "Declared regimes never drawn: parity = odd" in text
        assert "1/2, not drawn: parity = odd" in text  # the summary table's cell
        assert "1 declared regime not drawn" in text


def test_the_regime_counts_are_in_the_results_and_the_pages(tmp_path):
    reports = proofs_checks.run([_claim("toy.regimes_report")], progress=False)
    page = write_report(reports, tmp_path, "ci")
    (row,) = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert row["regimes"]["parity"] == {"even": 4, "odd": 1}
    assert row["regimes"]["checked as"] == {"int": 5, "float": 5}
    assert row["regimes_drawn"] == row["regimes_declared"] == 6
    counts = "parity: even 4, odd 1; value: 2000 (rare) 1, any other 4; checked as: int 5, float 5"
    assert f"Regimes drawn (instances per case): {counts}." in (tmp_path / "report.md").read_text()
    assert f"<p class='regimes'>Regimes drawn (instances per case): {counts}.</p>" in page.read_text()


def test_the_command_line_shows_the_regimes_drawn(tmp_path, capsys):
    from proofs_checks.cli import main

    claim = proofs_checks.register(_claim("toy.regimes_cli"))
    assert main(["--claims", claim.id, "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "regimes drawn" in out and "6/6" in out


def test_the_report_has_the_coverage_table_of_the_run(tmp_path):
    from probtheory.kernels import NNGPKernel

    def kernel_value(n):
        return float(NNGPKernel(depth=1).double()(torch.ones(1, 2)).to_dense().detach()) * n * n

    reports = proofs_checks.run([_claim("toy.regimes_coverage", subject=kernel_value)], progress=False)
    assert "probtheory.kernels.recursion" in reports[0].verdict.modules
    page = write_report(reports, tmp_path, "ci")
    coverage = json.loads((tmp_path / "results.json").read_text())["coverage"]
    rows = {row["module"]: row for row in coverage["modules"]}
    assert rows["probtheory.kernels.recursion"] == {
        "module": "probtheory.kernels.recursion",
        "bayesian": True,
        "claims": ["toy.regimes_coverage"],
    }
    assert rows["probtheory.pfn"]["claims"] == []
    assert "probtheory.pfn" in coverage["uncovered_bayesian_components"]
    assert "probtheory.kernels.recursion" in coverage["by_claim"]["toy.regimes_coverage"]
    html, markdown = page.read_text(), (tmp_path / "report.md").read_text()
    for text in (html, markdown):
        assert "Modules exercised by the claims" in text
    assert "<td>probtheory.kernels.recursion</td><td>yes</td><td>toy.regimes_coverage</td>" in html
    # Markdown tables pad their columns: compare with runs of spaces collapsed
    assert "| probtheory.kernels.recursion | yes | toy.regimes_coverage |" in " ".join(markdown.split())


def test_activation_families_follow_the_kernels_classes():
    assert {activation_family(a) for a in ("relu", "abs", "leaky_relu:0.2")} == {"ReLU-type closed form"}
    assert activation_family("erf") == "erf closed form"
    assert {activation_family(a) for a in ("tanh", "gelu", "sigmoid")} == {"quadrature"}
