"""The ``probtheory`` command line.

Subcommands are contributed by the installed packages through the ``probtheory.commands``
entry-point group (``check`` comes from :mod:`proofs_checks`), so probtheory itself imports
neither proofs_checks nor bo.

User errors have one path for every subcommand: a :class:`~probtheory.errors.ProbtheoryError`
(bad arguments or data, a refused checkpoint) or an ``OSError`` (a missing or unwritable
file) is printed as one line, ``probtheory: error: <message>``, on stderr, and the exit status
is 2, as for a malformed command line. ``probtheory --debug COMMAND ...`` shows the traceback
instead.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from typing import NoReturn

import probtheory
from probtheory.errors import ProbtheoryError

__all__ = ["USER_ERRORS", "build_parser", "main", "report_error", "run_command"]

#: The exceptions reported as a one-line user error (exit status 2) rather than a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ProbtheoryError, OSError)

_PREFIX = "probtheory: error:"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other user error."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 - argparse's hook
        self.exit(2, f"{_PREFIX} {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every installed subcommand."""
    parser = _Parser(prog="probtheory", description="Bayesian deep learning you can trust.")
    parser.add_argument("--version", action="version", version=f"probtheory {probtheory.__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, show the full traceback instead of one line"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(entry_points(group="probtheory.commands"), key=lambda e: e.name):
        entry.load()(subparsers)
    return parser


def report_error(error: BaseException, args: argparse.Namespace | None = None) -> int:
    """Print a user error as one line on stderr and return the exit status 2.

    Under ``--debug`` (``args.debug``) the error is raised again, with its traceback.
    """
    if args is not None and getattr(args, "debug", False):
        raise error
    message = " ".join(str(error).split()) or type(error).__name__  # one line, whatever the message
    print(f"{_PREFIX} {message}", file=sys.stderr)
    return 2


def run_command(args: argparse.Namespace) -> int:
    """Run the subcommand parsed into ``args`` (its ``func``); a user error gives exit status 2.

    The one error path of the command line, shared by the stand-alone entry points of the
    subcommands (``python -m proofs_checks``, ``python -m bo.cli``): :data:`USER_ERRORS` are
    reported by :func:`report_error`, anything else is a bug and keeps its traceback.
    """
    try:
        return args.func(args)
    except USER_ERRORS as error:
        return report_error(error, args)


def main(argv: list[str] | None = None) -> int:
    """Run ``probtheory [--debug] COMMAND ...``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help and --version exit 0; a malformed command line 2
        if not stop.code:
            raise
        return int(stop.code)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
