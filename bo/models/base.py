"""What every probtheory surrogate shares: construction, one-shot fitting, ``posterior``.

A surrogate is built as ``Surrogate(train_X, train_Y, **options)`` from an `n x d`
training set in the unit cube and `n x m` observations, fitted once by ``fit()``, and then
answers ``posterior(X)`` for any `batch_shape x q x d` inputs with a BoTorch ``Posterior``
in the original units of ``train_Y`` (docs/concepts.md, "BoTorch contract"). GP-based surrogates
get this from BoTorch's ``SingleTaskGP`` plus :class:`FitOnceMixin`; the others subclass
:class:`SurrogateModel`, which does the validation, the outcome standardisation, the
dtype handling and the ``posterior_transform`` in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

import torch
from botorch.acquisition.objective import PosteriorTransform, ScalarizedPosteriorTransform
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors import Posterior
from torch import Tensor

from bo._validation import check_output_indices, check_test_inputs, check_training_data
from probtheory.errors import AlreadyFittedError, NotFittedError, UnsupportedError

__all__ = ["FitOnceMixin", "SurrogateModel"]

_Self = TypeVar("_Self", bound="FitOnceMixin")


class FitOnceMixin:
    """``fit()`` exactly once, and no ``posterior`` before it.

    A surrogate is tied to the training set it was built with; refitting would silently
    mix two fits (warm-started optimiser state, consumed random streams), so a second
    ``fit()`` raises and the user builds a fresh surrogate for new data. The fitted state
    is a buffer, so it travels with ``state_dict()``: a surrogate restored with
    ``load_state_dict`` is fitted. Mix into an ``nn.Module`` and call
    :meth:`_init_fit_state` in ``__init__``.
    """

    fit_done: Tensor

    def _init_fit_state(self) -> None:
        self.register_buffer("fit_done", torch.tensor(False))  # type: ignore[attr-defined]

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit()`` has completed (or a fitted state was loaded)."""
        return bool(self.fit_done)

    def fit(self: _Self) -> _Self:
        """Fit the surrogate to its training data.

        Returns:
            The fitted surrogate itself, for chaining (``Surrogate(X, Y).fit()``).

        Raises:
            AlreadyFittedError: If the surrogate is already fitted.
        """
        if self.is_fitted:
            raise AlreadyFittedError(
                f"{type(self).__name__} is already fitted; build a new surrogate to fit new data or refit"
            )
        with torch.enable_grad():  # fitting differentiates even when called under no_grad
            self._fit()
        self.fit_done.fill_(True)
        return self

    def _fit(self) -> None:
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call `.fit()` before `.posterior(X)`")


