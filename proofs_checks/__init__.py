"""Numerical verification of deep-learning theory: claims, strategies, assertions, report.

>>> import proofs_checks
>>> [c.id for c in proofs_checks.claims()][:2]
['kernels.psd', 'kernels.monte_carlo']
"""

from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.registry import claims, get_claim, register
from proofs_checks.runner import ClaimReport, Verdict, run, verify

__all__ = [
    "Claim",
    "ClaimReport",
    "Evidence",
    "Mutant",
    "Verdict",
    "claims",
    "get_claim",
    "register",
    "run",
    "verify",
]
