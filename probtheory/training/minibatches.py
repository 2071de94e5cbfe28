"""Data policies of `fit`: shuffled, re-iterable minibatches, and what an iterable of batches must be.

:class:`Minibatches` is the usual data; :func:`check_batches` is the one check of any iterable of
batches (``fit``'s ``data``, :class:`~probtheory.training.HardBatches`' data, ``SelfTuning``'s
validation data): an iterable that is not a tensor nor an empty collection, and whether it is a
one-shot iterator (``iter(data) is data``: used up by one pass) or one known to be endless.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sized
from typing import Any, NamedTuple

import torch
from torch import Tensor

from probtheory._checks import check_int
from probtheory.errors import InputDataError

__all__ = ["BatchSource", "Minibatches", "check_batches"]


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


class BatchSource(NamedTuple):
    """What kind of iterable of batches a data argument is.

    Attributes:
        one_shot: An iterator (``iter(data) is data``): one pass uses it up.
        endless: An iterator known never to end (``itertools.cycle``, ``itertools.count``,
            ``itertools.repeat`` without ``times``); an endless generator cannot be recognised.
    """

    one_shot: bool
    endless: bool


def check_batches(name: str, data: Any, *, reiterated: bool = False) -> BatchSource:
    """Require an iterable of batches: not a tensor (its rows are no batches), not an empty collection.

    Args:
        name: The argument's name, for the error.
        data: The batches.
        reiterated: The caller goes over ``data`` more than once (re-scoring it every epoch), so a
            one-shot or endless iterator is refused too.

    Returns:
        The :class:`BatchSource`, for callers with rules of their own (``fit``'s ``steps_per_epoch``).
    """
    if isinstance(data, Tensor):
        raise InputDataError(
            name,
            "an iterable of batches, e.g. [(x, y)] or Minibatches(x, y, batch_size=...)",
            f"a single tensor of shape {tuple(data.shape)} (its rows would be the batches)",
        )
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise InputDataError(name, "an iterable of batches", type(data).__name__)
    one_shot = isinstance(data, Iterator)
    if not one_shot and isinstance(data, Sized) and len(data) == 0:
        raise InputDataError(name, "at least one batch", f"an empty {type(data).__name__}")
    source = BatchSource(one_shot, one_shot and _is_endless(data))
    if reiterated and one_shot:
        raise InputDataError(
            name,
            "a re-iterable collection of batches (a list, a DataLoader, Minibatches), gone over again",
            f"{'an endless' if source.endless else 'a one-shot'} {type(data).__name__} iterator",
        )
    return source


def _is_endless(data: object) -> bool:
    if isinstance(data, (itertools.cycle, itertools.count)):
        return True
    if isinstance(data, itertools.repeat):
        try:
            data.__length_hint__()
        except TypeError:  # repeat(x) without `times` has no length
            return True
    return False
