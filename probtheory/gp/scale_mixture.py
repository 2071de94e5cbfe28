r"""Scale mixtures of NNGPs with any mixing distribution, by Monte Carlo over the scale.

Lee et al. (ICLR 2022): with a last-layer variance :math:`\sigma^2 \sim H` shared by all
last-layer weights, an infinitely wide network is :math:`f \sim \int GP(0, \sigma^2 K)\,dH`.
For :math:`H = \mathrm{InvGamma}` this is the Student-t process
(:class:`~probtheory.gp.StudentTProcess`, closed form); for any other H — the paper's
Burr type XII, a half-Cauchy, ... — conditioning on y is exact given :math:`\sigma^2`, so

.. math::

    p(y_* \mid y) = \sum_s w_s\, N\big(y_*;\ \mu_*,\ \sigma_s^2 (k_{**} + \varepsilon -
    k_*^\top (K + \varepsilon I)^{-1} k_*)\big), \qquad
    w_s \propto N(y;\ 0,\ \sigma_s^2 (K + \varepsilon I)),

with :math:`\sigma_s^2 \sim H` drawn once (importance sampling from the prior; the mean
:math:`\mu_*` does not depend on the scale). The marginal likelihood is the Monte Carlo
average :math:`\log \frac1S \sum_s N(y; 0, \sigma_s^2 (K + \varepsilon I))`, differentiable
in the kernel hyperparameters and the noise (H itself is held fixed).
"""

from __future__ import annotations

import math

import torch
from gpytorch.constraints import Positive
from gpytorch.kernels import Kernel
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, MixtureSameFamily, Normal, constraints

from probtheory._checks import check_finite, check_int, check_real
from probtheory.errors import InputDataError
from probtheory.gp._fitting import maximise_marginal_likelihood
from probtheory.gp.student_t_process import check_kernel, check_test_inputs, check_training_data

__all__ = ["BurrXII", "ScaleMixtureProcess"]


class BurrXII(Distribution):
    r"""Burr type XII: :math:`F(x) = 1 - (1 + (x/\lambda)^c)^{-k}` on x > 0 (reparameterised).

    Args:
        c: Shape c > 0.
        k: Shape k > 0 (the tail index is ck: moments of order < ck exist).
        scale: Scale lambda > 0.
    """

    arg_constraints = {"c": constraints.positive, "k": constraints.positive, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, c: Tensor | float, k: Tensor | float, scale: Tensor | float = 1.0, validate_args=None):
        """Create the distribution (see the class docstring)."""
        for name, value in (("c", c), ("k", k), ("scale", scale)):
            if not isinstance(value, Tensor):
                check_real(name, value)  # a number: refuses bools, strings and NaN by name
            value = torch.as_tensor(value)
            if value.is_complex() or not (torch.isfinite(value).all() and (value > 0).all()):
                raise InputDataError(name, "finite values > 0", value.tolist())
        self.c, self.k, self.scale = torch.broadcast_tensors(
            *(torch.as_tensor(v, dtype=torch.float64) for v in (c, k, scale))
        )
        super().__init__(self.c.shape, validate_args=validate_args)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> Tensor:  # noqa: B008
        """Inverse-cdf draws, differentiable in c, k and scale."""
        u = torch.rand(self._extended_shape(sample_shape), dtype=self.c.dtype)
        return self.scale * torch.expm1(-torch.log1p(-u) / self.k) ** (1 / self.c)

    def _check_value(self, value: object, *, unit: bool = False) -> Tensor:
        """Finite values in the support (0, inf), or in [0, 1) for ``icdf`` (else NaN would follow)."""
        if isinstance(value, Tensor):
            value = check_finite("value", value)
        else:
            value = torch.as_tensor(check_real("value", value), dtype=self.c.dtype)
        inside = ((value >= 0) & (value < 1)) if unit else (value > 0)
        if not inside.all():
            expected = "probabilities in [0, 1)" if unit else "values in the support (0, inf)"
            raise InputDataError(
                "value", expected, f"values such as {value[~inside].reshape(-1)[:3].tolist()}"
            )
        return value

    def log_prob(self, value: Tensor) -> Tensor:  # noqa: D102
        value = self._check_value(value)
        z = value / self.scale
        return (
            torch.log(self.c * self.k / self.scale)
            + (self.c - 1) * torch.log(z)
            - (self.k + 1) * torch.log1p(z**self.c)
        )

    def cdf(self, value: Tensor) -> Tensor:  # noqa: D102
        value = self._check_value(value)
        return 1 - (1 + (value / self.scale) ** self.c) ** (-self.k)

    def icdf(self, value: Tensor) -> Tensor:  # noqa: D102
        value = self._check_value(value, unit=True)
        return self.scale * torch.expm1(-torch.log1p(-value) / self.k) ** (1 / self.c)


