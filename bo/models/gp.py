"""The Gaussian-process baseline: BoTorch's ``SingleTaskGP`` behind the surrogate interface.

``GP(train_X, train_Y).fit()`` is ``SingleTaskGP`` with BoTorch's default kernel, a
``Standardize(m)`` outcome transform and hyperparameters fitted by ``fit_gpytorch_mll``,
with the same validation, float64 handling and fit-once rule as every other probtheory
surrogate, so that benchmarks can treat all surrogates alike. It stays a genuine
``SingleTaskGP``: ``GPyTorchPosterior``, qLogNEI's cached Cholesky root, fantasies and
``fit_gpytorch_mll`` all work as in BoTorch.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from botorch.acquisition.objective import PosteriorTransform
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors import Posterior
from gpytorch.kernels import Kernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from bo._validation import check_output_indices, check_test_inputs, check_training_data
from bo.models.base import FitOnceMixin

__all__ = ["GP", "kernel_input_lengthscales"]


class GP(FitOnceMixin, SingleTaskGP):
    """A ``SingleTaskGP`` with standardised outcomes, fitted once by marginal likelihood.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = GP(X, X.sum(-1, keepdim=True)).fit()
        >>> model.posterior(torch.rand(4, 3, 2, dtype=torch.float64)).mean.shape
        torch.Size([4, 3, 1])
    """

    #: The fewest training points the model accepts.
    min_train_points: ClassVar[int] = 2

    def __init__(self, train_X: Tensor, train_Y: Tensor, *, covar_module: Kernel | None = None) -> None:
        """Create an (unfitted) GP.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            covar_module: The kernel (default: BoTorch's ``SingleTaskGP`` default).
        """
        train_X, train_Y = check_training_data(train_X, train_Y, min_points=self.min_train_points)
        train_X = train_X.detach().to(torch.float64)
        train_Y = train_Y.detach().to(torch.float64)
        super().__init__(
            train_X, train_Y, covar_module=covar_module, outcome_transform=Standardize(m=train_Y.shape[-1])
        )
        self._init_fit_state()

    def _fit(self) -> None:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(self.likelihood, self))

    def input_lengthscales(self) -> Tensor | None:
        """The kernel's `d` ARD lengthscales on the raw inputs, or None if it has none.

        Trust regions (:mod:`bo.trust_region`) weight their sides by them, as TuRBO does.
        """
        return kernel_input_lengthscales(self.covar_module, self.train_inputs[0].shape[-1])

    def train(self, mode: bool = True) -> GP:
        """Set the training mode; a return to eval mode after ``train()`` marks the GP fitted.

        BoTorch's fitting convention: ``fit_gpytorch_mll(ExactMarginalLogLikelihood(m.likelihood,
        m))`` puts the model in training mode, optimises the marginal likelihood and puts it back
        in eval mode. That round trip fits it, so a GP-family surrogate fitted the BoTorch way is
        ready for ``posterior`` as in users' existing loops (calling ``eval()`` alone is not).
        """
        if mode:
            self._training_started = True
        elif self.training and getattr(self, "_training_started", False):
            self.fit_done.fill_(True)
            self._training_started = False
        return super().train(mode)

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: PosteriorTransform | None = None,
    ) -> Posterior:
        """The GP posterior at ``X`` in the original units of ``train_Y``.

        Args:
            X: A `batch_shape x q x d` tensor of inputs (float32 inputs are cast to float64).
            output_indices: Outputs to return (default: all m).
            observation_noise: If True, add the fitted noise; a tensor gives noise variances.
            posterior_transform: An optional BoTorch ``PosteriorTransform``.

        Returns:
            A ``GPyTorchPosterior`` whose samples have shape `sample_shape x batch_shape x q x m`.

        Raises:
            NotFittedError: Before ``fit()``.
            InputDataError: If ``X`` is not a finite `... x q x d` tensor, or
                ``output_indices`` is not a non-empty list of indices in [0, m) (also with m = 1).

        Warns:
            InputDataWarning: If ``X`` lies far outside the unit cube (see
                :data:`bo._validation.EXTRAPOLATION_TOLERANCE`).
        """
        self._require_fitted()
        train_X = self.train_inputs[0]
        X = check_test_inputs(X, train_X.shape[-1], model=type(self).__name__).to(train_X)
        selected = check_output_indices(output_indices, self.num_outputs)
        model: SingleTaskGP = self
        if selected != list(range(self.num_outputs)):
            # SingleTaskGP.posterior's own output selection fails with a single index and
            # with its Standardize outcome transform (BoTorch 0.18); a subset model does not.
            model = self.subset_output(selected)
        return SingleTaskGP.posterior(
            model,
            X,
            output_indices=None,
            observation_noise=observation_noise,
            posterior_transform=posterior_transform,
        )


def kernel_input_lengthscales(kernel: Kernel, dim: int) -> Tensor | None:
    """The ``d`` ARD lengthscales of a kernel (or of a ``ScaleKernel``'s base kernel), or None.

    None unless the kernel has a lengthscale with exactly ``d`` entries.
    """
    if isinstance(kernel, ScaleKernel):
        kernel = kernel.base_kernel
    if not getattr(kernel, "has_lengthscale", False):
        return None
    lengthscale = kernel.lengthscale
    if lengthscale is None or lengthscale.numel() != dim:
        return None
    return lengthscale.detach().reshape(dim)
