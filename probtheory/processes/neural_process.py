r"""Conditional and latent neural processes: a shared set encoder, a Gaussian decoder, CNP and NP.

* CNP (Garnelo et al., ICML 2018): theta = (1/n) sum_i enc(x_i, y_i) (mean pooling over the
  context), p(y | x, theta) = N(mu(x, theta), sigma(x, theta)^2), trained on
  -(1/|Z|) sum_{(x, y) in Z} log p(y | x, theta(Z_c)) with Z = Z_c u Z_t (as in ``juho-lee/bnp``).
* NP (Garnelo et al., 2018; the bnp variant with a deterministic path): a latent
  z ~ q(z | .) = N(mu(s), sigma(s)^2) of a pooled latent encoding s, decoder
  p(y | x, r, z); trained on the ELBO
  (1/|Z|) [E_{q(z|Z)} sum_Z log p(y | x, r_c, z) - KL(q(z | Z) || q(z | Z_c))].

The predictive of a model with a random ``theta`` (NP, MPNP) is the K-sample mixture
(1/K) sum_k N(mu(x, theta_k), sigma(x, theta_k)^2), a ``MixtureSameFamily`` per target point.
Networks run in the dtype of their parameters (float32 by default); predictions are cast back
to the dtype of the inputs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, MixtureSameFamily, Normal

from probtheory._checks import (
    check_finite,
    check_inputs,
    check_int,
    check_interval,
    make_generator,
    match_parameter_dtype,
)
from probtheory.errors import InputDataError
from probtheory.processes.tasks import TaskBatch

__all__ = ["CNP", "NP", "GaussianDecoder", "NPConfig", "NeuralProcessConfig", "SetEncoder"]


@dataclass(frozen=True)
class NeuralProcessConfig:
    """Architecture of a neural process.

    Attributes:
        x_dim: Input dimension d.
        hidden: Width of every hidden layer and of the representation r.
        depth: Hidden layers of the encoder and of the decoder MLPs.
        min_std: Floor of the predictive standard deviation (sigma = min_std + (1 - min_std) softplus).
        num_samples: K, samples of theta per prediction (and per training task where used).
    """

    x_dim: int = 1
    hidden: int = 128
    depth: int = 3
    min_std: float = 0.02
    num_samples: int = 10

    def __post_init__(self) -> None:
        """Validate the options."""
        check_int("x_dim", self.x_dim, minimum=1)
        check_int("hidden", self.hidden, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_interval(
            "min_std", self.min_std, 0.0, 1.0, closed=(False, False), meaning="a standard-deviation floor"
        )
        check_int("num_samples", self.num_samples, minimum=1)


@dataclass(frozen=True)
class NPConfig(NeuralProcessConfig):
    """Architecture of a latent neural process (adds the latent dimension)."""

    latent: int = 128

    def __post_init__(self) -> None:
        """Validate the options."""
        super().__post_init__()
        check_int("latent", self.latent, minimum=1)


def mlp(in_dim: int, hidden: int, out_dim: int, depth: int) -> nn.Sequential:
    """``depth`` ReLU hidden layers of width ``hidden``, then a linear map to ``out_dim``."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_dim if i == 0 else hidden, hidden), nn.ReLU()]
    layers.append(nn.Linear(hidden, out_dim))
    return nn.Sequential(*layers)


