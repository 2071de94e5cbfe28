r"""Last-layer linearised Laplace: a MAP-trained MLP with a Gaussian posterior over its output layer.

Li, Rudner & Wilson (ICLR 2024; yucenli/bnn-bo ``models/laplace.py``) use the
``laplace-torch`` package (all weights, Kronecker-factored Hessian). This is an own,
exact implementation of the last-layer variant (Daxberger et al., "Laplace Redux",
NeurIPS 2021, section 3): keep the body of the MAP network fixed, and treat the output layer
:math:`W \in \mathbb R^{(H+1) \times m}` (weights over bias) as Bayesian. With features
:math:`\phi(x) = [h_L(x), 1] \in \mathbb R^{H+1}` (last hidden layer, then a 1 for the bias),
:math:`f(x) = W^\top \phi(x)` is linear in :math:`W`, so the linearisation is exact and the
Gaussian likelihood makes the log posterior quadratic in :math:`W`. Its Hessian is exact:

.. math::
    A = \frac{J^\top J}{\sigma^2} + \frac{I}{\sigma_p^2}, \qquad J = \Phi = [\phi(x_i)^\top]_{i=1}^n,

shared by the m outputs. After Adam has trained the whole network, the output layer is set
to its exact conditional MAP :math:`\hat W = A^{-1}\Phi^\top Y / \sigma^2` (Adam stops near,
not at, the mode, and the Laplace approximation expands around the mode). The posterior
over :math:`W_{:,j}` is then exactly :math:`\mathcal N(\hat W_{:,j}, A^{-1})` -- Bayesian
linear regression on the features -- and the joint predictive over a q-batch is

.. math::
    f_j(X_*) \sim \mathcal N\bigl(\Phi_* \hat W_{:,j},\; \Phi_* A^{-1} \Phi_*^\top + \epsilon I\bigr),

independent across outputs, with a small jitter :math:`\epsilon` (bnn-bo adds 1e-4) so that
the q x q covariance stays positive definite for repeated or nearby points; the
observation noise adds :math:`\sigma^2 I`. It is returned as a BoTorch ``GPyTorchPosterior``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultitaskMultivariateNormal, MultivariateNormal
from torch import Tensor

from bo._validation import resolve_config
from bo.models.base import SurrogateModel
from bo.models.bayesian_mlp import MLPLayout, train_map
from bo.models.bnn import BNNConfig, chosen_variances, resolve_seed
from bo.models.hyperparameters import HyperparameterSelection, Scorer, gaussian_log_likelihood
from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["LaplaceBNN", "LaplaceBNNConfig"]


@dataclass(frozen=True)
class LaplaceBNNConfig(BNNConfig):
    """Options of :class:`LaplaceBNN` (besides those of :class:`~bo.models.bnn.BNNConfig`).

    Attributes:
        map_steps: Full-batch Adam steps of the MAP training.
        lr: Adam learning rate.
        jitter: Added to the diagonal of the predictive covariance, in standardised units.
    """

    map_steps: int = 1000
    lr: float = 1e-2
    jitter: float = 1e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("map_steps", self.map_steps, minimum=0)
        check_real("lr", self.lr, positive=True)
        check_real("jitter", self.jitter, nonnegative=True)


class LaplaceBNN(SurrogateModel):
    """Last-layer Laplace BNN surrogate with an exact, joint Gaussian predictive.

    Attributes:
        config: The :class:`LaplaceBNNConfig`.
        map_weights: After ``fit()``, the `P` MAP weights (output layer at its exact conditional mode).
        posterior_covariance: After ``fit()``, :math:`A^{-1}`, the `(H+1) x (H+1)` covariance
            of each output's last-layer weights.
        variances: After ``fit()``, the ``(prior_var, noise_var)`` used.
        hyperparameter_selection: The grid search's outcome, or None.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = LaplaceBNN(X, X.sum(-1, keepdim=True), width=8, map_steps=100, seed=0).fit()
        >>> model.posterior(torch.rand(5, 3, 2, dtype=torch.float64)).mvn.covariance_matrix.shape
        torch.Size([5, 3, 3])
    """

    config: LaplaceBNNConfig

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: LaplaceBNNConfig | None = None, **options: Any
    ) -> None:
        """Create an (unfitted) Laplace surrogate.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`LaplaceBNNConfig`, e.g. ``prior_var=1.0``.
        """
        super().__init__(train_X, train_Y)
        self.config = resolve_config(LaplaceBNNConfig, config, options)
        cfg = self.config
        self.layout = MLPLayout(self.train_X.shape[-1], cfg.width, cfg.depth, self.num_outputs)
        H = cfg.width + 1
        self.register_buffer("map_weights", self.train_X.new_zeros(self.layout.num_params))
        self.register_buffer("posterior_covariance", self.train_X.new_zeros(H, H))
        self.register_buffer("variances", self.train_X.new_tensor([cfg.prior_var, cfg.noise_var]))
        self.hyperparameter_selection: HyperparameterSelection | None = None

    # ------------------------------------------------------------------ fitting
    def _fit(self) -> None:
        seed = resolve_seed(self.config.seed)
        X, Y = self.train_X, self.train_Y_standardized
        prior_var, noise_var, self.hyperparameter_selection = chosen_variances(
            self.config, X, Y, lambda: self._validation_scorer(seed), seed
        )
        theta, covariance = self._laplace(X, Y, prior_var, noise_var, seed)
        self.variances.copy_(self.variances.new_tensor([prior_var, noise_var]))
        self.map_weights.copy_(theta)
        self.posterior_covariance.copy_(covariance)

    def _laplace(
        self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int
    ) -> tuple[Tensor, Tensor]:
        """MAP weights (exact last layer) and the last-layer covariance :math:`A^{-1}`."""
        cfg, layout = self.config, self.layout
        init = layout.initial(1, torch.Generator().manual_seed(seed)).to(X)
        theta = train_map(
            layout, X, Y, init, prior_var=prior_var, noise_var=noise_var, steps=cfg.map_steps, lr=cfg.lr
        )[0]
        Phi = self._features(theta, X)  # n x (H+1)
        A = Phi.T @ Phi / noise_var + torch.eye(Phi.shape[-1], dtype=X.dtype, device=X.device) / prior_var
        L = torch.linalg.cholesky(A)
        last = torch.cholesky_solve(Phi.T @ Y / noise_var, L)  # (H+1) x m, the conditional mode
        return layout.with_last_layer(theta, last), torch.cholesky_inverse(L)

    def _features(self, theta: Tensor, X: Tensor) -> Tensor:
        r""":math:`\phi(X) = [h_L(X), 1]`: `... x N x (H+1)` for `... x N x d` inputs."""
        h = self.layout.features(theta.unsqueeze(0), X.reshape(-1, X.shape[-1]))[0]
        h = torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)
        return h.reshape(*X.shape[:-1], h.shape[-1])

    def _validation_scorer(self, seed: int) -> Scorer:
        def score(
            X: Tensor, Y: Tensor, X_valid: Tensor, Y_valid: Tensor, prior_var: float, noise_var: float
        ) -> float:
            theta, covariance = self._laplace(X, Y, prior_var, noise_var, seed)
            Phi = self._features(theta, X_valid)
            mean = Phi @ self.layout.last_layer(theta)
            variance = ((Phi @ covariance) * Phi).sum(-1, keepdim=True) + noise_var
            return gaussian_log_likelihood(mean, variance.expand_as(mean), Y_valid)

        return score

    # ------------------------------------------------------------------ prediction
    def predictive_moments(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """The joint Gaussian over f at a q-batch, in standardised units, without jitter or noise.

        Args:
            X: A `batch_shape x q x d` tensor of inputs.

        Returns:
            The `batch_shape x q x m` means and the `batch_shape x q x q` covariance,
            shared by the m outputs.
        """
        self._require_fitted()
        Phi = self._features(self.map_weights, X.to(self.train_X))
        mean = Phi @ self.layout.last_layer(self.map_weights)
        return mean, Phi @ self.posterior_covariance @ Phi.transpose(-1, -2)

    def _posterior(self, X: Tensor, outputs: list[int], observation_noise: bool | Tensor) -> Posterior:
        mean, covariance = self.predictive_moments(X)
        q = X.shape[-2]
        eye = torch.eye(q, dtype=X.dtype, device=X.device)
        covariance = covariance + self.config.jitter * eye
        noise_var = self.variances[1]
        means, stdvs = self.outcome_transform.means[0], self.outcome_transform.stdvs[0]  # m, m
        if isinstance(observation_noise, Tensor):
            expected = (*X.shape[:-1], len(outputs))
            if observation_noise.shape != expected:
                raise InputDataError(
                    "observation_noise",
                    f"a bool or a tensor of noise variances of shape {expected}",
                    f"shape {tuple(observation_noise.shape)}",
                )
        mvns = []
        for k, j in enumerate(outputs):
            cov_j = covariance * stdvs[j].square()
            if isinstance(observation_noise, Tensor):
                cov_j = cov_j + torch.diag_embed(observation_noise[..., k].to(X))
            elif observation_noise:
                cov_j = cov_j + noise_var * stdvs[j].square() * eye
            mvns.append(MultivariateNormal(means[j] + stdvs[j] * mean[..., j], cov_j))
        if len(mvns) == 1:
            return GPyTorchPosterior(mvns[0])
        return GPyTorchPosterior(MultitaskMultivariateNormal.from_independent_mvns(mvns))
