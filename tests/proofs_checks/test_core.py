"""The claim machinery: evidence semantics, runner, registry, report and command line."""

import dataclasses
import importlib
import json
import math
import re
import subprocess
import sys

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import proofs_checks
from probtheory.errors import InputDataError
from probtheory.papers import Paper
from proofs_checks import Claim, Evidence, Mutant
from proofs_checks import strategies as pst
from proofs_checks.assertions import assert_psd, assert_within_standard_errors
from proofs_checks.registry import BUILTIN_CLAIMS
from proofs_checks.report import write_report
from proofs_checks.statistics import fit_loglog_slope, second_moment_ratio


def test_evidence_constructors():
    assert Evidence.within("q", 1.05, 1.0, 0.1, "r").passed
    assert not Evidence.within("q", 1.2, 1.0, 0.1, "r").passed
    assert Evidence.at_most("q", 1.0, 1.0, "r").passed
    assert not Evidence.at_least("q", 0.5, 1.0, "r").passed
    assert Evidence.in_range("q", 0.0, -1, 1, "r").margin == pytest.approx(1.0)
    assert not Evidence.at_most("q", math.nan, 1.0, "r").passed  # NaN never passes


FOLKLORE = Paper("Squares are non-negative", ("Ada Lovelace",), "folklore", 1843, "https://example.org")


def _toy_claim(subject, claim_id="toy.square", paper=FOLKLORE):
    return Claim(
        id=claim_id,
        title="squares are non-negative",
        paper=paper,
        statement="x^2 >= 0",
        formula="x^2 >= 0",
        strategy=lambda: st.floats(-10, 10),
        check=lambda x, f: Evidence.at_least("f(x)", f(x), 0.0, "exact"),
        subject=subject,
        mutants=(Mutant("cube", "x^3 instead of x^2", lambda x: x**3),),
        examples={"ci": 20, "thorough": 50},
        mutant_examples=20,
    )


def test_verify_passes_and_rejects_mutant():
    claim = _toy_claim(lambda x: x * x)
    assert proofs_checks.verify(claim).passed
    bad = proofs_checks.verify(claim, claim.mutants[0].subject, label="cube")
    assert not bad.passed
    assert bad.failure.failed[0].quantity == "f(x)"
    assert "claim violated" in str(bad.failure)


def test_registry_rejects_duplicate_ids_and_unknown_ids():
    claim = proofs_checks.register(_toy_claim(lambda x: x * x, "toy.registry"))
    assert proofs_checks.get_claim("toy.registry") is claim
    with pytest.raises(ValueError, match="already registered"):
        proofs_checks.register(_toy_claim(lambda x: x * x, "toy.registry"))
    with pytest.raises(KeyError, match="claim_id"):
        proofs_checks.get_claim("no.such.claim")


def test_registry_rejects_a_users_claim_with_a_builtin_id():
    with pytest.raises(ValueError, match="built-in"):
        proofs_checks.register(_toy_claim(lambda x: x * x, "pdlt.relu_kurtosis"))


def test_builtin_table_points_at_claims_with_its_ids_in_its_order():
    """Every entry of the table resolves to the Claim object with the entry's id."""
    for claim_id, path in BUILTIN_CLAIMS.items():
        module, _, attribute = path.partition(":")
        claim = getattr(importlib.import_module(module), attribute)
        assert isinstance(claim, Claim), path
        assert claim.id == claim_id, path
        assert proofs_checks.get_claim(claim_id) is claim
    assert [c.id for c in proofs_checks.claims()][: len(BUILTIN_CLAIMS)] == list(BUILTIN_CLAIMS)


