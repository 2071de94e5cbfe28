r"""Claims ``powernorm.*``: PowerNorm's gradients (Shen, Yao, Gholami, Mahoney, Keutzer, ICML 2020).

theory.md F.2/F.3:

* ``powernorm.gradient_identities``: the closed-form input gradients of batch normalisation
  and of PN-V (batch quadratic mean) agree with central finite differences of the forward
  passes (float64), and their squared norms are the projected energies of F.2(a);
* ``powernorm.smaller_gradient_norm``: PN's loss-gradient norm is below BN's exactly when the
  projected-energy condition of F.2(a) holds, and the fraction of cases where it holds rises
  with the batch mean shift (Monte Carlo, z = 5 standard errors);
* ``powernorm.approximate_backward``: the layer's training-mode forward/backward follow
  Algorithm 1 (to 1e-12 against an independent recursion) and :math:`\nu` stays below the
  horizon-free bound max_t |Lambda_t| / Gamma_t over a long run (10^4 steps in the
  ``thorough`` profile, 10^3 in ``ci``; F.2(b)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import Tensor
from torch.autograd import Function

from probtheory.layers.powernorm import (
    PowerNorm,
    batch_norm_exact_grad,
    power_norm_batch,
    power_norm_exact_grad,
)
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.profiles import active_profile
from proofs_checks.registry import register
from proofs_checks.statistics import Z
from proofs_checks.strategies import seeds

_PAPER = (
    "Shen, Yao, Gholami, Mahoney, Keutzer, PowerNorm: Rethinking Batch Normalization in Transformers, "
    "ICML 2020"
)
_F64 = torch.float64
_EPS = 1e-3  # large enough that an eps placed inconsistently shows in the gradient (theory.md F.5)
_FD_STEP = 1e-6


@dataclass(frozen=True)
class NormFormulas:
    """The subject of the gradient claims: PN-V's forward and the two closed-form gradients."""

    pn_forward: Any = power_norm_batch
    pn_grad: Any = power_norm_exact_grad
    bn_grad: Any = batch_norm_exact_grad


