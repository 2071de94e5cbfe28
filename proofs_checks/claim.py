"""The claim object: a theorem, its instances, its check, and the mutants it must reject.

A mutant is a deliberately broken subject (a wrong formula, parameterisation or
implementation); a check that cannot reject its mutants proves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis.strategies import SearchStrategy

from probtheory._checks import check_int
from probtheory.errors import InputDataError
from probtheory.papers import Paper
from proofs_checks.regimes import Regimes

__all__ = ["Claim", "Evidence", "Mutant"]


@dataclass(frozen=True)
class Evidence:
    """One measured quantity compared with what the theory says, and why the tolerance.

    ``margin`` is how far inside the allowed region the measurement lies (negative: outside).
    Build with :meth:`within`, :meth:`at_most`, :meth:`at_least` or :meth:`in_range`.
    """

    quantity: str
    measured: float
    reference: str
    margin: float
    tolerance: float
    tolerance_reason: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def passed(self) -> bool:
        """Whether the measurement satisfies the claim (NaN never does)."""
        return math.isfinite(self.measured) and self.margin >= 0

    @classmethod
    def within(
        cls,
        quantity: str,
        measured: float,
        expected: float,
        tolerance: float,
        reason: str,
        **details,
    ) -> Evidence:
        """``|measured - expected| <= tolerance``."""
        measured, expected = _number("measured", measured), _number("expected", expected)
        tolerance = _number("tolerance", tolerance, nonnegative=True)
        return cls(
            quantity, measured, f"{expected:.6g} ± {tolerance:.3g}",
            tolerance - abs(measured - expected), tolerance, reason, details,
        )  # fmt: skip

    @classmethod
    def at_most(
        cls,
        quantity: str,
        measured: float,
        bound: float,
        reason: str,
        tolerance: float = 0.0,
        **details,
    ) -> Evidence:
        """``measured <= bound + tolerance``."""
        measured, bound = _number("measured", measured), _number("bound", bound)
        tolerance = _number("tolerance", tolerance, nonnegative=True)
        return cls(
            quantity,
            measured,
            f"<= {bound:.6g}",
            bound + tolerance - measured,
            tolerance,
            reason,
            details,
        )

    @classmethod
    def at_least(
        cls,
        quantity: str,
        measured: float,
        bound: float,
        reason: str,
        tolerance: float = 0.0,
        **details,
    ) -> Evidence:
        """``measured >= bound - tolerance``."""
        measured, bound = _number("measured", measured), _number("bound", bound)
        tolerance = _number("tolerance", tolerance, nonnegative=True)
        return cls(
            quantity,
            measured,
            f">= {bound:.6g}",
            measured - bound + tolerance,
            tolerance,
            reason,
            details,
        )

    @classmethod
    def in_range(
        cls, quantity: str, measured: float, low: float, high: float, reason: str, **details
    ) -> Evidence:
        """``low <= measured <= high``."""
        measured = _number("measured", measured)
        low, high = _number("low", low), _number("high", high)
        if low > high:
            raise InputDataError("high", f"a number >= low ({low:g})", high)
        margin = min(measured - low, high - measured)
        return cls(quantity, measured, f"in [{low:.4g}, {high:.4g}]", margin, 0.0, reason, details)


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong subject that the claim's check must reject."""

    name: str
    description: str
    subject: Any


