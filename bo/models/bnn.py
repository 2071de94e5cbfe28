"""What the Bayesian-MLP surrogates share: options, variances, and weight-sample posteriors.

:class:`BNNConfig` holds the options every BNN surrogate has (network size, prior and noise
variances of :mod:`bo.models.bayesian_mlp`, optional selection of those variances by
validation log-likelihood, seed). :class:`WeightSampleBNN` is the base of the surrogates
whose posterior is a set of S weight vectors -- HMC chains, draws from a variational
guide --: a subclass only says how to draw the `S x P` weights for given data and
variances; the base class selects the variances if asked, keeps the weights as a buffer
(so a fitted surrogate survives ``state_dict``) and evaluates draws by the batched forward
pass of :class:`bo.models.bayesian_mlp.MLPLayout`.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from bo.models.bayesian_mlp import MLPLayout
from bo.models.hyperparameters import (
    MIN_POINTS,
    HyperparameterSelection,
    Scorer,
    mixture_log_likelihood,
    select_prior_and_noise,
)
from bo.models.sample_based import SampleSurrogate
from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["BNNConfig", "WeightSampleBNN", "chosen_variances", "resolve_seed"]


@dataclass(frozen=True)
class BNNConfig:
    """Options shared by the BNN surrogates.

    Attributes:
        width: Hidden units per layer of the tanh MLP.
        depth: Number of hidden layers.
        prior_var: Variance of the Gaussian prior on every weight and bias (bnn-bo: 10).
        noise_var: Gaussian likelihood variance on the standardised outputs (bnn-bo: 0.1);
            also the observation noise of ``posterior(X, observation_noise=True)``.
        select_hyperparameters: Choose ``prior_var`` and ``noise_var`` from
            {0.1, 1, 10} x {0.01, 0.1, 1} by log-likelihood on a held-out 20% before
            the final fit (:mod:`bo.models.hyperparameters`); nine extra fits. With fewer
            than 5 training points the configured values are kept, with a warning.
        seed: Seed of everything random in ``fit()``; None draws one from torch's global RNG.
        progress: Show tqdm progress bars while fitting.
    """

    width: int = 50
    depth: int = 2
    prior_var: float = 10.0
    noise_var: float = 0.1
    select_hyperparameters: bool = False
    seed: int | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_real("prior_var", self.prior_var, positive=True)
        check_real("noise_var", self.noise_var, positive=True)
        if not isinstance(self.select_hyperparameters, bool):
            raise InputDataError("select_hyperparameters", "a bool", repr(self.select_hyperparameters))
        if self.seed is not None:
            check_int("seed", self.seed, minimum=0)


def resolve_seed(seed: int | None) -> int:
    """``seed``, or a fresh one drawn from torch's global generator when None."""
    return int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed


class VarianceSelectedSurrogate(SampleSurrogate):
    """A sample surrogate fitted at a prior and a noise variance, chosen by grid search on request.

    ``fit()`` selects ``(prior_var, noise_var)`` (:func:`chosen_variances`: the configured pair,
    or with ``select_hyperparameters`` the pair whose fit scores best on held-out points), then
    fits at it. Subclasses register a ``variances`` buffer and implement :meth:`_fit_at`.
    """

    config: VarianceOptions
    variances: Tensor
    hyperparameter_selection: HyperparameterSelection | None

    @abstractmethod
    def _fit_at(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> None:
        """Fit the draws to `n x d` inputs and standardised `n x m` outputs at the given variances."""

    def _fit(self) -> None:
        seed = resolve_seed(self.config.seed)
        X, Y = self.train_X, self.train_Y_standardized

        def score(
            X_fit: Tensor, Y_fit: Tensor, X_valid: Tensor, Y_valid: Tensor, prior_var: float, noise_var: float
        ) -> float:
            self._fit_at(X_fit, Y_fit, prior_var, noise_var, seed)
            with torch.no_grad():
                draws = self._draws(X_valid, torch.arange(self.num_draws))
            return mixture_log_likelihood(draws, Y_valid, noise_var)

        prior_var, noise_var, self.hyperparameter_selection = chosen_variances(
            self.config, X, Y, lambda: score, seed
        )
        self.variances.copy_(self.variances.new_tensor([prior_var, noise_var]))
        self._fit_at(X, Y, prior_var, noise_var, seed)


class WeightSampleBNN(VarianceSelectedSurrogate):
    """A Bayesian-MLP surrogate whose posterior is S weight vectors, each a function draw.

    Subclasses set ``self.config`` (a :class:`BNNConfig`) before calling this ``__init__``
    and implement :meth:`_sample_weights`.

    Attributes:
        layout: The :class:`~bo.models.bayesian_mlp.MLPLayout` of the network.
        weight_samples: After ``fit()``, the `S x P` weight draws.
        variances: After ``fit()``, the ``(prior_var, noise_var)`` used, a 2-vector
            (the selected pair when ``select_hyperparameters``).
        hyperparameter_selection: The grid search's outcome, or None.
    """

    config: BNNConfig

    def __init__(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Store the data and allocate the weight buffer (``self.config`` must be set).

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
        """
        super().__init__(train_X, train_Y)
        cfg = self.config
        self.layout = MLPLayout(self.train_X.shape[-1], cfg.width, cfg.depth, self.num_outputs)
        self.register_buffer("weight_samples", self.train_X.new_zeros(self.num_draws, self.layout.num_params))
        self.register_buffer("variances", self.train_X.new_tensor([cfg.prior_var, cfg.noise_var]))
        self.hyperparameter_selection: HyperparameterSelection | None = None

    @abstractmethod
    def _sample_weights(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> Tensor:
        """Draw the `S x P` posterior weights given `n x d` inputs and standardised `n x m` outputs."""

    def _fit_at(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> None:
        self.weight_samples.copy_(self._sample_weights(X, Y, prior_var, noise_var, seed))

    def _draws(self, X: Tensor, indices: Tensor) -> Tensor:
        return self.layout.forward(self.weight_samples[indices], X)

    def _noise_variance(self) -> Tensor:
        return self.variances[1].expand(self.num_draws, self.num_outputs)


class VarianceOptions(Protocol):
    """What :func:`chosen_variances` reads from a surrogate's config."""

    prior_var: float
    noise_var: float
    select_hyperparameters: bool
    seed: int | None


def chosen_variances(
    config: VarianceOptions, X: Tensor, Y: Tensor, scorer: Callable[[], Scorer], seed: int
) -> tuple[float, float, HyperparameterSelection | None]:
    """``(prior_var, noise_var, selection)``: the configured variances, or the grid search's choice.

    With ``config.select_hyperparameters`` the grid search (:func:`select_prior_and_noise`) runs
    on a split drawn from ``seed``; with fewer than 5 points it warns and keeps the configured
    values (selection None).
    """
    if not config.select_hyperparameters:
        return config.prior_var, config.noise_var, None
    if X.shape[0] < MIN_POINTS:
        warnings.warn(
            f"select_hyperparameters needs at least {MIN_POINTS} training points, got {X.shape[0]}: "
            "keeping the configured prior_var and noise_var",
            stacklevel=4,
        )
        return config.prior_var, config.noise_var, None
    selection = select_prior_and_noise(X, Y, scorer(), generator=torch.Generator().manual_seed(seed))
    return selection.prior_var, selection.noise_var, selection
