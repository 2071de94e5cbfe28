r"""Claim ``powernorm.gradient_identities``: PowerNorm's closed-form input gradients are exact.

Shen, Yao, Gholami, Mahoney, Keutzer, *PowerNorm: Rethinking Batch Normalization in
Transformers*, ICML 2020: the closed-form input gradients of batch normalisation and of PN-V
(batch quadratic mean) agree with central finite differences of the forward passes (float64),
and their squared norms are the projected energies ||g||^2 minus the removed components
(docs/derivations.md, §3; the BatchNorm identity is Theorem 4.1 of Santurkar, Tsipras, Ilyas &
Madry, NeurIPS 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import Tensor

from proofs_checks.catalog.bibliography import SHEN_POWERNORM_2020
from proofs_checks.catalog.powernorm._norm_formulas import _F64, NormFormulas, _pn_forward_centred
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.strategies import seeds

_EPS = 1e-3  # large enough that an eps placed inconsistently shows in the gradient (error ~ eps/psi^2)
_FD_STEP = 1e-6


def _bn_forward(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    # torch's training-mode batch norm (biased variance) is the BN reference, not the subject
    return F.batch_norm(x, None, None, weight, None, training=True, eps=eps)


@dataclass(frozen=True)
class IdentityInstance:
    batch: int
    features: int
    scale: float
    shift: float
    seed: int


def _fd_gradient(fn, x: Tensor, g: Tensor) -> Tensor:
    """Central differences of x -> <g, fn(x)>, one coordinate at a time."""
    flat = x.reshape(-1)
    out = torch.empty_like(flat)
    for i in range(flat.numel()):
        step = torch.zeros_like(flat)
        step[i] = _FD_STEP
        plus = (g * fn((flat + step).reshape(x.shape))).sum()
        minus = (g * fn((flat - step).reshape(x.shape))).sum()
        out[i] = (plus - minus) / (2 * _FD_STEP)
    return out.reshape(x.shape)


def _check_identities(inst: IdentityInstance, subject: NormFormulas) -> list[Evidence]:
    gen = torch.Generator().manual_seed(inst.seed)
    shape = (inst.batch, inst.features)
    x = inst.scale * torch.randn(shape, generator=gen, dtype=_F64) + inst.shift
    g = torch.randn(shape, generator=gen, dtype=_F64)
    gamma = 0.5 + torch.rand(inst.features, generator=gen, dtype=_F64)
    with torch.no_grad():
        pn = subject.pn_grad(x, g, gamma, eps=_EPS)
        bn = subject.bn_grad(x, g, gamma, eps=_EPS)
        pn_fd = _fd_gradient(lambda z: subject.pn_forward(z, gamma, None, eps=_EPS), x, g)
        bn_fd = _fd_gradient(lambda z: _bn_forward(z, gamma, _EPS), x, g)
        # the norm identities, per channel: ||dL/dx||^2 = gamma^2/psi^2 (||g||^2 - (x_hat.g)^2/B) for PN-V and
        # gamma^2/sigma^2 (||g||^2 - (1.g)^2/B - (x_hat.g)^2/B) for BN, from x and g alone; exact
        # projections only for eps = 0 (with eps > 0, ||x_hat||^2 < B)
        pn_exact = subject.pn_grad(x, g, gamma, eps=0.0)
        bn_exact = subject.bn_grad(x, g, gamma, eps=0.0)
    b = inst.batch
    psi2 = x.square().mean(0)
    x_pn = x / psi2.sqrt()
    pn_energy = gamma**2 / psi2 * (g.square().sum(0) - (x_pn * g).sum(0) ** 2 / b)
    sigma2 = x.var(0, unbiased=False)
    x_bn = (x - x.mean(0)) / sigma2.sqrt()
    bn_energy = gamma**2 / sigma2 * (g.square().sum(0) - g.sum(0) ** 2 / b - (x_bn * g).sum(0) ** 2 / b)
    scale = max(1.0, pn.abs().max().item(), bn.abs().max().item())
    fd_reason = (
        f"central differences, h = {_FD_STEP:g}: truncation ~h^2 |L'''| <= 1e-10 and roundoff "
        "~1e-16 |L| / h <= 1e-8 for the drawn scales; 1e-6 relative leaves >= 100x headroom"
    )
    energy_reason = "float64 agreement of two exact expressions (a few ulps of the largest term)"
    return [
        Evidence.at_most(
            "max |PN-V closed-form gradient - finite differences| / max(1, |grad|)",
            (pn - pn_fd).abs().max().item() / scale, 1e-6, fd_reason,
        ),
        Evidence.at_most(
            "max |BN closed-form gradient - finite differences| / max(1, |grad|)",
            (bn - bn_fd).abs().max().item() / scale, 1e-6, fd_reason,
        ),
        Evidence.at_most(
            "max relative error of ||dL/dx||^2 = projected energy (PN-V and BN)",
            max(_relative(pn_exact.square().sum(0), pn_energy),
                _relative(bn_exact.square().sum(0), bn_energy)),
            1e-10, energy_reason,
        ),
    ]  # fmt: skip


def _relative(a: Tensor, b: Tensor) -> float:
    return ((a - b).abs() / b.abs().clamp(min=1e-12)).max().item()


def _pn_forward_eps_outside(x, weight=None, bias=None, eps=0.0):
    """Mutant forward: x / (sqrt(mean x^2) + eps), eps outside the root unlike the gradient's."""
    out = x / (x.square().mean(0).sqrt() + eps)
    return out if weight is None else out * weight