class ScaleMixtureProcess(nn.Module):
    """Regression with a scale mixture of an NNGP (any mixing distribution), see module doc.

    Args:
        train_x: An `n x d` tensor of inputs.
        train_y: An `n` tensor of (standardised) targets.
        mixing: The distribution H of the last-layer variance (scalar, on (0, inf)).
            Default: Burr XII(c=2, k=1, scale=1).
        kernel: A GPyTorch kernel (default: ``NNGPKernel(depth=3, weight_variance=2)``).
        noise: Noise variance epsilon inside the mixture (learnable).
        num_samples: Monte Carlo draws of the scale.
        seed: Seed of the draws (fixed: the objective is deterministic).

    Example:
        ```python
        model = ScaleMixtureProcess(train_x, train_y, BurrXII(2.0, 1.0))
        predictive = model.posterior(test_x)          # a mixture of normals per point
        predictive.log_prob(test_y)
        ```
    """

    def __init__(
        self,
        train_x: Tensor,
        train_y: Tensor,
        mixing: Distribution | None = None,
        kernel: Kernel | None = None,
        noise: float = 0.1,
        num_samples: int = 4096,
        seed: int = 0,
    ) -> None:
        """Create the model (see the class docstring)."""
        super().__init__()
        self.train_x, self.train_y = check_training_data(train_x, train_y)
        self.mixing = mixing if mixing is not None else BurrXII(2.0, 1.0, 1.0)
        if not isinstance(self.mixing, Distribution):
            raise InputDataError(
                "mixing", "a torch.distributions.Distribution on (0, inf)", type(mixing).__name__
            )
        if self.mixing.batch_shape != torch.Size() or self.mixing.event_shape != torch.Size():
            raise InputDataError("mixing", "a scalar distribution on (0, inf)", self.mixing)
        self.kernel = check_kernel(kernel)
        self.num_samples = check_int("num_samples", num_samples, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self._constraint = Positive()
        raw = self._constraint.inverse_transform(
            torch.tensor(check_real("noise", noise, positive=True), dtype=torch.float64)
        )
        self.raw_noise = nn.Parameter(raw.to(torch.float64))

    @property
    def noise(self) -> Tensor:
        """Observation-noise variance epsilon (inside the scale mixture)."""
        return self._constraint.transform(self.raw_noise)

    def scales(self) -> Tensor:
        """The S draws of sigma^2 (same seed every call)."""
        state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)
        try:
            draw = self.mixing.rsample if self.mixing.has_rsample else self.mixing.sample
            sigma2 = draw(torch.Size([self.num_samples])).to(torch.float64)
        finally:
            torch.random.set_rng_state(state)
        if not (torch.isfinite(sigma2).all() and (sigma2 > 0).all()):
            raise InputDataError(
                "mixing", "a distribution on (0, inf) (draws of the variance)", "draws <= 0 or inf"
            )
        return sigma2

    def _statistics(self) -> tuple[Tensor, Tensor, Tensor]:
        n = len(self.train_y)
        k = self.kernel(self.train_x).to_dense() + self.noise * torch.eye(n, dtype=torch.float64)
        chol, info = torch.linalg.cholesky_ex(k)
        if info.any():
            raise InputDataError(
                "kernel", "hyperparameters giving a positive-definite K + noise I", "a non-PD matrix"
            )
        z = torch.linalg.solve_triangular(chol, self.train_y.unsqueeze(-1), upper=False).squeeze(-1)
        sigma2 = self.scales()
        # log N(y; 0, s^2 (K + eps I)) for each draw s^2
        log_lik = (
            -0.5 * (z**2).sum() / sigma2
            - 0.5 * n * torch.log(sigma2)
            - chol.diagonal().log().sum()
            - 0.5 * n * math.log(2 * math.pi)
        )
        return chol, sigma2, log_lik

    def marginal_log_likelihood(self) -> Tensor:
        """Monte Carlo estimate of log p(y) (deterministic given the seed)."""
        _, _, log_lik = self._statistics()
        return torch.logsumexp(log_lik, 0) - math.log(self.num_samples)

    def effective_sample_size(self) -> Tensor:
        """ESS of the posterior weights over the scale draws (how well S covers the posterior)."""
        _, _, log_lik = self._statistics()
        w = torch.softmax(log_lik, 0)
        return 1 / (w**2).sum()

    def posterior(self, test_x: Tensor) -> MixtureSameFamily:
        """Predictive of noisy observations at ``test_x`` (`m x d`): a normal mixture per point.

        Computed in float64 (the model's dtype); the distribution comes back in ``test_x``'s dtype.
        """
        dtype = test_x.dtype if isinstance(test_x, Tensor) else torch.float64  # results in the input's dtype
        test_x = check_test_inputs(test_x, self.train_x.shape[-1])
        chol, sigma2, log_lik = self._statistics()
        k_star = self.kernel(test_x, self.train_x).to_dense()
        alpha = torch.cholesky_solve(self.train_y.unsqueeze(-1), chol).squeeze(-1)
        v = torch.linalg.solve_triangular(chol, k_star.T, upper=False)
        mean = k_star @ alpha
        variance = (self.kernel(test_x, diag=True) + self.noise - (v**2).sum(0)).clamp_min(1e-12)
        m = len(mean)
        scale = (sigma2.unsqueeze(0) * variance.unsqueeze(-1)).sqrt()  # m x S
        weights = Categorical(logits=log_lik.expand(m, -1).to(dtype))
        return MixtureSameFamily(
            weights, Normal(mean.unsqueeze(-1).expand_as(scale).to(dtype), scale.to(dtype))
        )

    def fit(self, steps: int = 300, lr: float = 0.05, progress: bool = True) -> list[float]:
        """Maximise the Monte Carlo marginal likelihood with Adam (kernel hyperparameters, noise).

        Returns:
            The negative marginal log-likelihood per data point after each step.
        """
        return maximise_marginal_likelihood(self, steps, lr, progress, "ScaleMixtureProcess.fit")
