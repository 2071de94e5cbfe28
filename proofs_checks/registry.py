"""The registry of claims: a table of the built-in claims, imported on first use, plus users' claims.

Each built-in claim is named in :data:`BUILTIN_CLAIMS` by the import path
(``"module:attribute"``) of its :class:`Claim` object, in the order :func:`claims` lists them.
A claim module is imported only when one of its claims is asked for (they import torch & co.),
so ``get_claim("pdlt.relu_kurtosis")`` imports one module and ``claims()`` imports them all.
Users add their own claims with :func:`register`; those follow the built-in ones.
"""

from __future__ import annotations

import importlib

from probtheory._checks import check_name
from probtheory.errors import InputDataError
from proofs_checks.claim import Claim

__all__ = ["BUILTIN_CLAIMS", "claim_ids", "claims", "get_claim", "lookup", "register"]

_CATALOG = "proofs_checks.catalog"

#: Built-in claim id -> ``"module:attribute"`` of its :class:`Claim`, in the order of :func:`claims`.
BUILTIN_CLAIMS: dict[str, str] = {
    "kernels.psd": f"{_CATALOG}.kernel_psd:PSD_CLAIM",
    "kernels.monte_carlo": f"{_CATALOG}.kernel_monte_carlo:MONTE_CARLO_CLAIM",
    "kernels.paths_agree": f"{_CATALOG}.kernel_paths:PATHS_AGREE_CLAIM",
    "ntk.convergence": f"{_CATALOG}.ntk_convergence:CONVERGENCE_CLAIM",
    "ntk.kernel_gd": f"{_CATALOG}.kernel_gradient_descent:KERNEL_GD_CLAIM",
    "mup.coordinate_check": f"{_CATALOG}.mup_coordinate_check:COORDINATE_CHECK_CLAIM",
    "pdlt.relu_kurtosis": f"{_CATALOG}.relu_kurtosis:RELU_KURTOSIS_CLAIM",
    "tp.student_t_readout": f"{_CATALOG}.student_t:STUDENT_T_READOUT_CLAIM",
    "tp.gp_limit": f"{_CATALOG}.student_t:GP_LIMIT_CLAIM",
    "dkm.nngp_limit": f"{_CATALOG}.deep_kernel_machines:NNGP_LIMIT_CLAIM",
    "dkm.sparse_equals_exact": f"{_CATALOG}.deep_kernel_machines:SPARSE_EQUALS_EXACT_CLAIM",
    "bandlimited.out_of_band_bound": f"{_CATALOG}.bandlimited:OUT_OF_BAND_BOUND_CLAIM",
    "bandlimited.error_vs_bandwidth": f"{_CATALOG}.bandlimited:ERROR_VS_BANDWIDTH_CLAIM",
    "logistic.perceptron_limit": f"{_CATALOG}.large_step_logistic:PERCEPTRON_LIMIT_CLAIM",
    "logistic.separation_all_steps": f"{_CATALOG}.large_step_logistic:SEPARATION_ALL_STEPS_CLAIM",
    "batch_size.jensen_monotone": f"{_CATALOG}.batch_size:JENSEN_MONOTONE_CLAIM",
    "batch_size.spiked_prediction": f"{_CATALOG}.batch_size:SPIKED_PREDICTION_CLAIM",
    "lanczos_lr.stable_step": f"{_CATALOG}.lanczos_lr:STABLE_STEP_CLAIM",
    "wide_deep.nearest_neighbour": f"{_CATALOG}.wide_deep.nearest_neighbour:NEAREST_NEIGHBOUR_CLAIM",
    "wide_deep.majority_vote": f"{_CATALOG}.wide_deep.majority_vote:MAJORITY_VOTE_CLAIM",
    "wide_deep.singular_kernel": f"{_CATALOG}.wide_deep.singular_kernel:SINGULAR_KERNEL_CLAIM",
    "wide_deep.hilbert_classifier": f"{_CATALOG}.wide_deep.hilbert_classifier:HILBERT_CLASSIFIER_CLAIM",
    "dbm.unique_fixed_point": f"{_CATALOG}.monotone_dbm:UNIQUE_FIXED_POINT_CLAIM",
    "dbm.implicit_gradient": f"{_CATALOG}.monotone_dbm:IMPLICIT_GRADIENT_CLAIM",
    "powernorm.gradient_identities": f"{_CATALOG}.powernorm.gradient_identities:GRADIENT_IDENTITIES_CLAIM",
    "powernorm.smaller_gradient_norm": (
        f"{_CATALOG}.powernorm.smaller_gradient_norm:SMALLER_GRADIENT_NORM_CLAIM"
    ),
    "powernorm.approximate_backward": f"{_CATALOG}.powernorm.approximate_backward:APPROXIMATE_BACKWARD_CLAIM",
    "convex_relu.attained": f"{_CATALOG}.convex_relu:ATTAINED_CLAIM",
    "convex_relu.global_lower_bound": f"{_CATALOG}.convex_relu:GLOBAL_LOWER_BOUND_CLAIM",
    "convex_relu.adversarial_attained": f"{_CATALOG}.convex_relu:ADVERSARIAL_ATTAINED_CLAIM",
    "hebbian.zero_temperature_overlap": f"{_CATALOG}.dense_hebbian:ZERO_TEMPERATURE_OVERLAP_CLAIM",
    "hebbian.incremental_energy": f"{_CATALOG}.dense_hebbian:INCREMENTAL_ENERGY_CLAIM",
    "pvrnn.kl_matches_torch": f"{_CATALOG}.pvrnn:KL_MATCHES_TORCH_CLAIM",
    "pvrnn.meta_prior_switching": f"{_CATALOG}.pvrnn:META_PRIOR_SWITCHING_CLAIM",
    "ep.symmetric_equals_backprop": f"{_CATALOG}.equilibrium_propagation:SYMMETRIC_EQUALS_BACKPROP_CLAIM",
    "ep.asymmetry_bias": f"{_CATALOG}.equilibrium_propagation:ASYMMETRY_BIAS_CLAIM",
    "ep.holomorphic_geometric": f"{_CATALOG}.equilibrium_propagation:HOLOMORPHIC_GEOMETRIC_CLAIM",
    "mpnp.contraction": f"{_CATALOG}.mpnp:CONTRACTION_CLAIM",
    "lipschitz.soundness": f"{_CATALOG}.lipschitz:SOUNDNESS_CLAIM",
    "lipschitz.hierarchy": f"{_CATALOG}.lipschitz:HIERARCHY_CLAIM",
    "lipschitz.small_radius": f"{_CATALOG}.lipschitz:SMALL_RADIUS_CLAIM",
    "lipschitz.monotone_radius": f"{_CATALOG}.lipschitz:MONOTONE_RADIUS_CLAIM",
    "mip.magnitude_invariance": f"{_CATALOG}.hypernetwork:MAGNITUDE_INVARIANCE_CLAIM",
    "bt2.basis_transform_isometry": f"{_CATALOG}.bt2:BASIS_TRANSFORM_ISOMETRY_CLAIM",
    "snnk.unbiased_features": f"{_CATALOG}.snnk:UNBIASED_FEATURES_CLAIM",
    "mgno.vcycle_contraction": f"{_CATALOG}.mgno:VCYCLE_CONTRACTION_CLAIM",
    "dcdm.conjugacy": f"{_CATALOG}.dcdm:CONJUGACY_CLAIM",
    "scaling_laws.tradeoff_identity": f"{_CATALOG}.scaling_laws:TRADEOFF_IDENTITY_CLAIM",
    "scaling_laws.recovery": f"{_CATALOG}.scaling_laws:RECOVERY_CLAIM",
    "quadratic.degree": f"{_CATALOG}.quadratic_networks:DEGREE_CLAIM",
    "quadratic.xor": f"{_CATALOG}.quadratic_networks:XOR_CLAIM",
    "sara.sparse_adapter": f"{_CATALOG}.sara:SPARSE_ADAPTER_CLAIM",
    "local.gradient_isolation": f"{_CATALOG}.local_learning:GRADIENT_ISOLATION_CLAIM",
    "tpsgd.delta_rule": f"{_CATALOG}.local_learning:DELTA_RULE_CLAIM",
    "pfn.bar_distribution": f"{_CATALOG}.bar_distribution:BAR_DISTRIBUTION_CLAIM",
    "lcpfn.normaliser_change_of_variables": f"{_CATALOG}.curve_normalizer:NORMALISER_CLAIM",
    "tp.exact_conditional": f"{_CATALOG}.student_t_conditional:EXACT_CONDITIONAL_CLAIM",
    "mpnp.marginal_loss": f"{_CATALOG}.mpnp_marginal:MARGINAL_LOSS_CLAIM",
    "bo.posterior_moments": f"{_CATALOG}.bo_posteriors:POSTERIOR_MOMENTS_CLAIM",
    "sltt.exact_limits": f"{_CATALOG}.sltt:EXACT_LIMITS_CLAIM",
    "sltt.constant_memory": f"{_CATALOG}.sltt:CONSTANT_MEMORY_CLAIM",
    "trp.energy_rank": f"{_CATALOG}.trained_rank_pruning:ENERGY_RANK_CLAIM",
    "inductive_bias.closed_form": f"{_CATALOG}.inductive_bias:CLOSED_FORM_CLAIM",
    "pde_beyond_linearity.rate": f"{_CATALOG}.pde_beyond_linearity:RATE_CLAIM",
    "pde_beyond_linearity.barron_growth": f"{_CATALOG}.pde_beyond_linearity:BARRON_GROWTH_CLAIM",
    "adjoint_dpm.gradient_convergence": f"{_CATALOG}.adjoint_dpm:GRADIENT_CONVERGENCE_CLAIM",
}

