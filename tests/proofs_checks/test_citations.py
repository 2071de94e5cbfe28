"""`probtheory cite`: each paper once, for methods, claims, claim families and pretrained models."""

from __future__ import annotations

import re

import pytest

from probtheory.cli import main
from probtheory.errors import UnknownNameError
from probtheory.papers import Paper
from probtheory.plugins import get_method
from proofs_checks.citations import papers_for
from proofs_checks.registry import claims


def test_a_method_cites_its_paper():
    assert papers_for("sltt") == [get_method("sltt").paper]


def test_a_claim_cites_its_paper_and_the_papers_it_relies_on():
    claim = next(c for c in claims() if c.related)
    assert papers_for(claim.id) == list(dict.fromkeys([claim.paper, *claim.related]))


def test_a_claim_family_prefix_cites_every_claim_under_it_once():
    family = [c for c in claims() if c.id.startswith("lipschitz.")]
    expected = list(dict.fromkeys(p for c in family for p in (c.paper, *c.related)))
    assert papers_for("lipschitz") == expected


def test_the_lcpfn_model_cites_both_pfn_papers():
    assert len(papers_for("lcpfn")) == 2


def test_an_unknown_name_is_refused_with_suggestions(capsys):
    with pytest.raises(UnknownNameError, match="NAME"):
        papers_for("sltx")
    assert main(["cite", "sltx"]) == 2
    assert "sltt" in capsys.readouterr().err


def test_bibtex_entry_types_and_fields():
    conference = Paper(
        "Neural Tangent Kernel: Convergence", ("Arthur Jacot", "Franck Gabriel"), "NeurIPS", 2018, "u"
    )
    journal = Paper("On Things", ("Ada Lovelace",), "IEEE TNNLS", 2023, "u", arxiv="2101.00001")
    preprint = Paper("A Study", ("Ada Lovelace",), "arXiv preprint", 2024, "u")
    assert conference.bibtex().startswith("@inproceedings{jacot2018neural,")
    assert "booktitle = {NeurIPS}" in conference.bibtex()
    assert (
        journal.bibtex().startswith("@article{lovelace2023things,")
        and "eprint = {2101.00001}" in journal.bibtex()
    )
    assert preprint.bibtex().startswith("@misc{lovelace2024study,")
    assert re.search(r"author = \{Arthur Jacot and Franck Gabriel\}", conference.bibtex())


def test_cite_prints_bibtex(capsys):
    assert main(["cite", "prose", "sltt"]) == 0
    out = capsys.readouterr().out
    assert out.count("@") == 2 and "meng2023towards" in out
