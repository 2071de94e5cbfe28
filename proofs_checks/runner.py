"""Running claims: verdicts on the claim's own subject and on each mutant.

A verdict is ``PASS`` (every instance satisfied the claim), ``FAIL`` (an instance violated it:
the evidence says how) or ``ERROR`` (the check raised an exception: the instance and the
exception are kept, and the run goes on with the other claims). A mutant counts as rejected only
on ``FAIL``: a check that crashes on a mutant has not shown that it tells it apart.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from hypothesis.strategies import SearchStrategy
from tqdm.auto import tqdm

from probtheory._checks import check_int
from probtheory.errors import InputDataError
from proofs_checks.call_tracing import ModuleRecorder
from proofs_checks.claim import Claim, Evidence
from proofs_checks.profiles import check_profile, hypothesis_profile, register_profiles
from proofs_checks.regimes import tally
from proofs_checks.registry import claims, lookup

if sys.version_info < (3, 11):  # pragma: no cover - the backport hypothesis depends on
    from exceptiongroup import BaseExceptionGroup

__all__ = ["ClaimError", "ClaimReport", "ClaimViolation", "Verdict", "run", "verify"]

#: The verdicts, best first.
STATUSES = ("PASS", "FAIL", "ERROR")


class ClaimViolation(AssertionError):
    """Raised inside the hypothesis test when an instance's evidence fails."""

    def __init__(self, instance: Any, failed: list[Evidence]) -> None:
        self.instance = instance
        self.failed = failed
        lines = [
            f"  {e.quantity}: measured {e.measured:.6g}, expected {e.reference} "
            f"(margin {e.margin:.3g}; tolerance: {e.tolerance_reason})"
            for e in failed
        ]
        super().__init__(f"claim violated on instance {instance!r}:\n" + "\n".join(lines))


@dataclass(frozen=True)
class ClaimError:
    """An exception raised while checking a claim: the instance it was raised on, and what it was.

    Attributes:
        instance: The instance being checked (None if the exception came before any instance,
            e.g. from the strategy).
        exception: The exception.
    """

    instance: Any
    exception: BaseException

    def __str__(self) -> str:
        where = f"on instance {self.instance!r}" if self.instance is not None else "before any instance"
        # the last frames and the exception's own line; hypothesis's notes (the failing example,
        # already named above) would push them out of the tail
        summary = traceback.TracebackException.from_exception(self.exception)
        summary.__notes__ = None
        trace = "".join(list(summary.format())[-6:])
        return f"the check raised {type(self.exception).__name__} {where}:\n{trace}".rstrip()


@dataclass
class Verdict:
    """Outcome of checking one subject (the claim's own or a mutant) on drawn instances.

    ``regimes`` counts the instances per case of the claim's regimes (facet -> case -> count;
    empty when it declares none); ``modules`` names the probtheory and bo modules that ran on the
    first instance, when :func:`verify` was asked to trace them.
    """

    claim_id: str
    subject: str
    passed: bool
    records: list[tuple[Any, list[Evidence]]] = field(default_factory=list)
    failure: ClaimViolation | None = None
    seconds: float = 0.0
    error: ClaimError | None = None
    regimes: dict[str, dict[str, int]] = field(default_factory=dict)
    modules: frozenset[str] | None = None

    @property
    def examples(self) -> int:
        """Number of instances checked."""
        return len(self.records)

    @property
    def status(self) -> str:
        """``"PASS"``, ``"FAIL"`` (an instance violated the claim) or ``"ERROR"`` (the check raised)."""
        if self.error is not None:
            return "ERROR"
        return "PASS" if self.passed else "FAIL"


@dataclass
class ClaimReport:
    """A claim's verdict and the verdicts on its mutants."""

    claim: Claim
    verdict: Verdict
    mutants: list[Verdict]

    @property
    def mutants_rejected(self) -> int:
        """How many mutants the check rejected (an ``ERROR`` on a mutant is not a rejection)."""
        return sum(m.status == "FAIL" for m in self.mutants)

    @property
    def ok(self) -> bool:
        """The claim holds and every mutant was rejected."""
        return self.verdict.status == "PASS" and self.mutants_rejected == len(self.mutants)

    @property
    def errored(self) -> bool:
        """The check raised on the claim's own subject or on a mutant."""
        return self.verdict.status == "ERROR" or any(m.status == "ERROR" for m in self.mutants)


