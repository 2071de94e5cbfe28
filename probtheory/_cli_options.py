"""The option styles every ``probtheory`` subcommand shares, so each one reads the same.

* A list-valued argument takes its items space- or comma-separated, in any mix:
  ``--claims a b``, ``--claims a,b`` and ``--claims a,b c`` all give ``["a", "b", "c"]``
  (:func:`add_list_argument`).
* A long-running command takes ``--no-progress``, which turns its tqdm bars off
  (:func:`add_no_progress_argument`).
* Every subcommand's ``--help`` opens with a paragraph saying what it does and ends with
  examples (:func:`add_command`).
* Every listing prints its table through :func:`text_table` (``tabulate``'s simple format).

This module imports nothing from probtheory, so the subcommands of every layer (``pfn``,
``lcpfn``, ``plugins``) and the packages built on probtheory (``bo``, ``proofs_checks``) use it.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["add_command", "add_list_argument", "add_no_progress_argument", "split_items", "text_table"]

#: Appended to the help of every list-valued argument.
LIST_HELP = "space- or comma-separated"


def split_items(text: str, item_type: Callable[[str], Any] = str) -> list[Any]:
    """The items of one command-line word, split on commas; empty pieces are dropped.

    Args:
        text: One word of the command line (``"a,b"``).
        item_type: Converts each piece (``float`` for quantile levels); a ``ValueError`` from it
            is argparse's ``invalid ... value`` error.
    """
    return [item_type(piece.strip()) for piece in text.split(",") if piece.strip()]


class _Items:
    """The ``type`` of a list argument: one word to its list of items (named like ``item_type``)."""

    def __init__(self, item_type: Callable[[str], Any]) -> None:
        self.item_type = item_type
        # argparse names the type in "invalid float value: ..." by its __name__
        self.__name__ = getattr(item_type, "__name__", repr(item_type))

    def __call__(self, text: str) -> list[Any]:
        return split_items(text, self.item_type)


class _Flatten(argparse.Action):
    """Store the words' items as one flat list (a repeated option replaces, as ``store`` does)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = [item for value in values for item in (value if isinstance(value, list) else [value])]
        setattr(namespace, self.dest, items)


def add_list_argument(
    parser: argparse.ArgumentParser,
    *flags: str,
    help: str,
    item_type: Callable[[str], Any] = str,
    nargs: str = "+",
    **kwargs: Any,
) -> argparse.Action:
    """Add a list-valued argument whose items are space- or comma-separated, in any mix.

    Args:
        parser: The subcommand's parser.
        *flags: The option strings (``"--claims"``) or a positional's name.
        help: What the items are; ``"(space- or comma-separated)"`` is appended.
        item_type: Converts each item (default ``str``).
        nargs: ``"+"`` (at least one word) or ``"*"`` (a positional that may be absent).
        **kwargs: Passed on to ``add_argument`` (``default``, ``metavar``, ``dest``).

    Returns:
        The argparse action.
    """
    return parser.add_argument(
        *flags,
        nargs=nargs,
        type=_Items(item_type),
        action=_Flatten,
        help=f"{help} ({LIST_HELP})",
        **kwargs,
    )


def add_no_progress_argument(
    parser: argparse.ArgumentParser, help: str = "do not draw progress bars"
) -> argparse.Action:
    """Add ``--no-progress`` (``args.no_progress``) to a long-running command."""
    return parser.add_argument("--no-progress", action="store_true", help=help)


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    help: str,  # noqa: A002 -- argparse's own name for it
    description: str,
    examples: Sequence[str],
) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` shows a description paragraph and examples.

    Args:
        subparsers: Where to add it.
        name: The subcommand's name.
        help: One line for the parent's list of commands.
        description: One paragraph (rewrapped to 78 columns).
        examples: Command lines, one per example.

    Returns:
        The subcommand's parser.
    """
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return subparsers.add_parser(
        name,
        help=help,
        description=textwrap.fill(" ".join(description.split()), 78),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns under a header and a rule: the one table style of every listing.

    Cells are printed as given (``str``), never reparsed as numbers, so ``"0.10"`` stays
    ``0.10`` and an id like ``1e3`` is not turned into ``1000``.
    """
    from tabulate import tabulate

    text_rows = [[str(cell) for cell in row] for row in rows]
    return tabulate(
        text_rows, headers=list(header), tablefmt="simple", disable_numparse=True, stralign="left"
    )
