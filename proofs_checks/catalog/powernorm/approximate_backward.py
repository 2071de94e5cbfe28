r"""Claim ``powernorm.approximate_backward``: PowerNorm's backward follows Algorithm 1 and stays bounded.

Shen, Yao, Gholami, Mahoney, Keutzer, *PowerNorm: Rethinking Batch Normalization in
Transformers*, ICML 2020, Algorithm 1: the layer's training-mode forward/backward follow
Algorithm 1 (to 1e-12 against an independent recursion) and :math:`\nu` stays below the
horizon-free bound max_t |Lambda_t| / Gamma_t over a long run (10^4 steps in the ``thorough``
profile, 10^3 in ``ci``), so the approximate backward stays bounded as the paper argues (the
bound itself is derived in the check below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import Tensor
from torch.autograd import Function

from probtheory.layers.powernorm import PowerNorm
from proofs_checks.catalog.bibliography import SHEN_POWERNORM_2020
from proofs_checks.catalog.powernorm._norm_formulas import _F64
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import instance_label, label_axes
from proofs_checks.profiles import active_profile
from proofs_checks.strategies import seeds


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
    """Algorithm 1 of the paper written out directly for one batch, gamma = 1: (y = x_hat, dL/dx)."""
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
    path: dict[str, list[float]] = {"step": [], "nu": [], "bound": []}  # after warm-up, for the report
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
            # boundedness: nu_t = (1 - (1-a) Gamma_t) nu_{t-1} + (1-a) Lambda_t contracts while
            # 0 <= (1-a) Gamma_t <= 1, so |nu_t| <= M := max_s |Lambda_s| / Gamma_s for all t,
            # and then ||dL/dx|| <= (||g|| + M ||x_hat||) / psi_{t-1} per channel
            bound = max(bound, (state["lambda"].abs() / state["gamma"]).max().item())
            worst_rho = min(worst_rho, (1 - (1 - inst.alpha) * state["gamma"]).min().item())
            nu_max = max(nu_max, layer.running_nu.abs().max().item())
            path["step"].append(t + 1)
            path["nu"].append(layer.running_nu.abs().max().item())
            path["bound"].append(bound)
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
            "min_t (1 - (1 - alpha) Gamma_t) (the nu recursion contracts; hypothesis of the bound)",
            worst_rho, 0.0, "exact precondition (bounded inputs after warm-up)",
        ),
        Evidence.at_most(
            f"max_t |nu_t| over {t + 1} steps", nu_max, allowed,
            f"horizon-free bound M = max_s |Lambda_s|/Gamma_s, up to {rounding}", steps=inst.steps,
            path=path,
        ),
        Evidence.at_most(
            "max_t (||dL/dx|| psi_{t-1} - ||g||) / ||x_hat|| per channel", needed, allowed,
            f"bound (||g|| + M ||x_hat||)/psi_{{t-1}} of the approximate backward, up to {rounding}",
        ),
    ]  # fmt: skip


def plot(records, ax) -> None:
    """The largest |nu_t| of the channels along the run, under the running bound max_s |Lambda_s|/Gamma_s."""
    for i, (inst, evidence) in enumerate(records):
        path = evidence[2].details["path"]
        label = instance_label(i, f"alpha = {inst.alpha:.3f}, B = {inst.batch}, scale {inst.scale:.2g}")
        line = ax.plot(path["step"], path["nu"], lw=1, label=label)
        ax.plot(path["step"], path["bound"], ls="--", lw=0.9, color=line[0].get_color())
    ax.plot([], [], "k--", lw=0.9, label="running bound max_s |Lambda_s| / Gamma_s")
    label_axes(ax, "step t", "max over channels of |nu_t|", xscale="log", yscale="log")


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


APPROXIMATE_BACKWARD_CLAIM = Claim(
    id="powernorm.approximate_backward",
    title="PowerNorm follows Algorithm 1 and its approximate backward stays bounded",
    paper=SHEN_POWERNORM_2020,
    section="Algorithm 1",
    statement=(
        "In training mode the layer normalises by the running quadratic mean psi_{t-1}, "
        "backpropagates (gamma g - nu_{t-1} x_hat)/psi_{t-1} and updates "
        "nu_t = nu_{t-1} + (1-alpha) mean(x_tilde x_hat). "
        "With bounded inputs and upstream gradients, nu (hence dL/dx) stays below a bound that does "
        "not grow with the number of steps (10^4 steps in the thorough profile, 10^3 in ci)."
    ),
    formula=(
        r"\frac{dL}{dx} = \frac{\gamma g - \nu_{t-1} \hat x}{\psi_{t-1}};\quad |\nu_t| \le \max_s "
        r"|\Lambda_s|/\Gamma_s \text{ when } 0 \le (1-\alpha) \Gamma_s \le 1"
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
    plot=plot,
)
