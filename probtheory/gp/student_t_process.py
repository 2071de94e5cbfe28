r"""Student-t process regression: the scale mixture of an NNGP with inverse-gamma scale.

Lee, Yun, Yang & Lee, *Scale Mixtures of Neural Network Gaussian Processes* (ICLR 2022):
giving the last layer of an infinitely wide network a shared variance
:math:`\sigma^2 \sim \mathrm{InvGamma}(a, b)` turns its NNGP into a Student-t process,
:math:`f \sim \mathrm{TP}(\nu = 2a,\, 0,\, (b/a) K)`. With observation noise inside the mixture
(:math:`y \mid \sigma^2 \sim N(0, \sigma^2 (K + \varepsilon I))`, as in the reference code):

* marginal likelihood: multivariate t with :math:`2a` degrees of freedom and shape
  :math:`(b/a)(K + \varepsilon I)`;
* posterior of the scale: :math:`\sigma^2 \mid y \sim \mathrm{InvGamma}(a + n/2,\; b + q/2)`,
  :math:`q = y^\top (K + \varepsilon I)^{-1} y`;
* joint posterior at test inputs (``StudentTProcess.joint_posterior``): given :math:`\sigma^2`,
  Gaussian with the GP-conditional mean and :math:`\sigma^2` times the GP-conditional
  covariance, so a normal--inverse-gamma scale mixture, marginally multivariate t with
  :math:`2a + n` degrees of freedom (Shah, Wilson & Ghahramani, AISTATS 2014, Sec. 3);
* predictive of a new observation: Student-t with :math:`2a + n` degrees of freedom, mean
  :math:`k_*^\top (K + \varepsilon I)^{-1} y` and squared scale
  :math:`\frac{b + q/2}{a + n/2}\,(k_{**} + \varepsilon - k_*^\top (K + \varepsilon I)^{-1} k_*)`
  (equal to the reference's :math:`\frac{2a + y^\top\Sigma^{-1}y}{2a+n}\frac{b}{a}(\dots)`).

As :math:`a, b \to \infty` with :math:`b/a` fixed the process tends to the GP with kernel
:math:`(b/a) K` (claim ``tp.gp_limit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from gpytorch.constraints import Positive
from gpytorch.kernels import Kernel
from torch import Tensor, nn

from probtheory._checks import check_finite, check_inputs, check_nonempty, check_real
from probtheory.errors import InputDataError
from probtheory.gp._fitting import maximise_marginal_likelihood
from probtheory.kernels import NNGPKernel

__all__ = ["StudentTPosteriorParameters", "StudentTProcess", "multivariate_t_log_prob"]


def multivariate_t_log_prob(y: Tensor, df: Tensor | float, shape_cholesky: Tensor) -> Tensor:
    """Log density of a centred multivariate t with ``df`` degrees of freedom.

    Args:
        y: A `... x n` tensor.
        df: Degrees of freedom (> 0), broadcastable to the batch.
        shape_cholesky: Lower Cholesky factor of the shape matrix, `... x n x n` (positive diagonal).

    Raises:
        InputDataError: for non-finite or mis-shaped tensors, ``df <= 0`` or a factor whose
            diagonal is not positive (not a Cholesky factor: its log-determinant would be NaN).
    """
    check_finite("y", y)
    check_finite("shape_cholesky", shape_cholesky)
    if y.dim() < 1 or shape_cholesky.dim() < 2 or shape_cholesky.shape[-2:] != (y.shape[-1], y.shape[-1]):
        raise InputDataError(
            "shape_cholesky", f"a `... x {y.shape[-1] if y.dim() else 'n'} x n` factor (n from `y`)",
            f"shape {tuple(shape_cholesky.shape)}",
        )  # fmt: skip
    if not (shape_cholesky.diagonal(dim1=-2, dim2=-1) > 0).all():
        raise InputDataError(
            "shape_cholesky", "a lower Cholesky factor (positive diagonal)", "a diagonal entry <= 0"
        )
    df = torch.as_tensor(df, dtype=y.dtype) if not isinstance(df, Tensor) else df
    if not (torch.isfinite(df).all() and (df > 0).all()):
        raise InputDataError("df", "degrees of freedom > 0", df.tolist())
    return _multivariate_t_log_prob(y, df, shape_cholesky)


def _multivariate_t_log_prob(y: Tensor, df: Tensor, shape_cholesky: Tensor) -> Tensor:
    n = y.shape[-1]
    z = torch.linalg.solve_triangular(shape_cholesky, y.unsqueeze(-1), upper=False).squeeze(-1)
    maha = (z**2).sum(-1)
    half_logdet = shape_cholesky.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return (
        torch.lgamma((df + n) / 2)
        - torch.lgamma(df / 2)
        - n / 2 * torch.log(df * math.pi)
        - half_logdet
        - (df + n) / 2 * torch.log1p(maha / df)
    )


def check_training_data(train_x: object, train_y: object) -> tuple[Tensor, Tensor]:
    """`n x d` finite inputs (n >= 1) and `n` finite targets, as float64 (the GP paths' dtype)."""
    check_inputs("train_x", train_x)
    if train_x.dim() != 2:
        raise InputDataError("train_x", "an `n x d` tensor", f"shape {tuple(train_x.shape)}")
    check_nonempty("train_x", train_x, what="training point")
    if train_x.shape[1] == 0:
        raise InputDataError("train_x", "at least one feature (d >= 1)", f"shape {tuple(train_x.shape)}")
    if not isinstance(train_y, Tensor):
        raise InputDataError("train_y", "a torch.Tensor", type(train_y).__name__)
    check_finite("train_y", train_y)
    if train_y.shape != train_x.shape[:1]:
        raise InputDataError("train_y", f"a tensor of shape ({train_x.shape[0]},)", tuple(train_y.shape))
    return train_x.to(torch.float64), train_y.to(torch.float64)


def check_test_inputs(test_x: object, d: int) -> Tensor:
    """`m x d` finite test inputs, as float64."""
    check_inputs("test_x", test_x, feature_dim=d)
    if test_x.dim() != 2:
        raise InputDataError("test_x", f"an `m x {d}` tensor", f"shape {tuple(test_x.shape)}")
    return test_x.to(torch.float64)


def check_kernel(kernel: object) -> Kernel:
    """A GPyTorch kernel (default ``NNGPKernel(depth=3, weight_variance=2)``), in float64."""
    if kernel is None:
        kernel = NNGPKernel(depth=3, weight_variance=2.0)
    if not isinstance(kernel, Kernel):
        raise InputDataError(
            "kernel", "a gpytorch.kernels.Kernel (e.g. NNGPKernel(depth=3))", type(kernel).__name__
        )
    return kernel.double()


@dataclass(frozen=True)
class StudentTPosteriorParameters:
    r"""The joint Student-t process posterior at `q` inputs, as a normal--inverse-gamma scale mixture.

    .. math::
        f \mid \sigma^2 \sim N(\text{mean},\ \sigma^2\, \text{unit\_covariance}), \qquad
        \sigma^2 \sim \mathrm{InvGamma}(\text{concentration},\ \text{rate}).

    Marginally over :math:`\sigma^2`, f is multivariate t with :attr:`df` = 2 concentration
    degrees of freedom, location ``mean`` and **shape matrix**
    :attr:`shape_matrix` = (rate / concentration) unit_covariance; its **covariance** is
    E[sigma^2] unit_covariance = rate / (concentration - 1) unit_covariance (finite for
    concentration > 1). ``unit_covariance`` itself is neither: it is the covariance of f given
    sigma^2 = 1, the Gaussian conditional covariance of the kernel.

    Attributes:
        mean: The `batch_shape x q` posterior mean.
        unit_covariance: The `batch_shape x q x q` covariance of f given sigma^2 = 1.
        concentration: The posterior shape a + n/2 of sigma^2 (a scalar tensor).
        rate: The posterior rate b + y^T (K + eps I)^{-1} y / 2 of sigma^2 (a scalar tensor).
    """

    mean: Tensor
    unit_covariance: Tensor
    concentration: Tensor
    rate: Tensor

    @property
    def df(self) -> Tensor:
        """The degrees of freedom 2 concentration = 2a + n of the marginal multivariate t."""
        return 2 * self.concentration

    @property
    def shape_matrix(self) -> Tensor:
        """The `batch_shape x q x q` shape matrix (rate / concentration) unit_covariance of the t."""
        return self.rate / self.concentration * self.unit_covariance


class StudentTProcess(nn.Module):
    """Exact Student-t process regression (a scale-mixture NNGP), fitted by marginal likelihood.

    Example:
        ```python
        tp = StudentTProcess(train_x, train_y, NNGPKernel(depth=3))
        tp.fit(steps=300)
        predictive = tp.posterior(test_x)          # torch.distributions.StudentT per point
        predictive.log_prob(test_y), predictive.loc, predictive.scale
        joint = tp.joint_posterior(test_x)         # jointly over the test points
        joint.mean, joint.shape_matrix, joint.df   # a multivariate t
        ```
    """

    def __init__(
        self,
        train_x: Tensor,
        train_y: Tensor,
        kernel: Kernel | None = None,
        concentration: float = 2.0,
        rate: float = 2.0,
        noise: float = 0.1,
    ) -> None:
        """Create the model.

        Args:
            train_x: An `n x d` tensor of inputs (n >= 1).
            train_y: An `n` tensor of targets (standardise them first; the prior is centred).
            kernel: A GPyTorch kernel (default: ``NNGPKernel(depth=3, weight_variance=2)``).
            concentration: a > 0 of the inverse-gamma scale prior (learnable).
            rate: b > 0 of the inverse-gamma scale prior (learnable).
            noise: Noise variance epsilon > 0 inside the mixture (learnable).
        """
        super().__init__()
        self.train_x, self.train_y = check_training_data(train_x, train_y)
        self.kernel = check_kernel(kernel)
        self.raw = nn.ParameterDict()
        self._constraint = Positive()
        for name, value in (("concentration", concentration), ("rate", rate), ("noise", noise)):
            value = check_real(name, value, positive=True)
            raw = self._constraint.inverse_transform(torch.tensor(value, dtype=torch.float64))
            self.raw[name] = nn.Parameter(raw)
        self._eval_factor: tuple[Tensor, Tensor] | None = None

    def _positive(self, name: str) -> Tensor:
        return self._constraint.transform(self.raw[name])

    @property
    def concentration(self) -> Tensor:
        """A of the inverse-gamma prior on the last-layer variance."""
        return self._positive("concentration")

    @property
    def rate(self) -> Tensor:
        """B of the inverse-gamma prior on the last-layer variance."""
        return self._positive("rate")

    @property
    def noise(self) -> Tensor:
        """Observation-noise variance epsilon (inside the scale mixture)."""
        return self._positive("noise")

    def _train_cholesky(self) -> Tensor:
        k = self.kernel(self.train_x).to_dense()
        k = k + self.noise * torch.eye(len(self.train_x), dtype=torch.float64)
        chol, info = torch.linalg.cholesky_ex(k)
        if info.any():
            raise InputDataError(
                "kernel", "hyperparameters giving a positive-definite K + noise I", "a non-PD matrix"
            )
        return chol

    def _training_factor(self) -> tuple[Tensor, Tensor]:
        """The Cholesky factor L of K + eps I and (K + eps I)^{-1} y.

        In training mode computed on every call (differentiable in the hyperparameters). In eval
        mode computed once, without gradients, and reused until ``train()``, ``fit()`` or
        ``load_state_dict()``: GPyTorch's convention for its test-time caches.
        """
        if self.training:
            chol = self._train_cholesky()
            return chol, torch.cholesky_solve(self.train_y.unsqueeze(-1), chol).squeeze(-1)
        if self._eval_factor is None:
            with torch.no_grad():
                chol = self._train_cholesky()
                self._eval_factor = (chol, torch.cholesky_solve(self.train_y.unsqueeze(-1), chol).squeeze(-1))
        return self._eval_factor

    def train(self, mode: bool = True) -> StudentTProcess:
        """Set training mode (``mode=True``, which drops the eval-mode factorisation) or eval mode."""
        if mode:
            self._eval_factor = None
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._eval_factor = None  # new hyperparameters: the eval-mode factorisation is stale
        super()._load_from_state_dict(*args, **kwargs)

    def marginal_log_likelihood(self) -> Tensor:
        """Log p(y) under the multivariate t with 2a degrees of freedom and shape (b/a)(K + eps I)."""
        chol = self._train_cholesky()
        a, b = self.concentration, self.rate
        return _multivariate_t_log_prob(self.train_y, 2 * a, torch.sqrt(b / a) * chol)

    def joint_posterior(self, test_x: Tensor, observation_noise: bool = False) -> StudentTPosteriorParameters:
        r"""The joint posterior at the `q` points of ``test_x``: a normal--inverse-gamma scale mixture.

        :math:`f_* \mid \sigma^2, y \sim N(\mu, \sigma^2 C)` and
        :math:`\sigma^2 \mid y \sim \mathrm{InvGamma}(a + n/2,\ b + y^\top (K + \varepsilon I)^{-1} y / 2)`,
        with the Gaussian conditional :math:`\mu = k_*^\top (K + \varepsilon I)^{-1} y` and
        :math:`C = K_{**} - k_*^\top (K + \varepsilon I)^{-1} k_*` (plus :math:`\varepsilon I` with
        ``observation_noise``: then the posterior is that of new noisy observations). Marginally
        a multivariate t over the q points; see :class:`StudentTPosteriorParameters`.

        Computed in float64 (the model's dtype, to which ``test_x`` is converted; the parameters
        are float64) and differentiable in ``test_x``. In training mode it is differentiable in
        the hyperparameters too; in eval mode the factorisation of the training data is computed
        once, without gradients, and reused until ``train()``, ``fit()`` or ``load_state_dict()``
        (GPyTorch's test-time caches): set hyperparameters in training mode.

        Args:
            test_x: A `batch_shape x q x d` tensor of inputs (no batch dims: `q x d`).
            observation_noise: Whether to add the noise variance epsilon to C's diagonal (the
                predictive of observations y*) or not (the posterior of the latent f*).

        Returns:
            The parameters, with a `batch_shape x q` mean and `batch_shape x q x q` unit covariance C.

        Raises:
            InputDataError: If ``test_x`` is not a finite `... x q x d` tensor with the training
                inputs' d, or ``observation_noise`` is not a bool.
        """
        check_inputs("test_x", test_x, feature_dim=self.train_x.shape[-1])
        if not isinstance(observation_noise, bool):
            raise InputDataError("observation_noise", "True or False", type(observation_noise).__name__)
        test_x = test_x.to(torch.float64)
        chol, alpha = self._training_factor()
        k_star = self.kernel(test_x, self.train_x).to_dense()  # ... x q x n
        # v = L^{-1} k_*: one solve with every test point as a right-hand side (a batched solve
        # would copy the `n x n` factor once per batch element)
        n = k_star.shape[-1]
        v = torch.linalg.solve_triangular(chol, k_star.reshape(-1, n).T, upper=False).T.reshape(k_star.shape)
        unit_covariance = self.kernel(test_x).to_dense() - v @ v.transpose(-1, -2)
        if observation_noise:
            unit_covariance = unit_covariance + self.noise * torch.eye(test_x.shape[-2], dtype=torch.float64)
        return StudentTPosteriorParameters(
            mean=k_star @ alpha,
            unit_covariance=unit_covariance,
            concentration=self.concentration + n / 2,
            rate=self.rate + self.train_y @ alpha / 2,
        )

    def posterior(self, test_x: Tensor) -> torch.distributions.StudentT:
        """Predictive distribution of noisy observations at ``test_x`` (`m x d`), per point.

        The marginals of :meth:`joint_posterior` with observation noise: Student-t with
        ``2 * concentration`` degrees of freedom, location ``mean`` and squared scale
        ``rate / concentration`` times the diagonal of C. Computed in float64 (the model's
        dtype, to which ``test_x`` is converted); the distribution's parameters come back in
        the dtype of ``test_x``.
        """
        dtype = test_x.dtype if isinstance(test_x, Tensor) else torch.float64
        test_x = check_test_inputs(test_x, self.train_x.shape[-1])
        # each point as its own q = 1 batch: the marginals, in O(m n) memory
        joint = self.joint_posterior(test_x.unsqueeze(-2), observation_noise=True)
        variance = joint.unit_covariance[..., 0, 0].clamp_min(1e-12)
        scale2 = joint.rate / joint.concentration * variance
        return torch.distributions.StudentT(
            joint.df.to(dtype), joint.mean[..., 0].to(dtype), scale2.sqrt().to(dtype)
        )

    def fit(self, steps: int = 300, lr: float = 0.05, progress: bool = True) -> list[float]:
        """Maximise the marginal likelihood (kernel hyperparameters, a, b, noise) with Adam.

        Leaves the model in training mode.

        Returns:
            The negative marginal log-likelihood per data point after each step.
        """
        self.train()
        return maximise_marginal_likelihood(self, steps, lr, progress, "StudentTProcess.fit")