def _bn_grad_without_mean_removal(x, grad_output, weight=None, eps=0.0):
    """Mutant BN gradient: the PN projection (off x_hat only), the mean-removal term dropped."""
    centred = x - x.mean(0)
    sigma = torch.sqrt(centred.square().mean(0) + eps)
    x_hat = centred / sigma
    grad = (grad_output - x_hat * (grad_output * x_hat).mean(0)) / sigma
    return grad if weight is None else grad * weight


_IDENTITY_STRATEGY = lambda: st.builds(  # noqa: E731
    IdentityInstance,
    st.integers(4, 16),
    st.integers(1, 4),
    st.floats(0.3, 3.0),
    st.floats(-3.0, 3.0),
    seeds(),
)

GRADIENT_IDENTITIES_CLAIM = Claim(
    id="powernorm.gradient_identities",
    title="Closed-form BN and PN-V input gradients match finite differences and the norm identities",
    paper=SHEN_POWERNORM_2020,
    statement=(
        "Per channel, BN's input gradient is (gamma/sigma_B) times the projection of g = dL/dy off "
        "span{1, x_hat}; PN-V's (normalised by the batch quadratic mean psi_B, no centring) is "
        "(gamma/psi_B) times the projection off span{x_hat}. Both agree with finite differences "
        "of the forward pass, and their squared norms are the projected energies."
    ),
    formula=(
        r"\frac{dL}{dx}\Big|_{\mathrm{BN}} = \frac{\gamma}{\sigma_B} (g - \mathrm{mean}\, g - \hat "
        r"x\, \mathrm{mean}(g \hat x)),\quad \frac{dL}{dx}\Big|_{\mathrm{PN}} = "
        r"\frac{\gamma}{\psi_B} (g - \hat x\, \mathrm{mean}(g \hat x)),\quad "
        r"\Big\|\frac{dL}{dx}\Big\|^2_{\mathrm{PN}} = \frac{\gamma^2}{\psi_B^2} (\|g\|^2 - (\hat x "
        r"\cdot g)^2/B)"
    ),
    strategy=_IDENTITY_STRATEGY,
    check=_check_identities,
    subject=NormFormulas(),
    mutants=(
        Mutant(
            "centring-added",
            "PN forward with centring (the BN forward) but PN's backward",
            NormFormulas(pn_forward=_pn_forward_centred),
        ),
        Mutant(
            "bn-without-mean-removal",
            "BN gradient using the PN projection (mean term dropped)",
            NormFormulas(bn_grad=_bn_grad_without_mean_removal),
        ),
        Mutant(
            "eps-outside-root",
            "PN forward x / (psi_B + eps) while the gradient uses sqrt(psi_B^2 + eps)",
            NormFormulas(pn_forward=_pn_forward_eps_outside),
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 50},
    mutant_examples=3,
)
