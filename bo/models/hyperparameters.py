r"""Choosing a BNN's prior and noise variances by validation log-likelihood.

bnn-bo (Li, Rudner & Wilson, ICLR 2024) re-selects ``prior_var`` and ``noise_var`` at every
BO iteration when a config says ``"iterative": true`` (the HMC default), by calling
``get_best_hyperparameters(train_x, train_y, llh_fn)`` -- a function its code imports but
never defines (GitHub yucenli/bnn-bo#2, still so at commit ``c349b4b``). This module is
that missing piece, as the users in that thread describe it: a grid search over

    prior_var in {0.1, 1, 10}  x  noise_var in {0.01, 0.1, 1}

that fits the model on a random 80% of the data and scores the mean log predictive density
of the held-out 20%,

.. math::
    \frac{1}{|V|} \sum_{i \in V} \log p(y_i \mid x_i, \mathcal D_{\text{train}}),

keeping the best pair (ties: the first in grid order). The predictive densities are the
Gaussian mixture over function draws (:func:`mixture_log_likelihood`) for sample-based
surrogates and a Gaussian (:func:`gaussian_log_likelihood`) for the Laplace surrogate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory.errors import InputDataError

__all__ = [
    "NOISE_VARIANCES",
    "PRIOR_VARIANCES",
    "HyperparameterSelection",
    "gaussian_log_likelihood",
    "mixture_log_likelihood",
    "select_prior_and_noise",
]

#: The prior variances tried by :func:`select_prior_and_noise`.
PRIOR_VARIANCES: tuple[float, ...] = (0.1, 1.0, 10.0)
#: The noise variances tried by :func:`select_prior_and_noise`.
NOISE_VARIANCES: tuple[float, ...] = (0.01, 0.1, 1.0)
#: The fewest points a split needs: at least 4 to train on and 1 to validate.
MIN_POINTS = 5

#: ``score(train_X, train_Y, valid_X, valid_Y, prior_var, noise_var)`` -> mean validation log-likelihood.
Scorer = Callable[[Tensor, Tensor, Tensor, Tensor, float, float], float]


@dataclass(frozen=True)
class HyperparameterSelection:
    """The outcome of a grid search.

    Attributes:
        prior_var: The selected prior variance.
        noise_var: The selected noise variance.
        scores: Mean validation log-likelihood of every ``(prior_var, noise_var)`` pair.
        validation_indices: Indices of the held-out points.
    """

    prior_var: float
    noise_var: float
    scores: dict[tuple[float, float], float]
    validation_indices: tuple[int, ...]


def select_prior_and_noise(
    train_X: Tensor,
    train_Y: Tensor,
    score: Scorer,
    *,
    generator: torch.Generator,
    validation_fraction: float = 0.2,
    prior_variances: Sequence[float] = PRIOR_VARIANCES,
    noise_variances: Sequence[float] = NOISE_VARIANCES,
) -> HyperparameterSelection:
    """Grid-search ``(prior_var, noise_var)`` by held-out log-likelihood on one random split.

    Args:
        train_X: `n x d` inputs, n >= 5.
        train_Y: `n x m` (standardised) observations.
        score: Fits the model on the training part with the given variances and returns
            the mean log predictive density of the validation part.
        generator: Draws the split.
        validation_fraction: Fraction held out (at least one point, at most n - 4).
        prior_variances: The prior variances to try.
        noise_variances: The noise variances to try.

    Returns:
        The selected pair and all scores.

    Raises:
        InputDataError: If there are fewer than 5 points.
    """
    n = train_X.shape[0]
    if n < MIN_POINTS:
        raise InputDataError(
            "train_X", f"at least {MIN_POINTS} points to select hyperparameters on a split", f"n = {n}"
        )
    n_valid = min(max(1, round(validation_fraction * n)), n - (MIN_POINTS - 1))
    permutation = torch.randperm(n, generator=generator).to(train_X.device)
    valid, train = permutation[:n_valid], permutation[n_valid:]
    scores: dict[tuple[float, float], float] = {}
    for prior_var in prior_variances:
        for noise_var in noise_variances:
            value = float(
                score(train_X[train], train_Y[train], train_X[valid], train_Y[valid], prior_var, noise_var)
            )
            scores[(float(prior_var), float(noise_var))] = value if math.isfinite(value) else -math.inf
    best = max(scores, key=lambda pair: scores[pair])  # max keeps the first of equal scores
    return HyperparameterSelection(best[0], best[1], scores, tuple(sorted(valid.tolist())))


def mixture_log_likelihood(values: Tensor, Y: Tensor, noise_var: float) -> float:
    r"""Mean over points of :math:`\log \frac1S \sum_s \mathcal N(y_i; f_s(x_i), \sigma^2 I_m)`.

    Args:
        values: `S x N x m` function draws at the validation inputs.
        Y: `N x m` validation observations.
        noise_var: The observation-noise variance :math:`\sigma^2`.

    Returns:
        The mean log predictive density per point.
    """
    m = Y.shape[-1]
    per_draw = -0.5 * (Y - values).square().sum(-1) / noise_var - 0.5 * m * math.log(2 * math.pi * noise_var)
    per_point = torch.logsumexp(per_draw, dim=0) - math.log(values.shape[0])
    return per_point.mean().item()


def gaussian_log_likelihood(mean: Tensor, variance: Tensor, Y: Tensor) -> float:
    """Mean over points of the log density of independent Gaussians.

    Args:
        mean: `N x m` predictive means.
        variance: `N x m` predictive variances (observation noise included).
        Y: `N x m` observations.

    Returns:
        The mean over the N points of the summed log densities of their m outputs.
    """
    log_density = -0.5 * ((Y - mean).square() / variance + torch.log(2 * math.pi * variance))
    return log_density.sum(-1).mean().item()
