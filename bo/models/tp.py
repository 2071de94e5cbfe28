r"""``StudentTP``: the Student-t process (scale-mixture NNGP) of :mod:`probtheory.gp` for BoTorch.

Given the data, the TP posterior over f at a q-batch is a Gaussian scale mixture:
:math:`\sigma^2 \mid y \sim \mathrm{InvGamma}(a + n/2,\ b + y^\top (K + \varepsilon I)^{-1} y / 2)`
and :math:`f \mid \sigma^2, y \sim N(\mu, \sigma^2 C)` with the GP-conditional mean
:math:`\mu` and covariance :math:`C` of the kernel (noise :math:`\varepsilon` inside the
mixture: observation noise adds :math:`\varepsilon I` to C). Marginally f is multivariate t
with 2a + n degrees of freedom, jointly over the q-batch.

:class:`ScaleMixtureNormalPosterior` exposes this to BoTorch with normal base samples: per
output, the first base sample sets the scale by the inverse-cdf trick,
:math:`\sigma^2 = F^{-1}_{\mathrm{InvGamma}}(\Phi(z_0))`, and the others the Gaussian part,
so BoTorch's quasi-Monte-Carlo samplers give reproducible, differentiable samples with
common random numbers across candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.posteriors import Posterior
from botorch.sampling.base import MCSampler
from botorch.sampling.get_sampler import GetSampler
from botorch.sampling.normal import IIDNormalSampler, SobolQMCNormalSampler
from scipy.special import gammainccinv
from torch import Tensor
from torch.quasirandom import SobolEngine

from bo._validation import resolve_config
from bo.models.base import SurrogateModel
from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import InputDataError, UnsupportedError
from probtheory.gp import StudentTProcess
from probtheory.kernels import NNGPKernel

__all__ = ["ScaleMixtureNormalPosterior", "StudentTP", "StudentTPConfig"]


class ScaleMixtureNormalPosterior(Posterior):
    """Per output, f = mean + sigma * L z with sigma^2 ~ InvGamma(concentration, rate).

    Args:
        mean: `batch_shape x q x m` means.
        scale_tril: `batch_shape x m x q x q` Cholesky factors of the unit-scale covariance.
        concentration: `m` posterior shapes of sigma^2 (> 1).
        rate: `m` posterior rates of sigma^2.
    """

    def __init__(self, mean: Tensor, scale_tril: Tensor, concentration: Tensor, rate: Tensor) -> None:
        """Create the posterior (see the class docstring)."""
        self._mean, self._tril = mean, scale_tril
        self.concentration, self.rate = concentration.detach(), rate.detach()

    @property
    def device(self) -> torch.device:  # noqa: D102
        return self._mean.device

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self._mean.dtype

    @property
    def batch_shape(self) -> torch.Size:
        """The t-batch shape."""
        return self._mean.shape[:-2]

    @property
    def base_sample_shape(self) -> torch.Size:
        """`batch_shape x m (q + 1)`: per output one scale and q Gaussian base samples."""
        q, m = self._mean.shape[-2:]
        return self.batch_shape + torch.Size([m * (q + 1)])

    @property
    def batch_range(self) -> tuple[int, int]:
        """Base samples are shared across the t-batch dims."""
        return (0, -1)

    def _extended_shape(self, sample_shape: torch.Size = torch.Size()) -> torch.Size:  # noqa: B008
        return torch.Size(sample_shape) + self._mean.shape

    @property
    def mean(self) -> Tensor:
        """The exact posterior mean, `batch_shape x q x m`."""
        return self._mean

    @property
    def variance(self) -> Tensor:
        """The exact posterior variance E[sigma^2] diag(C), `batch_shape x q x m`."""
        unit = self._tril.square().sum(-1).transpose(-1, -2)  # diag(L L^T): batch x q x m
        return unit * self.rate / (self.concentration - 1)

    def rsample(self, sample_shape: torch.Size | None = None) -> Tensor:
        """Independent samples, `sample_shape x batch_shape x q x m`."""
        sample_shape = torch.Size([1]) if not sample_shape else torch.Size(sample_shape)
        base = torch.randn(sample_shape + self.base_sample_shape, dtype=self.dtype, device=self.device)
        return self.rsample_from_base_samples(sample_shape, base)

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        """Samples determined by standard-normal base samples of `sample_shape x base_sample_shape`."""
        expected = torch.Size(sample_shape) + self.base_sample_shape
        if base_samples.shape != expected:
            raise InputDataError(
                "base_samples", f"shape {tuple(expected)}", f"shape {tuple(base_samples.shape)}"
            )
        q, m = self._mean.shape[-2:]
        u = torch.special.ndtr(base_samples[..., :m].detach()).clamp(1e-300, 1 - 1e-16)
        # sigma^2 = rate / G with G ~ Gamma(concentration, 1): its u-quantile is the (1 - u)-quantile of G
        gamma = gammainccinv(self.concentration.cpu().numpy(), u.cpu().numpy())
        sigma = (self.rate / torch.as_tensor(gamma, dtype=self.dtype, device=self.device)).sqrt()
        z = base_samples[..., m:].reshape(*base_samples.shape[:-1], m, q, 1)
        correlated = (self._tril @ z).squeeze(-1).transpose(-1, -2)  # ... x q x m
        return self._mean + sigma.unsqueeze(-2) * correlated

    def rescaled(self, scale: Tensor, shift: Tensor) -> ScaleMixtureNormalPosterior:
        """The posterior of ``shift + scale * f``, per output (`m`-vectors, scale > 0)."""
        return ScaleMixtureNormalPosterior(
            shift + scale * self._mean, self._tril * scale.view(-1, 1, 1), self.concentration, self.rate
        )

    def affine(self, weights: Tensor, offset: float | Tensor = 0.0) -> ScaleMixtureNormalPosterior:
        """``offset + weights @ f`` (BoTorch's ``ScalarizedPosteriorTransform``), for one output."""
        weights = torch.as_tensor(weights, dtype=self.dtype, device=self.device).flatten()
        if self._mean.shape[-1] != 1 or weights.numel() != 1:
            raise UnsupportedError(
                "posterior_transform",
                "a scalarisation of a single-output StudentTP (outputs have independent scales)",
                f"{weights.numel()} weights over {self._mean.shape[-1]} outputs",
            )
        flipped = -1.0 if weights.item() < 0 else 1.0  # f -> -f keeps the form: negate z
        posterior = self.rescaled(weights.abs(), torch.as_tensor(offset, dtype=self.dtype).reshape(1))
        if flipped < 0:
            posterior._mean = 2 * torch.as_tensor(offset, dtype=self.dtype) - posterior._mean
        return posterior


@GetSampler.register(ScaleMixtureNormalPosterior)
def _get_sampler_scale_mixture(
    posterior: ScaleMixtureNormalPosterior, sample_shape: torch.Size, *, seed: int | None = None
) -> MCSampler:
    sampler = SobolQMCNormalSampler(sample_shape=sample_shape, seed=seed)
    collapsed = sampler._get_collapsed_shape(posterior=posterior)[len(sample_shape) :]
    if collapsed.numel() > SobolEngine.MAXDIM:
        sampler = IIDNormalSampler(sample_shape=sample_shape, seed=seed)
    return sampler


@dataclass(frozen=True)
class StudentTPConfig:
    """Options of :class:`StudentTP`.

    Attributes:
        depth: Hidden layers of the NNGP kernel.
        activation: ``"relu"`` or ``"erf"``.
        weight_variance: Initial sigma_w^2 of the kernel (then fitted; as IBNN).
        bias_variance: Initial sigma_b^2 > 0 (then fitted). Without bias the ReLU NNGP kernel is
            positively homogeneous, so on the unit cube it mostly sees directions from the
            origin, and BO gets stuck at the corners.
        concentration: Initial a of the inverse-gamma readout variance.
        rate: Initial b.
        noise: Initial noise variance epsilon (inside the mixture).
        steps: Adam steps of marginal-likelihood fitting.
        lr: Adam learning rate.
    """

    depth: int = 3
    activation: str = "relu"
    weight_variance: float = 10.0
    bias_variance: float = 1.3
    concentration: float = 2.0
    rate: float = 2.0
    noise: float = 0.1
    steps: int = 100
    lr: float = 0.05

    def __post_init__(self) -> None:
        check_int("depth", self.depth, minimum=1)
        check_int("steps", self.steps, minimum=1)
        for name in ("weight_variance", "bias_variance", "concentration", "rate", "noise", "lr"):
            check_real(name, getattr(self, name), positive=True)
        check_name("activation", self.activation, ("relu", "erf"), meaning="a closed-form activation")


class StudentTP(SurrogateModel):
    """A Student-t process surrogate: heavy-tailed, robust to outliers (one TP per output).

    Example:
        >>> import torch
        >>> X = torch.rand(10, 2, dtype=torch.float64)
        >>> model = StudentTP(X, X.sum(-1, keepdim=True), steps=20).fit()
        >>> model.posterior(torch.rand(4, 3, 2, dtype=torch.float64)).mean.shape
        torch.Size([4, 3, 1])
    """

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: StudentTPConfig | None = None, **options: Any
    ):
        """Create an (unfitted) surrogate; ``options`` are fields of :class:`StudentTPConfig`."""
        super().__init__(train_X, train_Y)
        self.config = resolve_config(StudentTPConfig, config, options)
        c = self.config
        self.processes = torch.nn.ModuleList(
            StudentTProcess(
                self.train_X,
                self.train_Y_standardized[:, j],
                NNGPKernel(
                    depth=c.depth,
                    activation=c.activation,
                    weight_variance=c.weight_variance,
                    bias_variance=c.bias_variance,
                ),
                concentration=c.concentration,
                rate=c.rate,
                noise=c.noise,
            )
            for j in range(self.num_outputs)
        )

    def _fit(self) -> None:
        for process in self.processes:
            process.fit(steps=self.config.steps, lr=self.config.lr, progress=False)

    def _conditioning(self, j: int) -> tuple[Tensor, Tensor]:
        """Cholesky of K + eps I and (K + eps I)^-1 y of output j: fixed after fit, computed once."""
        cache = self.__dict__.setdefault("_conditioning_cache", {})
        if j not in cache:
            tp = self.processes[j]
            with torch.no_grad():
                chol = tp._train_cholesky()
                cache[j] = (chol, torch.cholesky_solve(tp.train_y.unsqueeze(-1), chol).squeeze(-1))
        return cache[j]

    def _posterior(self, X: Tensor, outputs: list[int], observation_noise: bool | Tensor) -> Posterior:
        if isinstance(observation_noise, Tensor):
            raise InputDataError(
                "observation_noise", "True or False (the TP's noise is inside the mixture)", "a tensor"
            )
        means, trils, shapes, rates = [], [], [], []
        n = self.train_X.shape[0]
        for j in outputs:
            tp = self.processes[j]
            chol, alpha = self._conditioning(j)
            k_star = tp.kernel(X, self.train_X).to_dense()  # batch x q x n
            v = torch.linalg.solve_triangular(chol, k_star.transpose(-1, -2), upper=False)  # batch x n x q
            cov = tp.kernel(X).to_dense() - v.transpose(-1, -2) @ v
            eye = torch.eye(X.shape[-2], dtype=X.dtype)
            cov = cov + (tp.noise if observation_noise else 1e-9) * eye
            means.append(k_star @ alpha)
            trils.append(torch.linalg.cholesky(cov))
            shapes.append(tp.concentration + n / 2)
            rates.append(tp.rate + tp.train_y @ alpha / 2)
        posterior = ScaleMixtureNormalPosterior(
            torch.stack(means, -1), torch.stack(trils, -3), torch.stack(shapes), torch.stack(rates)
        )
        # back to the units of train_Y
        std = self.outcome_transform.stdvs.squeeze(0)[outputs]
        shift = self.outcome_transform.means.squeeze(0)[outputs]
        return posterior.rescaled(std, shift)
