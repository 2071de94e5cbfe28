"""Priors over datasets: what a PFN is trained to do Bayesian inference under.

A prior is anything with a ``num_features`` attribute and a method
``sample(batch_size, seq_len, generator) -> Batch`` that draws ``batch_size`` independent
datasets of ``seq_len`` points each:

* ``x``: a `batch_size x seq_len x num_features` tensor of inputs,
* ``y``: a `batch_size x seq_len` tensor of the observations the PFN is conditioned on,
* ``target_y``: a `batch_size x seq_len` tensor of what it must predict (usually ``y``);
* optionally ``target_loc`` and ``target_scale``, `batch_size x seq_len` tensors: the Gaussian
  law of ``target_y`` given the latent the prior drew (the function values and the noise's
  standard deviation). A prior that provides them can be trained with soft targets
  (``TrainConfig(targets="gaussian")``, :mod:`probtheory.pfn.soft_targets`);
* optionally ``posterior``, a function ``(s, end) -> (loc, scale)`` giving the Gaussian law of
  ``target_y[:, s:end]`` given the first ``s`` observations and the prior's hyperparameters,
  with the function values integrated out (for a GP: its posterior predictive). A prior that
  provides it can be trained on it (``TrainConfig(targets="posterior")``).

Built in: :class:`GPPrior` (fixed hyperparameters), :class:`GPHyperPrior` (hyper-priors on
lengthscale, outputscale and noise), :class:`PyroPrior` (any Pyro model sampling ``"y"`` given
``x``, e.g. :func:`bnn_model`), and :class:`FunctionPrior` for a user's sampling function. The GP
priors give the Gaussian conditional of their observations and their GP posterior, and
:class:`PyroPrior` gives the conditional when its ``"y"`` site is Normal.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pyro
import pyro.distributions as pdist
import torch
from torch import Tensor

from probtheory._checks import (
    check_finite,
    check_floating,
    check_generator,
    check_in_interval,
    check_inputs,
    check_int,
    check_real,
)
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.pfn.gp import gp_predictive, rbf_kernels

__all__ = [
    "Batch",
    "FunctionPrior",
    "GPHyperPrior",
    "GPPrior",
    "Prior",
    "PyroPrior",
    "bnn_model",
    "gp_sample",
]


@dataclass(frozen=True)
class Batch:
    """Datasets drawn from a prior (shapes in the module docstring)."""

    x: Tensor
    y: Tensor
    target_y: Tensor
    target_loc: Tensor | None = None
    target_scale: Tensor | None = None
    posterior: Callable[[int, int], tuple[Tensor, Tensor]] | None = None

    def __post_init__(self) -> None:
        for name in ("x", "y", "target_y"):
            check_floating(name, getattr(self, name))
        if self.x.dim() != 3:
            raise InputDataError("x", "a `B x T x F` tensor", f"shape {tuple(self.x.shape)}")
        b, t = self.x.shape[:2]
        if self.x.dim() != 3 or self.y.shape != (b, t) or self.target_y.shape != (b, t):
            raise InputDataError(
                "Batch",
                "x: B x T x F, y and target_y: B x T",
                f"x {tuple(self.x.shape)}, y {tuple(self.y.shape)}, target_y {tuple(self.target_y.shape)}",
            )
        if (self.target_loc is None) != (self.target_scale is None):
            raise InputDataError("target_scale", "given together with target_loc", "only one of the two")
        for name in ("target_loc", "target_scale"):
            value = getattr(self, name)
            if value is not None and value.shape != (b, t):
                raise InputDataError(name, f"a B x T = {b} x {t} tensor", f"shape {tuple(value.shape)}")
        if self.posterior is not None and not callable(self.posterior):
            expected = "None or a function (s, end) -> (loc, scale)"
            raise InputDataError("posterior", expected, type(self.posterior).__name__)

    @property
    def has_conditional(self) -> bool:
        """Whether the batch carries the Gaussian law of ``target_y`` given the prior's latent."""
        return self.target_loc is not None

    def posterior_targets(self, s: int, end: int) -> tuple[Tensor, Tensor]:
        """The law of the queries ``s:end`` given the context ``:s``: the batch's ``posterior``, checked.

        Returns the Gaussian's ``loc`` and ``scale``, `B x (end - s)` each: the law of
        ``target_y[:, s:end]`` given the first ``s`` observations and the prior's hyperparameters.

        Raises:
            ConfigurationError: If the batch has no ``posterior``.
            InputDataError: If the prior's ``posterior`` returns tensors of another shape, or
                scales that are not positive.
        """
        if self.posterior is None:
            raise ConfigurationError(
                "this prior's batches carry no posterior (the law of the queries given the context "
                "and the hyperparameters): train it with targets='sampled' or 'gaussian'"
            )
        loc, scale = self.posterior(s, end)
        expected = (self.x.shape[0], end - s)
        for name, value in (("loc", loc), ("scale", scale)):
            if not isinstance(value, Tensor) or value.shape != expected:
                shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise InputDataError(f"posterior's {name}", f"a B x (end - s) = {expected} tensor", shape)
        check_finite("posterior's loc", loc)
        check_in_interval(
            "posterior's scale", scale, 0.0, math.inf, closed=(False, False), meaning="finite values > 0"
        )
        return loc, scale


