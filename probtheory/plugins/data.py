"""Offline data for reproductions: scikit-learn's bundled digits, and re-iterable minibatches.

Nothing here downloads: ``load_digits`` ships inside scikit-learn (1797 8x8 images, 10 classes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["ClassificationSplit", "Minibatches", "digits_split"]


@dataclass(frozen=True)
class ClassificationSplit:
    """A standardised train/test split of a classification data set.

    Attributes:
        x_train: An `n_train x d` float32 tensor, standardised with the training statistics.
        y_train: An `n_train` int64 tensor of class indices.
        x_test: An `n_test x d` float32 tensor, standardised with the *training* statistics.
        y_test: An `n_test` int64 tensor of class indices.
        num_classes: Number of classes.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int

    @property
    def num_features(self) -> int:
        """The input dimension `d`."""
        return int(self.x_train.shape[-1])


def digits_split(seed: int = 0, test_fraction: float = 0.3) -> ClassificationSplit:
    """scikit-learn's digits, split stratified by class and standardised.

    Args:
        seed: Seed of the split.
        test_fraction: Share of the 1797 images held out for testing, in (0, 1).

    Returns:
        A :class:`ClassificationSplit` with `d = 64` features and 10 classes (with the default
        fraction 1257 training and 540 test images).
    """
    # imported here: the registry and the layers do not need scikit-learn
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    seed = check_int("seed", seed, minimum=0)
    test_fraction = check_real("test_fraction", test_fraction, positive=True)
    if test_fraction >= 1:
        raise InputDataError("test_fraction", "a number in (0, 1)", test_fraction)
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(x_train)  # constant border pixels get scale 1, not a division by 0
    return ClassificationSplit(
        x_train=torch.as_tensor(scaler.transform(x_train), dtype=torch.float32),
        y_train=torch.as_tensor(y_train, dtype=torch.int64),
        x_test=torch.as_tensor(scaler.transform(x_test), dtype=torch.float32),
        y_test=torch.as_tensor(y_test, dtype=torch.int64),
        num_classes=int(y.max()) + 1,
    )


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
                raise InputDataError(
                    f"tensors[{i}]", "a tensor with a sample dimension", type(tensor).__name__
                )
        sizes = {int(t.shape[0]) for t in tensors}
        if len(sizes) != 1:
            raise InputDataError("tensors", "the same first dimension n", sorted(sizes))
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