@dataclass(frozen=True)
class Claim:
    """A theoretical claim, checked numerically on instances drawn by hypothesis.

    Attributes:
        id: Stable identifier, e.g. ``"ntk.psd"``.
        title: One line.
        paper: The paper the claim comes from.
        statement: The claim in words.
        formula: The claim as a formula (plain text / LaTeX).
        strategy: Builds the hypothesis strategy that draws instances.
        check: ``check(instance, subject)`` returns the evidence for one instance.
        subject: What the claim is checked on (an implementation, a formula, a
            parameterisation); mutants substitute their own.
        mutants: Broken subjects the check must reject.
        examples: Number of instances per hypothesis profile.
        mutant_examples: Instances tried per mutant before it counts as not rejected.
        plot: Optional ``plot(records, axes)`` drawing the evidence of a run for the report.
        section: Where in the paper the claim is stated (``"Thm. 1"``, ``"Sec. 3, Eq. (12)"``);
            empty when the claim is the paper's headline result.
        related: Further papers the claim or its check relies on (a classical result the
            check uses, the method a bound is compared with).
        regimes: The cases the theorem distinguishes (activation families, parities, context
            sizes, dtypes) and which one an instance is in: every case is checked in every
            profile, and the report shows how many instances each got
            (:class:`~proofs_checks.regimes.Regimes`). None: the theorem draws no such line.
    """

    id: str
    title: str
    paper: Paper
    statement: str
    formula: str
    strategy: Callable[[], SearchStrategy]
    check: Callable[[Any, Any], Evidence | Sequence[Evidence]]
    subject: Any
    mutants: tuple[Mutant, ...]
    examples: dict[str, int] = field(default_factory=lambda: {"ci": 3, "thorough": 25})
    mutant_examples: int = 3
    plot: Callable[[list, Any], None] | None = None
    section: str = ""
    related: tuple[Paper, ...] = ()
    regimes: Regimes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InputDataError("id", "a non-empty string such as 'ntk.psd'", repr(self.id))
        for name in ("strategy", "check"):
            if isinstance(getattr(self, name), SearchStrategy) or not callable(getattr(self, name)):
                expected = {
                    "strategy": "a function returning the hypothesis strategy (lambda: st.floats())",
                    "check": "a function check(instance, subject) -> Evidence",
                }[name]
                raise InputDataError(name, expected, type(getattr(self, name)).__name__)
        if not isinstance(self.mutants, (tuple, list)) or not all(
            isinstance(m, Mutant) for m in self.mutants
        ):
            raise InputDataError("mutants", "a tuple of Mutant", repr(self.mutants)[:80])
        counts = self.examples
        if not isinstance(counts, dict) or "ci" not in counts:
            raise InputDataError(
                "examples", "a dict of instances per profile with a 'ci' entry", repr(counts)
            )
        for profile, count in counts.items():
            check_int(f"examples[{profile!r}]", count, minimum=1)
        check_int("mutant_examples", self.mutant_examples, minimum=1)
        if not isinstance(self.paper, Paper):
            raise InputDataError(
                "paper", "a probtheory.papers.Paper (title, authors, venue, year, url)", repr(self.paper)
            )
        if not all(isinstance(p, Paper) for p in self.related):
            raise InputDataError("related", "a tuple of probtheory.papers.Paper", repr(self.related))
        if self.regimes is not None and not isinstance(self.regimes, Regimes):
            raise InputDataError("regimes", "a proofs_checks.regimes.Regimes or None", repr(self.regimes))

    def citation(self) -> str:
        """The short citation shown in tables: ``"Jacot et al., NeurIPS 2018, Thm. 1"``."""
        return f"{self.paper.short()}, {self.section}" if self.section else self.paper.short()

    def evidence(self, instance: Any, subject: Any = None) -> list[Evidence]:
        """Run the check on one instance (on ``subject``, default the claim's own)."""
        result = self.check(instance, self.subject if subject is None else subject)
        return [result] if isinstance(result, Evidence) else list(result)


def _number(name: str, value: Any, *, nonnegative: bool = False) -> float:
    """A number of the evidence as a float.

    NaN is kept: a measurement, reference or tolerance that broke down (often a mutant's doing)
    makes the evidence fail rather than the run crash. What can only be a mistake in the call
    (not a number, a negative tolerance) raises.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        received = f"a tensor of shape {tuple(value.shape)}" if hasattr(value, "shape") else repr(value)
        raise InputDataError(name, "a number (a 1-element tensor is fine)", received) from None
    if nonnegative and number < 0:
        raise InputDataError(name, "a number >= 0", number)
    return number
