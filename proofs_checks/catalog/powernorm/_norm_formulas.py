"""What the ``powernorm.*`` claims share: the gradient claims' subject and the paper.

PowerNorm's gradients (Shen, Yao, Gholami, Mahoney, Keutzer, ICML 2020; docs/derivations.md, §3).
:class:`NormFormulas` (PN-V's forward and the closed-form BN and PN-V input gradients) is the
subject of ``powernorm.gradient_identities`` and ``powernorm.smaller_gradient_norm``, and
``_pn_forward_centred`` the mutant both reject; the paper reference and the float64 dtype
serve all three claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from probtheory.layers.powernorm import (
    batch_norm_exact_grad,
    power_norm_batch,
    power_norm_exact_grad,
)

_F64 = torch.float64


@dataclass(frozen=True)
class NormFormulas:
    """The subject of the gradient claims: PN-V's forward and the two closed-form gradients."""

    pn_forward: Any = power_norm_batch
    pn_grad: Any = power_norm_exact_grad
    bn_grad: Any = batch_norm_exact_grad


def _pn_forward_centred(x, weight=None, bias=None, eps=0.0):
    """Mutant forward: PN with centring added (i.e. the BN forward), paired with PN's backward."""
    return power_norm_batch(x - x.mean(0), weight, bias, eps=eps)
