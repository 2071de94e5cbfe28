"""``probtheory list`` and ``probtheory reproduce``: the plug-in registry on the command line.

``probtheory list [--kind K] [--status S]`` prints every registered method with its paper, kind
and status. ``probtheory reproduce NAME... | --all [--quick] [--seed N] [--out DIR]`` runs
reproductions, prints a table of each method's metric against its baseline, and writes
``DIR/NAME.json`` after each method (so an interrupted ``--all`` keeps what finished),
``DIR/results.json`` with all of them, and each method's figure ``DIR/NAME.png``.

Each subcommand has its own ``register`` function, one per ``probtheory.commands`` entry point.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from probtheory._cli_options import add_command, add_list_argument, add_no_progress_argument, text_table

__all__ = ["register_list", "register_reproduce"]


_JSON_HELP = "print one JSON document on stdout and nothing else"


def register_list(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``list`` subcommand to the ``probtheory`` command line."""
    from probtheory.plugins.entry import KINDS, STATUSES

    parser = add_command(
        subparsers,
        "list",
        help="plug-in methods from papers: paper, kind, status",
        description="""List the plug-in methods of the registry: each method's name (as `probtheory
        reproduce` and `probtheory cite` take it), kind, whether it is implemented, and its paper.""",
        examples=["probtheory list", "probtheory list --kind learning-rule --json"],
    )
    parser.add_argument("--kind", choices=KINDS, help="only methods of this kind")
    parser.add_argument("--status", choices=STATUSES, help="only implemented or only planned methods")
    parser.add_argument("--json", action="store_true", help=_JSON_HELP)
    parser.set_defaults(func=_list)


def register_reproduce(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``reproduce`` subcommand to the ``probtheory`` command line."""
    parser = add_command(
        subparsers,
        "reproduce",
        help="run plug-in methods' small reproductions against their baselines",
        description="""Run each named method's small reproduction of its paper's main experiment
        next to the paper's baseline, on the same data and seed, and write one JSON result (and
        figures where the method has them) per method to OUT, with a verdict against the
        method's bar.""",
        examples=["probtheory reproduce sltt --quick", "probtheory reproduce --all --quick --json"],
    )
    add_list_argument(
        parser, "names", nargs="*", metavar="NAME", help="registered method names (see `probtheory list`)"
    )
    parser.add_argument("--all", action="store_true", help="every implemented method")
    parser.add_argument("--quick", action="store_true", help="reduced budget: one seed, about a minute each")
    parser.add_argument("--seed", type=int, default=0, help="seed of data split, initialisation and batches")
    parser.add_argument(
        "--out", default="reproductions", help="folder for JSON results and figures (default reproductions)"
    )
    parser.add_argument("--json", action="store_true", help=_JSON_HELP)
    # the reproductions draw no bars: their progress is the line printed before each method
    add_no_progress_argument(parser, help="do not print the line announcing each method")
    parser.set_defaults(func=_reproduce)


def _list(args: argparse.Namespace) -> int:
    from probtheory.plugins.registry import methods

    entries = methods(kind=args.kind, status=args.status)
    if args.json:
        listing = [
            {
                "name": e.name,
                "kind": e.kind,
                "status": e.status,
                "paper": e.paper.cite(),
                "url": e.paper.url,
                "summary": e.summary,
            }
            for e in entries
        ]
        print(json.dumps(listing, indent=2))
        return 0
    rows = [[e.name, e.kind, e.status, e.paper.short(), _shorten(e.paper.title, 60)] for e in entries]
    print(text_table(["method", "kind", "status", "paper", "title"], rows))
    implemented = sum(e.status == "implemented" for e in entries)
    print(
        f"\n{len(entries)} methods, {implemented} implemented; `probtheory reproduce NAME --quick` runs one."
    )
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    # refusals are raised: probtheory.cli reports them in the command line's one format (exit 2)
    from probtheory.errors import InputDataError, UnsupportedError
    from probtheory.plugins.registry import get_method, methods

    if args.all == bool(args.names):
        raise InputDataError("NAME", "method names or --all (not both)", " ".join(args.names) or "neither")
    entries = methods(status="implemented") if args.all else [get_method(n) for n in args.names]
    requested_planned = [e.name for e in entries if e.status != "implemented"]
    if requested_planned:
        planned = ", ".join(requested_planned)
        raise UnsupportedError("NAME", "implemented methods", f"not implemented yet (planned): {planned}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for entry in entries:
        if not (args.json or args.no_progress):
            print(
                f"reproducing {entry.name} ({'quick' if args.quick else 'full'}, seed {args.seed}) ...",
                flush=True,
            )
        result = entry.reproduce(quick=args.quick, seed=args.seed, out_dir=out)
        (out / f"{entry.name}.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        results.append(result)
    (out / "results.json").write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    rows = [
        [
            r.method,
            r.metric,
            f"{r.value:.4f}",
            r.baseline,
            f"{r.baseline_value:.4f}",
            f"{r.improvement:+.4f}",
            f"{r.seconds:.0f}",
        ]
        for r in results
    ]
    print(text_table(["method", "metric", "value", "baseline", "baseline value", "gain", "seconds"], rows))
    for r in results:
        print(f"\n{r.method}: {r.verdict}")
    planned = [e.name for e in methods(status="planned")]
    if args.all and planned:
        print(f"\nno reproduction yet (planned): {', '.join(planned)}")
    print(f"\nresults: {out / 'results.json'}")
    return 0


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."
