"""The claim report: a Markdown and an HTML page with evidence tables and plots, plus JSON.

The numbers come from :mod:`proofs_checks.results` (also written as ``results.json``); this
module gathers what each page shows -- the totals, a summary table, one section per claim (its
regimes drawn, its evidence, its mutants, its plot), and the coverage table -- and renders the
jinja2 templates ``templates/report.html.j2`` (autoescaped) and ``templates/report.md.j2``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tabulate import tabulate  # noqa: E402

from proofs_checks.claim import Claim  # noqa: E402
from proofs_checks.formula_markup import is_tex  # noqa: E402
from proofs_checks.regimes import format_counts, undrawn  # noqa: E402
from proofs_checks.results import (  # noqa: E402
    mutants_cell,
    regimes_cell,
    results_document,
    summary_rows,
    totals_line,
    versions_line,
    worst_evidence,
)
from proofs_checks.runner import ClaimReport  # noqa: E402

__all__ = ["write_report"]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("proofs_checks", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty cell
    keep_trailing_newline=True,
)


def _plot(report: ClaimReport, folder: Path) -> str | None:
    if report.claim.plot is None or not report.verdict.records:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    report.claim.plot(report.verdict.records, ax)
    ax.set_title(report.claim.id, fontsize=10)
    fig.tight_layout()
    name = f"{report.claim.id.replace('.', '_')}.png"
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return f"plots/{name}"


def _evidence_rows(report: ClaimReport) -> list[list[str]]:
    return [
        [e.quantity, f"{e.measured:.5g}", e.reference, f"{e.margin:.3g}", e.tolerance_reason]
        for e in worst_evidence(report.verdict)
    ]


def _mutant_rows(report: ClaimReport) -> list[list[str]]:
    description = {m.name: m.description for m in report.claim.mutants}
    rows = []
    for m in report.mutants:
        caught = ", ".join(e.quantity for e in m.failure.failed) if m.failure else "-"
        rows.append(
            [
                m.subject,
                description[m.subject],
                {"FAIL": "rejected", "PASS": "NOT rejected", "ERROR": "ERROR (not rejected)"}[m.status],
                caught if m.error is None else f"raised {type(m.error.exception).__name__}",
            ]
        )
    return rows


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table (a ``|`` inside a cell is escaped)."""
    cells = [[str(c).replace("|", "\\|") for c in row] for row in rows]
    return tabulate(cells, headers=header, tablefmt="github", disable_numparse=True)


def _anchor(claim_id: str) -> str:
    """The id of a claim's section, the target of its link in the summary table."""
    return "claim-" + claim_id.replace(".", "-")


_EVIDENCE_HEADER = ["quantity", "worst measured", "theory", "margin", "tolerance (why)"]
_MUTANT_HEADER = ["mutant", "what is broken", "verdict", "caught by"]
_SUMMARY_HEADER = ["claim", "paper", "verdict", "examples", "regimes drawn", "mutants rejected", "seconds"]
_COVERAGE_HEADER = ["module", "Bayesian component", "claims that exercise it"]
_COVERAGE_INTRO = (
    "For every public module of probtheory and bo, the claims of this run that exercise it: code of "
    "the module ran while the claim's strategy was built and its first instance drawn and checked "
    "(calls traced, not imports)."
)
# A mutant's verdict, and the claim verdict whose colour it takes: rejected is the good outcome.
_MUTANT_VERDICT = {
    "FAIL": ("rejected", "PASS"),
    "PASS": ("NOT rejected", "FAIL"),
    "ERROR": ("ERROR (not rejected)", "ERROR"),
}


def _coverage_rows(document: dict) -> list[list[str]]:
    return [
        [row["module"], "yes" if row["bayesian"] else "", ", ".join(row["claims"]) or "none"]
        for row in document["modules"]
    ]


def _claim_view(claim: Claim) -> dict[str, Any]:
    """What the templates show of a claim's source: its citation and papers."""

    def paper(p: Any) -> dict[str, str]:
        return {"title": p.title, "url": p.url, "short": p.short()}

    return {
        "citation": claim.citation(),
        "paper": paper(claim.paper),
        "related": [paper(p) for p in claim.related],
    }