@runtime_checkable
class Prior(Protocol):
    """The prior interface: ``num_features`` and ``sample``."""

    num_features: int

    def sample(self, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:
        """Draw ``batch_size`` datasets of ``seq_len`` points."""
        ...


def _check_draw(batch_size: int, seq_len: int, generator: torch.Generator | None) -> None:
    """The arguments every prior's ``sample`` takes."""
    check_int("batch_size", batch_size, minimum=1)
    check_int("seq_len", seq_len, minimum=1)
    check_generator("generator", generator)


def _uniform_inputs(batch_size: int, seq_len: int, num_features: int, generator: torch.Generator) -> Tensor:
    _check_draw(batch_size, seq_len, generator)
    return torch.rand(batch_size, seq_len, num_features, generator=generator, dtype=torch.float64)


def gp_sample(
    x: Tensor, lengthscale: Tensor, outputscale: Tensor, noise: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw GP function values and noisy observations at ``x``, one GP per dataset.

    Args:
        x: A `B x T x F` tensor.
        lengthscale: RBF lengthscales, shape `B` (or scalar).
        outputscale: Kernel variances, shape `B` (or scalar).
        noise: Observation-noise variances, shape `B` (or scalar).
        generator: Random generator.

    Returns:
        ``f`` and ``y = f + noise``, both `B x T`.
    """
    check_inputs("x", x)
    if x.dim() != 3:
        raise InputDataError("x", "a `B x T x F` tensor", f"shape {tuple(x.shape)}")
    for name, value in (("lengthscale", lengthscale), ("outputscale", outputscale), ("noise", noise)):
        check_in_interval(name, value, 0.0, math.inf, closed=(False, False), meaning="finite values > 0")
    check_generator("generator", generator)
    b, t, _ = x.shape
    kernel = rbf_kernels(*(torch.as_tensor(v, dtype=x.dtype).expand(b) for v in (lengthscale, outputscale)))
    with torch.no_grad():
        cov = kernel(x).to_dense()
        jitter = 1e-8 * torch.as_tensor(outputscale, dtype=x.dtype).expand(b).reshape(b, 1, 1)
        chol = torch.linalg.cholesky(cov + jitter * torch.eye(t, dtype=x.dtype))
        z = torch.randn(b, t, 1, generator=generator, dtype=x.dtype)
        f = (chol @ z).squeeze(-1)
        eps = torch.randn(b, t, generator=generator, dtype=x.dtype)
        y = f + torch.as_tensor(noise, dtype=x.dtype).expand(b).reshape(b, 1).sqrt() * eps
    return f, y


_GP_HYPER = ("lengthscale", "outputscale", "noise")


def _gp_posterior(x: Tensor, y: Tensor, hyper: dict[str, Tensor], s: int, end: int) -> tuple[Tensor, Tensor]:
    """A GP prior's batch ``posterior``: the GP predictive of ``y[:, s:end]`` given ``y[:, :s]``.

    Each dataset is conditioned under its own hyperparameters (``hyper``: `B` tensors).
    """
    with torch.no_grad():
        mean, var, _ = gp_predictive(x[:, :s], y[:, :s], x[:, s:end], *(hyper[name] for name in _GP_HYPER))
    return mean, var.sqrt()


@dataclass(frozen=True)
class GPPrior:
    """GP regression with an RBF kernel and fixed hyperparameters; x ~ U[0, 1]^F.

    Attributes:
        lengthscale: RBF lengthscale.
        outputscale: Kernel variance.
        noise: Observation-noise variance.
        num_features: Input dimension F.
    """

    lengthscale: float = 0.2
    outputscale: float = 1.0
    noise: float = 0.01
    num_features: int = 1

    def __post_init__(self) -> None:
        for name in ("lengthscale", "outputscale", "noise"):
            check_real(name, getattr(self, name), positive=True)
        check_int("num_features", self.num_features, minimum=1)

    def sample(self, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:  # noqa: D102
        x = _uniform_inputs(batch_size, seq_len, self.num_features, generator)
        f, y = gp_sample(
            x,
            torch.tensor(self.lengthscale),
            torch.tensor(self.outputscale),
            torch.tensor(self.noise),
            generator,
        )
        hyper = {
            name: torch.full((batch_size,), float(getattr(self, name)), dtype=x.dtype) for name in _GP_HYPER
        }
        return Batch(
            x,
            y,
            y,
            target_loc=f,
            target_scale=torch.full_like(f, self.noise**0.5),
            posterior=functools.partial(_gp_posterior, x, y, hyper),
        )


@dataclass(frozen=True)
class GPHyperPrior:
    """GP regression whose hyperparameters are drawn per dataset from log-normal hyper-priors.

    ``log lengthscale ~ N(log_lengthscale_loc, log_lengthscale_scale^2)``, likewise for the
    outputscale and the noise variance; x ~ U[0, 1]^F.
    """

    log_lengthscale_loc: float = -1.6  # median lengthscale 0.2
    log_lengthscale_scale: float = 0.5
    log_outputscale_loc: float = 0.0
    log_outputscale_scale: float = 0.5
    log_noise_loc: float = -4.6  # median noise variance 0.01
    log_noise_scale: float = 1.0
    num_features: int = 1

    def __post_init__(self) -> None:
        for name in ("log_lengthscale", "log_outputscale", "log_noise"):
            check_real(f"{name}_loc", getattr(self, f"{name}_loc"))
            check_real(f"{name}_scale", getattr(self, f"{name}_scale"), positive=True)
        check_int("num_features", self.num_features, minimum=1)

    def hyperprior(self) -> dict[str, torch.distributions.Distribution]:
        """The hyper-priors as torch distributions (also used by the NUTS baseline)."""
        ln = torch.distributions.LogNormal
        return {
            "lengthscale": ln(
                torch.tensor(self.log_lengthscale_loc), torch.tensor(self.log_lengthscale_scale)
            ),
            "outputscale": ln(
                torch.tensor(self.log_outputscale_loc), torch.tensor(self.log_outputscale_scale)
            ),
            "noise": ln(torch.tensor(self.log_noise_loc), torch.tensor(self.log_noise_scale)),
        }

    def sample(self, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:  # noqa: D102
        x = _uniform_inputs(batch_size, seq_len, self.num_features, generator)
        hyper = {}
        for name, prior in self.hyperprior().items():
            z = torch.randn(batch_size, generator=generator, dtype=torch.float64)
            hyper[name] = torch.exp(prior.loc.double() + prior.scale.double() * z)
        f, y = gp_sample(x, hyper["lengthscale"], hyper["outputscale"], hyper["noise"], generator)
        return Batch(
            x,
            y,
            y,
            target_loc=f,
            target_scale=hyper["noise"].sqrt()[:, None].expand_as(f),
            posterior=functools.partial(_gp_posterior, x, y, hyper),
        )


def bnn_model(x: Tensor, hidden: int = 16, noise: float = 0.1) -> Tensor:
    """A Bayesian neural network as a Pyro model: N(0, 1) weights, tanh, Gaussian noise.

    Args:
        x: A `T x F` tensor of inputs.
        hidden: Hidden width.
        noise: Observation-noise standard deviation.

    Returns:
        The sampled observations ``y`` (`T`), recorded at the sample site ``"y"``.
    """
    check_inputs("x", x)
    if x.dim() != 2:
        raise InputDataError("x", "a `T x F` tensor", f"shape {tuple(x.shape)}")
    check_int("hidden", hidden, minimum=1)
    check_real("noise", noise, positive=True)
    f_in = x.shape[-1]
    normal = pdist.Normal(torch.zeros((), dtype=x.dtype), torch.ones((), dtype=x.dtype))
    w1 = pyro.sample("w1", normal.expand([f_in, hidden]).to_event(2))
    b1 = pyro.sample("b1", normal.expand([hidden]).to_event(1))
    w2 = pyro.sample("w2", normal.expand([hidden]).to_event(1))
    f = torch.tanh(x @ w1 + b1) @ w2 / hidden**0.5
    with pyro.plate("data", x.shape[0]):
        return pyro.sample("y", pdist.Normal(f, noise))


@dataclass(frozen=True)
class PyroPrior:
    """Datasets from any Pyro model that samples the site ``"y"`` given ``x`` (`T x F`).

    Each dataset is one run of the model (its latent variables drawn afresh), with
    x ~ U[0, 1]^F. Pyro draws from torch's global RNG: it is forked and seeded from
    ``generator``, so sampling is reproducible and leaves the global RNG untouched.
    """

    model: Callable[[Tensor], object] = bnn_model
    num_features: int = 1

    def __post_init__(self) -> None:
        if not callable(self.model):
            raise InputDataError("model", "a Pyro model: a callable of x", type(self.model).__name__)
        check_int("num_features", self.num_features, minimum=1)

    def sample(self, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:  # noqa: D102
        x = _uniform_inputs(batch_size, seq_len, self.num_features, generator)
        seed = int(torch.randint(2**62, (), generator=generator))
        ys, locs, scales = [], [], []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for b in range(batch_size):
                trace = pyro.poutine.trace(self.model).get_trace(x[b])
                if "y" not in trace.nodes:
                    raise InputDataError(
                        "model", 'a Pyro model with a sample site named "y"', list(trace.nodes)
                    )
                site = trace.nodes["y"]
                ys.append(site["value"].reshape(seq_len))
                law = site["fn"]
                while isinstance(law, pdist.Independent):
                    law = law.base_dist
                if isinstance(law, pdist.Normal):  # the Gaussian conditional given the latents
                    locs.append(law.loc.expand(site["value"].shape).reshape(seq_len))
                    scales.append(law.scale.expand(site["value"].shape).reshape(seq_len))
        y = torch.stack(ys).to(torch.float64)
        if len(locs) < batch_size:
            return Batch(x, y, y)
        loc, scale = (torch.stack(v).detach().to(torch.float64) for v in (locs, scales))
        return Batch(x, y, y, target_loc=loc, target_scale=scale)


@dataclass(frozen=True)
class FunctionPrior:
    """A user's prior: ``fn(batch_size, seq_len, generator) -> Batch``."""

    fn: Callable[[int, int, torch.Generator], Batch]
    num_features: int = 1

    def __post_init__(self) -> None:
        if not callable(self.fn):
            expected = "a callable (batch_size, seq_len, generator) -> Batch"
            raise InputDataError("fn", expected, type(self.fn).__name__)
        check_int("num_features", self.num_features, minimum=1)

    def sample(self, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:  # noqa: D102
        _check_draw(batch_size, seq_len, generator)
        batch = self.fn(batch_size, seq_len, generator)
        if not isinstance(batch, Batch):
            raise InputDataError("fn", "a function returning a probtheory.pfn.Batch", type(batch).__name__)
        if batch.x.shape[:2] != (batch_size, seq_len) or batch.x.shape[-1] != self.num_features:
            raise InputDataError(
                "fn", f"x of shape {batch_size} x {seq_len} x {self.num_features}", tuple(batch.x.shape)
            )
        return batch
