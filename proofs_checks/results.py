"""The machine-readable result of a run (``results.json``, ``probtheory check --json``) and its rows.

Per claim a summary row (verdict, instances, declared regimes drawn, mutants rejected), the
instances per case of its regimes, its worst evidence per quantity and the mutants' verdicts;
per run the totals, the versions and the coverage table. :mod:`proofs_checks.report` renders
them as pages, :mod:`proofs_checks.cli` as terminal tables.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path

from proofs_checks.claim import Evidence
from proofs_checks.coverage import ClaimCoverage
from proofs_checks.regimes import undrawn
from proofs_checks.runner import ClaimReport, Verdict

__all__ = [
    "environment",
    "mutants_cell",
    "regimes_cell",
    "results_document",
    "run_totals",
    "summary_rows",
    "totals_line",
    "versions_line",
    "worst_evidence",
]

_PACKAGES = ("probtheory", "torch", "gpytorch", "botorch", "pyro-ppl", "hypothesis")


def environment() -> dict:
    """Package versions and, in a git checkout, the commit: what a result was produced with."""
    import importlib.metadata
    import subprocess

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "packages": versions, "git_commit": commit}


def _evidence_dict(e: Evidence) -> dict:
    return {
        "quantity": e.quantity,
        "measured": e.measured,
        "reference": e.reference,
        "margin": e.margin,
        "tolerance": e.tolerance,
        "tolerance_reason": e.tolerance_reason,
    }


def results_document(reports: list[ClaimReport], profile: str) -> dict:
    """The machine-readable result of a run (``results.json``, ``probtheory check --json``).

    Per claim: the summary row, the instances per case of its regimes (``regimes``: facet ->
    case -> count), its worst evidence per quantity, the mutants' verdicts, and the failure or
    error if any; plus the profile, the time, the package versions and commit, and the coverage
    table (``coverage``: per public module of probtheory and bo, the claims of the run that
    exercise it, recorded on each claim's first instance).
    """
    claims = []
    for row, report in zip(summary_rows(reports), reports, strict=True):
        problem = report.verdict.failure or report.verdict.error
        claims.append(
            {
                **row,
                "regimes": report.verdict.regimes,
                "evidence": [_evidence_dict(e) for e in worst_evidence(report.verdict)],
                "mutants": [
                    {"name": m.subject, "verdict": m.status, "rejected": m.status == "FAIL"}
                    for m in report.mutants
                ],
                "problem": None if problem is None else str(problem),
            }
        )
    return {
        "profile": profile,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment(),
        "totals": run_totals(reports),
        "claims": claims,
        "coverage": _coverage_document(ClaimCoverage.from_reports(reports)),
    }


def _coverage_document(coverage: ClaimCoverage) -> dict:
    return {
        "modules": coverage.rows(),
        "by_claim": {claim: sorted(modules) for claim, modules in coverage.by_claim.items()},
        "uncovered_bayesian_components": coverage.uncovered_components(),
    }


def run_totals(reports: list[ClaimReport]) -> dict:
    """The counts of a run: claims, passed, mutants, mutants_rejected, errors, undrawn_regimes.

    errors counts the claims whose check raised (ERROR verdict) and the mutants whose check raised;
    undrawn_regimes the declared cases of the claims' regimes that no instance fell in.
    """
    return {
        "claims": len(reports),
        "passed": sum(r.verdict.status == "PASS" for r in reports),
        "mutants": sum(len(r.mutants) for r in reports),
        "mutants_rejected": sum(r.mutants_rejected for r in reports),
        "errors": sum(r.verdict.status == "ERROR" for r in reports)
        + sum(m.status == "ERROR" for r in reports for m in r.mutants),
        "undrawn_regimes": sum(len(undrawn(r.claim.regimes, r.verdict.regimes)) for r in reports),
    }


def totals_line(totals: dict) -> str:
    """``"66/66 claims pass, 130/130 mutants rejected"``, plus errors and undrawn regimes if any.

    ``", 1 error"`` when a check raised, ``", 2 declared regimes not drawn"`` when a declared case
    of a claim's regimes got no instance.

    Args:
        totals: The :func:`run_totals` of the run.
    """
    line = f"{totals['passed']}/{totals['claims']} claims pass"
    line += f", {totals['mutants_rejected']}/{totals['mutants']} mutants rejected"
    if totals["errors"]:
        line += f", {totals['errors']} error{'s' if totals['errors'] > 1 else ''}"
    if totals.get("undrawn_regimes"):
        count = totals["undrawn_regimes"]
        line += f", {count} declared regime{'s' if count > 1 else ''} not drawn"
    return line


_VERSION_NAMES = {"pyro-ppl": "pyro"}  # the name users import, not the distribution's


def versions_line(env: dict) -> str:
    """``"probtheory 0.3.0, torch 2.4.1, ..., python 3.11.9, commit 5ca268c"``: what the run used.

    Args:
        env: The :func:`environment` of the run; packages that are not installed and the commit
            outside a git checkout are left out.
    """
    parts = [
        f"{_VERSION_NAMES.get(name, name)} {version}"
        for name, version in env["packages"].items()
        if version is not None
    ]
    parts.append(f"python {env['python']}")
    if env["git_commit"]:
        parts.append(f"commit {env['git_commit'][:10]}")
    return ", ".join(parts)


def worst_evidence(verdict: Verdict) -> list[Evidence]:
    """Per quantity, the evidence with the smallest margin over all instances."""
    worst: dict[str, Evidence] = {}
    for _, evidence in verdict.records:
        for e in evidence:
            if e.quantity not in worst or e.margin < worst[e.quantity].margin:
                worst[e.quantity] = e
    return list(worst.values())


def summary_rows(reports: list[ClaimReport]) -> list[dict]:
    """One row per claim, for the table, the report and ``results.json``.

    Keys: claim, paper (short citation), verdict (PASS, FAIL or ERROR), examples,
    mutants_rejected / mutants_run / mutant_errors (integers; 0 run when mutants were skipped),
    regimes_declared / regimes_drawn (the declared cases of the claim's regimes, and how many of
    them an instance fell in; 0 / 0 when it declares none), undrawn_regimes (``"facet = case"``
    of the others), seconds, ok.
    """
    return [
        {
            "claim": r.claim.id,
            "paper": r.claim.paper.short(),
            "verdict": r.verdict.status,
            "examples": r.verdict.examples,
            "mutants_rejected": r.mutants_rejected,
            "mutants_run": len(r.mutants),
            "mutant_errors": sum(m.status == "ERROR" for m in r.mutants),
            **_regime_summary(r),
            "seconds": round(r.verdict.seconds + sum(m.seconds for m in r.mutants), 1),
            "ok": r.ok if r.mutants else r.verdict.status == "PASS",
        }
        for r in reports
    ]


def _regime_summary(report: ClaimReport) -> dict:
    regimes = report.claim.regimes
    declared = 0 if regimes is None else sum(len(cases) for cases in regimes.cases.values())
    missing = undrawn(regimes, report.verdict.regimes)
    return {
        "regimes_declared": declared,
        "regimes_drawn": declared - len(missing),
        "undrawn_regimes": missing,
    }


def regimes_cell(row: dict) -> str:
    """``"3/3"`` (declared cases drawn / declared), ``"2/3, not drawn: activation = erf"``, or ``"-"``."""
    if not row["regimes_declared"]:
        return "-"
    cell = f"{row['regimes_drawn']}/{row['regimes_declared']}"
    return cell + (f", not drawn: {'; '.join(row['undrawn_regimes'])}" if row["undrawn_regimes"] else "")


def mutants_cell(row: dict) -> str:
    """``"2/2"`` (rejected / run), ``"not run"``, with the mutants whose check raised noted."""
    if not row["mutants_run"]:
        return "not run"
    errors = f", {row['mutant_errors']} ERROR" if row["mutant_errors"] else ""
    return f"{row['mutants_rejected']}/{row['mutants_run']}{errors}"
