"""Claim ``kernels.paths_agree``: every public path to an NNGP / NTK value gives the same value.

The NNGP and NTK of a deep fully connected network (Jacot, Gabriel & Hongler, NeurIPS 2018,
Eq. (4)-(5); Lee et al., ICLR 2018) are reached in probtheory by several public paths with
separate code: the full Gram matrix ``k(x1, x2)``, its diagonal ``k(x1, x2, diag=True)`` (its
own recursion over the variances q^l, with each activation's own ``diag`` expectations),
batched inputs ``b x n x d``, float32 inputs, and the function :func:`nngp_and_ntk`. They are
one mathematical object, so they must agree:

* diagonal paths, batched and the function against the full float64 matrix: to round-off
  (1e-10 relative to the largest entry of the kernel of the inputs involved, which bounds every
  entry by Cauchy-Schwarz -- an entry may be 0, e.g. ReLU without bias on antipodal 1-d inputs;
  the recursions are a few dozen float64 operations per entry);
* float32 against float64: to ``8 sqrt(eps_32) (L + 1)`` relative to the largest entry -- an
  entry whose inputs are nearly parallel has correlation 1 - delta, and ``arccos`` turns a
  round-off eps of delta into sqrt(eps) in the angle, once per layer.

Every activation family the kernels support is drawn (closed forms and quadrature), and depth 0
(the input layer's kernel alone: no activation enters) as well as deeper networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from probtheory.kernels import NNGPKernel, NTKKernel, nngp_and_ntk
from proofs_checks.catalog.bibliography import JACOT_GABRIEL_HONGLER_2018
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import (
    KERNEL_ACTIVATIONS,
    NetworkInstance,
    activation_cases,
    activation_family,
    activations,
    depths,
    network_instances,
    sphere_inputs,
)

ROUND_OFF = 1e-10
_EPS32 = torch.finfo(torch.float32).eps


@dataclass(frozen=True)
class KernelPaths:
    """The public paths under test: the kernel classes and the function."""

    nngp: type[NNGPKernel] = NNGPKernel
    ntk: type[NTKKernel] = NTKKernel
    function: object = nngp_and_ntk


def _strategy():
    return network_instances(
        inputs=sphere_inputs(n=(2, 8), d=(1, 5), radius="varied"),
        depth=depths(0, 4),
        activation=activations(closed_form_only=False),
    )


def _float64_kernel(cls: type, options: dict):
    """The kernel built with float64 as the default dtype, as the docs recommend.

    Its variances are stored as GPyTorch raw parameters: built under float32 and then cast, they
    keep float32 precision (0.25 becomes 0.25000000003), a difference of the construction, not of
    the paths compared here.
    """
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return cls(**options)
    finally:
        torch.set_default_dtype(previous)


def _relative(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> float:
    """The largest |a - b| relative to ``scale``, the largest entry of the kernel of the inputs involved.

    Not relative to max |b|: a cross kernel may be 0 (ReLU without bias on antipodal 1-d inputs),
    while the round-off of every entry is relative to the kernel's scale (Cauchy-Schwarz:
    |k(x, x')| <= max k(x, x)).
    """
    return float(
        (a.double() - b.double()).abs().max() / scale.double().clamp_min(torch.finfo(torch.float64).tiny)
    )


def _check(inst: NetworkInstance, paths: KernelPaths) -> list[Evidence]:
    x = inst.x
    half = x.shape[0] // 2 or 1
    x1, x2 = x[:half], x[-half:]
    other = torch.flip(x, dims=(0,)) * 0.8  # a second dataset of the same size, for the batch
    options = {
        "depth": inst.depth,
        "activation": inst.activation,
        "weight_variance": inst.weight_variance,
        "bias_variance": inst.bias_variance,
    }
    out = []
    function_nngp, function_ntk = paths.function(x, **options)
    for name, cls, function_value in (("NNGP", paths.nngp, function_nngp), ("NTK", paths.ntk, function_ntk)):
        kernel = _float64_kernel(cls, options)
        with torch.no_grad():
            full = kernel(x).to_dense()
            cross = kernel(x1, x2).to_dense()
            other_full = kernel(other).to_dense()
            scale, other_scale = full.abs().max(), other_full.abs().max()  # x1, x2 are rows of x
            agreements = {
                "k(x, diag=True) vs diagonal of k(x)": (kernel(x, diag=True), full.diagonal(), scale),
                "k(x1, x2, diag=True) vs diag of k(x1, x2)": (
                    kernel(x1, x2, diag=True), cross.diagonal(), scale
                ),
                "batched k(b x n x d)[0] vs k(x)": (
                    kernel(torch.stack([x, other])).to_dense()[0], full, scale
                ),
                "batched k(b x n x d)[1] vs k(x')": (
                    kernel(torch.stack([x, other])).to_dense()[1], other_full, other_scale
                ),
                "nngp_and_ntk(x) vs the kernel class": (function_value, full, scale),
            }  # fmt: skip
            low = kernel(x.float()).to_dense()
        disagreements = {path: _relative(*values) for path, values in agreements.items()}
        worst = max(disagreements, key=disagreements.get)
        out.append(
            Evidence.at_most(
                f"{name}: max relative disagreement of the float64 paths", disagreements[worst], ROUND_OFF,
                "float64 round-off of a few dozen operations per entry", worst=worst, **disagreements,
            )
        )  # fmt: skip
        float32_tolerance = 8 * math.sqrt(_EPS32) * (inst.depth + 1)
        out.append(
            Evidence.at_most(
                f"{name}: float32 input vs float64, relative to max |K|", _relative(low, full, scale),
                float32_tolerance, "arccos turns float32 round-off eps into sqrt(eps) in the angle of "
                "nearly parallel inputs, once per layer: 8 sqrt(eps_32) (L + 1)",
            )
        )  # fmt: skip
    return out


def _regimes(inst: NetworkInstance) -> dict[str, str | tuple[str, ...]]:
    return {
        "activation family": activation_family(inst.activation),
        "activation": inst.activation,
        "depth": "0 (no hidden layer)" if inst.depth == 0 else "1 to 4",
        "input dtype": ("float64", "float32"),  # every instance compares both
    }


REGIMES = Regimes(
    of=_regimes,
    cases={
        "activation family": activation_cases(KERNEL_ACTIVATIONS),
        "depth": {"0 (no hidden layer)": {"depth": 0}, "1 to 4": {"depth": depths(1, 4)}},
        "input dtype": {"float64": None, "float32": None},
    },
)


# ---------------------------------------------------------------------------------- mutants


def _diag_with_theta_from_q(x, depth, activation, weight_variance, bias_variance, *, ntk=True):
    """Mutant recursion: the NTK diagonal's update multiplies the new q where Theta^l belongs."""
    q = x.pow(2).sum(-1) * weight_variance / x.shape[-1] + bias_variance
    theta = q if ntk else None
    for _ in range(depth):
        mean_sq, mean_dsq = activation.diag(q)
        q = weight_variance * mean_sq + bias_variance
        if ntk:
            theta = q + weight_variance * mean_dsq * q
    return q, theta


def _diag_without_input_bias(x, depth, activation, weight_variance, bias_variance, *, ntk=True):
    """Mutant recursion: the first layer's variance q^1 = sigma_w^2 |x|^2 / d, without sigma_b^2."""
    q = weight_variance * x.pow(2).sum(-1) / x.shape[-1]
    theta = q if ntk else None
    for _ in range(depth):
        mean_sq, mean_dsq = activation.diag(q)
        q = weight_variance * mean_sq + bias_variance
        if ntk:
            theta = q + weight_variance * mean_dsq * theta
    return q, theta


def _with_diag(recursion, base: type) -> type:
    """A kernel class whose ``diag=True`` path runs ``recursion`` instead of the library's."""
    import probtheory.kernels.infinite_width as infinite_width

    class Mutated(base):
        def _kernels(self, x1, x2, diag):
            if not diag:
                return super()._kernels(x1, x2, diag)
            original = infinite_width.nngp_ntk_diag
            infinite_width.nngp_ntk_diag = recursion
            try:
                return super()._kernels(x1, x2, diag)
            finally:
                infinite_width.nngp_ntk_diag = original

    Mutated.__name__ = f"Mutated{base.__name__}"
    return Mutated


PATHS_AGREE_CLAIM = Claim(
    id="kernels.paths_agree",
    title="Full, diagonal, batched, float32 and functional NNGP/NTK paths agree",
    paper=JACOT_GABRIEL_HONGLER_2018,
    section="Eq. (4)-(5)",
    statement=(
        "The NNGP and NTK values reached through every public path -- the full matrix, the "
        "diagonal (diag=True, its own recursion), two different input sets (x1, x2), batched "
        "inputs, float32 inputs and nngp_and_ntk -- are the same kernel, for every activation."
    ),
    formula=(
        r"k(x, \mathrm{diag}{=}\mathrm{True}) = \operatorname{diag} k(x, x);\quad k([x; x'])_b = "
        r"k(x_b);\quad k_{32} = k_{64} + O(\sqrt{\epsilon_{32}})"
    ),
    strategy=_strategy,
    check=_check,
    subject=KernelPaths(),
    mutants=(
        Mutant(
            "theta-from-q",
            "the NTK diagonal's recursion multiplies q^{l+1} where Theta^l belongs",
            KernelPaths(ntk=_with_diag(_diag_with_theta_from_q, NTKKernel)),
        ),
        Mutant(
            "diag-without-input-bias",
            "the diagonal's first-layer variance forgets sigma_b^2",
            KernelPaths(nngp=_with_diag(_diag_without_input_bias, NNGPKernel)),
        ),
    ),  # fmt: skip
    examples={"ci": 12, "thorough": 150},
    mutant_examples=12,
    regimes=REGIMES,
)
