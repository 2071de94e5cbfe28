r"""Physics-informed Gaussians: a trainable Gaussian-mixture feature embedding for PINNs.

Kang, Oh, Hong, Park, "PIG: Physics-Informed Gaussians as Adaptive Parametric Mesh
Representations", ICLR 2025 (arXiv:2412.05994), Sec. 3. The input :math:`x \in \mathbb{R}^d` is
embedded by :math:`N` Gaussians with trainable means :math:`\mu_i`, covariances
:math:`\Sigma_i` and feature vectors :math:`f_i \in \mathbb{R}^k`,

.. math::
    \mathrm{FE}(x) = \sum_{i=1}^{N} f_i\, G_i(x), \qquad
    G_i(x) = \exp\!\big(-\tfrac12 (x - \mu_i)^\top \Sigma_i^{-1} (x - \mu_i)\big),

and the solution is a small MLP on the features, :math:`u(x) = \mathrm{NN}(\mathrm{FE}(x))`. The
Gaussians are unnormalised (the paper's and the official code's form; a normalising constant is
absorbed by :math:`f_i`). Means, covariances and features are all trained, so the Gaussians move
to where the solution needs resolution: an adaptive mesh.

Covariances are positive definite by construction: :math:`\Sigma_i = L_i L_i^\top` with
:math:`L_i` lower triangular, its diagonal :math:`\exp(\text{log\_scales}_i)`. With
``full_covariance=False`` (the paper's main setting) :math:`L_i` is diagonal and the diagonal
holds the per-axis standard deviations :math:`\sigma_{i,j}`; with ``full_covariance=True`` the
strictly lower entries are trained too (the paper's full-covariance variant, there built from a
rotation and scales; a Cholesky factor is the same family of matrices in any dimension).

Two choices differ from the official code and are deliberate: the code gives each of the
:math:`k` channels its own set of Gaussians, where here (as in the paper's equation) all
channels share the Gaussians and differ by their features; and the code trains
:math:`\sigma` directly (it can cross zero), where here :math:`\log\sigma` is trained.
Initialisation follows the code: means uniform on the domain box, every scale ``scale``
(``sigma_init``), features :math:`\mathcal{N}(0, 0.01^2)`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from probtheory._checks import (
    check_bool,
    check_finite,
    check_floating,
    check_int,
    check_real,
    make_generator,
    match_parameter_dtype,
)
from probtheory.errors import InputDataError

__all__ = ["GaussianEmbedding", "PhysicsInformedGaussians"]


class GaussianEmbedding(nn.Module):
    r"""Gaussian feature embedding :math:`x \mapsto \sum_i f_i \exp(-\frac12 |L_i^{-1}(x-\mu_i)|^2)`.

    Example:
        >>> embedding = GaussianEmbedding(2, num_gaussians=64, out_features=4, seed=0)
        >>> embedding(torch.rand(10, 2) * 2 - 1).shape
        torch.Size([10, 4])

    Args:
        in_features: Input dimension :math:`d` (the PDE's spatial/temporal dimension).
        num_gaussians: Number of Gaussians :math:`N`.
        out_features: Feature dimension :math:`k` (the paper's channels).
        scale: Initial standard deviation of every Gaussian along every axis (the code's
            ``sigma_init``; 0.1 on :math:`[-1, 1]^2`).
        full_covariance: Train full covariances (a Cholesky factor per Gaussian) instead of
            axis-aligned ones.
        low: Lower corner of the box the initial means are drawn from (a number: every axis).
        high: Upper corner of that box.
        feature_std: Standard deviation of the initial features (the code's 0.01).
        seed: Seed of the initial means and features; ``None`` draws fresh ones.

    Shape:
        Input `... x n x d`; output `... x n x k`, in the input's dtype.

    Attributes:
        means: `N x d` parameter, the centres :math:`\mu_i`.
        log_scales: `N x d` parameter, log of the diagonal of :math:`L_i`.
        off_diagonal: `N x d(d-1)/2` parameter, the strictly lower entries of :math:`L_i` (row
            by row); only with ``full_covariance``.
        features: `N x k` parameter, the features :math:`f_i`.

    Raises:
        InputDataError: If a size is not a positive integer, ``scale`` or ``feature_std`` is
            not a positive number, or ``low >= high``.
    """

    def __init__(
        self,
        in_features: int,
        num_gaussians: int,
        out_features: int,
        *,
        scale: float = 0.1,
        full_covariance: bool = False,
        low: float = -1.0,
        high: float = 1.0,
        feature_std: float = 0.01,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.num_gaussians = check_int("num_gaussians", num_gaussians, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        scale = check_real("scale", scale, positive=True)
        self.full_covariance = check_bool("full_covariance", full_covariance)
        low, high = check_real("low", low), check_real("high", high)
        if not low < high:
            raise InputDataError("high", f"a number > low = {low}", high)
        feature_std = check_real("feature_std", feature_std, positive=True)
        generator = make_generator(seed)
        d, n = self.in_features, self.num_gaussians
        self.means = nn.Parameter(low + (high - low) * torch.rand(n, d, generator=generator))
        self.log_scales = nn.Parameter(torch.full((n, d), float(torch.log(torch.tensor(scale)))))
        rows, cols = torch.tril_indices(d, d, offset=-1)
        self.register_buffer("_off_diagonal_index", rows * d + cols, persistent=False)
        if self.full_covariance:
            self.off_diagonal = nn.Parameter(torch.zeros(n, rows.numel()))
        self.features = nn.Parameter(feature_std * torch.randn(n, self.out_features, generator=generator))

    def cholesky_factor(self) -> Tensor:
        r"""The lower-triangular factors :math:`L_i` with :math:`\Sigma_i = L_i L_i^\top`: `N x d x d`."""
        factor = torch.diag_embed(self.log_scales.exp())
        if self.full_covariance and self.in_features > 1:
            d = self.in_features
            strict = torch.zeros(self.num_gaussians, d * d, dtype=factor.dtype, device=factor.device)
            strict = strict.index_copy(1, self._off_diagonal_index, self.off_diagonal)
            factor = factor + strict.view(self.num_gaussians, d, d)
        return factor

    def covariance(self) -> Tensor:
        r"""The covariances :math:`\Sigma_i`: an `N x d x d` tensor (positive definite)."""
        factor = self.cholesky_factor()
        return factor @ factor.transpose(-1, -2)

    def gaussians(self, x: Tensor) -> Tensor:
        r"""The unweighted Gaussians :math:`G_i(x)`.

        Args:
            x: A `... x n x d` tensor of points.

        Returns:
            A `... x n x N` tensor, in the input's dtype.

        Raises:
            InputDataError: If ``x`` is not a floating tensor of at least 2 dimensions with
                trailing dimension ``in_features``.
        """
        return self._gaussians(self._check_points(x)).to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        r"""The embedding :math:`\sum_i f_i G_i(x)`.

        Args:
            x: A `... x n x d` tensor of points.

        Returns:
            A `... x n x k` tensor, in the input's dtype.

        Raises:
            InputDataError: If ``x`` is not a floating tensor of at least 2 dimensions with
                trailing dimension ``in_features``.
        """
        return (self._gaussians(self._check_points(x)) @ self.features).to(x.dtype)

    @torch.no_grad()
    def set_mixture(self, means: Tensor, covariances: Tensor, features: Tensor) -> GaussianEmbedding:
        r"""Set the parameters to a given mixture (the embedding then equals it exactly).

        Args:
            means: An `N x d` tensor of centres.
            covariances: An `N x d x d` tensor of symmetric positive definite covariances
                (diagonal ones unless ``full_covariance``).
            features: An `N x k` tensor of features (a normalised density's weight
                :math:`w_i` becomes :math:`w_i / \sqrt{(2\pi)^d \det\Sigma_i}`).

        Returns:
            The embedding itself.

        Raises:
            InputDataError: If a shape is wrong, an entry is not finite, a covariance is not
                symmetric positive definite, or not diagonal for an axis-aligned embedding.
        """
        n, d, k = self.num_gaussians, self.in_features, self.out_features
        for name, value, shape in (
            ("means", means, (n, d)),
            ("covariances", covariances, (n, d, d)),
            ("features", features, (n, k)),
        ):
            check_finite(name, value)
            if tuple(value.shape) != shape:
                raise InputDataError(name, f"shape {shape}", f"shape {tuple(value.shape)}")
        covariances = covariances.to(torch.float64)
        if not torch.allclose(covariances, covariances.transpose(-1, -2), rtol=1e-12, atol=0.0):
            raise InputDataError("covariances", "symmetric matrices", "a non-symmetric matrix")
        factor, info = torch.linalg.cholesky_ex(covariances)
        if bool((info != 0).any()):
            raise InputDataError(
                "covariances", "positive definite matrices", f"{int((info != 0).sum())} that are not"
            )
        rows, cols = torch.tril_indices(d, d, offset=-1)
        off = factor[:, rows, cols]
        if not self.full_covariance and bool((off != 0).any()):
            raise InputDataError(
                "covariances",
                "diagonal matrices (this embedding has full_covariance=False)",
                "a matrix with off-diagonal entries",
            )
        self.means.copy_(means)
        self.log_scales.copy_(torch.diagonal(factor, dim1=-2, dim2=-1).log())
        if self.full_covariance:
            self.off_diagonal.copy_(off)
        self.features.copy_(features)
        return self

    def extra_repr(self) -> str:
        """The settings shown in ``repr(module)``."""
        return (
            f"in_features={self.in_features}, num_gaussians={self.num_gaussians}, "
            f"out_features={self.out_features}, full_covariance={self.full_covariance}"
        )

    def _check_points(self, x: Tensor) -> Tensor:
        check_floating("x", x)
        if x.dim() < 2 or x.shape[-1] != self.in_features:
            raise InputDataError(
                "x",
                f"a `... x n x d` tensor with d = in_features = {self.in_features}",
                f"shape {tuple(x.shape)}",
            )
        return match_parameter_dtype("x", x, self.means.dtype)

    def _gaussians(self, x: Tensor) -> Tensor:
        difference = x.unsqueeze(-2) - self.means  # ... x n x N x d
        if self.full_covariance and self.in_features > 1:
            # z = L^{-1} (x - mu), so |z|^2 = (x - mu)^T Sigma^{-1} (x - mu)
            factor = self.cholesky_factor()
            eye = torch.eye(self.in_features, dtype=factor.dtype, device=factor.device)
            inverse = torch.linalg.solve_triangular(factor, eye.expand_as(factor), upper=False)
            standardised = (inverse * difference.unsqueeze(-2)).sum(-1)
        else:
            standardised = difference * torch.exp(-self.log_scales)
        return torch.exp(-0.5 * standardised.square().sum(-1))


class PhysicsInformedGaussians(nn.Module):
    r"""The paper's PIG model: a :class:`GaussianEmbedding` followed by a small MLP.

    :math:`u(x) = W_2 \tanh(W_1 \mathrm{FE}(x) + b_1) + b_2` with ``depth = 1`` hidden layer (the
    official Helmholtz setting: 4 channels, one hidden layer of 16 units); ``depth = 0`` is a
    linear read-out of the features.

    Example:
        >>> model = PhysicsInformedGaussians(1, num_gaussians=32, seed=0)
        >>> model(torch.linspace(-1, 1, 5).unsqueeze(-1)).shape
        torch.Size([5, 1])

    Args:
        in_features: Input dimension :math:`d`.
        num_gaussians: Number of Gaussians :math:`N`.
        features: Feature dimension :math:`k` of the embedding.
        hidden_features: Width of the MLP's hidden layers.
        depth: Number of hidden layers of the MLP (0: linear read-out).
        out_features: Output dimension (1 for a scalar PDE).
        scale: Initial standard deviation of the Gaussians (see :class:`GaussianEmbedding`).
        full_covariance: Train full covariances.
        low: Lower corner of the box of initial means.
        high: Upper corner of that box.
        seed: Seed of every initial parameter; ``None`` draws fresh ones.

    Shape:
        Input `... x n x d`; output `... x n x out_features`.

    Raises:
        InputDataError: If a size is not a positive integer (``depth`` may be 0), or an
            argument of :class:`GaussianEmbedding` is invalid.
    """

    def __init__(
        self,
        in_features: int,
        num_gaussians: int,
        *,
        features: int = 4,
        hidden_features: int = 16,
        depth: int = 1,
        out_features: int = 1,
        scale: float = 0.1,
        full_covariance: bool = False,
        low: float = -1.0,
        high: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        features = check_int("features", features, minimum=1)
        hidden_features = check_int("hidden_features", hidden_features, minimum=1)
        depth = check_int("depth", depth, minimum=0)
        out_features = check_int("out_features", out_features, minimum=1)
        self.embedding = GaussianEmbedding(
            in_features,
            num_gaussians,
            features,
            scale=scale,
            full_covariance=full_covariance,
            low=low,
            high=high,
            seed=seed,
        )
        widths = [features] + [hidden_features] * depth + [out_features]
        generator_state = torch.random.get_rng_state()
        if seed is not None:
            torch.manual_seed(seed)
        try:
            layers: list[nn.Module] = []
            for i in range(len(widths) - 1):
                layers.append(nn.Linear(widths[i], widths[i + 1]))
                if i < len(widths) - 2:
                    layers.append(nn.Tanh())
            self.head = nn.Sequential(*layers)
        finally:
            if seed is not None:
                torch.random.set_rng_state(generator_state)

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate :math:`u(x)`.

        Args:
            x: A `... x n x d` tensor of points.

        Returns:
            A `... x n x out_features` tensor, in the input's dtype.

        Raises:
            InputDataError: If ``x`` does not have trailing dimension ``in_features``.
        """
        features = self.embedding(x)
        return self.head(features.to(self.embedding.means.dtype)).to(x.dtype)