class SetEncoder(nn.Module):
    """Per-point representation r_i = MLP([x_i, y_i]) (pooling is left to the caller)."""

    def __init__(self, x_dim: int, hidden: int, depth: int, out_dim: int | None = None) -> None:
        """Create the encoder (output width ``out_dim``, default ``hidden``)."""
        super().__init__()
        self.x_dim = check_int("x_dim", x_dim, minimum=1)
        out_dim = None if out_dim is None else check_int("out_dim", out_dim, minimum=1)
        self.net = mlp(
            self.x_dim + 1,
            check_int("hidden", hidden, minimum=1),
            out_dim or hidden,
            check_int("depth", depth, minimum=1),
        )

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Map `... x n x d` inputs and `... x n` outputs to `... x n x h` representations.

        Computed in the parameters' dtype (the package's dtype policy; inputs are converted to it).
        """
        dtype = self.net[0].weight.dtype
        x, y = match_parameter_dtype("x", x, dtype), match_parameter_dtype("y", y, dtype)
        if x.dim() < 2 or x.shape[-1] != self.x_dim:
            raise InputDataError("x", f"a `... x n x {self.x_dim}` tensor", f"shape {tuple(x.shape)}")
        if y.shape != x.shape[:-1]:
            raise InputDataError("y", f"a tensor of shape {tuple(x.shape[:-1])}", f"shape {tuple(y.shape)}")
        return self.net(torch.cat([x, y.unsqueeze(-1)], dim=-1))


class GaussianDecoder(nn.Module):
    """p(y | x, theta) = N(mu, sigma^2) with (mu, sigma) = MLP([x, theta])."""

    def __init__(self, x_dim: int, theta_dim: int, hidden: int, depth: int, min_std: float) -> None:
        """Create the decoder."""
        super().__init__()
        self.x_dim = check_int("x_dim", x_dim, minimum=1)
        self.theta_dim = check_int("theta_dim", theta_dim, minimum=1)
        self.net = mlp(
            self.x_dim + self.theta_dim,
            check_int("hidden", hidden, minimum=1),
            2,
            check_int("depth", depth, minimum=1),
        )
        self.min_std = check_interval(
            "min_std", min_std, 0.0, 1.0, closed=(False, False), meaning="a standard-deviation floor"
        )

    def forward(self, x: Tensor, theta: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation at `... x m x d` inputs given a `... x h` theta (each `... x m`)."""
        dtype = self.net[0].weight.dtype
        x, theta = match_parameter_dtype("x", x, dtype), match_parameter_dtype("theta", theta, dtype)
        if x.dim() < 2 or x.shape[-1] != self.x_dim:
            raise InputDataError("x", f"a `... x m x {self.x_dim}` tensor", f"shape {tuple(x.shape)}")
        if theta.dim() < 1 or theta.shape[-1] != self.theta_dim:
            raise InputDataError("theta", f"a `... x {self.theta_dim}` tensor", f"shape {tuple(theta.shape)}")
        theta = theta.unsqueeze(-2).expand(*theta.shape[:-1], x.shape[-2], theta.shape[-1])
        out = self.net(torch.cat([x.expand(*theta.shape[:-1], x.shape[-1]), theta], dim=-1))
        std = self.min_std + (1 - self.min_std) * nn.functional.softplus(out[..., 1])
        return out[..., 0], std


def task_log_likelihood(mean: Tensor, std: Tensor, y: Tensor) -> Tensor:
    """Sum over points of log N(y; mean, std^2): `... x n` tensors to a `...` tensor."""
    return Normal(mean, std).log_prob(y).sum(-1)


def _make_generator(seed: int | None) -> torch.Generator:
    return make_generator(seed)


