"""``probtheory cite NAME``: BibTeX for any plug-in method, theory claim or pretrained model.

Every paper the project builds on has one :class:`probtheory.papers.Paper` record: the plug-in
registry cites each method's paper, each claim cites its paper and the papers its check relies
on, and the pretrained models cite the PFN papers. This command looks a name up in all three and
prints the entries (each paper once), so a user can cite exactly what they ran.
"""

from __future__ import annotations

import argparse
import json

from probtheory._cli_options import add_command, add_list_argument
from probtheory.papers import Paper

__all__ = ["papers_for", "register"]


def _model_papers() -> dict[str, tuple[Paper, ...]]:
    from probtheory.pfn import pretrained_names
    from proofs_checks.catalog.bibliography import ADRIAENSEN_LCPFN_2023, MULLER_PFN_2022

    return {
        name: (MULLER_PFN_2022, ADRIAENSEN_LCPFN_2023) if name == "lcpfn" else (MULLER_PFN_2022,)
        for name in pretrained_names()
    }


def papers_for(name: str) -> list[Paper]:
    """The papers to cite for a method name, a claim id or a pretrained model's name.

    A claim id prefix (``"lipschitz"``) gives the papers of every claim under it.

    Raises:
        UnknownNameError: If ``name`` is none of them (listing the closest names).
    """
    from probtheory._checks import check_name
    from probtheory.plugins.registry import methods
    from proofs_checks.registry import claims

    found: list[Paper] = []
    by_method = {e.name: (e.paper,) for e in methods()}
    by_claim = {c.id: (c.paper, *c.related) for c in claims()}
    models = _model_papers()
    for table in (by_method, models, by_claim):
        if name in table:
            found += table[name]
    if not found:
        under = [papers for claim_id, papers in by_claim.items() if claim_id.startswith(f"{name}.")]
        found = [paper for papers in under for paper in papers]
    if not found:
        check_name("NAME", name, [*by_method, *models, *by_claim], meaning="a method, claim or model")
    return list(dict.fromkeys(found))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cite`` subcommand to the ``probtheory`` command line."""
    parser = add_command(
        subparsers,
        "cite",
        help="BibTeX of the papers behind a method, claim or pretrained model",
        description="""Print the BibTeX entries of the papers behind plug-in methods (`probtheory
        list`), theory claims or claim families (`probtheory check --list`; 'lipschitz' gives
        every lipschitz.* claim) and pretrained models (`probtheory pfn list`), each paper once.""",
        examples=["probtheory cite sltt ntk.convergence", "probtheory cite lipschitz --json"],
    )
    add_list_argument(
        parser, "names", metavar="NAME", help="method names, claim ids or prefixes, model names"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout and nothing else"
    )
    parser.set_defaults(func=_cite)


def _cite(args: argparse.Namespace) -> int:
    papers = list(dict.fromkeys(paper for name in args.names for paper in papers_for(name)))
    if args.json:
        records = [{"key": p.key(), "citation": p.cite(), "url": p.url, "bibtex": p.bibtex()} for p in papers]
        print(json.dumps(records, indent=2))
    else:
        print("\n\n".join(p.bibtex() for p in papers))
    return 0
