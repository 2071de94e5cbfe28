"""Which library modules each claim exercises: the coverage table of the report and of ``--coverage``.

A claim *exercises* a module when code of that module runs while the claim's strategy is built
and its first instance drawn and checked: the calls are recorded with :func:`sys.setprofile`
(:mod:`proofs_checks.call_tracing`), so a module counts only if the check really reaches it, not
because the claim imports it. ``probtheory check`` records it on the run's own first instance of
every claim (:meth:`ClaimCoverage.from_reports`), ``probtheory check --coverage`` checks one
instance of every claim for it alone (:func:`claim_coverage`).

The Bayesian components (:data:`BAYESIAN_COMPONENTS`) must each be exercised by at least one
claim: ``probtheory check --coverage`` fails otherwise.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass

from proofs_checks.call_tracing import TRACKED_PACKAGES
from proofs_checks.claim import Claim
from proofs_checks.registry import claims as all_claims
from proofs_checks.runner import ClaimReport, verify

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


def public_modules(packages: Sequence[str] = TRACKED_PACKAGES) -> list[str]:
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

    def rows(self) -> list[dict]:
        """One row per public module of probtheory and bo.

        Keys: module, bayesian (whether it is, or is inside, a Bayesian component), claims (the
        ids of the claims that exercise it, sorted).
        """
        return [
            {
                "module": module,
                "bayesian": any(module == c or module.startswith(c + ".") for c in BAYESIAN_COMPONENTS),
                "claims": self.claims_of(module),
            }
            for module in public_modules()
        ]

    def table(self) -> list[dict[str, str]]:
        """:meth:`rows` as Markdown cells (the docs' table): module, Bayesian component, claims."""
        return [
            {
                "module": f"`{row['module']}`",
                "Bayesian component": "yes" if row["bayesian"] else "",
                "claims": ", ".join(f"`{c}`" for c in row["claims"]) or "none",
            }
            for row in self.rows()
        ]

    @classmethod
    def from_reports(cls, reports: Sequence[ClaimReport]) -> ClaimCoverage:
        """The coverage recorded by :func:`proofs_checks.run` on each claim's first instance.

        Claims whose verdict was not traced (a :class:`ClaimReport` built by hand) are left out.
        """
        by_claim = {r.claim.id: r.verdict.modules for r in reports if r.verdict.modules is not None}
        errors = {r.claim.id: str(r.verdict.error).splitlines()[0] for r in reports if r.verdict.error}
        return cls(by_claim, {claim: error for claim, error in errors.items() if claim in by_claim})


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
        verdict = verify(claim, profile=profile, max_examples=1, cover_regimes=False, trace_modules=True)
        by_claim[claim.id] = verdict.modules
        if verdict.error is not None:
            errors[claim.id] = str(verdict.error).splitlines()[0]
    return ClaimCoverage(by_claim, errors)
