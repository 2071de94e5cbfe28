"""Numerical verification of deep-learning theory: claims, strategies, assertions, report.

Example:
    ```python
    import proofs_checks

    for claim in proofs_checks.claims():
        print(claim.id, claim.title)
    verdict = proofs_checks.verify("pdlt.relu_kurtosis")
    ```
"""

from proofs_checks.assertions import ClaimAssertionError, assert_claim
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.registry import claims, get_claim, register
from proofs_checks.runner import ClaimReport, Verdict, run, verify

__all__ = [
    "Claim",
    "ClaimAssertionError",
    "ClaimReport",
    "Evidence",
    "Mutant",
    "Regimes",
    "Verdict",
    "assert_claim",
    "claims",
    "get_claim",
    "register",
    "run",
    "verify",
]
