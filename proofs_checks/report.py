"""The claim report: a Markdown and an HTML page with evidence tables and plots, plus JSON."""

from __future__ import annotations

import html
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from probtheory.papers import Paper  # noqa: E402
from proofs_checks.claim import Claim, Evidence  # noqa: E402
from proofs_checks.runner import ClaimReport, Verdict  # noqa: E402

__all__ = ["environment", "results_document", "summary_rows", "write_report"]

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
        "totals": {
            "claims": len(reports),
            "passed": sum(r.verdict.status == "PASS" for r in reports),
            "mutants": sum(len(r.mutants) for r in reports),
            "mutants_rejected": sum(r.mutants_rejected for r in reports),
        },
        "claims": claims,
    }


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


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
_STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:90%}th{background:#f0f0f0}.PASS{color:#080}.FAIL{color:#b00}.ERROR{color:#b60}"
    "code{background:#f6f6f6}"
)


def write_report(reports: list[ClaimReport], out: str | Path, profile: str) -> Path:
    """Write ``report.md``, ``report.html``, ``results.json`` and ``plots/`` into ``out``.

    Returns:
        The path of the HTML report.
    """
    folder = Path(out)
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    rows = summary_rows(reports)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = ["claim", "paper", "verdict", "examples", "mutants rejected", "seconds"]
    table = [
        [r["claim"], r["paper"], r["verdict"], r["examples"], mutants_cell(r), r["seconds"]] for r in rows
    ]
    md = [
        "# probtheory theory-check report",
        f"Profile `{profile}`, {stamp}, Python {platform.python_version()}.",
        "",
        _md_table(header, table),
    ]
    page = [
        "<html><head><meta charset='utf-8'><title>probtheory check</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>probtheory theory-check report</h1>",
        f"<p>Profile <code>{profile}</code>, {stamp}, Python {platform.python_version()}.</p>",
        _html_table(header, table),
    ]
    for report in reports:
        c = report.claim
        verdict = report.verdict.status
        image = _plot(report, folder / "plots")
        md += ["", f"## `{c.id}`: {c.title}", "", f"**{verdict}** on {report.verdict.examples} instances. "
               f"{_md_source(c)}", "", c.statement, "", f"`{c.formula}`", "",
               _md_table(_EVIDENCE_HEADER, _evidence_rows(report))]  # fmt: skip
        page += [f"<h2><code>{c.id}</code>: {html.escape(c.title)}</h2>",
                 f"<p><b class='{verdict}'>{verdict}</b> on {report.verdict.examples} instances. "
                 f"{_html_source(c)}</p><p>{html.escape(c.statement)}</p>",
                 f"<p><code>{html.escape(c.formula)}</code></p>",
                 _html_table(_EVIDENCE_HEADER, _evidence_rows(report))]  # fmt: skip
        for problem in (report.verdict.failure, report.verdict.error):
            if problem is not None:
                md += ["", "```", str(problem), "```"]
                page.append(f"<pre>{html.escape(str(problem))}</pre>")
        for mutant in report.mutants:
            if mutant.error is not None:
                md += ["", f"Mutant `{mutant.subject}`:", "", "```", str(mutant.error), "```"]
                page.append(f"<p>Mutant <code>{mutant.subject}</code>:</p>")
                page.append(f"<pre>{html.escape(str(mutant.error))}</pre>")
        if report.mutants:
            md += ["", "Mutants:", "", _md_table(_MUTANT_HEADER, _mutant_rows(report))]
            page += ["<p>Mutants:</p>", _html_table(_MUTANT_HEADER, _mutant_rows(report))]
        if image:
            md += ["", f"![{c.id}]({image})"]
            page.append(f"<img src='{image}' alt='{c.id}'>")
    page.append("</body></html>")
    (folder / "report.md").write_text("\n".join(md) + "\n")
    (folder / "report.html").write_text("\n".join(page))
    (folder / "results.json").write_text(json.dumps(results_document(reports, profile), indent=2))
    return folder / "report.html"
