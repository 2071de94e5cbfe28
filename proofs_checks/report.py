"""The claim report: a Markdown and an HTML page with evidence tables and plots, plus JSON.

The numbers come from :mod:`proofs_checks.results` (also written as ``results.json``); this
module lays them out: the totals, a summary table, one section per claim (its regimes drawn, its
evidence, its mutants, its plot), and the coverage table.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from probtheory.papers import Paper  # noqa: E402
from proofs_checks.claim import Claim  # noqa: E402
from proofs_checks.formula_markup import html_formula, md_formula  # noqa: E402
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
_SUMMARY_HEADER = ["claim", "paper", "verdict", "examples", "regimes drawn", "mutants rejected", "seconds"]
_COVERAGE_HEADER = ["module", "Bayesian component", "claims that exercise it"]
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
$coverage
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


def _md_regimes(report: ClaimReport) -> list[str]:
    """The instances per case of the claim's regimes, and the declared cases never drawn."""
    if not report.verdict.regimes:
        return []
    lines = ["", f"Regimes drawn (instances per case): {format_counts(report.verdict.regimes)}."]
    missing = undrawn(report.claim.regimes, report.verdict.regimes)
    if missing:
        lines += ["", f"**Declared regimes never drawn: {'; '.join(missing)}.**"]
    return lines


def _html_regimes(report: ClaimReport) -> list[str]:
    """:func:`_md_regimes` as HTML, the cases never drawn in the colour of a failure."""
    if not report.verdict.regimes:
        return []
    counts = html.escape(format_counts(report.verdict.regimes))
    lines = [f"<p class='regimes'>Regimes drawn (instances per case): {counts}.</p>"]
    missing = undrawn(report.claim.regimes, report.verdict.regimes)
    if missing:
        lines.append(f"<p>{_verdict_html('FAIL', 'Declared regimes never drawn: ' + '; '.join(missing))}</p>")
    return lines


_COVERAGE_INTRO = (
    "For every public module of probtheory and bo, the claims of this run that exercise it: code of "
    "the module ran while the claim's strategy was built and its first instance drawn and checked "
    "(calls traced, not imports)."
)


def _coverage_rows(document: dict) -> list[list[str]]:
    return [
        [row["module"], "yes" if row["bayesian"] else "", ", ".join(row["claims"]) or "none"]
        for row in document["modules"]
    ]


def _coverage_md(document: dict) -> list[str]:
    md = ["", "<a id='coverage'></a>", "", "## Modules exercised by the claims", "", _COVERAGE_INTRO]
    if document["uncovered_bayesian_components"]:
        md += ["", f"Bayesian components no claim of this run exercises: "
               f"{', '.join(document['uncovered_bayesian_components'])}."]  # fmt: skip
    return md + ["", _md_table(_COVERAGE_HEADER, _coverage_rows(document))]


def _coverage_html(document: dict) -> str:
    page = [
        "<h2 id='coverage'>Modules exercised by the claims</h2>",
        f"<p>{html.escape(_COVERAGE_INTRO)}</p>",
    ]
    if document["uncovered_bayesian_components"]:
        names = ", ".join(document["uncovered_bayesian_components"])
        page.append(f"<p>Bayesian components no claim of this run exercises: {html.escape(names)}.</p>")
    page.append(_html_table(_COVERAGE_HEADER, _coverage_rows(document)))
    return "\n".join(page)


def _md_section(report: ClaimReport, image: str | None) -> list[str]:
    c, verdict = report.claim, report.verdict
    md = [
        "",
        f"<a id='{_anchor(c.id)}'></a>",
        "",
        f"## `{c.id}`: {c.title}",
        "",
        f"**{verdict.status}** on {verdict.examples} instances. {_md_source(c)}",
        *_md_regimes(report),
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
        *_html_regimes(report),
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
    (:func:`versions_line`), then a summary table whose claims link to their sections, and end
    with the coverage table: the claims that exercise each public module of probtheory and bo.

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
            regimes_cell(r),
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
            _Html(f"<span class='verdict fail'>{html.escape(regimes_cell(r))}</span>")
            if r["undrawn_regimes"]
            else regimes_cell(r),
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
    md += _coverage_md(document["coverage"])
    page = _PAGE.substitute(
        style=_STYLE,
        totals=html.escape(totals),
        versions=html.escape(versions),
        profile=html.escape(profile),
        created=document["created"],
        summary=_html_table(_SUMMARY_HEADER, html_table),
        sections="\n".join(sections),
        coverage=_coverage_html(document["coverage"]),
    )
    (folder / "report.md").write_text("\n".join(md) + "\n")
    (folder / "report.html").write_text(page)
    (folder / "results.json").write_text(json.dumps(document, indent=2))
    return folder / "report.html"