def verify(
    claim: Claim | str,
    subject: Any = None,
    *,
    profile: str = "ci",
    max_examples: int | None = None,
    label: str = "reference",
    cover_regimes: bool = True,
    trace_modules: bool = False,
) -> Verdict:
    """Check a claim on instances drawn by its strategy.

    When the claim declares :class:`~proofs_checks.regimes.Regimes`, every case of them is checked:
    the cases that the drawn instances leave with fewer than ``regimes.minimum`` get more
    instances, pinned to the case, after the drawn ones (the verdict's ``examples`` counts them).

    Args:
        claim: The claim or its id.
        subject: What to check (default: the claim's own subject).
        profile: ``"ci"`` or ``"thorough"``.
        max_examples: Override the claim's number of instances for this profile.
        label: Name of the subject in the verdict.
        cover_regimes: Draw the pinned instances of the cases the drawn ones missed.
        trace_modules: Record which probtheory and bo modules run while the strategy is built
            and the first instance drawn and checked (``Verdict.modules``).

    Returns:
        The verdict; ``passed`` is False with the failing instance's evidence in ``failure``
        if any instance violated the claim, or with the instance and the exception in ``error``
        if the check raised (status ``"ERROR"``).

    Raises:
        UnknownNameError: For an unknown claim id or profile (also a ``KeyError``).
        InputDataError: If ``claim`` is neither a :class:`Claim` nor an id, or ``max_examples``
            is not a positive integer.
    """
    claim = _resolve(claim, "claim")
    profile = check_profile(profile)
    if max_examples is not None:
        max_examples = check_int("max_examples", max_examples, minimum=1)
    register_profiles()
    subject = claim.subject if subject is None else subject
    verdict = Verdict(claim.id, label, passed=True)
    examples = max_examples or claim.examples.get(profile, claim.examples["ci"])
    recorder = ModuleRecorder() if trace_modules else None
    checker = _InstanceChecker(claim, subject, profile, verdict, recorder)

    start = time.perf_counter()
    try:
        if recorder is not None:
            recorder.start()  # stopped after the first instance
        strategy = claim.strategy()
        checker.check(strategy, examples)
        regimes = claim.regimes
        if cover_regimes and regimes is not None:
            for facet, case, _ in regimes.shortfall(tally(regimes, checker.labels)):
                missing = regimes.minimum - tally(regimes, checker.labels)[facet][case]  # pins overlap
                if verdict.passed and missing > 0:
                    checker.check(regimes.pinned(strategy, facet, case), missing, pinned=True)
    finally:
        if recorder is not None:
            recorder.stop()
            verdict.modules = frozenset(recorder.modules)
    verdict.regimes = tally(claim.regimes, checker.labels) if claim.regimes is not None else {}
    verdict.seconds = time.perf_counter() - start
    return verdict


class _InstanceChecker:
    """Draws instances of a claim, checks them, and keeps the outcome in one verdict."""

    def __init__(
        self, claim: Claim, subject: Any, profile: str, verdict: Verdict, recorder: ModuleRecorder | None
    ) -> None:
        self.claim, self.subject, self.profile, self.verdict = claim, subject, profile, verdict
        self.recorder = recorder
        self.labels: list[dict[str, tuple[str, ...]]] = []  # each checked instance's regime cases

    def check(self, strategy: SearchStrategy, examples: int, *, pinned: bool = False) -> None:
        """Check ``examples`` instances of ``strategy``; a violation or an exception ends the run.

        A pinned strategy that cannot reach its case (hypothesis finds no instance) leaves the
        case undrawn, which the report flags, rather than making the verdict an ERROR.
        """
        claim, verdict = self.claim, self.verdict
        current: list[Any] = [None]  # the instance being checked, for an ERROR verdict

        @settings(settings.get_profile(hypothesis_profile(self.profile)), max_examples=examples)
        @given(strategy)
        def check_instance(instance: Any) -> None:
            current[0] = instance
            try:
                evidence = claim.evidence(instance, self.subject)
                if claim.regimes is not None:
                    self.labels.append(claim.regimes.labels(instance))
            finally:
                if self.recorder is not None:  # the coverage table traces the first instance only
                    self.recorder.stop()
            verdict.records.append((instance, evidence))
            failed = [e for e in evidence if not e.passed]
            if failed:
                raise ClaimViolation(instance, failed)

        try:
            check_instance()
        except ClaimViolation as violation:
            verdict.passed = False
            verdict.failure = violation
        except (Unsatisfiable, FailedHealthCheck):  # hypothesis found (almost) no instance
            if not pinned:
                raise
        except Exception as raised:  # noqa: BLE001 - any exception of a check is reported, not raised
            violation, other = _split(raised)
            verdict.passed = False
            verdict.failure = violation
            if other is not None:
                verdict.error = ClaimError(current[0], other)


