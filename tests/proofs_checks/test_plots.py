"""Every claim whose evidence is a curve or a distribution plots it; the others say why they do not.

Each plotted claim is run on one instance (its check on the first example hypothesis draws, no
mutants, no regime pinning: well under a second for most) and its plot is drawn and saved the way
the report does, so a plot that breaks on real records, or draws nothing, fails here.
"""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import proofs_checks  # noqa: E402
from proofs_checks.plotting import (  # noqa: E402
    identity_line,
    instance_label,
    strip_against_bound,
    z_score_histogram,
)
from proofs_checks.registry import BUILTIN_CLAIMS  # noqa: E402

CLAIMS = [proofs_checks.get_claim(claim_id) for claim_id in BUILTIN_CLAIMS]  # not the tests' own
PLOTTED = [c for c in CLAIMS if c.plot is not None]

#: Claims with no plot: their evidence is an exact identity (checked to round-off) or a yes/no.
WITHOUT_PLOT = {
    "kernels.paths_agree": "every public path gives the same kernel: an identity to round-off",
    "dkm.nngp_limit": "DKM objective at nu = inf equals the NNGP likelihood: an identity",
    "dkm.sparse_equals_exact": "sparse objective with every point inducing equals the exact one",
    "dbm.implicit_gradient": "implicit gradient equals finite differences: an identity to FD error",
    "powernorm.gradient_identities": "closed-form gradients equal finite differences and the norm identities",
    "convex_relu.attained": "the rebuilt network attains the convex optimum: an identity to solver accuracy",
    "convex_relu.adversarial_attained": "worst-case loss equals the robust optimum (and one comparison)",
    "hebbian.incremental_energy": "incremental energies equal the explicit sums: an identity to round-off",
    "pvrnn.kl_matches_torch": "the KL term equals torch's Gaussian KL: an identity to round-off",
    "ep.asymmetry_bias": "the measured bias equals the closed form within the estimator's own error",
    "lipschitz.small_radius": "below the stability radius the bound equals the gradient norm exactly",
    "bt2.basis_transform_isometry": "the transform is an isometry: an identity to round-off",
    "scaling_laws.tradeoff_identity": "(S/S_min - 1)(E/E_min - 1) = 1: an identity to round-off",
    "scaling_laws.recovery": "noise-free runs give the constants back: fit(simulate(theta)) = theta",
    "quadratic.degree": "the degree is exactly 2^L: an integer identity",
    "quadratic.xor": "one neuron learns XOR: a yes/no (accuracy 1)",
    "sara.sparse_adapter": "frozen entries unchanged, adapter rebuilds the model: exact identities",
    "local.gradient_isolation": "local gradients equal the block's own: bit-equal",
    "tpsgd.delta_rule": "autograd equals the closed-form delta rule: an identity to round-off",
    "pfn.bar_distribution": "density integrates to 1, cdf/icdf invert: identities to round-off",
    "lcpfn.normaliser_change_of_variables": "densities follow the change of variables: an identity",
    "tp.exact_conditional": "the predictive is the exact multivariate-t conditional: an identity",
    "mpnp.marginal_loss": "the loss equals its closed form: an identity to round-off",
    "sltt.exact_limits": "SLTT's gradient equals the cut graph's and BPTT's: an identity to round-off",
    "trp.energy_rank": "the kept rank is the admissible one: an exact (integer) rule",
}


def test_every_claim_has_a_plot_or_a_reason():
    plotted = {c.id for c in PLOTTED}
    assert plotted.isdisjoint(WITHOUT_PLOT), plotted & set(WITHOUT_PLOT)
    assert plotted | set(WITHOUT_PLOT) == {c.id for c in CLAIMS}


@pytest.mark.parametrize("claim", PLOTTED, ids=lambda c: c.id)
def test_plot_draws_the_evidence_of_one_instance(claim):
    verdict = proofs_checks.verify(claim, max_examples=1, cover_regimes=False)
    assert verdict.status == "PASS", str(verdict.error or verdict.failure)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    try:
        claim.plot(verdict.records, ax)
        assert ax.lines or ax.collections or ax.patches, f"{claim.id}: the plot drew nothing"
        assert ax.get_xlabel() and ax.get_ylabel(), f"{claim.id}: unlabelled axes"
        fig.tight_layout()  # as the report: limits or scales that cannot be laid out raise here
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    finally:
        plt.close(fig)


def test_z_score_histogram_draws_each_group_the_normal_density_and_the_bound():
    fig, ax = plt.subplots()
    z = np.random.default_rng(0).standard_normal(500)
    z_score_histogram(ax, {"a": z, "b": z + 1.0}, 5.0)
    assert len(ax.patches) == 2  # one step histogram per group
    normal = next(line for line in ax.lines if line.get_label() == "N(0, 1)")
    assert max(normal.get_ydata()) == pytest.approx(1 / np.sqrt(2 * np.pi), rel=1e-3)
    assert sorted(line.get_xdata()[0] for line in ax.lines[1:]) == [-5.0, 5.0]
    plt.close(fig)


def test_strip_against_bound_puts_each_group_in_its_column():
    fig, ax = plt.subplots()
    strip_against_bound(ax, {"x": [1.0, 2.0, 3.0], "y": [4.0]}, 2.5, "bound")
    columns = [np.mean(line.get_xdata()) for line in ax.lines[:2]]
    assert columns == pytest.approx([0.0, 1.0])
    assert ax.lines[2].get_ydata()[0] == 2.5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    plt.close(fig)


def test_identity_line_and_instance_labels():
    fig, ax = plt.subplots()
    identity_line(ax, [3.0, float("inf"), 1.0])
    assert list(ax.lines[0].get_xdata()) == list(ax.lines[0].get_ydata()) == [1.0, 3.0]
    assert instance_label(0, "first") == "first"
    assert instance_label(100, "hundredth") is None
    plt.close(fig)