def _bn_forward(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    # torch's training-mode batch norm (biased variance) is the BN reference, not the subject
    return F.batch_norm(x, None, None, weight, None, training=True, eps=eps)


def _bn_forward_exact(x: Tensor) -> Tensor:
    # eps = 0 (torch's batch_norm refuses it in training mode): the exact projection geometry
    centred = x - x.mean(0)
    return centred / centred.square().mean(0).sqrt()


# --------------------------------------------------------------------------- gradient identities


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
        # F.2(a), per channel: ||dL/dx||^2 = gamma^2/psi^2 (||g||^2 - (x_hat.g)^2/B) for PN-V and
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


def _pn_forward_centred(x, weight=None, bias=None, eps=0.0):
    """Mutant forward: PN with centring added (i.e. the BN forward), paired with PN's backward."""
    return power_norm_batch(x - x.mean(0), weight, bias, eps=eps)


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

register(
    Claim(
        id="powernorm.gradient_identities",
        title="Closed-form BN and PN-V input gradients match finite differences and F.2(a)",
        paper=_PAPER,
        statement=(
            "Per channel, BN's input gradient is (gamma/sigma_B) times the projection of g = dL/dy off "
            "span{1, x_hat}; PN-V's (normalised by the batch quadratic mean psi_B, no centring) is "
            "(gamma/psi_B) times the projection off span{x_hat}. Both agree with finite differences "
            "of the forward pass, and their squared norms are the projected energies."
        ),
        formula=(
            "dL/dx|_BN = gamma/sigma_B (g - mean g - x_hat mean(g x_hat)),  "
            "dL/dx|_PN = gamma/psi_B (g - x_hat mean(g x_hat)),  "
            "||dL/dx||^2_PN = gamma^2/psi_B^2 (||g||^2 - (x_hat.g)^2/B)"
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
)

# ---------------------------------------------------------------- PN vs BN gradient norm


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
        # the F.2(a) condition, from x and g alone: PN's projected energy / psi^2 <= BN's / sigma^2
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
            "cases where PN <= BN disagrees with the F.2(a) condition", mismatches, 0,
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


register(
    Claim(
        id="powernorm.smaller_gradient_norm",
        title="PN's loss-gradient norm is below BN's under the projected-energy condition",
        paper=_PAPER,
        statement=(
            "PN's input-gradient norm is at most BN's exactly when (1/psi_B^2)(||g||^2 - (x_hat_PN.g)^2/B) "
            "<= (1/sigma_B^2)(||g||^2 - (1.g)^2/B - (x_hat_BN.g)^2/B); since psi_B^2 = sigma_B^2 + mu_B^2, "
            "the fraction of random (x, g) where it holds rises towards 1 with the batch mean shift."
        ),
        formula="||dL/dx||_PN <= ||dL/dx||_BN  <=>  condition;  P(condition) increases with |mu|/sigma",
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
)

# ------------------------------------------------------------ Algorithm 1, long run


@dataclass(frozen=True)
class LongRunInstance:
    batch: int
    alpha: float
    scale: float
    correlation: float
    warmup: int
    steps: int
    seed: int


_CHANNELS = 4


def _reference_step(
    state: dict, x: Tensor, g_out: Tensor, alpha: float, warmup: int
) -> tuple[Tensor, Tensor]:
    """Algorithm 1 written out directly (theory.md F.1) for one batch, gamma = 1: (y = x_hat, dL/dx)."""
    state["t"] += 1
    if state["t"] <= warmup:
        psi = torch.sqrt(x.square().mean(0) + state["eps"])
        x_hat = x / psi
        grad = (g_out - x_hat * (g_out * x_hat).mean(0)) / psi
    else:
        psi = torch.sqrt(state["phi"] + state["eps"])
        x_hat = x / psi
        x_tilde = g_out - state["nu"] * x_hat
        grad = x_tilde / psi
        state["gamma"] = x_hat.square().mean(0)
        state["lambda"] = (g_out * x_hat).mean(0)
        state["nu"] = state["nu"] + (1 - alpha) * (x_tilde * x_hat).mean(0)
    state["phi"] = alpha * state["phi"] + (1 - alpha) * x.square().mean(0)
    return x_hat, grad


def _check_long_run(inst: LongRunInstance, cls) -> list[Evidence]:
    gen = torch.Generator().manual_seed(inst.seed)
    layer = cls(
        _CHANNELS,
        alpha_fwd=inst.alpha,
        alpha_bkw=inst.alpha,
        eps=1e-5,
        affine=False,
        warmup_iters=inst.warmup,
    ).double()
    layer.train()
    state = {
        "t": 0,
        "eps": 1e-5,
        "phi": torch.ones(_CHANNELS, dtype=_F64),
        "nu": torch.zeros(_CHANNELS, dtype=_F64),
    }
    shape = (inst.steps, inst.batch, _CHANNELS)
    # bounded inputs (uniform, |x| <= sqrt(3) scale) and bounded upstream gradients (|g| <= 2),
    # correlated with sign(x) so that Lambda_t has a nonzero mean: an un-decayed nu would drift
    xs = inst.scale * math.sqrt(3.0) * (2 * torch.rand(shape, generator=gen, dtype=_F64) - 1)
    noise = 2 * torch.rand(shape, generator=gen, dtype=_F64) - 1
    conformance, bound, nu_max, worst_rho, needed = 0.0, 0.0, 0.0, 1.0, 0.0
    for t in range(inst.steps):
        x = xs[t].clone().requires_grad_(True)
        g_out = inst.correlation * torch.sign(xs[t]) + (1 - inst.correlation) * noise[t]
        y = layer(x)
        (grad,) = torch.autograd.grad(y, x, g_out)
        psi_prev = torch.sqrt(state["phi"] + 1e-5)
        x_hat, ref_grad = _reference_step(state, xs[t], g_out, inst.alpha, inst.warmup)
        scale = max(1.0, ref_grad.abs().max().item(), x_hat.abs().max().item())
        conformance = max(
            conformance,
            (y.detach() - x_hat).abs().max().item() / scale,
            (grad - ref_grad).abs().max().item() / scale,
        )
        if state["t"] > inst.warmup:
            # F.2(b): nu_t = (1 - (1-a) Gamma_t) nu_{t-1} + (1-a) Lambda_t contracts while
            # 0 <= (1-a) Gamma_t <= 1, so |nu_t| <= M := max_s |Lambda_s| / Gamma_s for all t,
            # and then ||dL/dx|| <= (||g|| + M ||x_hat||) / psi_{t-1} per channel
            bound = max(bound, (state["lambda"].abs() / state["gamma"]).max().item())
            worst_rho = min(worst_rho, (1 - (1 - inst.alpha) * state["gamma"]).min().item())
            nu_max = max(nu_max, layer.running_nu.abs().max().item())
            excess = (grad.norm(dim=0) * psi_prev - g_out.norm(dim=0)) / x_hat.norm(dim=0)
            needed = max(needed, excess.max().item())
        if conformance > 1e-12 or max(nu_max, needed) > bound * (1 + 1e-9) + 1e-12:
            break  # already violated: no need to run the rest
    allowed = bound * (1 + 1e-9) + 1e-12
    rounding = "float64 rounding (relative 1e-9)"
    return [
        Evidence.at_most(
            "max relative deviation of (y, dL/dx) from the Algorithm 1 recursion", conformance, 1e-12,
            "float64: the layer and the reference perform the same few operations per step",
            steps_run=t + 1,
        ),
        Evidence.at_least(
            "min_t (1 - (1 - alpha) Gamma_t) (the nu recursion contracts; hypothesis of F.2(b))",
            worst_rho, 0.0, "exact precondition (bounded inputs after warm-up)",
        ),
        Evidence.at_most(
            f"max_t |nu_t| over {t + 1} steps", nu_max, allowed,
            f"horizon-free bound M = max_s |Lambda_s|/Gamma_s, up to {rounding}", steps=inst.steps,
        ),
        Evidence.at_most(
            "max_t (||dL/dx|| psi_{t-1} - ||g||) / ||x_hat|| per channel", needed, allowed,
            f"gradient bound (||g|| + M ||x_hat||)/psi_{{t-1}} of F.2(b), up to {rounding}",
        ),
    ]  # fmt: skip


class _NuWithoutDecay(Function):
    """nu_t = nu_{t-1} + (1-alpha) mean(g x_hat): the -nu Gamma decay term forgotten."""

    @staticmethod
    def forward(ctx, x, weight, bias, psi, nu, alpha):  # noqa: D102
        x_hat = x / psi
        ctx.save_for_backward(x_hat, psi)
        ctx.nu, ctx.alpha = nu, alpha
        return x_hat

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        x_hat, psi = ctx.saved_tensors
        x_tilde = grad_out - ctx.nu * x_hat
        with torch.no_grad():
            ctx.nu.add_((1 - ctx.alpha) * (grad_out * x_hat).mean(0))
        return x_tilde / psi, None, None, None, None, None


class _BatchPsiInBackward(Function):
    """The official code's backward: divides by the current batch's psi_B, not the running psi."""

    @staticmethod
    def forward(ctx, x, weight, bias, psi, nu, alpha):  # noqa: D102
        x_hat = x / psi
        ctx.save_for_backward(x_hat, torch.sqrt(x.square().mean(0) + 1e-5))
        ctx.nu, ctx.alpha = nu, alpha
        return x_hat

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        x_hat, batch_psi = ctx.saved_tensors
        x_tilde = grad_out - ctx.nu * x_hat
        with torch.no_grad():
            ctx.nu.add_((1 - ctx.alpha) * (x_tilde * x_hat).mean(0))
        return x_tilde / batch_psi, None, None, None, None, None


def _layer_with_backward(function: type[Function], name: str, doc: str) -> type[PowerNorm]:
    return type(name, (PowerNorm,), {"_approximate_step": function, "__doc__": doc})


class _CentredPowerNorm(PowerNorm):
    """PN forward with centring added (x - mean_B(x) fed to the layer)."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return super().forward(x - x.mean(0) if self.training else x)


def _long_run_strategy():
    steps = 10_000 if active_profile() == "thorough" else 1_000
    return st.builds(
        LongRunInstance, st.integers(8, 32), st.floats(0.9, 0.99), st.floats(0.1, 10.0), st.floats(0.2, 0.8),
        st.integers(20, 40), st.just(steps), seeds(),
    )  # fmt: skip


register(
    Claim(
        id="powernorm.approximate_backward",
        title="PowerNorm follows Algorithm 1 and its approximate backward stays bounded",
        paper=_PAPER,
        statement=(
            "In training mode the layer normalises by the running quadratic mean psi_{t-1}, "
            "backpropagates (gamma g - nu_{t-1} x_hat)/psi_{t-1} and updates "
            "nu_t = nu_{t-1} + (1-alpha) mean(x_tilde x_hat). "
            "With bounded inputs and upstream gradients, nu (hence dL/dx) stays below a bound that does "
            "not grow with the number of steps (10^4 steps in the thorough profile, 10^3 in ci)."
        ),
        formula=(
            "dL/dx = (gamma g - nu_{t-1} x_hat)/psi_{t-1};  |nu_t| <= max_s |Lambda_s|/Gamma_s  "
            "when 0 <= (1-alpha) Gamma_s <= 1"
        ),
        strategy=_long_run_strategy,
        check=_check_long_run,
        subject=PowerNorm,
        mutants=(
            Mutant(
                "nu-without-decay",
                "nu accumulates (1-alpha) mean(g x_hat) with no -nu Gamma term",
                _layer_with_backward(_NuWithoutDecay, "NuWithoutDecay", _NuWithoutDecay.__doc__),
            ),
            Mutant(
                "batch-psi-in-backward",
                "backward divides by the batch psi_B (official code), not psi_{t-1}",
                _layer_with_backward(_BatchPsiInBackward, "BatchPsiInBackward", _BatchPsiInBackward.__doc__),
            ),
            Mutant("centring-added", "the training-mode forward centres the batch first", _CentredPowerNorm),
        ),  # fmt: skip
        examples={"ci": 2, "thorough": 10},
        mutant_examples=2,
    )
)

__all__ = ["NormFormulas", "plot"]
