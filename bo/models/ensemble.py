r"""Deep ensembles of MAP-trained MLPs as a BoTorch surrogate.

As in the ensemble of Li, Rudner & Wilson, "A Study of Bayesian Neural Network Surrogates
for Bayesian Optimization" (ICLR 2024; code yucenli/bnn-bo, ``models/ensemble.py``): each
of ``n_models`` MLPs is trained by maximum a posteriori on its own random subset of
``train_prop`` of the data (drawn without replacement by ``randperm``, not a bootstrap),
minimising

.. math::
    \frac{1}{2\sigma^2}\sum_{i \in \mathcal D_s}\bigl(y_i - f_{\theta_s}(x_i)\bigr)^2
    + \frac{1}{2\sigma_p^2}\lVert\theta_s\rVert^2

(Gaussian likelihood of variance ``noise_var``, Gaussian prior of variance ``prior_var``,
both on the standardised outputs). The members are the S function draws of a
:class:`bo.posteriors.SampleEnsemblePosterior`.

All members live in one batched network (weights `S x fan_in x fan_out`), so training and
prediction are a handful of batched matrix products; since the loss is a sum of the
members' independent losses and Adam is elementwise, this is exactly S separate trainings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from bo._validation import resolve_config
from bo.models.bnn import VarianceSelectedSurrogate
from bo.models.hyperparameters import HyperparameterSelection
from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import InputDataError

__all__ = ["DeepEnsemble", "DeepEnsembleConfig"]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


@dataclass(frozen=True)
class DeepEnsembleConfig:
    """Options of :class:`DeepEnsemble`.

    Attributes:
        n_models: Number of ensemble members S.
        width: Hidden units per layer.
        depth: Number of hidden layers.
        activation: ``"tanh"`` or ``"relu"``.
        prior_var: Variance of the Gaussian prior on every weight and bias.
        noise_var: Gaussian likelihood variance, in standardised output units; also the
            members' observation noise when ``posterior(X, observation_noise=True)``.
        train_prop: Fraction of the data each member trains on (at least one point).
        select_hyperparameters: Choose ``prior_var`` and ``noise_var`` from
            {0.1, 1, 10} x {0.01, 0.1, 1} by the ensemble's log predictive density on a
            held-out 20% before the final fit (:mod:`bo.models.hyperparameters`); nine extra
            trainings. With fewer than 5 training points the configured values are kept,
            with a warning.
        steps: Full-batch Adam steps.
        lr: Adam learning rate.
        seed: Seed of initialisation and subsets; None draws one from torch's global RNG.
        progress: Show a tqdm progress bar while training.
    """

    n_models: int = 10
    width: int = 64
    depth: int = 2
    activation: str = "tanh"
    prior_var: float = 10.0
    noise_var: float = 0.1
    train_prop: float = 0.8
    select_hyperparameters: bool = False
    steps: int = 300
    lr: float = 1e-2
    seed: int | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        check_int("n_models", self.n_models, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_int("steps", self.steps, minimum=0)
        check_real("prior_var", self.prior_var, positive=True)
        check_real("noise_var", self.noise_var, positive=True)
        check_real("lr", self.lr, positive=True)
        check_name("activation", self.activation, _ACTIVATIONS, meaning="an activation name")
        if not 0.0 < check_real("train_prop", self.train_prop) <= 1.0:
            raise InputDataError("train_prop", "a fraction in (0, 1]", self.train_prop)
        if not isinstance(self.select_hyperparameters, bool):
            raise InputDataError("select_hyperparameters", "a bool", repr(self.select_hyperparameters))
        if self.seed is not None:
            check_int("seed", self.seed, minimum=0)


class DeepEnsemble(VarianceSelectedSurrogate):
    """A deep ensemble surrogate: S MAP-trained MLPs, each a joint function draw.

    Attributes:
        config: The :class:`DeepEnsembleConfig`.
        member_subsets: After ``fit()``, the `S x k` indices of the training points each
            member was trained on (k = ``round(train_prop * n)``, at least 1).
        variances: After ``fit()``, the ``(prior_var, noise_var)`` used, a 2-vector
            (the selected pair when ``select_hyperparameters``).
        hyperparameter_selection: The grid search's outcome, or None.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> Y = (X * 6).sin().sum(-1, keepdim=True)
        >>> model = DeepEnsemble(X, Y, n_models=4, steps=50, seed=0).fit()
        >>> model.posterior(torch.rand(3, 2, 2)).rsample(torch.Size([5])).shape
        torch.Size([5, 3, 2, 1])
    """

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: DeepEnsembleConfig | None = None, **options: Any
    ) -> None:
        """Create an (unfitted) ensemble.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`DeepEnsembleConfig`, e.g. ``n_models=5``.
        """
        super().__init__(train_X, train_Y)
        self.config = resolve_config(DeepEnsembleConfig, config, options)
        sizes = [self.train_X.shape[-1]] + [self.config.width] * self.config.depth + [self.num_outputs]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            self.weights.append(nn.Parameter(self.train_X.new_empty(self.config.n_models, fan_in, fan_out)))
            self.biases.append(nn.Parameter(self.train_X.new_empty(self.config.n_models, 1, fan_out)))
        subset_size = max(1, round(self.config.train_prop * self.train_X.shape[0]))
        self.register_buffer(
            "member_subsets",
            torch.zeros(self.config.n_models, subset_size, dtype=torch.long, device=self.train_X.device),
        )
        self.register_buffer(
            "variances", self.train_X.new_tensor([self.config.prior_var, self.config.noise_var])
        )
        self.hyperparameter_selection: HyperparameterSelection | None = None

    @property
    def num_draws(self) -> int:
        """The number of members S."""
        return self.config.n_models

    def _fit(self) -> None:
        super()._fit()
        self.requires_grad_(False)

    def _fit_at(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> None:
        # assigned, not copied: a validation fit trains on fewer points, so its subsets are smaller
        self.member_subsets = self._train_members(X, Y, prior_var, noise_var, seed)

    def _train_members(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> Tensor:
        """(Re)initialise and MAP-train every member on its subset of `n x d` ``X``, `n x m` ``Y``.

        Returns:
            The `S x k` indices of each member's subset.
        """
        cfg = self.config
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            # PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
            for weight, bias in zip(self.weights, self.biases, strict=True):
                bound = 1.0 / math.sqrt(weight.shape[1])
                weight.copy_(
                    torch.rand(weight.shape, generator=generator, dtype=weight.dtype) * 2 * bound - bound
                )
                bias.copy_(torch.rand(bias.shape, generator=generator, dtype=bias.dtype) * 2 * bound - bound)
        n = X.shape[0]
        subset_size = max(1, round(cfg.train_prop * n))
        subsets = torch.stack(
            [torch.randperm(n, generator=generator)[:subset_size] for _ in range(cfg.n_models)]
        )
        X_members, Y_members = X[subsets], Y[subsets]  # S x k x d, S x k x m
        optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        for _ in tqdm(range(cfg.steps), desc="DeepEnsemble", disable=not cfg.progress):
            optimizer.zero_grad()
            self._map_loss(X_members, Y_members, prior_var, noise_var).backward()
            optimizer.step()
        return subsets

    def _map_loss(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float) -> Tensor:
        """Sum over members of the negative log posterior, divided by the subset size."""
        neg_log_lik = (Y - self._forward(X, self.weights, self.biases)).square().sum() / (2 * noise_var)
        neg_log_prior = sum(p.square().sum() for p in self.parameters()) / (2 * prior_var)
        return (neg_log_lik + neg_log_prior) / X.shape[1]

    def _forward(self, X: Tensor, weights: list[Tensor], biases: list[Tensor]) -> Tensor:
        """`S x N x m` outputs of the members ``weights``/``biases`` at `N x d` or `S x N x d` ``X``."""
        activation = _ACTIVATIONS[self.config.activation]
        h = X
        for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
            h = torch.matmul(h, weight) + bias
            if layer < len(weights) - 1:
                h = activation(h)
        return h

    def _draws(self, X: Tensor, indices: Tensor) -> Tensor:
        weights = [w[indices] for w in self.weights]
        biases = [b[indices] for b in self.biases]
        return self._forward(X, weights, biases)

    def _noise_variance(self) -> Tensor:
        return self.variances[1].expand(self.num_draws, self.num_outputs)

    def member_networks(self) -> list[nn.Sequential]:
        """The members as standalone float64 ``nn.Sequential`` MLPs (standardised outputs).

        Returns:
            S networks mapping `... x d` inputs to `... x m` standardised outputs; undo the
            standardisation with ``model.outcome_transform.untransform``.
        """
        self._require_fitted()
        activation = nn.Tanh if self.config.activation == "tanh" else nn.ReLU
        networks = []
        for s in range(self.num_draws):
            layers: list[nn.Module] = []
            for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
                linear = nn.Linear(weight.shape[1], weight.shape[2], dtype=weight.dtype)
                with torch.no_grad():
                    linear.weight.copy_(weight[s].T)
                    linear.bias.copy_(bias[s, 0])
                layers.append(linear)
                if layer < len(self.weights) - 1:
                    layers.append(activation())
            networks.append(nn.Sequential(*layers))
        return networks
