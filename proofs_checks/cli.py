"""``probtheory check`` / ``python -m proofs_checks``: run the claims and write the report.

Exit codes: 0 every claim passes and rejects its mutants; 1 a claim fails or a mutant is not
rejected; 3 a check raised an exception (ERROR: the report names the instance and the
exception); 2 a user error (an unknown claim id, say).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from probtheory._cli_options import add_command, add_list_argument, add_no_progress_argument, text_table

__all__ = ["claim_selection", "main", "register", "text_table"]


def claim_selection(names: Sequence[str] | None) -> list[str] | None:
    """The claim ids that ``--claims NAME...`` selects, a family prefix expanded to its claims.

    An exact id selects that claim only; a name that is no id but the prefix of some
    (``lipschitz``) selects every ``lipschitz.*`` claim, in registry order; any other name is kept,
    so running it fails with the closest ids suggested. ``None`` (no ``--claims``) stays ``None``.
    """
    if names is None:
        return None
    from proofs_checks.registry import claim_ids

    ids = claim_ids()
    selected: list[str] = []
    for name in names:
        family = [claim_id for claim_id in ids if claim_id.startswith(f"{name}.")]
        selected += family if name not in ids and family else [name]
    return selected


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("ci", "thorough"), default=None,
                        help="hypothesis profile (default: $HYPOTHESIS_PROFILE or ci)")  # fmt: skip
    add_list_argument(
        parser,
        "--claims",
        metavar="ID",
        help="claim ids or families to run (`lipschitz` selects every lipschitz.* claim; default: all)",
    )
    parser.add_argument(
        "--out", default="probtheory-report", help="report folder (default probtheory-report)"
    )
    parser.add_argument("--no-mutants", action="store_true", help="skip the mutant runs")
    add_no_progress_argument(parser)
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout (the results) and nothing else"
    )
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="instead of the verdicts: which library modules each claim exercises (one instance "
        "each, traced); writes coverage.md / coverage.json and fails if a Bayesian component has no claim",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from proofs_checks.profiles import active_profile
    from proofs_checks.registry import claims
    from proofs_checks.report import write_report
    from proofs_checks.results import (
        mutants_cell,
        regimes_cell,
        results_document,
        run_totals,
        summary_rows,
        totals_line,
    )
    from proofs_checks.runner import run

    if args.list:
        if args.json:
            return _print_json(
                [
                    {
                        "id": c.id,
                        "title": c.title,
                        "paper": c.paper.cite(),
                        "mutants": [m.name for m in c.mutants],
                    }
                    for c in claims()
                ]
            )
        rows = [[c.id, c.paper.short(), str(len(c.mutants)), c.title] for c in claims()]
        print(text_table(["claim", "paper", "mutants", "title"], rows))
        return 0
    profile = args.profile or active_profile()
    if args.coverage:
        return _coverage(args, profile)
    progress = not (args.no_progress or args.json)
    reports = run(claim_selection(args.claims), profile, mutants=not args.no_mutants, progress=progress)
    page = write_report(reports, args.out, profile)
    status = 3 if any(report.errored for report in reports) else 0 if all(r.ok for r in reports) else 1
    if args.json:
        _print_json({**results_document(reports, profile), "report": str(page)})
        return status
    rows = summary_rows(reports)
    header = ["claim", "paper", "verdict", "examples", "regimes drawn", "mutants rejected", "seconds"]
    table = [
        [
            r["claim"],
            r["paper"],
            r["verdict"],
            str(r["examples"]),
            regimes_cell(r),
            mutants_cell(r),
            f"{r['seconds']:.1f}",
        ]
        for r in rows
    ]
    print("\n" + text_table(header, table))
    print(f"\n{totals_line(run_totals(reports))}")
    print(f"\nreport: {page}  (and report.md, results.json)")
    return status


def _coverage(args: argparse.Namespace, profile: str) -> int:
    import json
    from pathlib import Path

    from proofs_checks.coverage import BAYESIAN_COMPONENTS, claim_coverage
    from proofs_checks.runner import select_claims

    coverage = claim_coverage(select_claims(claim_selection(args.claims)), profile)
    rows = [[c, ", ".join(coverage.claims_of(c)) or "NONE"] for c in BAYESIAN_COMPONENTS]
    print(text_table(["Bayesian component", "claims that exercise it"], rows))
    table = coverage.table()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = list(table[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in table]
    (out / "coverage.md").write_text("# Modules exercised by the claims\n\n" + "\n".join(lines) + "\n")
    by_claim = {claim_id: sorted(modules) for claim_id, modules in coverage.by_claim.items()}
    (out / "coverage.json").write_text(json.dumps({"by_claim": by_claim, "table": table}, indent=2))
    missing = coverage.uncovered_components()
    for claim_id, error in coverage.errors.items():
        print(f"{claim_id}: the check raised on its first instance: {error}")
    if missing:
        print(f"\nno claim exercises: {', '.join(missing)}")
    print(f"\ncoverage of every public module: {out / 'coverage.md'}")
    return 1 if missing else 0


def _print_json(document: object) -> int:
    """Print ``document`` as the only output on stdout; returns 0."""
    import json

    print(json.dumps(document, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` subcommand to the ``probtheory`` command line."""
    parser = add_command(
        subparsers,
        "check",
        help="numerically verify the theory claims and write a report",
        description="""Check the papers' theoretical claims numerically on the library's own objects:
        each claim is a property-based test (hypothesis) run on drawn instances, and each of its
        mutants (a planted bug) must be rejected. Writes OUT/report.html, report.md and
        results.json (verdicts, evidence rows, regimes drawn, coverage, versions). Exit status 0
        when every claim passes and rejects its mutants, 1 on a FAIL, 3 on an ERROR (a check
        raised), 2 on a user error.""",
        examples=[
            "probtheory check",
            "probtheory check --claims lipschitz ntk.convergence --profile thorough --out report",
            "probtheory check --list --json",
        ],
    )
    _add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m proofs_checks``."""
    parser = argparse.ArgumentParser(prog="python -m proofs_checks", description=__doc__)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    from probtheory.cli import run_command  # user errors: one line, exit status 2

    return run_command(args)
