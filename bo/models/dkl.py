r"""Deep kernel learning: a GP whose kernel acts on the features of an MLP.

Wilson, Hu, Salakhutdinov & Xing, "Deep Kernel Learning" (AISTATS 2016): with a feature
map :math:`g_w: \mathbb R^d \to \mathbb R^k` (here a tanh MLP whose training features are
rescaled to [-0.95, 0.95], GPyTorch's ``ScaleToBounds``) and a base kernel
:math:`k_\gamma` (Matérn-5/2 or RBF with ARD lengthscales, times an output scale),

.. math::
    k(x, x') = k_\gamma\bigl(g_w(x), g_w(x')\bigr),

and the network weights :math:`w` are learnt together with :math:`\gamma`, the noise and the
constant mean by maximising the exact log marginal likelihood of the GP. Li, Rudner &
Wilson (ICLR 2024; yucenli/bnn-bo ``models/dkl.py``) found DKL competitive with fully
stochastic BNN surrogates. They pretrain and then train jointly for thousands of Adam
steps; here there is only the joint training, for ``train_steps`` full-batch Adam steps,
so that one BO iteration stays cheap on a CPU.

:class:`DKL` is a BoTorch ``SingleTaskGP`` (through :class:`bo.models.gp.GP`: standardised
outcomes, float64, fit-once), with :class:`FeatureKernel` as its ``covar_module``; its
posterior is the ordinary ``GPyTorchPosterior``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from gpytorch.kernels import Kernel, MaternKernel, RBFKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.utils.grid import ScaleToBounds
from torch import Tensor, nn
from tqdm.auto import tqdm

from bo._validation import check_training_data, resolve_config
from bo.models.gp import GP
from probtheory._checks import check_int, check_name, check_real

__all__ = ["DKL", "DKLConfig", "FeatureKernel"]

_BASE_KERNELS = ("matern", "rbf")


@dataclass(frozen=True)
class DKLConfig:
    """Options of :class:`DKL`.

    Attributes:
        width: Hidden units per layer of the feature MLP.
        depth: Number of hidden layers of the feature MLP.
        feature_dim: Number of features k the base kernel sees (None: the input dimension d).
        base_kernel: ``"matern"`` (Matérn-5/2, ARD) or ``"rbf"`` (ARD).
        train_steps: Full-batch Adam steps on the negative marginal log-likelihood.
        lr: Adam learning rate.
        seed: Seed of the network initialisation; None draws one from torch's global RNG.
        progress: Show a tqdm progress bar while training.
    """

    width: int = 32
    depth: int = 2
    feature_dim: int | None = None
    base_kernel: str = "matern"
    train_steps: int = 300
    lr: float = 1e-2
    seed: int | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        if self.feature_dim is not None:
            check_int("feature_dim", self.feature_dim, minimum=1)
        check_name("base_kernel", self.base_kernel, _BASE_KERNELS, meaning="a base kernel name")
        check_int("train_steps", self.train_steps, minimum=0)
        check_real("lr", self.lr, positive=True)
        if self.seed is not None:
            check_int("seed", self.seed, minimum=0)


class FeatureKernel(Kernel):
    r"""The deep kernel :math:`k(x, x') = k_{\text{base}}(g(x), g(x'))`.

    Args:
        feature_extractor: The network g, mapping `... x n x d` to `... x n x k`.
        base_kernel: A kernel on the k features (its hyperparameters are the kernel's).
    """

    def __init__(self, feature_extractor: nn.Module, base_kernel: Kernel) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.base_kernel = base_kernel

    @property
    def batch_shape(self) -> torch.Size:
        """The base kernel's batch shape (the network is shared by all batches)."""
        return self.base_kernel.batch_shape

    @batch_shape.setter
    def batch_shape(self, value: torch.Size) -> None:
        self.base_kernel.batch_shape = value

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params: Any) -> Tensor:
        """The base kernel on the features of ``x1`` (`... x n x d`) and ``x2`` (`... x n' x d`)."""
        features1 = self.feature_extractor(x1)
        features2 = features1 if x2 is x1 else self.feature_extractor(x2)
        return self.base_kernel.forward(features1, features2, diag=diag, **params)


