"""Claim ``snnk.unbiased_features`` (scalable neural network kernels).

Sehanobish, Choromanski, Zhao, Dubey & Likhosherstov, *Scalable Neural Network Kernels* (ICLR
2024): an SNNK layer writes the feed-forward map x -> f(w^T x + b) as the inner product of two
random feature maps sharing one Gaussian matrix G, Phi(x~) . Psi(w~), with x~ = [x, 1] and
w~ = [w, b]. For an activation with a decomposition f(z) = E_xi[c(xi) exp(a(xi)^2 z)] the
exponential features give an *unbiased* estimate, E_G[Phi(x~) . Psi(w~)] = f(w^T x + b) (because
E_g exp(g^T u) = exp(u^T u / 2)); the ReLU features relu(G z) / sqrt(m) give an unbiased estimate of
the first-order arc-cosine kernel k_1(x~, w~).

Checked by Monte Carlo at initialisation (Psi = Psi(w~)) with i.i.d. rows: the estimate is the mean
of m i.i.d. terms m Phi_k(x~) Psi_k(w~), so its standard error is the terms' standard deviation over
sqrt(m); every entry of the n x out output must lie within 5 standard errors of the exact value
(``exp``, ``cos``, ``sin`` and ``relu`` features, inputs and weights of norm below about 1, where the
terms have finite variance and light tails).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from probtheory.layers.snnk import SNNKLinear
from proofs_checks.catalog.bibliography import SNNK
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes, z_score_histogram
from proofs_checks.strategies import seeds

_FEATURES = 20000
_Z = 5.0
_CASES = (("relu", "exp"), ("urf", "exp"), ("urf", "cos"), ("urf", "sin"))


@dataclass(frozen=True)
class SNNKInstance:
    dim: int
    out: int
    scale: float
    seed: int


@st.composite
def _instances(draw) -> SNNKInstance:
    return SNNKInstance(
        draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.floats(0.05, 0.4)), draw(seeds())
    )


def _check(inst: SNNKInstance, make) -> list[Evidence]:
    gen = torch.Generator().manual_seed(inst.seed)
    x = torch.randn(3, inst.dim, generator=gen, dtype=torch.float64) * inst.scale
    w = torch.randn(inst.out, inst.dim, generator=gen, dtype=torch.float64) * inst.scale
    b = torch.randn(inst.out, generator=gen, dtype=torch.float64) * inst.scale
    evidence = []
    for i, (kind, activation) in enumerate(_CASES):
        layer = make(inst.dim, inst.out, _FEATURES, kind=kind, activation=activation, orthogonal=False,
                     weight=w, bias_init=b, seed=(inst.seed + i) % 2**31, dtype=torch.float64)  # fmt: skip
        exact = SNNKLinear(inst.dim, inst.out, 1, kind=kind, activation=activation).target(x, w, b)
        with torch.no_grad():
            terms = _FEATURES * layer.input_features(x).unsqueeze(-2) * layer.psi  # n x out x m
            terms = terms.real if terms.is_complex() else terms
            estimate = layer(x)
        se = terms.std(-1) / math.sqrt(_FEATURES)
        z = (estimate - exact) / se
        evidence.append(
            Evidence.at_most(
                f"max over outputs of |Phi(x).Psi(w) - exact| in standard errors ({kind}, {activation})",
                z.abs().max().item(),
                _Z,
                f"z = {_Z:g} standard errors of a mean of {_FEATURES} i.i.d. random-feature terms",
                target="arc-cosine kernel k_1" if kind == "relu" else f"{activation}(w^T x + b)",
                features="ReLU features, k_1" if kind == "relu" else f"URF features, {activation}",
                z_scores=z.flatten().tolist(),
            )  # fmt: skip
        )
    return evidence


def plot(records, ax) -> None:
    """Signed z-scores of every output of the random-feature estimate, per feature kind, against N(0, 1)."""
    groups: dict[str, list[float]] = {}
    for _, evidence in records:
        for e in evidence:
            groups.setdefault(e.details["features"], []).extend(e.details["z_scores"])
    z_score_histogram(ax, groups, _Z)
    label_axes(ax, "(Phi(x).Psi(w) - exact) / standard error", "density")


class _NoNormCorrection(SNNKLinear):
    """Exponential features exp(a g^T z) without the exp(-a^2 ||z||^2 / 2) correction."""

    def _features(self, z, coefficients):
        features = super()._features(z, coefficients)
        if self.kind == "relu":
            return features
        a_squared = self.decomposition.a_squared(self.xi)
        a_squared = a_squared.real if self.decomposition.real else a_squared.to(features.dtype)
        return features * torch.exp(z.square().sum(-1, keepdim=True).to(a_squared.dtype) * a_squared / 2)


class _UniformProjection(SNNKLinear):
    """G with U(0, 1) entries instead of N(0, 1) (torch.rand: the original code's adapter does this)."""

    def __init__(self, *args, weight=None, bias_init=None, seed=None, **kwargs):
        super().__init__(*args, weight=weight, bias_init=bias_init, seed=seed, **kwargs)
        gen = torch.Generator().manual_seed(seed if seed is not None else 0)
        self.projection = torch.rand(self.projection.shape, generator=gen, dtype=self.projection.dtype)
        self.psi.data = self.weight_features(weight, bias_init)


UNBIASED_FEATURES_CLAIM = Claim(
    id="snnk.unbiased_features",
    title="SNNK random features estimate the activation (URF) or arc-cosine kernel (ReLU) without bias",
    paper=SNNK,
    statement=(
        "With rows of G i.i.d. N(0, I), the SNNK layer at initialisation is an unbiased estimate of "
        "f(w^T x + b) for exponential (URF) features of f = exp, cos, sin, and of the arc-cosine "
        "kernel k_1([x, 1], [w, b]) for ReLU features."
    ),
    formula=(
        r"\mathbb{E}_G[\Phi([x,1]) \cdot \Psi([w,b])] = f(w^T x + b)\ (\mathrm{URF});\quad "
        r"\mathbb{E}_G[\mathrm{relu}(G \tilde x) \cdot \mathrm{relu}(G \tilde w)] / m = \|\tilde "
        r"x\| \|\tilde w\| \frac{\sin t + (\pi - t) \cos t}{2\pi}\ (\mathrm{ReLU})"
    ),
    strategy=_instances,
    check=_check,
    subject=SNNKLinear,
    mutants=(
        Mutant(
            "no-norm-correction",
            "exponential features without the exp(-a^2 ||z||^2 / 2) factor",
            _NoNormCorrection,
        ),
        Mutant(
            "uniform-projection",
            "random matrix drawn U(0, 1) (torch.rand) instead of N(0, 1)",
            _UniformProjection,
        ),
    ),
    examples={"ci": 4, "thorough": 30},
    mutant_examples=2,
    plot=plot,
)
