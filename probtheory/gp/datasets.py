"""Regression sets of Lee et al. (ICLR 2022), offline: the synthetic ones and scikit-learn's.

Both put n points on linspace(-n/2, n/2), one unit apart for ``syn-t``, and draw f from the GP
with kernel exp(-(x - x')^2 / 2). ``syn-normal``: n = 100, y = f + 0.2 N(0, 1); ``syn-t``:
n = 300, y = f + 0.8 t_1 (Cauchy) noise, heavy tails where a Gaussian likelihood breaks down.
Splits are 80/10/10 with x and y standardised on the training part, as in the paper's code.
(The generator follows the paper's code and seeds with NumPy's newer generator, so it does not
reproduce its exact draws.) ``regression_dataset("diabetes")`` splits
scikit-learn's bundled diabetes data (442 patients, 10 features) the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from probtheory._checks import check_int, check_name, require_module

__all__ = ["RegressionSplit", "regression_dataset", "synthetic_regression"]


@dataclass(frozen=True)
class RegressionSplit:
    """Standardised train / validation / test tensors (x: `n x d`, y: `n`, float64)."""

    train_x: Tensor
    train_y: Tensor
    valid_x: Tensor
    valid_y: Tensor
    test_x: Tensor
    test_y: Tensor


_SETTINGS = {"syn-normal": (100, 829, "normal", 0.2), "syn-t": (300, 761, "t", 0.8)}


def synthetic_regression(name: str, seed: int | None = None) -> RegressionSplit:
    """Generate ``"syn-normal"`` or ``"syn-t"`` and split it 80/10/10 (shuffled, seeded)."""
    check_name("name", name, _SETTINGS, meaning="a synthetic regression set")
    n, default_seed, noise_kind, noise_scale = _SETTINGS[name]
    rng = np.random.default_rng(default_seed if seed is None else check_int("seed", seed, minimum=0))
    x = np.linspace(-n / 2, n / 2, n)
    k = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2) + 1e-8 * np.eye(n)
    f = np.linalg.cholesky(k) @ rng.standard_normal(n)
    noise = rng.standard_normal(n) if noise_kind == "normal" else rng.standard_t(1.0, n)
    y = f + noise_scale * noise
    return _split(x[:, None], y, rng)


def regression_dataset(name: str, seed: int = 0) -> RegressionSplit:
    """A bundled real regression set (``"diabetes"``), split 80/10/10 and standardised."""
    check_name("name", name, ("diabetes",), meaning="a bundled regression set (scikit-learn's)")
    require_module("sklearn", extra="datasets", purpose="the bundled regression sets")
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    return _split(x, y, np.random.default_rng(check_int("seed", seed, minimum=0)))


def _split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> RegressionSplit:
    """Shuffle, split 80/10/10 and standardise x (per feature) and y on the training part."""
    n = len(y)
    order = rng.permutation(n)
    n_train, n_valid = int(0.8 * n), int(0.1 * n)
    parts = np.split(order, [n_train, n_train + n_valid])
    x_mean, x_std = x[parts[0]].mean(0), x[parts[0]].std(0)
    y_mean, y_std = y[parts[0]].mean(), y[parts[0]].std()

    def tensors(index):
        return torch.as_tensor((x[index] - x_mean) / x_std), torch.as_tensor((y[index] - y_mean) / y_std)

    return RegressionSplit(*tensors(parts[0]), *tensors(parts[1]), *tensors(parts[2]))
