"""The ``probtheory`` command line.

Subcommands are contributed by the installed packages through the ``probtheory.commands``
entry-point group (``check`` comes from :mod:`proofs_checks`), so probtheory itself imports
neither proofs_checks nor bo.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

import probtheory

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every installed subcommand."""
    parser = argparse.ArgumentParser(prog="probtheory", description="Bayesian deep learning you can trust.")
    parser.add_argument("--version", action="version", version=f"probtheory {probtheory.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(entry_points(group="probtheory.commands"), key=lambda e: e.name):
        entry.load()(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``probtheory COMMAND ...``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
