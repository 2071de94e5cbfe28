"""Which library modules a claim exercises: recorded from the calls, not from the imports."""

import json

import torch
from hypothesis import strategies as st

import proofs_checks
from probtheory.papers import Paper
from proofs_checks import Claim, Evidence, Mutant
from proofs_checks.cli import main
from proofs_checks.coverage import BAYESIAN_COMPONENTS, claim_coverage, public_modules

FOLKLORE = Paper("Kernels are symmetric", ("Ada Lovelace",), "folklore", 1843, "https://example.org")


def _kernel_claim(claim_id="toy.coverage"):
    from probtheory.kernels import NNGPKernel  # imported, but only called through the subject

    def check(seed, subject):
        return Evidence.at_least("value", subject(seed), 0.0, "exact")

    return Claim(
        id=claim_id,
        title="t",
        paper=FOLKLORE,
        statement="s",
        formula="f",
        strategy=lambda: st.integers(0, 3),
        check=check,
        subject=lambda seed: float(NNGPKernel(depth=1).double()(torch.ones(1, 2)).to_dense().detach()),
        mutants=(Mutant("negative", "-1", lambda seed: -1.0),),
    )


def test_a_claim_exercises_the_modules_its_check_calls():
    coverage = claim_coverage([_kernel_claim()])
    modules = coverage.by_claim["toy.coverage"]
    assert "probtheory.kernels.infinite_width" in modules and "probtheory.kernels.recursion" in modules
    assert not any(m.startswith("probtheory.pfn") for m in modules)
    assert coverage.claims_of("probtheory.kernels") == ["toy.coverage"]
    assert coverage.uncovered_components() == [c for c in BAYESIAN_COMPONENTS if c != "probtheory.kernels"]
    rows = {row["module"]: row for row in coverage.table()}
    assert rows["`probtheory.kernels.recursion`"]["claims"] == "`toy.coverage`"
    assert rows["`probtheory.kernels.recursion`"]["Bayesian component"] == "yes"


def test_public_modules_leave_out_private_modules_and_command_lines():
    modules = public_modules()
    assert "probtheory.kernels.recursion" in modules and "bo.posteriors" in modules
    assert not any(part.startswith("_") for m in modules for part in m.split("."))
    assert "probtheory.pfn.cli" not in modules


def test_the_command_line_fails_while_a_bayesian_component_has_no_claim(tmp_path, capsys):
    claim = proofs_checks.register(_kernel_claim("toy.coverage_cli"))
    assert main(["--coverage", "--claims", claim.id, "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "no claim exercises: probtheory.pfn" in out
    data = json.loads((tmp_path / "coverage.json").read_text())
    assert "probtheory.kernels.recursion" in data["by_claim"]["toy.coverage_cli"]
    assert (tmp_path / "coverage.md").read_text().startswith("# Modules exercised by the claims")
