"""Which library modules each claim exercises: the coverage table of ``probtheory check --coverage``.

A claim *exercises* a module when code of that module runs while the claim is checked on one
instance (its strategy's first example under the profile): the calls are recorded with
:func:`sys.setprofile`, so a module counts only if the check really reaches it, not because
the claim imports it.

The Bayesian components (:data:`BAYESIAN_COMPONENTS`) must each be exercised by at least one
claim: ``probtheory check --coverage`` fails otherwise.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from proofs_checks.claim import Claim
from proofs_checks.registry import claims as all_claims
from proofs_checks.runner import verify

__all__ = ["BAYESIAN_COMPONENTS", "ClaimCoverage", "claim_coverage", "public_modules"]

#: Packages (or modules) holding the Bayesian components; each needs at least one claim.
BAYESIAN_COMPONENTS: tuple[str, ...] = (
    "probtheory.kernels",
    "probtheory.pfn",
    "probtheory.lcpfn",
    "probtheory.gp",
    "probtheory.processes",
    "probtheory.energy",
    "probtheory.recurrent",
    "probtheory.bounds",
    "bo.posteriors",
)
_TRACKED = ("probtheory", "bo")


def public_modules(packages: Sequence[str] = _TRACKED) -> list[str]:
    """Every public module of the given packages (no ``_private`` part, no ``cli`` / ``__main__``)."""
    found = []
    for name in packages:
        package = importlib.import_module(name)
        found.append(name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            parts = info.name.split(".")
            if any(part.startswith("_") for part in parts) or parts[-1] in ("cli", "__main__"):
                continue
            found.append(info.name)
    return sorted(found)


class _ModuleRecorder:
    """Records the modules (of the tracked packages) whose Python functions are called."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.prefixes = tuple(prefixes)
        self.modules: set[str] = set()
        self._seen_codes: set[int] = set()

    def __call__(self, frame, event, arg) -> None:
        if event != "call":
            return
        code = id(frame.f_code)
        if code in self._seen_codes:
            return
        self._seen_codes.add(code)
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] in self.prefixes:
            self.modules.add(module)

    def __enter__(self) -> _ModuleRecorder:
        self._previous = sys.getprofile()
        sys.setprofile(self)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(self._previous)


@dataclass(frozen=True)
class ClaimCoverage:
    """The modules each claim exercised, and the inverse map.

    Attributes:
        by_claim: Claim id -> the library modules that ran while it was checked.
        errors: Claim id -> the error, for claims whose check raised on the instance.
    """

    by_claim: dict[str, frozenset[str]]
    errors: dict[str, str]

    def claims_of(self, module: str) -> list[str]:
        """The claims that exercise ``module`` or a module below it (a package)."""
        return sorted(
            claim
            for claim, modules in self.by_claim.items()
            if any(m == module or m.startswith(module + ".") for m in modules)
        )

    def uncovered_components(self) -> list[str]:
        """The Bayesian components that no claim exercises."""
        return [component for component in BAYESIAN_COMPONENTS if not self.claims_of(component)]

    def table(self) -> list[dict[str, str]]:
        """One row per public module of probtheory and bo: its claims, and whether it is Bayesian."""
        rows = []
        for module in public_modules():
            covered = self.claims_of(module)
            bayesian = any(module == c or module.startswith(c + ".") for c in BAYESIAN_COMPONENTS)
            rows.append(
                {
                    "module": f"`{module}`",
                    "Bayesian component": "yes" if bayesian else "",
                    "claims": ", ".join(f"`{c}`" for c in covered) or "none",
                }
            )
        return rows


def claim_coverage(claims: Sequence[Claim] | None = None, profile: str = "ci") -> ClaimCoverage:
    """Check each claim on one instance while recording which library modules run.

    Args:
        claims: The claims (default: every registered claim).
        profile: The hypothesis profile whose first instance is used.

    Returns:
        The :class:`ClaimCoverage`.
    """
    by_claim, errors = {}, {}
    for claim in all_claims() if claims is None else claims:
        with _ModuleRecorder(_TRACKED) as recorder:
            verdict = verify(claim, profile=profile, max_examples=1)
        by_claim[claim.id] = frozenset(recorder.modules)
        if verdict.error is not None:
            errors[claim.id] = str(verdict.error).splitlines()[0]
    return ClaimCoverage(by_claim, errors)
