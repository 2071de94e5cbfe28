"""Shuffled, re-iterable minibatches of aligned tensors: the usual data policy of `fit`."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from probtheory._checks import check_int
from probtheory.errors import InputDataError

__all__ = ["Minibatches"]


class Minibatches:
    """Shuffled minibatches of aligned tensors, re-iterable once per epoch.

    Each iteration draws a fresh permutation from the object's own generator, so the batch
    order is reproducible from ``seed`` and independent of the global RNG.

    Args:
        *tensors: Tensors sharing their first (sample) dimension `n`.
        batch_size: Samples per batch; the last batch of an epoch may be smaller.
        shuffle: Draw a new order every epoch (otherwise keep the given order).
        seed: Seed of the shuffling generator.
    """

    def __init__(self, *tensors: Tensor, batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
        if not tensors:
            raise InputDataError("tensors", "at least one tensor", "none")
        for i, tensor in enumerate(tensors):
            if not isinstance(tensor, Tensor) or tensor.dim() == 0:
                hint = (
                    " (pass the tensors as separate arguments: Minibatches(x, y, ...))"
                    if isinstance(tensor, (list, tuple))
                    else ""
                )
                raise InputDataError(
                    f"tensors[{i}]", "a tensor with a sample dimension", f"{type(tensor).__name__}{hint}"
                )
        sizes = {int(t.shape[0]) for t in tensors}
        if len(sizes) != 1:
            raise InputDataError("tensors", "the same first dimension n", sorted(sizes))
        if sizes == {0}:
            raise InputDataError(
                "tensors", "at least one sample (n >= 1)", f"shape {tuple(tensors[0].shape)}"
            )
        self.tensors = tensors
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.shuffle = bool(shuffle)
        self._generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))

    @property
    def num_samples(self) -> int:
        """The number `n` of samples."""
        return int(self.tensors[0].shape[0])

    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = self.num_samples
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            yield tuple(t[index] for t in self.tensors)
