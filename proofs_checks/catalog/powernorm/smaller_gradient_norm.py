r"""Claim ``powernorm.smaller_gradient_norm``: PN's gradient norm is below BN's under the energy condition.

Shen, Yao, Gholami, Mahoney, Keutzer, *PowerNorm: Rethinking Batch Normalization in
Transformers*, ICML 2020: PN's loss-gradient norm is below BN's exactly when the projected-energy
condition holds (PN's projected energy / psi_B^2 <= BN's / sigma_B^2, from the norm identities of
docs/derivations.md, §3; the paper compares the two gradient norms under a sufficient condition
on the batch mean), and the fraction of cases where it holds rises with the batch mean shift
(Monte Carlo, z = 5 standard errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import Tensor

from proofs_checks.catalog.bibliography import SHEN_POWERNORM_2020
from proofs_checks.catalog.powernorm._norm_formulas import _F64, NormFormulas, _pn_forward_centred
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.statistics import Z
from proofs_checks.strategies import seeds


def _bn_forward_exact(x: Tensor) -> Tensor:
    # eps = 0 (torch's batch_norm refuses it in training mode): the exact projection geometry
    centred = x - x.mean(0)
    return centred / centred.square().mean(0).sqrt()


@dataclass(frozen=True)
class NormComparisonInstance:
    batch: int
    seed: int


_SHIFTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)  # |mu| / sigma of the batch
_CASES = 2000  # random (x, g) per shift; one channel each, so one autograd call per shift
_TIE = 1e-9  # relative gap below which two float64 norms count as equal


def _gradient_norms(forward, x: Tensor, g: Tensor) -> Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((g * forward(x)).sum(), x)
    return grad.norm(dim=0)


def _check_norm_comparison(inst: NormComparisonInstance, subject: NormFormulas) -> list[Evidence]:
    gen = torch.Generator().manual_seed(inst.seed)
    b, k = inst.batch, _CASES
    fractions, mismatches = [], 0
    for shift in _SHIFTS:
        x = torch.randn(b, k, generator=gen, dtype=_F64) + shift  # sigma = 1, mean shift mu
        g = torch.randn(b, k, generator=gen, dtype=_F64)
        pn = _gradient_norms(lambda z: subject.pn_forward(z, eps=0.0), x, g)
        bn = _gradient_norms(_bn_forward_exact, x, g)
        # the projected-energy condition, from x and g alone: PN's projected energy / psi^2 <= BN's / sigma^2
        psi2 = x.square().mean(0)
        x_pn = x / psi2.sqrt()
        sigma2 = x.var(0, unbiased=False)
        x_bn = (x - x.mean(0)) / sigma2.sqrt()
        pn_side = (g.square().sum(0) - (x_pn * g).sum(0) ** 2 / b) / psi2
        bn_side = (g.square().sum(0) - g.sum(0) ** 2 / b - (x_bn * g).sum(0) ** 2 / b) / sigma2
        condition = pn_side <= bn_side
        decided = (pn - bn).abs() > _TIE * torch.maximum(pn, bn)
        mismatches += int((decided & (condition != (pn < bn))).sum())
        fractions.append(((pn <= bn) | ~decided).double().mean().item())
    se = [math.sqrt(max(p * (1 - p), 1.0 / k) / k) for p in fractions]  # floor: p-hat of 0 or 1
    steps = [
        fractions[i + 1] - fractions[i] + Z * math.hypot(se[i], se[i + 1]) for i in range(len(_SHIFTS) - 1)
    ]
    worst = min(range(len(steps)), key=steps.__getitem__)
    rise_se = math.hypot(se[0], se[-1])
    details = {"shifts": list(_SHIFTS), "fractions": fractions}
    return [
        Evidence.at_most(
            "cases where PN <= BN disagrees with the projected-energy condition", mismatches, 0,
            f"exact equivalence (the norms are the projected energies); ties within {_TIE:g} skipped",
            **details,
        ),
        Evidence.at_least(
            "smallest step of the fraction P(PN <= BN) between consecutive shifts, + z SE",
            steps[worst], 0.0, f"monotone up to z = {Z:g} binomial standard errors ({k} cases per shift)",
            **details,
        ),
        Evidence.at_least(
            f"rise of P(PN <= BN) from |mu|/sigma = 0 to {_SHIFTS[-1]:g}, in standard errors",
            (fractions[-1] - fractions[0]) / rise_se, Z, f"z = {Z:g} binomial standard errors",
            **details,
        ),
    ]  # fmt: skip


def _pn_forward_std_scaled(x, weight=None, bias=None, eps=0.0):
    """Mutant forward: divides the uncentred x by the batch standard deviation, not by psi_B."""
    out = x / torch.sqrt(x.var(0, unbiased=False) + eps)
    return out if weight is None else out * weight


def plot(records, ax) -> None:
    """Fraction of cases with PN's gradient norm <= BN's against the batch mean shift."""
    for _, evidence in records:
        details = evidence[0].details
        ax.plot(details["shifts"], details["fractions"], marker="o", alpha=0.6)
    ax.set_xlabel("batch mean shift |mu| / sigma")
    ax.set_ylabel("P(||dL/dx||_PN <= ||dL/dx||_BN)")


SMALLER_GRADIENT_NORM_CLAIM = Claim(
    id="powernorm.smaller_gradient_norm",
    title="PN's loss-gradient norm is below BN's under the projected-energy condition",
    paper=SHEN_POWERNORM_2020,
    statement=(
        "PN's input-gradient norm is at most BN's exactly when (1/psi_B^2)(||g||^2 - (x_hat_PN.g)^2/B) "
        "<= (1/sigma_B^2)(||g||^2 - (1.g)^2/B - (x_hat_BN.g)^2/B); since psi_B^2 = sigma_B^2 + mu_B^2, "
        "the fraction of random (x, g) where it holds rises towards 1 with the batch mean shift."
    ),
    formula=(
        r"\|dL/dx\|_{\mathrm{PN}} \le \|dL/dx\|_{\mathrm{BN}} \iff \text{condition};\quad "
        r"P(\text{condition}) \text{ increases with } |\mu|/\sigma"
    ),
    strategy=lambda: st.builds(NormComparisonInstance, st.integers(4, 32), seeds()),
    check=_check_norm_comparison,
    subject=NormFormulas(),
    mutants=(
        Mutant(
            "centring-added",
            "PN forward with centring (the BN forward)",
            NormFormulas(pn_forward=_pn_forward_centred),
        ),
        Mutant(
            "std-scaled",
            "uncentred x divided by the batch standard deviation instead of psi_B",
            NormFormulas(pn_forward=_pn_forward_std_scaled),
        ),
    ),  # fmt: skip
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    plot=plot,
)
