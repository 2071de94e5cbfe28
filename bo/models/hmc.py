r"""A BNN surrogate sampled by full-batch NUTS, every chain started at a MAP solution.

Li, Rudner & Wilson, "A Study of Bayesian Neural Network Surrogates for Bayesian
Optimization" (ICLR 2024) found full-batch HMC the most successful approximate inference for
fully stochastic BNN surrogates. Their code (yucenli/bnn-bo, ``models/hmc.py``) means to
start the chain at a MAP solution, but its pretraining is a no-op: the Adam optimiser holds a
fresh network's parameters while the loss is computed on another network's, so nothing is
ever stepped and the chain starts from a random initialisation (as of commit ``c349b4b``).

Here the model is :mod:`bo.models.bayesian_mlp`'s (tanh MLP, prior
:math:`\mathcal N(0, \sigma_p^2 I)`, Gaussian likelihood of variance :math:`\sigma^2` on the
standardised outputs) and the potential energy is
:math:`U(\theta) = -\log p(\theta) - \log p(Y \mid X, \theta)`, evaluated on the full
training set. For chain c:

1. train MAP weights :math:`\hat\theta_c` by Adam from its own random initialisation
   (all chains in one batched training);
2. run Pyro's NUTS (step size and diagonal mass matrix adapted during warmup) with
   ``initial_params = {"theta": theta_hat_c}`` -- the state the first trajectory leaves from;
3. keep ``num_samples`` draws after ``warmup_steps``.

Chains run one after the other in this process (no multiprocessing). Convergence is
reported as the split-:math:`\hat R` of Gelman et al. (``pyro.ops.stats.split_gelman_rubin``)
over the chains, both per weight (:attr:`HMCBNN.r_hat`; BNN weight posteriors are
multimodal and symmetric, so large values there are expected when chains start at different
modes) and per function value at the training inputs (:attr:`HMCBNN.function_r_hat`, the
quantity the surrogate actually uses).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from pyro.infer import MCMC, NUTS
from pyro.ops.stats import split_gelman_rubin
from torch import Tensor

from bo._validation import resolve_config
from bo.models.bayesian_mlp import local_rng, train_map
from bo.models.bnn import BNNConfig, WeightSampleBNN
from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["HMCBNN", "HMCBNNConfig"]


@dataclass(frozen=True)
class HMCBNNConfig(BNNConfig):
    """Options of :class:`HMCBNN` (besides those of :class:`~bo.models.bnn.BNNConfig`).

    Attributes:
        num_samples: Draws kept per chain (>= 4, for the split R-hat).
        warmup_steps: NUTS warmup (adaptation) steps per chain, discarded.
        num_chains: Number of chains, each started at its own MAP solution.
        max_tree_depth: NUTS maximum tree depth (at most 2^depth - 1 leapfrog steps per draw).
            The default 4 keeps trajectories short, as the reference's HMC does, and costs a
            fraction of depth 6; ``benchmarks/bo_model_fit.py`` compares the two on held-out
            points.
        target_accept_prob: Target acceptance probability of the step-size adaptation.
        map_steps: Adam steps of the MAP training that initialises the chains.
        map_lr: Adam learning rate of the MAP training.
    """

    num_samples: int = 100
    warmup_steps: int = 100
    num_chains: int = 2
    max_tree_depth: int = 4
    target_accept_prob: float = 0.8
    map_steps: int = 1000
    map_lr: float = 1e-2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("num_samples", self.num_samples, minimum=4)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_int("num_chains", self.num_chains, minimum=1)
        check_int("max_tree_depth", self.max_tree_depth, minimum=1)
        check_int("map_steps", self.map_steps, minimum=0)
        check_real("map_lr", self.map_lr, positive=True)
        if not 0.0 < check_real("target_accept_prob", self.target_accept_prob) < 1.0:
            raise InputDataError("target_accept_prob", "a probability in (0, 1)", self.target_accept_prob)


class HMCBNN(WeightSampleBNN):
    """A BNN surrogate whose posterior is the draws of NUTS chains started at MAP solutions.

    Attributes:
        config: The :class:`HMCBNNConfig`.
        map_weights: After ``fit()``, the `num_chains x P` MAP solutions the chains started from.
        r_hat: After ``fit()``, the split R-hat of every weight, a `P` tensor.
        function_r_hat: After ``fit()``, the split R-hat of the network outputs at the
            training inputs, an `n x m` tensor.
        diagnostics: After ``fit()``, per chain of the final fit: divergent transitions
            after warmup, adapted step size and mean acceptance probability of the draws.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = HMCBNN(X, X.sum(-1, keepdim=True), width=8, num_samples=10, warmup_steps=10, seed=0)
        >>> model = model.fit()
        >>> model.posterior(torch.rand(3, 2, dtype=torch.float64)).mean.shape
        torch.Size([3, 1])
    """

    config: HMCBNNConfig

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: HMCBNNConfig | None = None, **options: Any
    ) -> None:
        """Create an (unfitted) HMC surrogate.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`HMCBNNConfig`, e.g. ``num_chains=4``.
        """
        self.config = resolve_config(HMCBNNConfig, config, options)
        super().__init__(train_X, train_Y)
        cfg, P = self.config, self.layout.num_params
        self.register_buffer("map_weights", self.train_X.new_zeros(cfg.num_chains, P))
        self.register_buffer("r_hat", self.train_X.new_full((P,), math.nan))
        self.register_buffer("function_r_hat", torch.full_like(self.train_Y, math.nan))
        self.diagnostics: list[dict[str, float]] = []

    @property
    def num_draws(self) -> int:
        """S = ``num_chains * num_samples`` (chain-major)."""
        return self.config.num_chains * self.config.num_samples

    def _sample_weights(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> Tensor:
        cfg, layout = self.config, self.layout
        generator = torch.Generator().manual_seed(seed)
        init = layout.initial(cfg.num_chains, generator).to(X)
        map_weights = train_map(
            layout, X, Y, init, prior_var=prior_var, noise_var=noise_var, steps=cfg.map_steps, lr=cfg.map_lr
        )

        def potential(params: dict[str, Tensor]) -> Tensor:
            theta = params["theta"]
            return -(layout.log_prior(theta, prior_var) + layout.log_likelihood(theta, X, Y, noise_var))

        chains, diagnostics = [], []
        with local_rng(seed):
            for chain in range(cfg.num_chains):
                kernel = NUTS(
                    potential_fn=potential,
                    adapt_step_size=True,
                    adapt_mass_matrix=True,
                    full_mass=False,
                    max_tree_depth=cfg.max_tree_depth,
                    target_accept_prob=cfg.target_accept_prob,
                )
                last_state: dict[str, float] = {}
                mcmc = MCMC(
                    kernel,
                    num_samples=cfg.num_samples,
                    warmup_steps=cfg.warmup_steps,
                    initial_params={"theta": map_weights[chain]},
                    hook_fn=_record_adaptation(last_state),
                    disable_progbar=not cfg.progress,
                )
                mcmc.run()
                chains.append(mcmc.get_samples()["theta"].to(X))
                divergences = sum(len(v) for v in mcmc.diagnostics().get("divergences", {}).values())
                diagnostics.append({"divergences": float(divergences), **last_state})
        self.map_weights.copy_(map_weights)
        self.diagnostics = diagnostics
        return torch.cat(chains, dim=0)

    def _fit(self) -> None:
        super()._fit()
        cfg = self.config
        chains = self.weight_samples.reshape(cfg.num_chains, cfg.num_samples, -1)
        self.r_hat.copy_(_split_r_hat(chains))
        outputs = self.layout.forward(chains, self.train_X)  # chains x samples x n x m
        self.function_r_hat.copy_(_split_r_hat(outputs))


def _split_r_hat(chains: Tensor) -> Tensor:
    """Split R-hat of `chains x samples x ...` draws; 1 where a quantity is constant across all draws."""
    r_hat = split_gelman_rubin(chains, chain_dim=0, sample_dim=1)
    constant = chains.flatten(0, 1).var(0) == 0
    return torch.where(constant, torch.ones_like(r_hat), r_hat)


def _record_adaptation(state: dict[str, float]) -> Callable[[NUTS, Any, str, int], None]:
    """An MCMC hook keeping the step size and the mean acceptance probability of the sampling phase.

    (Pyro's ``diagnostics()["acceptance rate"]`` counts moves to a new state, which with
    multinomial NUTS is close to 1 whatever the step size; the kernel resets itself after
    ``run``, hence the hook.)
    """

    def hook(kernel: NUTS, params: Any, stage: str, i: int) -> None:
        if stage.startswith("Sample"):
            state["step_size"] = float(kernel.step_size)
            state["mean_accept_prob"] = float(kernel.logging()["acc. prob"])

    return hook