class DKL(GP):
    """A deep-kernel GP surrogate: ``SingleTaskGP`` with an MLP feature map, trained jointly.

    Attributes:
        config: The :class:`DKLConfig`.
        loss_trace: The negative marginal log-likelihood (per point) after every Adam step.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = DKL(X, X.sum(-1, keepdim=True), width=8, train_steps=50, seed=0).fit()
        >>> model.posterior(torch.rand(4, 3, 2, dtype=torch.float64)).mean.shape
        torch.Size([4, 3, 1])
    """

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: DKLConfig | None = None, **options: Any
    ) -> None:
        """Create an (unfitted) DKL surrogate.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`DKLConfig`, e.g. ``train_steps=500``.
        """
        config = resolve_config(DKLConfig, config, options)
        train_X, train_Y = check_training_data(train_X, train_Y, min_points=self.min_train_points)
        d, m = train_X.shape[-1], train_Y.shape[-1]
        k = config.feature_dim or d
        batch_shape = torch.Size([m]) if m > 1 else torch.Size()
        if config.base_kernel == "matern":
            base: Kernel = MaternKernel(nu=2.5, ard_num_dims=k, batch_shape=batch_shape)
        else:
            base = RBFKernel(ard_num_dims=k, batch_shape=batch_shape)
        kernel = FeatureKernel(_feature_network(d, config, k), ScaleKernel(base, batch_shape=batch_shape))
        super().__init__(train_X, train_Y, covar_module=kernel)
        self.config = config
        self.loss_trace: list[float] = []
        # Where each parameter keeps its output dimension, for BoTorch's ``subset_output``;
        # the network is shared by the outputs and is copied whole.
        self._subset_batch_dict = {
            "mean_module.raw_constant": -1,
            "covar_module.base_kernel.raw_outputscale": -1,
            "covar_module.base_kernel.base_kernel.raw_lengthscale": -3,
            "likelihood.noise_covar.raw_noise": -2,
        }

    def _fit(self) -> None:
        cfg = self.config
        mll = ExactMarginalLogLikelihood(self.likelihood, self)
        self.train()
        optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        inputs, targets = self.train_inputs[0], self.train_targets
        trace = []
        for _ in tqdm(range(cfg.train_steps), desc="DKL", disable=not cfg.progress):
            optimizer.zero_grad()
            loss = -mll(self(inputs), targets).sum()
            loss.backward()
            optimizer.step()
            self._project_onto_constraints()
            trace.append(loss.item())
        with torch.no_grad():  # the feature scaling from the final weights, not the last step's
            self.covar_module.feature_extractor(inputs)
        self.loss_trace = trace
        self.eval()

    def _project_onto_constraints(self) -> None:
        """Clamp parameters whose constraint has no transform into their bounds.

        BoTorch's default likelihood bounds the noise by ``GreaterThan(1e-4)`` without a
        transform, leaving the bound to L-BFGS-B; an Adam step can cross it (the noise then turns
        negative and its log-normal prior fails), so every step is followed by this projection.
        """
        with torch.no_grad():
            for _, parameter, constraint in self.named_parameters_and_constraints():
                if constraint is not None and not constraint.enforced:
                    parameter.clamp_(min=constraint.lower_bound, max=constraint.upper_bound)


def _feature_network(d: int, config: DKLConfig, k: int) -> nn.Sequential:
    """The float64 tanh MLP ``d -> width x depth -> k``, initialised from ``config.seed``."""
    seed = config.seed if config.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
    generator = torch.Generator().manual_seed(seed)
    sizes = [d] + [config.width] * config.depth + [k]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        linear = nn.Linear(fan_in, fan_out, dtype=torch.float64)
        bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default, drawn from our generator
        with torch.no_grad():
            linear.weight.copy_((torch.rand(linear.weight.shape, generator=generator) * 2 - 1) * bound)
            linear.bias.copy_((torch.rand(linear.bias.shape, generator=generator) * 2 - 1) * bound)
        layers.append(linear)
        layers.append(nn.Tanh())  # the features are bounded too, which keeps lengthscales sane
    # GPyTorch's DKL recipe: stretch the training features over [-0.95, 0.95] (one affine map
    # for all features, from the training batch; later inputs reuse it and are clamped). Without
    # it the tanh features of trained networks crowd into a small region, where the kernel
    # takes every point for a near neighbour of the data and the posterior is overconfident.
    layers.append(ScaleToBounds(-1.0, 1.0).to(torch.float64))
    return nn.Sequential(*layers)
