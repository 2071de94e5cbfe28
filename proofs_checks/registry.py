"""The registry of claims: every claim module registers its :class:`Claim` here."""

from __future__ import annotations

import importlib

from proofs_checks.claim import Claim

__all__ = ["claims", "get_claim", "register"]

_CLAIMS: dict[str, Claim] = {}
# Modules defining the built-in claims, imported on first use (they import torch & co.).
_BUILTIN_MODULES = (
    "proofs_checks.catalog.kernel_psd",
    "proofs_checks.catalog.kernel_monte_carlo",
    "proofs_checks.catalog.ntk_convergence",
    "proofs_checks.catalog.kernel_gradient_descent",
    "proofs_checks.catalog.mup_coordinate_check",
    "proofs_checks.catalog.relu_kurtosis",
    "proofs_checks.catalog.student_t",
    "proofs_checks.catalog.deep_kernel_machines",
    "proofs_checks.catalog.bandlimited",
    "proofs_checks.catalog.large_step_logistic",
    "proofs_checks.catalog.batch_size",
    "proofs_checks.catalog.lanczos_lr",
    "proofs_checks.catalog.wide_deep",
    "proofs_checks.catalog.monotone_dbm",
    "proofs_checks.catalog.powernorm",
    "proofs_checks.catalog.convex_relu",
    "proofs_checks.catalog.dense_hebbian",
    "proofs_checks.catalog.pvrnn",
    "proofs_checks.catalog.equilibrium_propagation",
    "proofs_checks.catalog.mpnp",
    "proofs_checks.catalog.lipschitz",
    "proofs_checks.catalog.hypernetwork",
    "proofs_checks.catalog.bt2",
    "proofs_checks.catalog.snnk",
    "proofs_checks.catalog.scaling_laws",
    "proofs_checks.catalog.quadratic_networks",
    "proofs_checks.catalog.sara",
)
_loaded = False


def register(claim: Claim) -> Claim:
    """Add a claim (a user's too) to the registry; ids must be unique."""
    if claim.id in _CLAIMS and _CLAIMS[claim.id] is not claim:
        raise ValueError(f"claim id {claim.id!r} is already registered")
    _CLAIMS[claim.id] = claim
    return claim


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def claims() -> list[Claim]:
    """Every registered claim, built-in ones first."""
    _load_builtin()
    return list(_CLAIMS.values())


def get_claim(claim_id: str) -> Claim:
    """The claim with this id (raises ``KeyError`` listing the known ids)."""
    _load_builtin()
    if claim_id not in _CLAIMS:
        raise KeyError(f"unknown claim {claim_id!r}; known: {sorted(_CLAIMS)}")
    return _CLAIMS[claim_id]