def test_get_claim_imports_only_the_claims_module():
    code = (
        "import sys, proofs_checks\n"
        "assert not any(m.startswith('proofs_checks.catalog') for m in sys.modules)\n"
        "proofs_checks.get_claim('pdlt.relu_kurtosis')\n"
        "print(sorted(m for m in sys.modules if m.startswith('proofs_checks.catalog.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = eval(result.stdout)  # noqa: S307 - a list literal we printed
    assert loaded == ["proofs_checks.catalog.bibliography", "proofs_checks.catalog.relu_kurtosis"]


def test_claims_cite_structured_papers():
    with pytest.raises(InputDataError, match="paper"):
        _toy_claim(lambda x: x * x, paper="folklore")
    with pytest.raises(InputDataError, match="related"):
        dataclasses.replace(_toy_claim(lambda x: x * x), related=("Cho & Saul 2009",))
    for claim in map(proofs_checks.get_claim, BUILTIN_CLAIMS):
        for paper in (claim.paper, *claim.related):
            assert paper.title and paper.venue and paper.authors and all(a.strip() for a in paper.authors)
            assert 1990 <= paper.year <= 2026, claim.id
            assert paper.url.startswith("https://"), claim.id
            if paper.arxiv is not None:
                assert re.fullmatch(r"\d{4}\.\d{4,5}|[a-z-]+/\d{7}", paper.arxiv), claim.id
                assert paper.arxiv in paper.url or "openreview" in paper.url, claim.id
        assert claim.citation().startswith(claim.paper.short())


def test_claims_reuse_the_plugin_registrys_papers():
    """A paper the plug-in registry cites has one record: the claims cite the same object."""
    from probtheory.plugins import methods

    registry_papers = {id(e.paper): e.paper for e in methods()}
    by_arxiv = {p.arxiv: p for p in registry_papers.values() if p.arxiv}
    for claim in map(proofs_checks.get_claim, BUILTIN_CLAIMS):
        if claim.paper.arxiv in by_arxiv:
            assert claim.paper is by_arxiv[claim.paper.arxiv], claim.id


def test_report_files(tmp_path):
    reports = proofs_checks.run(["pdlt.relu_kurtosis"], progress=False)
    page = write_report(reports, tmp_path, "ci")
    assert page.exists() and (tmp_path / "report.md").exists()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["claims"][0]["claim"] == "pdlt.relu_kurtosis"
    assert results["claims"][0]["ok"] is True
    markdown = (tmp_path / "report.md").read_text()
    assert "2/2" in markdown
    claim = proofs_checks.get_claim("pdlt.relu_kurtosis")
    assert results["claims"][0]["paper"] == claim.paper.short()
    assert claim.paper.short() == "Roberts et al., Cambridge University Press 2022"
    assert f"Source: {claim.citation()}: [{claim.paper.title}]({claim.paper.url})" in markdown
    assert f"<a href='{claim.paper.url}'>{claim.paper.title}</a>" in (tmp_path / "report.html").read_text()


def test_report_plots(tmp_path):
    reports = proofs_checks.run(["ntk.convergence"], mutants=False, progress=False)
    write_report(reports, tmp_path, "ci")
    assert (tmp_path / "plots" / "ntk_convergence.png").stat().st_size > 1000


def test_module_command_line(tmp_path):
    out = tmp_path / "report"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "proofs_checks",
            "--claims",
            "pdlt.relu_kurtosis",
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "pdlt.relu_kurtosis" in result.stdout and "PASS" in result.stdout
    assert "Roberts et al., Cambridge University Press 2022" in result.stdout
    assert (out / "report.html").exists()


def test_console_script_lists_claims():
    from probtheory.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert main(["check", "--list"]) == 0
    assert main([]) == 2


def test_claim_list_cites_papers_like_probtheory_list(capsys):
    from proofs_checks.cli import main

    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["claim", "paper", "mutants", "title"]
    claims = proofs_checks.claims()
    assert len(lines) == 2 + len(claims)
    for line, claim in zip(lines[2:], claims, strict=True):
        assert line.startswith(claim.id) and claim.paper.short() in line and claim.title in line


def test_command_line_unknown_claim(capsys):
    from proofs_checks.cli import main

    assert main(["--claims", "nope", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "`ids`" in err and "claim id" in err and "'nope'" in err


# ------------------------------------------------------------------ strategies


@given(pst.sphere_inputs())
def test_sphere_inputs_lie_on_sqrt_d_sphere(x):
    assert x.dtype == torch.float64
    assert torch.allclose(x.norm(dim=-1), torch.full((x.shape[0],), math.sqrt(x.shape[1]), dtype=x.dtype))


@given(pst.psd_matrices())
def test_psd_matrices_are_psd(k):
    assert_psd(k)


@given(pst.mlps())
def test_mlps_strategy_builds_working_networks(net):
    x = torch.randn(3, net.weights[0].shape[0], dtype=torch.float64)
    assert net(x).shape == (3, 1)


@given(pst.kernel_hyperparameters())
def test_kernel_hyperparameters_are_valid(hp):
    assert hp.weight_variance > 0 and hp.bias_variance >= 0


# ------------------------------------------------------------------ assertions and statistics


def test_assert_psd_messages():
    with pytest.raises(AssertionError, match="not positive semi-definite"):
        assert_psd(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64))
    with pytest.raises(AssertionError, match="not symmetric"):
        assert_psd(torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64))


def test_assert_within_standard_errors():
    est, ref, se = torch.tensor([1.0, 2.0]), torch.tensor([1.1, 2.0]), torch.tensor([0.05, 0.1])
    assert_within_standard_errors(est, ref, se)
    with pytest.raises(AssertionError, match="standard errors"):
        assert_within_standard_errors(est, ref, se / 10)


def test_slope_fit_recovers_power_law():
    xs = [1, 2, 4, 8, 16]
    fit = fit_loglog_slope(xs, [3 * x**-0.5 for x in xs])
    assert fit.slope == pytest.approx(-0.5) and fit.standard_error < 1e-10


def test_second_moment_ratio_standard_error_is_calibrated():
    """Over 400 replications the z-scores of the estimate have standard deviation ~1."""
    import numpy as np

    rng = np.random.default_rng(0)
    zs = []
    for _ in range(400):
        x = rng.exponential(size=2000)  # E[X^2]/E[X]^2 = 2
        ratio, se = second_moment_ratio(x)
        zs.append((ratio - 2.0) / se)
    # sd of 400 unit-variance z's has SE ~ 1/sqrt(800) = 0.035; allow 5 SE
    assert abs(np.std(zs) - 1.0) < 0.18
