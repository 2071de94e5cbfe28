"""Index bookkeeping of categorical variables one-hot encoded contiguously in ``R^D``.

Feng, Winston, Kolter, *Monotone deep Boltzmann machines* (TMLR 2023, arXiv 2307.04990);
reference code locuslab/MonotoneDBM. Variable ``i`` with ``k_i`` categories owns the ``k_i``
coordinates ``offsets[i] : offsets[i] + k_i`` of ``z in R^D``, ``D = sum_i k_i``; :class:`_Groups`
gives the block-wise sums, maxima, softmax and the mask of the diagonal ``k_i x k_i`` blocks
(the blocks that the coupling ``W`` leaves hollow) used by
:mod:`probtheory.energy.proximal_softmax`, :mod:`probtheory.energy.categorical_mean_field` and
:class:`probtheory.energy.monotone_dbm.MonotoneDBM`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from probtheory._checks import check_int
from probtheory.errors import InputDataError


class _Groups:
    """Index bookkeeping of categorical groups laid out contiguously in ``R^D``."""

    def __init__(self, sizes: Sequence[int], device: torch.device | None = None) -> None:
        self.sizes = tuple(int(k) for k in sizes)
        self.n = len(self.sizes)
        self.dim = sum(self.sizes)
        self.gid = torch.repeat_interleave(
            torch.arange(self.n, device=device), torch.tensor(self.sizes, device=device)
        )
        self.offsets = torch.tensor((0, *self.sizes), device=device).cumsum(0)[:-1]
        self.kmax = max(self.sizes)

    def segment_sum(self, x: Tensor) -> Tensor:
        """`batch x D` -> `batch x n` block sums."""
        return x.new_zeros(x.shape[0], self.n).index_add_(1, self.gid, x)

    def segment_max(self, x: Tensor) -> Tensor:
        """`batch x D` -> `batch x n` block maxima."""
        out = x.new_full((x.shape[0], self.n), -math.inf)
        return out.scatter_reduce(1, self.gid.expand_as(x), x, "amax", include_self=True)

    def expand(self, per_group: Tensor) -> Tensor:
        """`batch x n` -> `batch x D`, each group's value repeated over its coordinates."""
        return per_group[:, self.gid]

    def softmax(self, y: Tensor) -> Tensor:
        e = torch.exp(y - self.expand(self.segment_max(y)))
        return e / self.expand(self.segment_sum(e))

    def log_softmax(self, y: Tensor) -> Tensor:
        shifted = y - self.expand(self.segment_max(y))
        return shifted - self.expand(torch.log(self.segment_sum(torch.exp(shifted))))

    def same_group(self) -> Tensor:
        """`D x D` boolean mask of the diagonal blocks."""
        return self.gid[:, None] == self.gid[None, :]


def _groups_of(group_sizes: Sequence[int] | _Groups, device: torch.device | None = None) -> _Groups:
    if isinstance(group_sizes, _Groups):
        return group_sizes
    return _Groups(_check_sizes("group_sizes", group_sizes), device)


def _check_sizes(name: str, sizes: Sequence[int], *, allow_empty: bool = False) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise InputDataError(name, "a sequence of category counts k_i >= 2", repr(sizes))
    if not sizes and not allow_empty:
        raise InputDataError(name, "at least one categorical variable", "an empty sequence")
    return tuple(check_int(f"{name}[{i}]", k, minimum=2) for i, k in enumerate(sizes))


def _flat(name: str, t: Tensor, dim: int) -> Tensor:
    if t.dim() < 1 or t.shape[-1] != dim:
        raise InputDataError(name, f"a `... x {dim}` tensor", f"shape {tuple(t.shape)}")
    return t.reshape(-1, dim)
