r"""The Bayesian tanh MLP shared by the BNN surrogates (HMC, SVI, Laplace).

Li, Rudner & Wilson, "A Study of Bayesian Neural Network Surrogates for Bayesian
Optimization" (ICLR 2024; code yucenli/bnn-bo, ``models/utils.py``: ``RegNet`` and the
Gaussian log prior / likelihood helpers) put one model under all their BNN surrogates: a
float64 tanh MLP :math:`f_\theta: \mathbb R^d \to \mathbb R^m` with

.. math::
    \theta \sim \mathcal N(0, \sigma_p^2 I), \qquad
    y_i \mid x_i, \theta \sim \mathcal N\bigl(f_\theta(x_i), \sigma^2 I_m\bigr),

on standardised outcomes, so that

.. math::
    \log p(\theta, Y \mid X) = -\frac{\lVert\theta\rVert^2}{2\sigma_p^2}
    - \sum_i \frac{\lVert y_i - f_\theta(x_i)\rVert^2}{2\sigma^2} + \text{const}.

:class:`MLPLayout` keeps all weights in one flat vector :math:`\theta \in \mathbb R^P` (the
state NUTS moves and AutoNormal factorises) and evaluates a batch of S vectors,
`S x P`, at `N x d` inputs by one batched matrix product per layer. bnn-bo instead loaded
every sample into one ``nn.Module`` with ``vector_to_parameters`` in a Python loop, which
is slow and cannot be differentiated through a batch of samples.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor

from probtheory._checks import check_int

__all__ = ["MLPLayout", "local_rng", "train_map"]


@dataclass(frozen=True)
class MLPLayout:
    """Where each weight of a tanh MLP ``d -> width x depth -> m`` sits in the flat vector.

    Layer l has a `fan_in x fan_out` weight matrix followed by a `fan_out` bias; layers are
    stored one after the other, so the last ``(width + 1) * m`` entries are the output layer.

    Attributes:
        in_features: The input dimension d.
        width: Hidden units per layer.
        depth: Number of hidden layers (>= 1).
        out_features: The number of outputs m.
    """

    in_features: int
    width: int
    depth: int
    out_features: int = 1

    def __post_init__(self) -> None:
        check_int("in_features", self.in_features, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_int("out_features", self.out_features, minimum=1)

    @property
    def sizes(self) -> list[int]:
        """Layer widths ``[d, width, ..., width, m]``."""
        return [self.in_features] + [self.width] * self.depth + [self.out_features]

    @property
    def num_params(self) -> int:
        """The number of weights and biases P."""
        sizes = self.sizes
        return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True))

    @functools.cached_property
    def _offsets(self) -> list[tuple[int, int, int, int]]:
        """Per layer ``(start, fan_in, fan_out, bias_start)`` in the flat vector."""
        offsets, start = [], 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            offsets.append((start, fan_in, fan_out, start + fan_in * fan_out))
            start += (fan_in + 1) * fan_out
        return offsets

    def layers(self, theta: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Views of the weights of S networks.

        Args:
            theta: An `S x P` tensor of flat parameter vectors.

        Returns:
            Per layer, the `S x fan_in x fan_out` weights and `S x 1 x fan_out` biases.
        """
        return [
            (
                theta[:, start:bias_start].view(-1, fan_in, fan_out),
                theta[:, bias_start : bias_start + fan_out].unsqueeze(-2),
            )
            for start, fan_in, fan_out, bias_start in self._offsets
        ]

    def features(self, theta: Tensor, X: Tensor) -> Tensor:
        """The last hidden layer of S networks: `S x N x width`.

        Args:
            theta: An `S x P` tensor of flat parameter vectors.
            X: `N x d` inputs (shared by the networks) or `S x N x d` (one set per network).
        """
        h = X
        for weight, bias in self.layers(theta)[:-1]:
            h = torch.tanh(torch.matmul(h, weight) + bias)
        return h

    def forward(self, theta: Tensor, X: Tensor) -> Tensor:
        """Outputs of a batch of networks.

        Args:
            theta: A `batch x P` tensor of flat parameter vectors (any number of batch
                dims, including none).
            X: An `N x d` tensor of inputs.

        Returns:
            A `batch x N x m` tensor: network ``theta[i]`` at every input.
        """
        batch = theta.shape[:-1]
        flat = theta.reshape(-1, theta.shape[-1])
        weight, bias = self.layers(flat)[-1]
        out = torch.matmul(self.features(flat, X), weight) + bias
        return out.reshape(*batch, *out.shape[-2:])

    def last_layer(self, theta: Tensor) -> Tensor:
        """The output layer of one network as a `(width + 1) x m` matrix (weights over the bias row)."""
        weight, bias = self.layers(theta.unsqueeze(0))[-1]
        return torch.cat([weight[0], bias[0]], dim=0)

    def with_last_layer(self, theta: Tensor, last: Tensor) -> Tensor:
        """A copy of the `P` vector ``theta`` with its output layer replaced by ``last``."""
        theta = theta.clone()
        theta[-last.numel() :] = torch.cat([last[:-1].reshape(-1), last[-1]])
        return theta

    def initial(self, num: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Tensor:
        """``num`` random parameter vectors with PyTorch's ``nn.Linear`` initialisation.

        Weights and biases of a layer are ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

        Returns:
            A `num x P` tensor.
        """
        blocks = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            bound = 1.0 / math.sqrt(fan_in)
            size = (fan_in + 1) * fan_out
            blocks.append((torch.rand(num, size, generator=generator, dtype=dtype) * 2 - 1) * bound)
        return torch.cat(blocks, dim=-1)

    def log_prior(self, theta: Tensor, prior_var: float) -> Tensor:
        """``log N(theta; 0, prior_var I)`` of `batch x P` vectors: a `batch` tensor."""
        P = theta.shape[-1]
        return -0.5 * theta.square().sum(-1) / prior_var - 0.5 * P * math.log(2 * math.pi * prior_var)

    def log_likelihood(self, theta: Tensor, X: Tensor, Y: Tensor, noise_var: float) -> Tensor:
        """``sum_i log N(y_i; f_theta(x_i), noise_var I)`` for `batch x P` vectors: a `batch` tensor.

        Args:
            theta: A `batch x P` tensor.
            X: `N x d` inputs.
            Y: `N x m` (standardised) observations.
            noise_var: The likelihood variance.
        """
        residual = Y - self.forward(theta, X)
        return -0.5 * residual.square().sum((-2, -1)) / noise_var - 0.5 * Y.numel() * math.log(
            2 * math.pi * noise_var
        )

    def pyro_model(self, X: Tensor, Y: Tensor | None, prior_var: float, noise_var: float) -> Tensor:
        """The model as a Pyro program: sample site ``"theta"`` (`P`), observed site ``"y"`` (`N x m`).

        Its log joint density is ``log_prior + log_likelihood``. Extra leading dimensions
        of ``theta`` (e.g. vectorised ELBO particles) broadcast through.

        Returns:
            The network outputs `... x N x m` at ``X``.
        """
        prior = dist.Normal(X.new_zeros(()), math.sqrt(prior_var)).expand([self.num_params]).to_event(1)
        theta = pyro.sample("theta", prior)
        f = self.forward(theta, X)
        pyro.sample("y", dist.Normal(f, math.sqrt(noise_var)).to_event(2), obs=Y)
        return f


def train_map(
    layout: MLPLayout,
    X: Tensor,
    Y: Tensor,
    init: Tensor,
    *,
    prior_var: float,
    noise_var: float,
    steps: int,
    lr: float,
) -> Tensor:
    """Maximum a posteriori weights of S independent networks, trained as one batch.

    Full-batch Adam on the sum over networks of the negative log posterior divided by n
    (the per-point scale keeps one learning rate right for any n). The sum of independent
    losses under elementwise Adam is exactly S separate trainings.

    Args:
        layout: The network layout.
        X: `n x d` training inputs.
        Y: `n x m` standardised observations.
        init: `S x P` starting weights.
        prior_var: The prior variance.
        noise_var: The likelihood variance.
        steps: Number of Adam steps.
        lr: Adam learning rate.

    Returns:
        The `S x P` MAP estimates (detached).
    """
    theta = init.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = -(layout.log_prior(theta, prior_var) + layout.log_likelihood(theta, X, Y, noise_var))
            (loss.sum() / X.shape[0]).backward()
            optimizer.step()
    return theta.detach()


@contextlib.contextmanager
def local_rng(seed: int) -> Iterator[None]:
    """Run a block under ``seed`` and restore the caller's torch / numpy / random state after.

    Pyro's samplers and ELBO estimators draw from the global generators; this makes a fit
    reproducible without disturbing the caller's random streams.
    """
    state = pyro.util.get_rng_state()
    pyro.set_rng_seed(seed)
    try:
        yield
    finally:
        pyro.util.set_rng_state(state)
