"""The publications probtheory's components, plug-ins and theory claims come from.

A :class:`Paper` is the one bibliographic record of the project: the plug-in registry
(:mod:`probtheory.plugins`) and the theory claims (:mod:`proofs_checks`) cite papers with it,
so that ``probtheory list``, ``probtheory check`` and the claim report show the same short
citation (:meth:`Paper.short`) for the same paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from probtheory._checks import check_int
from probtheory.errors import InputDataError

__all__ = ["CONFERENCES", "Paper"]

#: Venues cited as ``@inproceedings`` by :meth:`Paper.bibtex` (journals are ``@article``,
#: preprints ``@misc``).
CONFERENCES = frozenset(
    "AAAI AISTATS COLT CVPR ECCV ICCV ICLR ICML IJCAI NeurIPS NIPS UAI KDD ACL EMNLP".split()
)


@dataclass(frozen=True)
class Paper:
    """A publication.

    Attributes:
        title: The paper's title.
        authors: Author names in the paper's order.
        venue: Where it appeared (``"ICLR"``, ``"IEEE TNNLS"``, ``"arXiv preprint"``, ...).
        year: Year of that appearance.
        url: A stable link (arXiv abstract, proceedings page, DOI or OpenReview).
        arxiv: The arXiv identifier, when there is one.
        first_surname: The first author's surname when it is not the last word of the name
            (``"Gonzalez Ortiz"``).
    """

    title: str
    authors: tuple[str, ...]
    venue: str
    year: int
    url: str
    arxiv: str | None = None
    first_surname: str | None = None

    def __post_init__(self) -> None:
        for name in ("title", "venue", "url"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InputDataError(name, "a non-empty string", repr(getattr(self, name)))
        authors = self.authors
        if isinstance(authors, str) or not isinstance(authors, (tuple, list)) or not authors:
            expected = "a tuple of author names (one name: ('Ada Lovelace',))"
            raise InputDataError("authors", expected, repr(authors))
        if not all(isinstance(a, str) and a.strip() for a in authors):
            raise InputDataError("authors", "non-empty author names", repr(authors))
        check_int("year", self.year, minimum=1000)

    def _surnames(self) -> list[str]:
        surnames = [author.split()[-1] for author in self.authors]
        if self.first_surname:
            surnames[0] = self.first_surname
        return surnames

    def short(self) -> str:
        """``"Zhuo et al., ICLR 2025"``: first author's surname, venue and year."""
        surnames = self._surnames()
        lead = f"{surnames[0]} et al." if len(surnames) > 2 else " & ".join(surnames)
        return f"{lead}, {self.venue} {self.year}"

    def cite(self) -> str:
        """The full citation: ``"Jacot, Gabriel & Hongler, Neural Tangent Kernel: ..., NeurIPS 2018"``."""
        surnames = self._surnames()
        names = surnames[0] if len(surnames) == 1 else ", ".join(surnames[:-1]) + " & " + surnames[-1]
        return f"{names}, {self.title}, {self.venue} {self.year}"

    def key(self) -> str:
        """A BibTeX key: first author's surname, year, first word of the title (``jacot2018neural``)."""
        surname = re.sub(r"[^a-z]", "", self._surnames()[0].lower())
        words = [w for w in re.findall(r"[a-z0-9]+", self.title.lower()) if w not in {"a", "an", "the", "on"}]
        return f"{surname}{self.year}{words[0] if words else ''}"

    def bibtex(self) -> str:
        """The BibTeX entry: ``@inproceedings`` (conference), ``@misc`` (preprint), else ``@article``."""
        fields = {
            "title": "{" + self.title + "}",
            "author": " and ".join(self.authors),
            "year": str(self.year),
        }
        if self.venue.split()[0] in CONFERENCES:
            kind, fields["booktitle"] = "inproceedings", self.venue
        elif "arxiv" in self.venue.lower() or "preprint" in self.venue.lower():
            kind, fields["howpublished"] = "misc", self.venue
        else:
            kind, fields["journal"] = "article", self.venue
        if self.arxiv:
            fields["eprint"], fields["archiveprefix"] = self.arxiv, "arXiv"
        fields["url"] = self.url
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items())
        return f"@{kind}{{{self.key()},\n{body}\n}}"

    def __str__(self) -> str:
        return self.cite()
