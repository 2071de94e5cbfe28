"""The built-in claims' regimes: declared where the theorem distinguishes cases, and every pin works."""

import pytest
from hypothesis import find

import proofs_checks
from proofs_checks.registry import BUILTIN_CLAIMS


def _pins():
    for claim in map(proofs_checks.get_claim, BUILTIN_CLAIMS):
        if claim.regimes is None:
            continue
        for facet, cases in claim.regimes.cases.items():
            for case, fields in cases.items():
                if fields is not None:
                    yield pytest.param(claim, facet, case, id=f"{claim.id}: {facet} = {case}")


@pytest.mark.parametrize(("claim", "facet", "case"), list(_pins()))
def test_every_pin_of_a_builtin_claim_lands_in_its_case(claim, facet, case):
    strategy = claim.regimes.pinned(claim.strategy(), facet, case)
    instance = find(strategy, lambda _: True)  # the simplest pinned instance: no check is run
    assert case in claim.regimes.labels(instance)[facet]


def test_claims_that_distinguish_regimes_declare_them():
    declared = {c.id for c in map(proofs_checks.get_claim, BUILTIN_CLAIMS) if c.regimes is not None}
    assert {
        "kernels.psd",
        "kernels.monte_carlo",
        "kernels.paths_agree",
        "ntk.convergence",
        "ntk.kernel_gd",
        "tp.exact_conditional",
        "pfn.bar_distribution",
        "lcpfn.normaliser_change_of_variables",
        "mpnp.marginal_loss",
        "lipschitz.soundness",
        "quadratic.degree",
    } <= declared
