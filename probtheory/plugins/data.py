"""Offline data for reproductions: scikit-learn's bundled digits.

Nothing here downloads: ``load_digits`` ships inside scikit-learn (1797 8x8 images, 10 classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError
from probtheory.training.minibatches import Minibatches  # re-exported: its former home

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
