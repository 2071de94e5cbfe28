"""Every claim holds on its own subject, and every mutant is rejected.

These are the claims of ``probtheory check`` run as plain pytest tests (profile from
HYPOTHESIS_PROFILE, default ``ci``); the ``slow`` test reruns them in the thorough profile.
"""

import pytest

import proofs_checks
from probtheory.papers import Paper
from proofs_checks.profiles import active_profile

CLAIMS = proofs_checks.claims()
MUTANTS = [(c, m) for c in CLAIMS for m in c.mutants]


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_claim_holds(claim):
    verdict = proofs_checks.verify(claim, profile=active_profile())
    assert verdict.passed, str(verdict.failure)
    assert verdict.examples >= 1


@pytest.mark.parametrize(("claim", "mutant"), MUTANTS, ids=lambda v: getattr(v, "id", getattr(v, "name", "")))
def test_mutant_is_rejected(claim, mutant):
    verdict = proofs_checks.verify(
        claim, mutant.subject, max_examples=claim.mutant_examples, label=mutant.name
    )
    assert not verdict.passed, f"{claim.id}: mutant {mutant.name!r} was not rejected"
    assert verdict.failure.failed, "a rejection must come with the failing evidence"


def test_every_claim_ships_a_mutant_and_a_source():
    for claim in CLAIMS:
        assert claim.mutants, claim.id
        assert isinstance(claim.paper, Paper) and claim.statement and claim.formula


@pytest.mark.slow
@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_claim_holds_thorough(claim):
    verdict = proofs_checks.verify(claim, profile="thorough")
    assert verdict.passed, str(verdict.failure)
