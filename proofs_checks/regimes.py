"""The regimes of a claim: the cases its theorem distinguishes, and which of them a run drew.

A theorem often covers cases that its formula or the implementation treat apart: activation
families whose kernels have different closed forms (or none: quadrature), the parity or the
number of layers a degree depends on, a context of one point or of the most the model takes,
float32 and float64. A claim that passes on instances of one case says nothing about the others,
so a claim declares them (:class:`Regimes`): a *facet* (``"activation"``) and its *cases*
(``"ReLU-type"``, ``"erf"``, ``"quadrature"``). The runner counts the instances of each case;
when the drawn instances leave a case with fewer than :attr:`Regimes.minimum`, it draws more with
the instance *pinned* to that case (:meth:`Regimes.pinned`), so that every profile, ``ci``
included, checks every case. The report shows the counts and flags a case never drawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from probtheory._checks import check_int
from probtheory.errors import InputDataError

__all__ = ["Regimes", "format_counts", "tally", "undrawn"]

#: facet -> case -> how many instances fell in it
Counts = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Regimes:
    """The cases a claim's theorem distinguishes, which case an instance is in, and how to pin one.

    Attributes:
        of: ``of(instance)`` -> ``{facet: case}``; a tuple of cases where one instance covers
            several (a check that runs float32 and float64 on every instance). Facets that
            ``cases`` does not declare are counted and shown, never required (the activation's
            name next to its declared family, say).
        cases: Facet -> case -> the instance fields that put an instance in that case (values,
            or hypothesis strategies drawing them), replaced in a drawn instance (a frozen
            dataclass) to pin it; ``None`` where the claim's strategy, filtered to the case,
            reaches it (a case every instance covers, or one drawn often).
        minimum: Instances of every case in every profile.
    """

    of: Callable[[Any], Mapping[str, str | tuple[str, ...]]]
    cases: Mapping[str, Mapping[str, Mapping[str, Any] | None]]
    minimum: int = field(default=1)

    def __post_init__(self) -> None:
        if not callable(self.of):
            raise InputDataError("of", "a function instance -> {facet: case}", type(self.of).__name__)
        if not isinstance(self.cases, Mapping) or not self.cases:
            expected = "a non-empty dict facet -> {case: fields or None}"
            raise InputDataError("cases", expected, repr(self.cases))
        for facet, cases in self.cases.items():
            if not isinstance(cases, Mapping) or not cases:
                raise InputDataError(f"cases[{facet!r}]", "a non-empty dict case -> fields or None", cases)
        check_int("minimum", self.minimum, minimum=1)

    def labels(self, instance: Any) -> dict[str, tuple[str, ...]]:
        """The cases ``instance`` is in, per facet (always tuples)."""
        found = self.of(instance)
        return {facet: (value,) if isinstance(value, str) else tuple(value) for facet, value in found.items()}

    def pinned(self, strategy: SearchStrategy, facet: str, case: str) -> SearchStrategy:
        """``strategy`` drawing only instances of ``case``: its fields replaced, or filtered to it."""
        fields = self.cases[facet][case]
        if fields is None:
            return strategy.filter(lambda instance: case in self.labels(instance).get(facet, ()))
        values = {name: v if isinstance(v, SearchStrategy) else st.just(v) for name, v in fields.items()}
        return strategy.flatmap(
            lambda instance: st.fixed_dictionaries(values).map(
                lambda drawn: dataclasses.replace(instance, **drawn)
            )
        )

    def shortfall(self, counts: Counts) -> list[tuple[str, str, int]]:
        """``(facet, case, missing)`` for every declared case drawn fewer than ``minimum`` times."""
        return [
            (facet, case, self.minimum - counts.get(facet, {}).get(case, 0))
            for facet, cases in self.cases.items()
            for case in cases
            if counts.get(facet, {}).get(case, 0) < self.minimum
        ]


def tally(regimes: Regimes, labels: list[dict[str, tuple[str, ...]]]) -> Counts:
    """Instances per case: the declared cases first, in order (0 if never drawn), then any other."""
    counts: Counts = {facet: dict.fromkeys(cases, 0) for facet, cases in regimes.cases.items()}
    for instance_labels in labels:
        for facet, cases in instance_labels.items():
            for case in cases:
                counts.setdefault(facet, {})
                counts[facet][case] = counts[facet].get(case, 0) + 1
    return counts


def undrawn(regimes: Regimes | None, counts: Counts) -> list[str]:
    """The declared cases no instance fell in, as ``"facet = case"``."""
    if regimes is None:
        return []
    return [
        f"{facet} = {case}"
        for facet, cases in regimes.cases.items()
        for case in cases
        if not counts.get(facet, {}).get(case, 0)
    ]


def format_counts(counts: Counts) -> str:
    """``"activation: ReLU-type 2, erf 1, quadrature 0; dtype: float32 3, float64 3"``."""
    return "; ".join(
        f"{facet}: " + ", ".join(f"{case} {count}" for case, count in cases.items())
        for facet, cases in counts.items()
    )