class NeuralProcessBase(nn.Module):
    """Shared interface: input checks, ``predict``, ``log_likelihood``, ``loss``, save / load."""

    config_class: ClassVar[type[NeuralProcessConfig]] = NeuralProcessConfig

    def __init__(self, config: NeuralProcessConfig | None = None, seed: int | None = None) -> None:
        """Build the networks; ``seed`` fixes their initialisation."""
        super().__init__()
        config = config if config is not None else self.config_class()
        if not isinstance(config, self.config_class):
            raise InputDataError("config", f"a {self.config_class.__name__}", type(config).__name__)
        self.config = config
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(check_int("seed", seed, minimum=0))
            self._build()

    def _build(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ input validation

    def _check(self, context_x: Tensor, context_y: Tensor, target_x: Tensor) -> tuple[Tensor, ...]:
        """Validate and flatten the batch dimensions; returns tensors `B x n x d`, `B x n`, `B x m x d`."""
        d = self.config.x_dim
        check_inputs("context_x", context_x, feature_dim=d)
        if context_x.shape[-2] == 0:
            raise InputDataError("context_x", "at least one context point (n >= 1)", "an empty context")
        check_inputs("target_x", target_x, feature_dim=d)
        if not isinstance(context_y, Tensor) or context_y.shape != context_x.shape[:-1]:
            shape = tuple(context_y.shape) if isinstance(context_y, Tensor) else type(context_y).__name__
            raise InputDataError("context_y", f"a tensor of shape {tuple(context_x.shape[:-1])}", shape)
        check_inputs("context_y", context_y.unsqueeze(-1))
        if target_x.shape[:-2] != context_x.shape[:-2]:
            raise InputDataError(
                "target_x",
                f"the batch shape of `context_x` {tuple(context_x.shape[:-2])}",
                f"shape {tuple(target_x.shape)}",
            )
        dtype = next(self.parameters()).dtype
        flat = (
            context_x.reshape(-1, *context_x.shape[-2:]).to(dtype),
            context_y.reshape(-1, context_y.shape[-1]).to(dtype),
            target_x.reshape(-1, *target_x.shape[-2:]).to(dtype),
        )
        return flat

    def _num_samples(self, num_samples: int | None) -> int:
        if num_samples is None:
            return self.config.num_samples
        return check_int("num_samples", num_samples, minimum=1)

    # ------------------------------------------------------------------ prediction

    def _predictive_params(
        self, cx: Tensor, cy: Tensor, tx: Tensor, num_samples: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, bool]:
        """Mean and std, `B x m` (deterministic) or `K x B x m` (a K-mixture, flag True)."""
        raise NotImplementedError  # pragma: no cover

    def predict(
        self,
        context_x: Tensor,
        context_y: Tensor,
        target_x: Tensor,
        num_samples: int | None = None,
        seed: int | None = None,
    ) -> Distribution:
        """Predictive distribution of the targets given the context.

        Args:
            context_x: A `batch_shape x n x d` tensor (n >= 1).
            context_y: A `batch_shape x n` tensor.
            target_x: A `batch_shape x m x d` tensor.
            num_samples: K, samples of theta for a mixture predictive (default: ``config.num_samples``).
            seed: Seed of the samples (NP, MPNP).

        Returns:
            A distribution with batch shape `batch_shape x m`: ``Normal`` (CNP) or a K-component
            ``MixtureSameFamily`` of normals (NP, MPNP), in the dtype of ``context_x``.
        """
        cx, cy, tx = self._check(context_x, context_y, target_x)
        num_samples = self._num_samples(num_samples)
        mean, std, mixture = self._predictive_params(cx, cy, tx, num_samples, _make_generator(seed))
        out_shape = (*target_x.shape[:-1],)
        dtype = context_x.dtype
        if not mixture:
            return Normal(mean.reshape(out_shape).to(dtype), std.reshape(out_shape).to(dtype))
        # K x B x m -> batch_shape x m x K
        mean = mean.permute(1, 2, 0).reshape(*out_shape, num_samples).to(dtype)
        std = std.permute(1, 2, 0).reshape(*out_shape, num_samples).to(dtype)
        weights = Categorical(logits=torch.zeros_like(mean))
        return MixtureSameFamily(weights, Normal(mean, std))

    def log_likelihood(
        self,
        context_x: Tensor,
        context_y: Tensor,
        target_x: Tensor,
        target_y: Tensor,
        num_samples: int | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """Mean per-point predictive log-density of the targets (bnp's ``tar_ll``).

        Args:
            context_x: A `batch_shape x n x d` tensor (n >= 1).
            context_y: A `batch_shape x n` tensor.
            target_x: A `batch_shape x m x d` tensor.
            target_y: A `batch_shape x m` tensor.
            num_samples: K, as in :meth:`predict`.
            seed: Seed of the samples (NP, MPNP).

        Returns:
            A `batch_shape` tensor: (1/m) sum_j log p(y_j | x_j, context).
        """
        if not isinstance(target_x, Tensor) or target_x.dim() < 2 or target_x.shape[-2] == 0:
            shape = tuple(target_x.shape) if isinstance(target_x, Tensor) else type(target_x).__name__
            raise InputDataError("target_x", "a `batch_shape x m x d` tensor with m >= 1 targets", shape)
        if not isinstance(target_y, Tensor) or target_y.shape != target_x.shape[:-1]:
            shape = tuple(target_y.shape) if isinstance(target_y, Tensor) else type(target_y).__name__
            raise InputDataError("target_y", f"a tensor of shape {tuple(target_x.shape[:-1])}", shape)
        check_finite("target_y", target_y)  # a NaN target would get a finite log-density, or none
        predictive = self.predict(context_x, context_y, target_x, num_samples, seed)
        return predictive.log_prob(target_y.to(context_x.dtype)).mean(-1)

    # ------------------------------------------------------------------ training

    def _batch_tensors(self, batch: TaskBatch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Context and all-point tensors of a task batch in the model's dtype."""
        if not isinstance(batch, TaskBatch):
            raise InputDataError(
                "batch", "a TaskBatch (e.g. GPTaskSampler(...).sample(b))", type(batch).__name__
            )
        if batch.context_x.shape[-2] == 0:
            raise InputDataError("batch.context_x", "at least one context point", "an empty context")
        if batch.context_x.shape[-1] != self.config.x_dim:
            raise InputDataError(
                "batch.context_x",
                f"inputs of dimension x_dim = {self.config.x_dim}",
                f"shape {tuple(batch.context_x.shape)}",
            )
        dtype = next(self.parameters()).dtype
        return batch.context_x.to(dtype), batch.context_y.to(dtype), batch.x.to(dtype), batch.y.to(dtype)

    def loss(self, batch: TaskBatch, generator: torch.Generator | None = None) -> Tensor:
        """The training loss of one task batch (a scalar, per point, averaged over tasks)."""
        raise NotImplementedError  # pragma: no cover

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the weights to ``path`` (safetensors) with the class and config in its metadata."""
        from safetensors.torch import save_file

        if not isinstance(path, str | Path):
            raise InputDataError("path", "a file path (str or pathlib.Path)", type(path).__name__)
        if not Path(path).parent.is_dir():
            raise InputDataError("path", "a path in an existing directory", str(path))

        metadata = {"class": type(self).__name__, "config": json.dumps(asdict(self.config))}
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> NeuralProcessBase:
        """Rebuild a model saved by :meth:`save` (no unpickling)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        if not isinstance(path, str | Path):
            raise InputDataError("path", "a file path (str or pathlib.Path)", type(path).__name__)
        if not Path(path).is_file():
            raise InputDataError("path", f"an existing file written by {cls.__name__}.save", str(path))
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
        except Exception as err:  # noqa: BLE001 - any failure to parse means it is not a safetensors file
            raise InputDataError("path", "a safetensors file", f"{path} ({err})") from err
        if metadata.get("class") != cls.__name__ or "config" not in metadata:
            raise InputDataError("path", f"a saved {cls.__name__}", f"a saved {metadata.get('class')!r}")
        model = cls(cls.config_class(**json.loads(metadata["config"])))
        state = load_file(str(path))
        model.to(next(iter(state.values())).dtype)
        model.load_state_dict(state)
        return model


class CNP(NeuralProcessBase):
    """Conditional neural process: a deterministic, mean-pooled representation.

    Example:
        ```python
        model = CNP(NeuralProcessConfig(hidden=32), seed=0)
        predictive = model.predict(context_x, context_y, target_x)   # Normal, batch `b x m`
        ```
    """

    def _build(self) -> None:
        c = self.config
        self.encoder = SetEncoder(c.x_dim, c.hidden, c.depth)
        self.decoder = GaussianDecoder(c.x_dim, c.hidden, c.hidden, c.depth, c.min_std)

    def representation(self, cx: Tensor, cy: Tensor) -> Tensor:
        """theta(Z_c) = mean_i enc(x_i, y_i): `B x h`."""
        return self.encoder(cx, cy).mean(-2)

    def _predictive_params(self, cx, cy, tx, num_samples, generator):
        mean, std = self.decoder(tx, self.representation(cx, cy))
        return mean, std, False

    def loss(self, batch: TaskBatch, generator: torch.Generator | None = None) -> Tensor:
        """-(1/|Z|) sum_Z log p(y | x, theta(Z_c)), averaged over the tasks."""
        cx, cy, x, y = self._batch_tensors(batch)
        mean, std = self.decoder(x, self.representation(cx, cy))
        return -(task_log_likelihood(mean, std, y) / y.shape[-1]).mean()


class NP(NeuralProcessBase):
    """Latent neural process (deterministic + latent path), trained on the ELBO.

    Example:
        ```python
        model = NP(NPConfig(hidden=32, latent=32), seed=0)
        predictive = model.predict(context_x, context_y, target_x, num_samples=10, seed=0)
        ```
    """

    config_class = NPConfig

    def _build(self) -> None:
        c = self.config
        self.encoder = SetEncoder(c.x_dim, c.hidden, c.depth)
        self.latent_encoder = SetEncoder(c.x_dim, c.hidden, c.depth)
        self.latent_head = mlp(c.hidden, c.hidden, 2 * c.latent, 1)
        self.decoder = GaussianDecoder(c.x_dim, c.hidden + c.latent, c.hidden, c.depth, c.min_std)

    def latent(self, x: Tensor, y: Tensor) -> Normal:
        """q(z | {(x_i, y_i)}) = N(mu, sigma^2), sigma = 0.1 + 0.9 sigmoid (bnp): batch `B x latent`."""
        out = self.latent_head(self.latent_encoder(x, y).mean(-2))
        mu, raw = out.chunk(2, dim=-1)
        return Normal(mu, 0.1 + 0.9 * torch.sigmoid(raw))

    def _decode(self, tx: Tensor, r: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.decoder(tx, torch.cat([r.expand(*z.shape[:-1], r.shape[-1]), z], dim=-1))

    def _sample(self, q: Normal, num_samples: int, generator: torch.Generator) -> Tensor:
        eps = torch.randn((num_samples, *q.loc.shape), generator=generator, dtype=q.loc.dtype)
        return q.loc + q.scale * eps

    def _predictive_params(self, cx, cy, tx, num_samples, generator):
        z = self._sample(self.latent(cx, cy), num_samples, generator)  # K x B x latent
        mean, std = self._decode(tx, self.encoder(cx, cy).mean(-2), z)
        return mean, std, True

    def loss(self, batch: TaskBatch, generator: torch.Generator | None = None) -> Tensor:
        """Negative ELBO per point: -(1/|Z|)[E_q sum_Z log p(y | x, r_c, z) - KL(q(z|Z) || q(z|Z_c))]."""
        cx, cy, x, y = self._batch_tensors(batch)
        generator = generator if generator is not None else _make_generator(None)
        prior, posterior = self.latent(cx, cy), self.latent(x, y)
        z = self._sample(posterior, 1, generator)[0]
        mean, std = self._decode(x, self.encoder(cx, cy).mean(-2), z)
        kl = torch.distributions.kl_divergence(posterior, prior).sum(-1)
        return -((task_log_likelihood(mean, std, y) - kl) / y.shape[-1]).mean()


def log_mean_exp(values: Tensor, dim: int = 0) -> Tensor:
    """Return log (1/K) sum_k exp(values_k) along ``dim``, computed stably."""
    return torch.logsumexp(values, dim) - math.log(values.shape[dim])