_builtin_loaded: dict[str, Claim] = {}  # built-in claims imported so far
_user_claims: dict[str, Claim] = {}  # registered with register(), in registration order


def _load_builtin(claim_id: str) -> Claim:
    """Import the built-in claim ``claim_id`` from its module (once)."""
    if claim_id not in _builtin_loaded:
        module_name, _, attribute = BUILTIN_CLAIMS[claim_id].partition(":")
        claim = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(claim, Claim) or claim.id != claim_id:
            raise RuntimeError(
                f"{BUILTIN_CLAIMS[claim_id]} should be the Claim {claim_id!r}, found {claim!r:.80}"
            )
        _builtin_loaded[claim_id] = claim
    return _builtin_loaded[claim_id]


def register(claim: Claim) -> Claim:
    """Add a user's claim to the registry, after the built-in ones; ids must be unique.

    Raises:
        InputDataError: If ``claim`` is not a :class:`Claim`, or another claim, built-in or
            registered, already has its id (an ``InputDataError`` is a ``ValueError``).
    """
    if not isinstance(claim, Claim):
        raise InputDataError("claim", "a proofs_checks.Claim", type(claim).__name__)
    if claim.id in BUILTIN_CLAIMS:
        received = f"{claim.id!r}, already registered (a built-in claim)"
        raise InputDataError("claim", "a new claim id", received)
    if claim.id in _user_claims and _user_claims[claim.id] is not claim:
        raise InputDataError("claim", "a new claim id", f"{claim.id!r}, already registered")
    _user_claims[claim.id] = claim
    return claim


def claims() -> list[Claim]:
    """Every claim: the built-in ones in the order of :data:`BUILTIN_CLAIMS`, then registered ones."""
    return [_load_builtin(claim_id) for claim_id in BUILTIN_CLAIMS] + list(_user_claims.values())


def claim_ids() -> list[str]:
    """Every claim id, in the order of :func:`claims`, without importing any claim's module."""
    return [*BUILTIN_CLAIMS, *_user_claims]


def get_claim(claim_id: str) -> Claim:
    """The claim with this id, importing only its module.

    Raises:
        UnknownNameError: If no claim has this id (also a ``KeyError``); the message suggests
            the closest ids.
    """
    return lookup(claim_id, argument="claim_id")


def lookup(claim_id: str, *, argument: str) -> Claim:
    """:func:`get_claim`, with the error naming ``argument`` (``ids`` for :func:`proofs_checks.run`)."""
    claim_id = check_name(
        argument,
        claim_id,
        [*BUILTIN_CLAIMS, *_user_claims],
        meaning="a claim id (listed by proofs_checks.claims() and `probtheory check --list`)",
    )
    return _user_claims[claim_id] if claim_id in _user_claims else _load_builtin(claim_id)
