"""The claim report: a Markdown and an HTML page with evidence tables and plots, plus JSON."""

from __future__ import annotations

import html
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from probtheory.papers import Paper  # noqa: E402
from proofs_checks.claim import Claim, Evidence  # noqa: E402
from proofs_checks.formula_markup import html_formula, md_formula  # noqa: E402
from proofs_checks.runner import ClaimReport, Verdict  # noqa: E402

__all__ = [
    "environment",
    "results_document",
    "run_totals",
    "summary_rows",
    "totals_line",
    "versions_line",
    "write_report",
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

    Per claim: the summary row, its worst evidence per quantity, the mutants' verdicts, and the
    failure or error if any; plus the profile, the time, and the package versions and commit.
    """
    claims = []
    for row, report in zip(summary_rows(reports), reports, strict=True):
        problem = report.verdict.failure or report.verdict.error
        claims.append(
            {
                **row,
                "evidence": [_evidence_dict(e) for e in _worst(report.verdict)],
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
    }


def run_totals(reports: list[ClaimReport]) -> dict:
    """The counts of a run: claims, passed, mutants, mutants_rejected, errors.

    errors counts the claims whose check raised (ERROR verdict) and the mutants whose check raised.
    """
    return {
        "claims": len(reports),
        "passed": sum(r.verdict.status == "PASS" for r in reports),
        "mutants": sum(len(r.mutants) for r in reports),
        "mutants_rejected": sum(r.mutants_rejected for r in reports),
        "errors": sum(r.verdict.status == "ERROR" for r in reports)
        + sum(m.status == "ERROR" for r in reports for m in r.mutants),
    }


def totals_line(totals: dict) -> str:
    """``"66/66 claims pass, 130/130 mutants rejected"``, plus ``", 1 error"`` if any raised.

    Args:
        totals: The :func:`run_totals` of the run.
    """
    line = f"{totals['passed']}/{totals['claims']} claims pass"
    line += f", {totals['mutants_rejected']}/{totals['mutants']} mutants rejected"
    if totals["errors"]:
        line += f", {totals['errors']} error{'s' if totals['errors'] > 1 else ''}"
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


def _worst(verdict: Verdict) -> list[Evidence]:
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
    seconds, ok.
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
            "seconds": round(r.verdict.seconds + sum(m.seconds for m in r.mutants), 1),
            "ok": r.ok if r.mutants else r.verdict.status == "PASS",
        }
        for r in reports
    ]


def mutants_cell(row: dict) -> str:
    """``"2/2"`` (rejected / run), ``"not run"``, with the mutants whose check raised noted."""
    if not row["mutants_run"]:
        return "not run"
    errors = f", {row['mutant_errors']} ERROR" if row["mutant_errors"] else ""
    return f"{row['mutants_rejected']}/{row['mutants_run']}{errors}"


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
        for e in _worst(report.verdict)
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


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


class _Html(str):
    """A table cell that is already HTML (a link, a coloured verdict): not escaped again."""


def _html_table(header: list[str], rows: list[list[object]]) -> str:
    def cell(c: object) -> str:
        return c if isinstance(c, _Html) else html.escape(str(c))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _anchor(claim_id: str) -> str:
    """The id of a claim's section, the target of its link in the summary table."""
    return "claim-" + claim_id.replace(".", "-")


def _verdict_html(verdict: str, text: str | None = None) -> _Html:
    """``verdict`` (PASS, FAIL or ERROR) coloured by its CSS class, showing ``text`` if given."""
    return _Html(f"<span class='verdict {verdict.lower()}'>{html.escape(text or verdict)}</span>")


def _md_source(claim: Claim) -> str:
    """``Source: Jacot et al., NeurIPS 2018, Thm. 1: [title](url).`` plus the related papers."""

    def link(paper: Paper) -> str:
        return f"[{paper.title}]({paper.url})"

    text = f"Source: {claim.citation()}: {link(claim.paper)}."
    if claim.related:
        text += " See also " + "; ".join(f"{p.short()}: {link(p)}" for p in claim.related) + "."
    return text


def _html_source(claim: Claim) -> str:
    """:func:`_md_source` as HTML links."""

    def link(paper: Paper) -> str:
        return f"<a href='{html.escape(paper.url)}'>{html.escape(paper.title)}</a>"

    text = f"Source: {html.escape(claim.citation())}: {link(claim.paper)}."
    if claim.related:
        text += " See also " + "; ".join(f"{html.escape(p.short())}: {link(p)}" for p in claim.related) + "."
    return text


_EVIDENCE_HEADER = ["quantity", "worst measured", "theory", "margin", "tolerance (why)"]
_MUTANT_HEADER = ["mutant", "what is broken", "verdict", "caught by"]
_SUMMARY_HEADER = ["claim", "paper", "verdict", "examples", "mutants rejected", "seconds"]
_STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:90%}th{background:#f0f0f0}code{background:#f6f6f6}"
    ".totals{font-size:120%;font-weight:bold}.versions{color:#555;font-size:90%}"
    ".verdict{font-weight:bold}.verdict.pass{color:#080}.verdict.fail{color:#b00}.verdict.error{color:#c60}"
)
# The page around the summary table and the claims' sections. MathJax 3 typesets the formulas
# written in TeX (between \[ and \]); it leaves <code> alone, so plain-text formulas stay as typed.
_PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset='utf-8'><title>probtheory check</title>
<style>$style</style>
<script id='MathJax-script' async src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'></script>
</head><body>
<h1>probtheory theory-check report</h1>
<p class='totals'>$totals</p>
<p class='versions'>$versions</p>
<p>Profile <code>$profile</code>, $created.</p>
$summary
$sections
</body></html>
"""
)
# A mutant's verdict, and the claim verdict whose colour it takes: rejected is the good outcome.
_MUTANT_VERDICT = {
    "FAIL": ("rejected", "PASS"),
    "PASS": ("NOT rejected", "FAIL"),
    "ERROR": ("ERROR (not rejected)", "ERROR"),
}


def _mutant_rows_html(report: ClaimReport) -> list[list[object]]:
    rows: list[list[object]] = _mutant_rows(report)
    for row, mutant in zip(rows, report.mutants, strict=True):
        text, colour = _MUTANT_VERDICT[mutant.status]
        row[2] = _verdict_html(colour, text)
    return rows


def _md_section(report: ClaimReport, image: str | None) -> list[str]:
    c, verdict = report.claim, report.verdict
    md = [
        "",
        f"<a id='{_anchor(c.id)}'></a>",
        "",
        f"## `{c.id}`: {c.title}",
        "",
        f"**{verdict.status}** on {verdict.examples} instances. {_md_source(c)}",
        "",
        c.statement,
        "",
        md_formula(c.formula),
        "",
        _md_table(_EVIDENCE_HEADER, _evidence_rows(report)),
    ]
    for problem in (verdict.failure, verdict.error):
        if problem is not None:
            md += ["", "```", str(problem), "```"]
    for mutant in report.mutants:
        if mutant.error is not None:
            md += ["", f"Mutant `{mutant.subject}`:", "", "```", str(mutant.error), "```"]
    if report.mutants:
        md += ["", "Mutants:", "", _md_table(_MUTANT_HEADER, _mutant_rows(report))]
    if image:
        md += ["", f"![{c.id}]({image})"]
    return md


def _html_section(report: ClaimReport, image: str | None) -> list[str]:
    c, verdict = report.claim, report.verdict
    page = [
        f"<h2 id='{_anchor(c.id)}'><code>{html.escape(c.id)}</code>: {html.escape(c.title)}</h2>",
        f"<p>{_verdict_html(verdict.status)} on {verdict.examples} instances. {_html_source(c)}</p>",
        f"<p>{html.escape(c.statement)}</p>",
        html_formula(c.formula),
        _html_table(_EVIDENCE_HEADER, _evidence_rows(report)),
    ]
    for problem in (verdict.failure, verdict.error):
        if problem is not None:
            page.append(f"<pre>{html.escape(str(problem))}</pre>")
    for mutant in report.mutants:
        if mutant.error is not None:
            page.append(f"<p>Mutant <code>{html.escape(mutant.subject)}</code>:</p>")
            page.append(f"<pre>{html.escape(str(mutant.error))}</pre>")
    if report.mutants:
        page += ["<p>Mutants:</p>", _html_table(_MUTANT_HEADER, _mutant_rows_html(report))]
    if image:
        page.append(f"<img src='{image}' alt='{html.escape(c.id)}'>")
    return page


def write_report(reports: list[ClaimReport], out: str | Path, profile: str) -> Path:
    """Write ``report.md``, ``report.html``, ``results.json`` and ``plots/`` into ``out``.

    Both reports open with the totals (:func:`totals_line`) and the versions
    (:func:`versions_line`), then a summary table whose claims link to their sections.

    Returns:
        The path of the HTML report.
    """
    folder = Path(out)
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    document = results_document(reports, profile)
    totals, versions = totals_line(document["totals"]), versions_line(document["environment"])
    rows = summary_rows(reports)
    images = [_plot(report, folder / "plots") for report in reports]
    md_table = [
        [
            f"[{r['claim']}](#{_anchor(r['claim'])})",
            r["paper"],
            r["verdict"],
            r["examples"],
            mutants_cell(r),
            r["seconds"],
        ]
        for r in rows
    ]
    html_table = [
        [
            _Html(f"<a href='#{_anchor(r['claim'])}'>{html.escape(r['claim'])}</a>"),
            r["paper"],
            _verdict_html(r["verdict"]),
            r["examples"],
            mutants_cell(r),
            r["seconds"],
        ]
        for r in rows
    ]
    md = [
        "# probtheory theory-check report",
        "",
        f"**{totals}**",
        "",
        versions,
        "",
        f"Profile `{profile}`, {document['created']}.",
        "",
        _md_table(_SUMMARY_HEADER, md_table),
    ]
    sections: list[str] = []
    for report, image in zip(reports, images, strict=True):
        md += _md_section(report, image)
        sections += _html_section(report, image)
    page = _PAGE.substitute(
        style=_STYLE,
        totals=html.escape(totals),
        versions=html.escape(versions),
        profile=html.escape(profile),
        created=document["created"],
        summary=_html_table(_SUMMARY_HEADER, html_table),
        sections="\n".join(sections),
    )
    (folder / "report.md").write_text("\n".join(md) + "\n")
    (folder / "report.html").write_text(page)
    (folder / "results.json").write_text(json.dumps(document, indent=2))
    return folder / "report.html"
