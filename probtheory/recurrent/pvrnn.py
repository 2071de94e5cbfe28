r"""PV-RNN: the predictive-coding-inspired variational RNN of Ahmadi & Tani (2019).

Ahmadi & Tani, *A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction
and Recognition*, Neural Computation 31(11), 2019; reference code h-idei/pvrnn_sa
(``pvrnn_layer.py``, ``pvrnn_top_layer.py``).

Layers :math:`l = 1..L` (1 is the lowest) are multiple-timescale (leaky-integrator) RNN layers
with time constant :math:`\tau_l`, deterministic units :math:`d^l_t` and stochastic units
:math:`z^l_t`:

* prior: :math:`p(z^l_1) = N(0, I)`; for :math:`t > 1`,
  :math:`p(z^l_t \mid d^l_{t-1}) = N(\tanh(W_\mu d^l_{t-1}), \exp(W_\sigma d^l_{t-1})^2)`;
* posterior from the *adaptive vector* :math:`A^l_t = (A^\mu, A^\sigma)`, a free parameter per
  sequence, layer and time step (no encoder): :math:`q(z^l_t) = N(\tanh A^\mu, \exp(A^\sigma)^2)`;
* dynamics: :math:`h^l_t = (1 - 1/\tau_l) h^l_{t-1} + (1/\tau_l)(W_{dd} d^l_{t-1} + W_{zd} z^l_t
  + W_{l+1 \to l} d^{l+1}_t + b)`, :math:`d^l_t = \tanh h^l_t`, :math:`d_0 = h_0 = 0`;
* output: :math:`\hat x_t = W_{out} d^1_t + b_{out}`.

The loss (a negative evidence lower bound with the per-layer *meta-prior* :math:`w_l` on the KL)
is minimised over the weights and every sequence's :math:`A`:

.. math::  \sum_t \mathrm{rec}(x_t, \hat x_t) + \sum_l \sum_t w^l_t \, \mathrm{KL}(q(z^l_t)
           \,\|\, p(z^l_t \mid d^l_{t-1})) / |z^l|,

with :math:`w^l_1 = w1_l` and :math:`w^l_t = w_l` for :math:`t > 1`. As in the reference code of
the same lab (Idei et al., ``pvrnn_sa``) the KL of a layer is divided by its number of z units,
and for ``likelihood="mse"`` the reconstruction is the squared error divided by the output
dimension; ``"gaussian"`` uses the negative log-density of :math:`N(\hat x_t, s^2 I)` with a fixed
(``output_std``) or learned (``"gaussian_learned"``) :math:`s`. Large :math:`w` pins the posterior
to the prior (near-deterministic dynamics); small :math:`w` lets the adaptive vectors absorb
everything (a random process that generalises poorly); the paper finds intermediate :math:`w`
best. Online recognition is :class:`probtheory.recurrent.error_regression.ErrorRegression`; a
layer is configured by :class:`~probtheory.recurrent.pvrnn_layer_config.PVRNNLayerConfig`, the
KL is :func:`~probtheory.recurrent.gaussian_kl.gaussian_kl`.

Example::

    from probtheory.recurrent.data import pattern_switching_sequences
    from probtheory.recurrent.pvrnn import PVRNN
    from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig

    data = pattern_switching_sequences(8, 40, seed=0).values
    model = PVRNN(2, [PVRNNLayerConfig(d_size=16, z_size=2, tau=2.0, w=0.01),
                      PVRNNLayerConfig(d_size=8, z_size=1, tau=8.0, w=0.01)], seed=0)
    model.fit(data, epochs=50, lr=0.01, seed=0, progress=False)
    samples = model.generate(4, 40, seed=1)        # 4 x 40 x 2, sampled from the prior
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from probtheory._checks import (
    check_finite,
    check_int,
    check_name,
    check_real,
    make_generator,
    match_parameter_dtype,
)
from probtheory.errors import InputDataError, NotFittedError
from probtheory.recurrent.gaussian_kl import _gaussian_kl
from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig

__all__ = ["LIKELIHOODS", "PVRNN", "UnrollResult"]

LIKELIHOODS = ("mse", "gaussian", "gaussian_learned")
# pre-activation clamp of the posterior / prior log-std: exp(+-10) keeps the KL finite in float32
_LOG_STD_LIMIT = 10.0


@dataclass
class UnrollResult:
    """What one pass of the network through time produced.

    Attributes:
        outputs: An `n x T x D` tensor of predicted observations.
        kl: Per layer (bottom first), an `n x T` tensor: KL(q || p) summed over the z units
            (zeros where z was drawn from the prior).
        prior: Per layer, the prior `(mu, sigma)`, each `n x T x z_size`.
        posterior: Per layer, the posterior `(mu, sigma)` (None where z came from the prior).
        state: The final `(h, d)` per layer, each `n x d_size`.
    """

    outputs: Tensor
    kl: list[Tensor]
    prior: list[tuple[Tensor, Tensor]]
    posterior: list[tuple[Tensor, Tensor] | None]
    state: list[tuple[Tensor, Tensor]]


class PVRNN(nn.Module):
    """A multi-layer PV-RNN (see the module docstring for the equations).

    Args:
        output_dim: Dimension D of the observations.
        layers: The layers, bottom (closest to the output) first.
        likelihood: ``"mse"`` (the paper's / reference code's squared error), ``"gaussian"``
            (fixed ``output_std``) or ``"gaussian_learned"`` (``output_std`` is the initial value).
        output_std: Standard deviation of the Gaussian observation model (> 0).
        seed: Seed of the weight initialisation (None: nondeterministic).
        dtype: Floating dtype of the parameters (float64 by default; inputs are cast to it).
    """

    def __init__(
        self,
        output_dim: int,
        layers: Sequence[PVRNNLayerConfig],
        *,
        likelihood: str = "mse",
        output_std: float = 1.0,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.output_dim = check_int("output_dim", output_dim, minimum=1)
        layers = tuple(layers)
        if not layers or not all(isinstance(c, PVRNNLayerConfig) for c in layers):
            raise InputDataError("layers", "a non-empty sequence of PVRNNLayerConfig", repr(layers))
        check_name("likelihood", likelihood, LIKELIHOODS, meaning="an observation model")
        output_std = check_real("output_std", output_std, positive=True)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise InputDataError("dtype", "a floating torch.dtype (torch.float64 by default)", repr(dtype))
        self.layer_configs = layers
        self.likelihood = likelihood
        g = make_generator(seed)

        def linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
            lin = nn.Linear(n_in, n_out, bias=bias, dtype=dtype)
            bound = 1 / math.sqrt(n_in)
            with torch.no_grad():
                lin.weight.uniform_(-bound, bound, generator=g)
                if bias:
                    lin.bias.uniform_(-bound, bound, generator=g)
            return lin

        self.recurrent = nn.ModuleList(linear(c.d_size, c.d_size) for c in layers)
        self.z_to_h = nn.ModuleList(linear(c.z_size, c.d_size, bias=False) for c in layers)
        self.top_down = nn.ModuleList(
            linear(layers[i + 1].d_size, layers[i].d_size, bias=False) for i in range(len(layers) - 1)
        )
        self.d_to_prior = nn.ModuleList(linear(c.d_size, 2 * c.z_size) for c in layers)
        self.readout = linear(layers[0].d_size, output_dim)
        log_std = torch.full((), math.log(output_std), dtype=dtype)
        if likelihood == "gaussian_learned":
            self.output_log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("output_log_std", log_std)
        self.posterior_A: nn.ParameterList | None = None
        self.loss_history: list[float] = []

    # ------------------------------------------------------------------------------- basics

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the parameters."""
        return self.readout.weight.dtype

    @property
    def num_layers(self) -> int:
        """Number of layers L."""
        return len(self.layer_configs)

    def initial_state(self, n: int) -> list[tuple[Tensor, Tensor]]:
        """The zero state `(h_0, d_0)` per layer, each `n x d_size`."""
        return [
            (torch.zeros(n, c.d_size, dtype=self.dtype), torch.zeros(n, c.d_size, dtype=self.dtype))
            for c in self.layer_configs
        ]

    def prior_params(self, layer: int, d_prev: Tensor | None) -> tuple[Tensor, Tensor]:
        """Mean and std of p(z_t | d_{t-1}) of one layer (N(0, I) when ``d_prev`` is None).

        Args:
            layer: Layer index (0 is the bottom).
            d_prev: An `n x d_size` tensor, or None at t = 1 (then `n` is unknown and the
                result is `1 x z_size`).

        Returns:
            `(mu, sigma)`, each `n x z_size`.
        """
        z = self.layer_configs[layer].z_size
        if d_prev is None:
            return torch.zeros(1, z, dtype=self.dtype), torch.ones(1, z, dtype=self.dtype)
        pre = self.d_to_prior[layer](d_prev)
        return torch.tanh(pre[..., :z]), torch.exp(pre[..., z:].clamp(-_LOG_STD_LIMIT, _LOG_STD_LIMIT))

    @staticmethod
    def posterior_params(A: Tensor) -> tuple[Tensor, Tensor]:
        """Mean ``tanh(A_mu)`` and std ``exp(A_sigma)`` of q(z) from adaptive vectors `... x 2 z`."""
        z = A.shape[-1] // 2
        return torch.tanh(A[..., :z]), torch.exp(A[..., z:].clamp(-_LOG_STD_LIMIT, _LOG_STD_LIMIT))

    def kl_divergence(self, mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
        """The model's KL(q || p) per coordinate (see :func:`gaussian_kl`)."""
        return _gaussian_kl(mu_q, sigma_q, mu_p, sigma_p)

    # ------------------------------------------------------------------------------- unroll

    def unroll(
        self,
        length: int,
        *,
        A: Sequence[Tensor] | None = None,
        state: list[tuple[Tensor, Tensor]] | None = None,
        at_start: bool = True,
        n: int | None = None,
        noise: str = "sample",
        generator: torch.Generator | None = None,
    ) -> UnrollResult:
        """Run the network through ``length`` steps.

        Args:
            length: Number of steps T.
            A: Per layer (bottom first), an `n x T x 2 z_size` tensor of adaptive vectors: z is
                drawn from the posterior; None: z is drawn from the prior.
            state: Per layer `(h, d)`, each `n x d_size`, before the first step (None: zeros).
            at_start: Whether the first step is t = 1 of the sequence (prior N(0, I) there).
            n: Batch size when neither ``A`` nor ``state`` gives it.
            noise: ``"sample"`` (reparameterised draw), or ``"mean"`` (z = the mean).
            generator: Random generator of the draws.

        Returns:
            The :class:`UnrollResult`.
        """
        check_name("noise", noise, ("sample", "mean"), meaning="a noise mode")
        length = check_int("length", length, minimum=1)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InputDataError("generator", "a torch.Generator or None", type(generator).__name__)
        if A is not None:
            if (
                isinstance(A, Tensor)
                or not isinstance(A, Sequence)
                or not A
                or not all(isinstance(a, Tensor) and a.is_floating_point() for a in A)
            ):
                raise InputDataError(
                    "A", f"a list of {self.num_layers} floating tensors, one per layer", type(A).__name__
                )
            n = A[0].shape[0]
        elif state is not None:
            if not isinstance(state, Sequence) or len(state) != self.num_layers:
                raise InputDataError(
                    "state", f"a list of {self.num_layers} (h, d) pairs, one per layer", type(state).__name__
                )
            n = state[0][0].shape[0]
        elif n is None:
            raise InputDataError("n", "a batch size when neither `A` nor `state` is given", None)
        else:
            n = check_int("n", n, minimum=1)
        state = self.initial_state(n) if state is None else list(state)
        if A is None:
            return self._unroll_prior(length, state, at_start, n, noise, generator)
        return self._unroll_posterior(length, A, state, at_start, noise, generator)

    def _draw(self, mu: Tensor, sigma: Tensor, noise: str, generator: torch.Generator | None) -> Tensor:
        if noise == "mean":
            return mu
        return mu + sigma * torch.randn(mu.shape, generator=generator, dtype=self.dtype)

    def _layer_step(self, layer: int, h: Tensor, d: Tensor, z_drive: Tensor, d_above: Tensor | None):
        """One MTRNN update; ``z_drive`` is W_zd z_t (precomputed), ``d_above`` is d^{l+1}_t."""
        drive = self.recurrent[layer](d) + z_drive
        if d_above is not None:
            drive = drive + self.top_down[layer](d_above)
        tau = self.layer_configs[layer].tau
        h = (1 - 1 / tau) * h + drive / tau
        return h, torch.tanh(h)

    def _unroll_posterior(self, length, A, state, at_start, noise, generator) -> UnrollResult:
        # z_t comes from the adaptive vectors alone, so the posterior, the draws and W_zd z are
        # computed for all steps at once; only the deterministic recursion is sequential, and the
        # priors (functions of d_{t-1}) and the KL are evaluated afterwards, vectorised over t.
        L = self.num_layers
        n = A[0].shape[0] if A and A[0].dim() else 0
        if len(A) != L or any(
            a.dim() != 3 or a.shape[0] != n or a.shape[1] < length or a.shape[2] != 2 * c.z_size
            for a, c in zip(A, self.layer_configs, strict=False)
        ):
            sizes = [2 * c.z_size for c in self.layer_configs]
            raise InputDataError(
                "A", f"{L} tensors `n x T x 2 z_size` (2 z_size = {sizes}) with T >= {length}",
                [tuple(a.shape) for a in A],
            )  # fmt: skip
        for layer, ((h, d), c) in enumerate(zip(state, self.layer_configs, strict=True)):
            if h.shape != (n, c.d_size) or d.shape != (n, c.d_size):
                raise InputDataError(
                    "state",
                    f"(h, d) pairs of shape ({n}, {c.d_size}) in layer {layer}",
                    (tuple(h.shape), tuple(d.shape)),
                )
        posterior = [self.posterior_params(a[:, :length]) for a in A]
        z_drive = [
            self.z_to_h[i](self._draw(mu, sigma, noise, generator)) for i, (mu, sigma) in enumerate(posterior)
        ]
        d_prev = [[d] for _, d in state]  # d_{t-1} for t = 1..T, per layer
        outputs = []
        for t in range(length):
            new_state: list[tuple[Tensor, Tensor] | None] = [None] * L
            for layer in reversed(range(L)):  # top-down: a layer reads d^{l+1}_t
                h, d = state[layer]
                above = new_state[layer + 1][1] if layer + 1 < L else None
                new_state[layer] = self._layer_step(layer, h, d, z_drive[layer][:, t], above)
                d_prev[layer].append(new_state[layer][1])
            state = new_state
            outputs.append(state[0][1])
        priors, kls = [], []
        for layer in range(L):
            mu_p, sigma_p = self.prior_params(layer, torch.stack(d_prev[layer][:length], 1))
            if at_start:  # t = 1: N(0, I)
                mu_p = torch.cat([torch.zeros_like(mu_p[:, :1]), mu_p[:, 1:]], 1)
                sigma_p = torch.cat([torch.ones_like(sigma_p[:, :1]), sigma_p[:, 1:]], 1)
            mu_q, sigma_q = posterior[layer]
            priors.append((mu_p, sigma_p))
            kls.append(self.kl_divergence(mu_q, sigma_q, mu_p, sigma_p).sum(-1))
        return UnrollResult(self.readout(torch.stack(outputs, 1)), kls, priors, posterior, state)

    def _unroll_prior(self, length, state, at_start, n, noise, generator) -> UnrollResult:
        L = self.num_layers
        outputs, priors = [], [([], []) for _ in range(L)]
        for t in range(length):
            first = at_start and t == 0
            new_state: list[tuple[Tensor, Tensor] | None] = [None] * L
            for layer in reversed(range(L)):
                h, d = state[layer]
                mu_p, sigma_p = self.prior_params(layer, None if first else d)
                mu_p, sigma_p = mu_p.expand(n, -1), sigma_p.expand(n, -1)
                priors[layer][0].append(mu_p)
                priors[layer][1].append(sigma_p)
                z_drive = self.z_to_h[layer](self._draw(mu_p, sigma_p, noise, generator))
                above = new_state[layer + 1][1] if layer + 1 < L else None
                new_state[layer] = self._layer_step(layer, h, d, z_drive, above)
            state = new_state
            outputs.append(state[0][1])
        priors = [(torch.stack(m, 1), torch.stack(s, 1)) for m, s in priors]
        kls = [torch.zeros(n, length, dtype=self.dtype) for _ in range(L)]
        return UnrollResult(self.readout(torch.stack(outputs, 1)), kls, priors, None, state)

    # --------------------------------------------------------------------------------- loss

    def reconstruction(self, x: Tensor, outputs: Tensor) -> Tensor:
        """Per-step reconstruction loss, `n x T` from `n x T x D` observations and predictions."""
        if self.likelihood == "mse":
            return (x - outputs).square().sum(-1) / self.output_dim
        log_std = self.output_log_std
        return (0.5 * ((x - outputs) / log_std.exp()).square() + log_std + 0.5 * math.log(2 * math.pi)).sum(
            -1
        )

    def kl_weights(self, layer: int, length: int, at_start: bool = True) -> Tensor:
        """The meta-prior weights w^l_t / z_size of one layer, a `length` tensor."""
        c = self.layer_configs[layer]
        weights = torch.full((length,), c.w / c.z_size, dtype=self.dtype)
        if at_start and length > 0:
            weights[0] = c.first_w / c.z_size
        return weights

    def loss(self, x: Tensor, result: UnrollResult, mask: Tensor | None = None, at_start: bool = True):
        """Per-sequence loss ``sum_t rec_t + sum_l sum_t w^l_t KL^l_t / z_size``, an `n` tensor.

        Args:
            x: An `n x T x D` tensor of observations.
            result: The unroll (with posterior) that predicted them.
            mask: An `n x T` bool tensor of valid steps (None: all valid).
            at_start: Whether the window starts at t = 1 (weight w1 on its first KL).
        """
        if not isinstance(result, UnrollResult):
            raise InputDataError("result", "an UnrollResult (from unroll)", type(result).__name__)
        x = match_parameter_dtype("x", x, self.dtype)
        if x.shape != result.outputs.shape:
            raise InputDataError(
                "x",
                f"observations of the unroll's shape {tuple(result.outputs.shape)}",
                f"shape {tuple(x.shape)}",
            )
        if mask is not None and (not isinstance(mask, Tensor) or mask.shape != x.shape[:2]):
            raise InputDataError(
                "mask",
                f"a bool tensor of shape {tuple(x.shape[:2])}",
                getattr(mask, "shape", type(mask).__name__),
            )
        per_step = self.reconstruction(x, result.outputs)
        for layer, kl in enumerate(result.kl):
            per_step = per_step + kl * self.kl_weights(layer, x.shape[1], at_start)
        if mask is not None:
            per_step = per_step * mask.to(per_step.dtype)
        return per_step.sum(-1)

    # ---------------------------------------------------------------------------------- fit

    def _check_sequences(self, sequences, mask) -> tuple[Tensor, Tensor | None]:
        if isinstance(sequences, (list, tuple)):
            if not sequences:
                raise InputDataError("sequences", "at least one sequence", "an empty list")
            for i, s in enumerate(sequences):
                check_finite(f"sequences[{i}]", s)
                if s.dim() != 2:
                    raise InputDataError(f"sequences[{i}]", "a `T x D` tensor", f"shape {tuple(s.shape)}")
            lengths = sorted({s.shape[0] for s in sequences})
            if len(lengths) > 1 and mask is None:
                raise InputDataError(
                    "sequences",
                    "sequences of equal length, or a padded `n x T x D` tensor with an `n x T` `mask`",
                    f"lengths {lengths} and no mask",
                )
            if len(lengths) > 1:
                raise InputDataError(
                    "sequences", "a padded `n x T x D` tensor when `mask` is given", "a list"
                )
            sequences = torch.stack(list(sequences))
        check_finite("sequences", sequences)
        if sequences.dim() != 3 or sequences.shape[0] == 0:
            raise InputDataError(
                "sequences", "an `n x T x D` tensor with n >= 1", f"shape {tuple(sequences.shape)}"
            )
        if sequences.shape[-1] != self.output_dim:
            raise InputDataError(
                "sequences", f"trailing dimension D = {self.output_dim}", f"shape {tuple(sequences.shape)}"
            )
        if sequences.shape[1] < 1:
            raise InputDataError("sequences", "at least one time step", f"shape {tuple(sequences.shape)}")
        if mask is not None:
            if not isinstance(mask, Tensor) or mask.shape != sequences.shape[:2]:
                got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
                raise InputDataError("mask", f"a bool tensor of shape {tuple(sequences.shape[:2])}", got)
            if mask.is_floating_point() and not ((mask == 0) | (mask == 1)).all():  # NaN fails this too
                raise InputDataError("mask", "a boolean (or 0/1) tensor", "other values")
            mask = mask.bool()
            if not mask.any(1).all():
                raise InputDataError("mask", "at least one valid step per sequence", "a sequence with none")
        return sequences.to(self.dtype), mask

    def fit(
        self,
        sequences: Tensor | Sequence[Tensor],
        epochs: int = 1000,
        lr: float = 1e-3,
        seed: int | None = None,
        progress: bool = True,
        *,
        mask: Tensor | None = None,
    ) -> PVRNN:
        """Minimise the loss over the weights and the per-sequence adaptive vectors (full batch Adam).

        Args:
            sequences: An `n x T x D` tensor (or a list of n `T x D` tensors of equal length).
            epochs: Number of Adam steps.
            lr: Adam learning rate.
            seed: Seed of the posterior draws (None: nondeterministic).
            progress: Show a tqdm bar with the loss.
            mask: An `n x T` bool tensor of valid steps, for padded sequences of unequal length.

        Returns:
            The fitted model; ``loss_history`` holds the per-epoch loss (mean over sequences).
            A KeyboardInterrupt stops training and keeps what was learned.
        """
        x, mask = self._check_sequences(sequences, mask)
        epochs = check_int("epochs", epochs, minimum=1)
        lr = check_real("lr", lr, positive=True)
        n, T, _ = x.shape
        self.posterior_A = nn.ParameterList(
            nn.Parameter(torch.zeros(n, T, 2 * c.z_size, dtype=self.dtype)) for c in self.layer_configs
        )
        g = make_generator(seed)
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        self.loss_history = []
        with tqdm(total=epochs, disable=not progress, desc="PVRNN.fit") as bar:
            try:
                for _ in range(epochs):
                    optimizer.zero_grad()
                    result = self.unroll(T, A=list(self.posterior_A), generator=g)
                    loss = self.loss(x, result, mask).mean()
                    loss.backward()
                    optimizer.step()
                    self.loss_history.append(loss.item())
                    bar.set_postfix(loss=f"{self.loss_history[-1]:.4g}")
                    bar.update()
            except KeyboardInterrupt:
                pass
        return self

    # ----------------------------------------------------------------------------- generate

    @torch.no_grad()
    def generate(self, n: int, length: int, seed: int | None = None, *, noise: str = "sample") -> Tensor:
        """Generate from the prior (open loop: no observation enters).

        Args:
            n: Number of sequences.
            length: Steps per sequence.
            seed: Seed of the prior draws (None: nondeterministic).
            noise: ``"sample"`` draws z from the prior; ``"mean"`` uses its mean (deterministic).

        Returns:
            An `n x length x D` tensor of predicted observations (the output means).
        """
        n = check_int("n", n, minimum=1)
        length = check_int("length", length, minimum=1)
        g = make_generator(seed)
        return self.unroll(length, n=n, noise=noise, generator=g).outputs

    @torch.no_grad()
    def reconstruct(self) -> Tensor:
        """The training sequences as predicted with z = the posterior means, `n x T x D`."""
        if self.posterior_A is None:
            raise NotFittedError("PVRNN.reconstruct needs the adaptive vectors of fit(); call fit() first")
        A = list(self.posterior_A)
        return self.unroll(A[0].shape[1], A=A, noise="mean").outputs

    def check_fitted(self) -> None:
        """Raise NotFittedError unless fit() was called."""
        if self.posterior_A is None:
            raise NotFittedError("the PV-RNN has not been fitted; call fit() first")

    def extra_repr(self) -> str:  # noqa: D102
        return f"output_dim={self.output_dim}, layers={self.layer_configs}, likelihood={self.likelihood!r}"
