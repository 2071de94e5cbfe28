"""What the ``wide_deep.*`` claims share: the kernel subject, a mutant recursion, the data, the paper.

Radhakrishnan, Belkin, Uhler, *Wide and deep neural networks achieve consistency for
classification* (PNAS 2023; arXiv 2204.14126); docs/derivations.md, §6.
:class:`KernelSubject` (a kernel recursion and a dual) is the subject of
``wide_deep.nearest_neighbour``, ``wide_deep.majority_vote`` and ``wide_deep.singular_kernel``;
``_rescaled_path`` (K rescaled by its maximum inside the loop, the first
numerical trap of docs/derivations.md, §6) is the mutant the
last two reject; :class:`SphereData` (Dirichlet classes on the sphere) feeds every claim that
classifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from probtheory.theory.wide_deep import DeepKernels


@dataclass(frozen=True)
class KernelSubject:
    """A recursion ``path(xi, depths, dual, complement=...) -> {depth: DeepKernels}`` and a dual."""

    path: Any
    dual: Any  # a DualActivation, or a callable of the instance returning one


def _dual_for(subject: KernelSubject, inst) -> Any:
    return (
        subject.dual(inst) if callable(subject.dual) and not hasattr(subject.dual, "dual") else subject.dual
    )


def _rescaled_path(xi, depths, dual, *, complement=None):
    """Mutant recursion: K is divided by its maximum (the diagonal) inside the loop (but K is affine)."""
    sigma = (1.0 - complement) if complement is not None else xi.to(torch.float64)
    ntk = sigma.clone()
    top = 1.0
    out = {}
    for layer in range(max(depths) + 1):
        if layer in depths:
            out[layer] = DeepKernels(sigma, ntk / top, top)
        nxt = dual.dual(sigma)
        # K_{l+1} = phi(S_l) + (K_l / max K_l) phi'(S_l): the affine recursion is no longer scale-free
        ntk = nxt + (ntk / top) * dual.derivative(sigma)
        top = 1.0 + dual.slope_at(1.0)
        sigma = nxt
    return out


# --- data: Dirichlet classes on the sphere (as the authors' code) ----------------------------------


@dataclass(frozen=True)
class SphereData:
    num_train: int
    num_test: int
    seed: int

    def tensors(self):
        """Train inputs `n x 3`, labels `n`, test inputs `m x 3`, labels `m` (unit vectors)."""
        rng = np.random.default_rng(self.seed)
        total = self.num_train + self.num_test
        labels = np.where(rng.random(total) < 0.6, 1.0, -1.0)
        x = np.where(labels[:, None] > 0, rng.dirichlet([1, 2, 3], total), rng.dirichlet([3, 2, 1], total))
        x = torch.as_tensor(x / np.linalg.norm(x, axis=1, keepdims=True))
        y = torch.as_tensor(labels)
        n = self.num_train
        return x[:n], y[:n], x[n:], y[n:]
