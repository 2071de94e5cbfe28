"""``probtheory check`` / ``python -m proofs_checks``: run the claims and write the report."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "register"]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("ci", "thorough"), default=None,
                        help="hypothesis profile (default: $HYPOTHESIS_PROFILE or ci)")  # fmt: skip
    parser.add_argument("--claims", nargs="+", metavar="ID", help="claim ids to run (default: all)")
    parser.add_argument("--out", default="probtheory-report", help="report folder")
    parser.add_argument("--no-mutants", action="store_true", help="skip the mutant runs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from proofs_checks.profiles import active_profile
    from proofs_checks.registry import claims
    from proofs_checks.report import summary_rows, write_report
    from proofs_checks.runner import run

    if args.list:
        for c in claims():
            print(f"{c.id:24s} {c.title}  [{len(c.mutants)} mutants]")
        return 0
    profile = args.profile or active_profile()
    try:
        reports = run(args.claims, profile, mutants=not args.no_mutants, progress=not args.no_progress)
    except KeyError as err:
        print(f"probtheory check: {err.args[0]}", file=sys.stderr)
        return 2
    page = write_report(reports, args.out, profile)
    rows = summary_rows(reports)
    width = max(len(r["claim"]) for r in rows)
    print(f"\n{'claim':{width}s}  verdict  examples  mutants rejected  seconds")
    for r in rows:
        print(
            f"{r['claim']:{width}s}  {r['verdict']:7s}  {r['examples']:8d}  "
            f"{r['mutants_rejected']:>16s}  {r['seconds']:7.1f}"
        )
    print(f"\nreport: {page}  (and report.md, results.json)")
    return 0 if all(r["ok"] for r in rows) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` subcommand to the ``probtheory`` command line."""
    parser = subparsers.add_parser("check", help="numerically verify the theory claims and write a report")
    _add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m proofs_checks``."""
    parser = argparse.ArgumentParser(prog="python -m proofs_checks", description=__doc__)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)