class SurrogateModel(FitOnceMixin, Model, ABC):
    """Abstract base of probtheory's BoTorch surrogates that are not GPyTorch GPs.

    Subclasses implement ``_fit()`` (train on :attr:`train_X` and the standardised
    :attr:`train_Y_standardized`) and ``_posterior(X, output_indices, observation_noise)``
    (the posterior in the original units of ``train_Y``, for float64 `batch_shape x q x d`
    inputs). Everything is held in float64; float32 inputs are accepted and cast, and
    gradients flow back to them.

    Attributes:
        train_X: The `n x d` float64 training inputs.
        train_Y: The `n x m` float64 training observations.
        train_Y_standardized: ``train_Y`` standardised by :attr:`outcome_transform`.
        outcome_transform: A fitted ``Standardize(m)``.
    """

    #: The fewest training points the model accepts.
    min_train_points: ClassVar[int] = 2
    _num_outputs: int

    def __init__(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Validate and store the training data and standardise the outcomes.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
        """
        super().__init__()
        self._init_fit_state()
        train_X, train_Y = check_training_data(train_X, train_Y, min_points=self.min_train_points)
        self.register_buffer("train_X", train_X.detach().to(torch.float64))
        self.register_buffer("train_Y", train_Y.detach().to(self.train_X))
        self._num_outputs = train_Y.shape[-1]
        self.outcome_transform = Standardize(m=self._num_outputs).to(self.train_X)
        self.outcome_transform.train()
        standardized, _ = self.outcome_transform(self.train_Y)
        self.outcome_transform.eval()
        self.register_buffer("train_Y_standardized", standardized)

    @property
    def num_outputs(self) -> int:
        """The number of outputs m."""
        return self._num_outputs

    @property
    def batch_shape(self) -> torch.Size:
        """The model batch shape: empty, one training set per surrogate."""
        return torch.Size()

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: PosteriorTransform | None = None,
        **kwargs: Any,
    ) -> Posterior:
        """The posterior over the model outputs at ``X``, in the original units of ``train_Y``.

        Args:
            X: A `batch_shape x q x d` tensor of inputs (any number of batch dims,
                including none: `q x d`).
            output_indices: Outputs to return (default: all m).
            observation_noise: If True, include the model's observation noise; a
                `batch_shape x q x m'` tensor gives noise variances (original units) instead.
            posterior_transform: Applied to the posterior (``ScalarizedPosteriorTransform``
                is supported by the sample-based posterior).
            **kwargs: Ignored (accepted for BoTorch compatibility).

        Returns:
            A ``Posterior`` whose samples have shape `sample_shape x batch_shape x q x m'`.

        Raises:
            NotFittedError: Before ``fit()``.
            InputDataError: If ``X`` is not a finite `... x q x d` tensor, or
                ``output_indices`` is not a non-empty list of indices in [0, m).

        Warns:
            InputDataWarning: If ``X`` lies far outside the unit cube (see
                :data:`bo._validation.EXTRAPOLATION_TOLERANCE`).
        """
        self._require_fitted()
        X = check_test_inputs(X, self.train_X.shape[-1], model=type(self).__name__)
        self.eval()
        outputs = check_output_indices(output_indices, self.num_outputs)
        posterior = self._posterior(X.to(self.train_X), outputs, observation_noise)
        if posterior_transform is None:
            return posterior
        if isinstance(posterior_transform, ScalarizedPosteriorTransform) and hasattr(posterior, "affine"):
            return posterior.affine(posterior_transform.weights, posterior_transform.offset)
        return posterior_transform(posterior, X=X)

    def condition_on_observations(self, X: Tensor, Y: Tensor, **kwargs: Any) -> Model:
        """Not supported: these surrogates are refitted on new data, not conditioned.

        Raises:
            UnsupportedError: Always, naming the surrogate (acquisitions that fantasise, such as
                ``qKnowledgeGradient`` and ``qNegIntegratedPosteriorVariance``, need a GP-family
                surrogate: ``GP``, ``IBNN``, ``DKL``).
        """
        raise UnsupportedError(
            f"{type(self).__name__}.condition_on_observations",
            "a surrogate that can condition on new observations (GP, IBNN or DKL; fantasy-based "
            "acquisitions such as qKnowledgeGradient and qNegIntegratedPosteriorVariance need one)",
            f"{type(self).__name__}, which is refitted on new data instead",
        )

    def fantasize(self, X: Tensor, sampler: Any, **kwargs: Any) -> Model:
        """Not supported, as :meth:`condition_on_observations`.

        Raises:
            UnsupportedError: Always, naming the surrogate.
        """
        raise UnsupportedError(
            f"{type(self).__name__}.fantasize",
            "a surrogate that can condition on fantasy observations (GP, IBNN or DKL)",
            f"{type(self).__name__}, which cannot",
        )

    @abstractmethod
    def _fit(self) -> None:
        """Train on ``train_X`` and ``train_Y_standardized``."""

    @abstractmethod
    def _posterior(self, X: Tensor, outputs: list[int], observation_noise: bool | Tensor) -> Posterior:
        """The posterior at float64 `batch_shape x q x d` inputs ``X`` over ``outputs``."""
