r"""Martingale posterior neural process (MPNP).

Lee, Yun, Nam, Fong & Lee, *Martingale Posterior Neural Processes* (ICLR 2023), Sec. 3. A martingale
posterior (Fong, Holmes & Walker, *Martingale posterior distributions*, JRSS B 2023) replaces prior x
likelihood by predictive resampling: impute future data from a one-step predictive, and take
the distribution of theta(observed u imputed) as the posterior. MPNP amortises this:

* the context Z_c is encoded point-wise, R_c = {enc(x_i, y_i)};
* a generator — an induced set attention block (ISAB, Set Transformer) over the context
  representations and m noise tokens eps_j ~ N(0, I) — outputs m *pseudo-context
  representations* R'^{(k)}, independently for k = 1..K;
* theta_k = mean(R_c u R'^{(k)}) = (n rbar_c + m rbar'_k) / (n + m), the function parameter
  given the real plus the imputed data; the decoder gives p(y | x, theta_k) = N(mu, sigma^2);
* the predictive is the mixture (1/K) sum_k p(y | x, theta_k).

Loss per task, with Z = Z_c u Z_t and every sum divided by |Z| (paper eq. in Sec. 3.3):

* L_marg   = -log (1/K) sum_k exp(sum_Z log p(y | x, theta_k))   (martingale-posterior marginal),
* L_amort  = -sum_Z log p(y | x, theta(Z_c))                      (the CNP term),
* L_pseudo = -(1/K) sum_k sum_Z log p(y | x, theta(Z'^{(k)}))     (pseudo contexts alone predict).

Because theta_k pools n real and m pseudo representations, the pseudo part carries weight
m / (n + m): the spread of theta_k over k contracts as the context grows (claim
``mpnp.contraction``), while with an empty-ish context it is the generator that carries it.

Example:
    ```python
    import torch
    from probtheory.processes.mpnp import MPNP, MPNPConfig
    from probtheory.processes.tasks import GPTaskSampler
    from probtheory.processes.training import meta_train

    model = MPNP(MPNPConfig(hidden=32, depth=2, num_samples=5, num_pseudo=8), seed=0)
    meta_train(model, GPTaskSampler("rbf"), steps=20, batch_size=8, seed=0, progress=False)
    batch = GPTaskSampler("rbf").sample(4, seed=1)
    predictive = model.predict(batch.context_x, batch.context_y, batch.target_x, seed=0)
    predictive.log_prob(batch.target_y).mean()      # MixtureSameFamily over K = 5 samples
    ```
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real, match_parameter_dtype
from probtheory.errors import InputDataError
from probtheory.processes.neural_process import (
    GaussianDecoder,
    NeuralProcessBase,
    NeuralProcessConfig,
    SetEncoder,
    _make_generator,
    log_mean_exp,
    task_log_likelihood,
)
from probtheory.processes.tasks import TaskBatch

__all__ = ["MPNP", "ISAB", "MPNPConfig", "MPNPLoss", "PseudoContextGenerator"]


@dataclass(frozen=True)
class MPNPConfig(NeuralProcessConfig):
    """Architecture and loss of an MPNP (the CNP fields plus the generator's).

    Attributes:
        num_pseudo: m, pseudo-context points per set.
        num_heads: Attention heads of the ISAB (must divide ``hidden``).
        num_inducing: Induced points of the ISAB.
        amortised_weight: Weight of L_amort.
        pseudo_weight: Weight of L_pseudo (the paper uses 1; a third-party code 0.1).
    """

    num_pseudo: int = 20
    num_heads: int = 4
    num_inducing: int = 16
    amortised_weight: float = 1.0
    pseudo_weight: float = 1.0

    def __post_init__(self) -> None:
        """Validate the options."""
        super().__post_init__()
        check_int("num_pseudo", self.num_pseudo, minimum=1)
        check_int("num_heads", self.num_heads, minimum=1)
        check_int("num_inducing", self.num_inducing, minimum=1)
        if self.hidden % self.num_heads:
            raise InputDataError("num_heads", f"a divisor of hidden = {self.hidden}", self.num_heads)
        check_real("amortised_weight", self.amortised_weight, nonnegative=True)
        check_real("pseudo_weight", self.pseudo_weight, nonnegative=True)


@dataclass(frozen=True)
class MPNPLoss:
    """The three terms of the MPNP loss (scalars, per point, averaged over tasks) and their total."""

    total: Tensor
    marginal: Tensor
    amortised: Tensor
    pseudo: Tensor


class _MAB(nn.Module):
    """Multihead attention block: H = LN(Q + Att(Q, X, X)), out = LN(H + rFF(H))."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        h = self.norm1(query + self.attention(query, keys, keys, need_weights=False)[0])
        return self.norm2(h + self.feedforward(h))


class ISAB(nn.Module):
    """Induced set attention block (Lee et al., Set Transformer, ICML 2019): O(n I) attention.

    ISAB(X) = MAB(X, MAB(I, X)) with I learned induced points; maps `B x n x h` to `B x n x h`.
    """

    def __init__(self, dim: int, heads: int, num_inducing: int) -> None:
        """Create the block."""
        super().__init__()
        _check_attention("dim", dim, heads)
        num_inducing = check_int("num_inducing", num_inducing, minimum=1)
        self.inducing = nn.Parameter(torch.randn(1, num_inducing, dim) / math.sqrt(dim))
        self.mab_inducing, self.mab_out = _MAB(dim, heads), _MAB(dim, heads)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to a `B x n x h` set."""
        dim = self.inducing.shape[-1]
        x = match_parameter_dtype("x", x, self.inducing.dtype)
        if x.dim() != 3 or x.shape[-1] != dim:
            raise InputDataError("x", f"a `B x n x {dim}` set", f"shape {tuple(x.shape)}")
        summary = self.mab_inducing(self.inducing.expand(x.shape[0], -1, -1), x)
        return self.mab_out(x, summary)


class PseudoContextGenerator(nn.Module):
    """Pseudo-context representations R'^{(k)} from the context representations and noise.

    The set [R_c ; W eps + marker] (n real tokens, m noise tokens) goes through an ISAB; the
    outputs at the noise tokens, linearly mapped back to representation space, are R'^{(k)}.
    The final LayerNorm of the ISAB bounds every pseudo representation, so their pooled
    contribution to theta shrinks like m / (n + m).
    """

    def __init__(self, dim: int, heads: int, num_inducing: int) -> None:
        """Create the generator."""
        super().__init__()
        _check_attention("dim", dim, heads)
        self.noise_in = nn.Linear(dim, dim)
        self.marker = nn.Parameter(torch.zeros(dim))
        self.isab = ISAB(dim, heads, num_inducing)
        self.out = nn.Linear(dim, dim)

    def forward(
        self, context_r: Tensor, num_sets: int, num_pseudo: int, generator: torch.Generator
    ) -> Tensor:
        """Draw K pseudo-context sets.

        Args:
            context_r: A `B x n x h` tensor of context representations.
            num_sets: K.
            num_pseudo: m.
            generator: Source of the noise eps.

        Returns:
            A `K x B x m x h` tensor.
        """
        dim = self.marker.shape[0]
        context_r = match_parameter_dtype("context_r", context_r, self.marker.dtype)
        if context_r.dim() != 3 or context_r.shape[-1] != dim:
            raise InputDataError("context_r", f"a `B x n x {dim}` tensor", f"shape {tuple(context_r.shape)}")
        num_sets = check_int("num_sets", num_sets, minimum=1)
        num_pseudo = check_int("num_pseudo", num_pseudo, minimum=1)
        if not isinstance(generator, torch.Generator):
            raise InputDataError("generator", "a torch.Generator", type(generator).__name__)
        b, n, h = context_r.shape
        eps = torch.randn(num_sets, b, num_pseudo, h, generator=generator, dtype=context_r.dtype)
        noise_tokens = self.noise_in(eps) + self.marker
        tokens = torch.cat([context_r.expand(num_sets, b, n, h), noise_tokens], dim=-2)
        out = self.isab(tokens.reshape(num_sets * b, n + num_pseudo, h))[:, n:]
        return self.out(out).reshape(num_sets, b, num_pseudo, h)


def _check_attention(name: str, dim: object, heads: object) -> None:
    """A width ``dim >= 1`` divisible by ``heads >= 1`` (nn.MultiheadAttention asserts it bare)."""
    dim = check_int(name, dim, minimum=1)
    heads = check_int("heads", heads, minimum=1)
    if dim % heads:
        raise InputDataError("heads", f"a divisor of {name} = {dim}", heads)


class MPNP(NeuralProcessBase):
    """Martingale posterior neural process on a CNP backbone (see the module docstring)."""

    config_class = MPNPConfig

    def _build(self) -> None:
        c = self.config
        self.encoder = SetEncoder(c.x_dim, c.hidden, c.depth)
        self.generator = PseudoContextGenerator(c.hidden, c.num_heads, c.num_inducing)
        self.decoder = GaussianDecoder(c.x_dim, c.hidden, c.hidden, c.depth, c.min_std)

    def combine(self, context_r: Tensor, pseudo_r: Tensor) -> Tensor:
        """theta_k = mean(R_c u R'^{(k)}): `B x n x h` and `K x B x m x h` to `K x B x h`."""
        n, m = context_r.shape[-2], pseudo_r.shape[-2]
        return (context_r.sum(-2) + pseudo_r.sum(-2)) / (n + m)

    def _thetas(self, cx: Tensor, cy: Tensor, num_samples: int, generator: torch.Generator):
        context_r = self.encoder(cx, cy)
        pseudo_r = self.generator(context_r, num_samples, self.config.num_pseudo, generator)
        return context_r, pseudo_r, self.combine(context_r, pseudo_r)

    def sample_parameters(
        self, context_x: Tensor, context_y: Tensor, num_samples: int | None = None, seed: int | None = None
    ) -> Tensor:
        """Draws theta_k of the martingale posterior given the context.

        Args:
            context_x: A `batch_shape x n x d` tensor (n >= 1).
            context_y: A `batch_shape x n` tensor.
            num_samples: K (default ``config.num_samples``).
            seed: Seed of the generator noise.

        Returns:
            A `K x batch_shape x h` tensor.
        """
        cx, cy, _ = self._check(context_x, context_y, context_x[..., :1, :])
        k = self._num_samples(num_samples)
        theta = self._thetas(cx, cy, k, _make_generator(seed))[2]
        return theta.reshape(k, *context_x.shape[:-2], theta.shape[-1])

    def _predictive_params(self, cx, cy, tx, num_samples, generator):
        mean, std = self.decoder(tx, self._thetas(cx, cy, num_samples, generator)[2])
        return mean, std, True

    def loss_terms(self, batch: TaskBatch, generator: torch.Generator | None = None) -> MPNPLoss:
        """The three loss terms on a task batch (see the module docstring)."""
        cx, cy, x, y = self._batch_tensors(batch)
        generator = generator if generator is not None else _make_generator(None)
        context_r, pseudo_r, theta = self._thetas(cx, cy, self.config.num_samples, generator)
        per_point = 1.0 / y.shape[-1]
        mean, std = self.decoder(x, theta)  # K x B x N
        marginal = -(log_mean_exp(task_log_likelihood(mean, std, y), 0) * per_point).mean()
        mean, std = self.decoder(x, context_r.mean(-2))
        amortised = -(task_log_likelihood(mean, std, y) * per_point).mean()
        mean, std = self.decoder(x, pseudo_r.mean(-2))
        pseudo = -(task_log_likelihood(mean, std, y) * per_point).mean()
        c = self.config
        total = marginal + c.amortised_weight * amortised + c.pseudo_weight * pseudo
        return MPNPLoss(total, marginal, amortised, pseudo)

    def loss(self, batch: TaskBatch, generator: torch.Generator | None = None) -> Tensor:
        """L_marg + L_amort + L_pseudo (weighted as in the config)."""
        return self.loss_terms(batch, generator).total