def run(
    ids: str | Sequence[str | Claim] | None = None,
    profile: str = "ci",
    *,
    mutants: bool = True,
    progress: bool = True,
) -> list[ClaimReport]:
    """Check claims (default: all) and, unless ``mutants=False``, that each mutant is rejected.

    Args:
        ids: A claim id, or a list of claim ids (or :class:`Claim` objects) to run; default:
            every registered claim. A claim named twice runs once.
        profile: ``"ci"`` or ``"thorough"``.
        mutants: Also run every mutant.
        progress: Show a progress bar.

    Returns:
        One :class:`ClaimReport` per claim, in the order asked for (registry order by default).

    Raises:
        UnknownNameError: For an unknown claim id (naming ``ids``; also a ``KeyError``) or
            profile, before any claim runs.
        InputDataError: If ``ids`` is an empty list or not a list of ids.
    """
    profile = check_profile(profile)
    selected = select_claims(ids)
    jobs: list[tuple[Claim, Any]] = []
    for claim in selected:
        jobs.append((claim, None))
        if mutants:
            jobs.extend((claim, m) for m in claim.mutants)
    reports: dict[str, ClaimReport] = {}
    bar: Iterable = tqdm(jobs, desc="claims", disable=not progress, unit="check")
    for claim, mutant in bar:
        if progress:
            bar.set_postfix_str(claim.id if mutant is None else f"{claim.id} / {mutant.name}")
        if mutant is None:
            verdict = verify(claim, profile=profile, trace_modules=True)
            reports[claim.id] = ClaimReport(claim, verdict, [])
        else:
            verdict = verify(
                claim, mutant.subject, profile=profile, max_examples=claim.mutant_examples,
                label=mutant.name,
            )  # fmt: skip
            reports[claim.id].mutants.append(verdict)
    return list(reports.values())


def _split(raised: Exception) -> tuple[ClaimViolation | None, Exception | None]:
    """The violation and the other exception in what hypothesis raised.

    Hypothesis raises an exception group when it found several distinct failures.
    """
    if isinstance(raised, ClaimViolation):
        return raised, None
    if isinstance(raised, BaseExceptionGroup):
        violations, others = raised.split(ClaimViolation)
        violation = violations.exceptions[0] if violations is not None else None
        return violation, (None if others is None else others.exceptions[0])
    return None, raised


def _resolve(claim: Claim | str, argument: str) -> Claim:
    if isinstance(claim, Claim):
        return claim
    if isinstance(claim, str):
        return lookup(claim, argument=argument)
    raise InputDataError(argument, "a Claim or a claim id", type(claim).__name__)


def select_claims(ids: str | Sequence[str | Claim] | None) -> list[Claim]:
    """The claims named by ``ids`` (as :func:`run` takes them), each once, in the order given."""
    if ids is None:
        return claims()
    if isinstance(ids, (str, Claim)):
        ids = [ids]
    elif not isinstance(ids, Iterable):
        expected = "a claim id, a list of claim ids, or None (every claim)"
        raise InputDataError("ids", expected, type(ids).__name__)
    selected = [_resolve(item, "ids") for item in ids]
    if not selected:
        raise InputDataError("ids", "at least one claim id (None runs every claim)", "an empty list")
    return list({claim.id: claim for claim in selected}.values())
