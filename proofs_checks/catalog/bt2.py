"""Claim ``bt2.basis_transform_isometry`` (BT²'s basis transformation loses no information).

Zhou et al., *BT²: Backward-compatible Training with Basis Transformation* (ICCV 2023): the new
embedding is z_new = [z_bct, z_{d_old+1:}] with z = [g_hat, O1 (C f_hat)] and z_bct = O2 z_{1:d_old},
O1, O2 orthogonal. So z_new = diag(O2, I) z is an orthogonal image of [g_hat, C f_hat] up to the
rotation O1 of its second block: every inner product between new embeddings is

    <z_new(a), z_new(b)> = <g_hat(a), g_hat(b)> + C^2 <f_hat(a), f_hat(b)>,

and the compatible embedding z_bct is literally the first d_old coordinates of z_new. This is the
paper's reason why the extra dimensions and the compatibility constraint cost the new model no
information ("orthogonal transformations preserve information").

Checked exactly (float64) on random batches and random orthogonal initialisations: the largest
deviation of the Gram matrix of z_new from the right-hand side. The tolerance is 100 n eps (1 + C^2)
with n = d + k the embedding width: the standard bound n eps |a| |b| on a float64 dot product,
times 100 for the matrix exponential behind the orthogonal parametrization.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import nn

from probtheory.training.bt2 import BasisTransform, Embeddings
from proofs_checks.catalog.bibliography import BT2
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.strategies import seeds

_EPS = torch.finfo(torch.float64).eps


@dataclass(frozen=True)
class BT2Instance:
    old_dim: int
    new_dim: int
    extra_dim: int
    scale: float
    batch: int
    seed: int


@st.composite
def _instances(draw) -> BT2Instance:
    new_dim = draw(st.integers(1, 12))
    extra_dim = draw(st.integers(0, 8))
    old_dim = draw(st.integers(1, new_dim + extra_dim))
    scale = draw(st.floats(0.5, 5.0))
    return BT2Instance(old_dim, new_dim, extra_dim, scale, draw(st.integers(2, 16)), draw(seeds()))


def _check(inst: BT2Instance, make) -> list[Evidence]:
    head = make(
        inst.old_dim, inst.new_dim, inst.extra_dim, inst.scale, seed=inst.seed % 2**31, dtype=torch.float64
    )
    g = torch.Generator().manual_seed(inst.seed)
    f = torch.randn(inst.batch, inst.new_dim, dtype=torch.float64, generator=g)
    e = torch.randn(inst.batch, inst.extra_dim, dtype=torch.float64, generator=g)
    with torch.no_grad():
        out = head(f, e)
    f_hat, e_hat = F.normalize(f, dim=-1), F.normalize(e, dim=-1)
    gram = e_hat @ e_hat.T + inst.scale**2 * (f_hat @ f_hat.T)
    tolerance = 100 * (inst.new_dim + inst.extra_dim) * _EPS * (1 + inst.scale**2)
    return [
        Evidence.at_most(
            "max |<z_new(a), z_new(b)> - (<g(a), g(b)> + C^2 <f(a), f(b)>)|",
            (out.embedding @ out.embedding.T - gram).abs().max().item(),
            0.0,
            "float64 dot-product round-off n eps (1 + C^2), times 100 for the matrix exponential",
            tolerance=tolerance,
            old_dim=inst.old_dim, new_dim=inst.new_dim, extra_dim=inst.extra_dim, scale=inst.scale,
        ),
        Evidence.at_most(
            "max |z_new[:, :d_old] - z_bct|",
            (out.embedding[:, : inst.old_dim] - out.compatible).abs().max().item(),
            0.0,
            "the compatible embedding is a block of the new one: exact",
        ),
    ]  # fmt: skip


class _UnconstrainedBasisTransform(BasisTransform):
    """Mutant: O2 an unconstrained linear map (plain BCT-style projection), not an orthogonal one."""

    def __init__(self, old_dim, new_dim, extra_dim, scale=3.0, *, seed=None, dtype=None):
        super().__init__(old_dim, new_dim, extra_dim, scale, seed=seed, dtype=dtype)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0 if seed is None else seed)
            linear = nn.Linear(old_dim, old_dim, bias=False, dtype=dtype)
        with torch.no_grad():  # a generic matrix: orthogonal plus a perturbation
            linear.weight.copy_(self.rotate_compatible.weight + 0.3 * linear.weight)
        self.rotate_compatible = linear


class _UnnormalisedFeatureTransform(BasisTransform):
    """Mutant: f fed in without normalisation, so the new-space geometry depends on |f|."""

    def forward(self, feature, extra):
        g = F.normalize(extra, dim=-1) if self.extra_dim else extra
        z = torch.cat([g, self.rotate_feature(self.scale * feature)], dim=-1)
        compatible = self.rotate_compatible(z[..., : self.old_dim])
        return Embeddings(compatible, torch.cat([compatible, z[..., self.old_dim :]], dim=-1), feature)


BASIS_TRANSFORM_ISOMETRY_CLAIM = Claim(
    id="bt2.basis_transform_isometry",
    title="BT²'s basis transformation is an isometry of [g, C f]: the new embedding loses nothing",
    paper=BT2,
    statement=(
        "With O1, O2 orthogonal, z_new = diag(O2, I) [g_hat, O1 C f_hat]: inner products of new "
        "embeddings are those of [g_hat, C f_hat], and the compatible embedding z_bct is the first "
        "d_old coordinates of z_new."
    ),
    formula=(
        r"\langle z_{\mathrm{new}}(a), z_{\mathrm{new}}(b) \rangle = \langle \hat g(a), \hat g(b) "
        r"\rangle + C^2 \langle \hat f(a), \hat f(b) \rangle,\quad "
        r"z_{\mathrm{new}}[{:}d_{\mathrm{old}}] = z_{\mathrm{bct}}"
    ),
    strategy=_instances,
    check=_check,
    subject=BasisTransform,
    mutants=(
        Mutant(
            "unconstrained-o2",
            "the map into the old space is a generic linear map instead of an orthogonal one",
            _UnconstrainedBasisTransform,
        ),
        Mutant(
            "unnormalised-feature",
            "the new feature f is used without normalisation",
            _UnnormalisedFeatureTransform,
        ),
    ),
    examples={"ci": 10, "thorough": 100},
    mutant_examples=10,
)