def _section(report: ClaimReport, image: str | None) -> dict[str, Any]:
    """One claim's section: verdict, source, regimes, statement, formula, evidence, mutants, plot."""
    c, verdict = report.claim, report.verdict
    evidence_rows, mutant_rows = _evidence_rows(report), _mutant_rows(report)
    return {
        "id": c.id,
        "anchor": _anchor(c.id),
        "title": c.title,
        "status": verdict.status,
        "examples": verdict.examples,
        "claim": _claim_view(c),
        "regimes": format_counts(verdict.regimes) if verdict.regimes else "",
        "undrawn": undrawn(c.regimes, verdict.regimes) if verdict.regimes else [],
        "statement": c.statement,
        "formula": c.formula,
        "tex": is_tex(c.formula),
        "evidence": evidence_rows,
        "evidence_table": _md_table(_EVIDENCE_HEADER, evidence_rows),
        "problems": [str(p) for p in (verdict.failure, verdict.error) if p is not None],
        "mutant_errors": [(m.subject, str(m.error)) for m in report.mutants if m.error is not None],
        "mutants": [
            {
                "name": row[0],
                "description": row[1],
                "verdict": _MUTANT_VERDICT[m.status][0],
                "colour": _MUTANT_VERDICT[m.status][1],
                "caught": row[3],
            }
            for row, m in zip(mutant_rows, report.mutants, strict=True)
        ],
        "mutant_table": _md_table(_MUTANT_HEADER, mutant_rows) if report.mutants else "",
        "image": image,
    }


def write_report(reports: list[ClaimReport], out: str | Path, profile: str) -> Path:
    """Write ``report.md``, ``report.html``, ``results.json`` and ``plots/`` into ``out``.

    Both reports open with the totals (:func:`~proofs_checks.results.totals_line`) and the
    versions (:func:`~proofs_checks.results.versions_line`), then a summary table whose claims
    link to their sections, and end with the coverage table: the claims that exercise each public
    module of probtheory and bo.

    Returns:
        The path of the HTML report.
    """
    folder = Path(out)
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    document = results_document(reports, profile)
    summary = [
        {
            "claim": r["claim"],
            "anchor": _anchor(r["claim"]),
            "paper": r["paper"],
            "verdict": r["verdict"],
            "examples": r["examples"],
            "regimes": regimes_cell(r),
            "undrawn": bool(r["undrawn_regimes"]),
            "mutants": mutants_cell(r),
            "seconds": r["seconds"],
        }
        for r in summary_rows(reports)
    ]
    columns = ("paper", "verdict", "examples", "regimes", "mutants", "seconds")
    md_summary = [[f"[{r['claim']}](#{r['anchor']})", *(r[k] for k in columns)] for r in summary]
    coverage = document["coverage"]
    context = {
        "totals": totals_line(document["totals"]),
        "versions": versions_line(document["environment"]),
        "profile": profile,
        "created": document["created"],
        "summary_header": _SUMMARY_HEADER,
        "summary": summary,
        "summary_table": _md_table(_SUMMARY_HEADER, md_summary),
        "sections": [_section(r, _plot(r, folder / "plots")) for r in reports],
        "evidence_header": _EVIDENCE_HEADER,
        "mutant_header": _MUTANT_HEADER,
        "coverage": coverage,
        "coverage_intro": _COVERAGE_INTRO,
        "coverage_header": _COVERAGE_HEADER,
        "coverage_rows": _coverage_rows(coverage),
        "coverage_table": _md_table(_COVERAGE_HEADER, _coverage_rows(coverage)),
    }
    (folder / "report.md").write_text(_TEMPLATES.get_template("report.md.j2").render(context))
    (folder / "report.html").write_text(_TEMPLATES.get_template("report.html.j2").render(context))
    (folder / "results.json").write_text(json.dumps(document, indent=2))
    return folder / "report.html"
