r"""Learned input warping by the Kumaraswamy CDF, per input dimension.

Snoek, Swersky, Zemel & Adams, "Input Warping for Bayesian Optimization of Non-stationary
Functions" (ICML 2014), section 3: a stationary model on warped inputs :math:`w(x)` is a
non-stationary model on :math:`x`, and a flexible, monotone, two-parameter family for
:math:`w: [0, 1] \to [0, 1]` is a beta CDF, learned with the model's other parameters. As in
BoTorch's ``botorch.models.transforms.input.Warp`` (``kumaraswamy_warp``), the Kumaraswamy CDF
stands in for the beta CDF: the same shapes (concave, convex, sigmoidal, inverse sigmoidal),
in closed form,

.. math::
    w_j(x_j) = 1 - \bigl(1 - \tilde x_j^{\,a_j}\bigr)^{b_j}, \qquad
    \tilde x_j = \epsilon + (1 - 2\epsilon)\operatorname{clamp}(x_j, 0, 1),

with concentrations :math:`a_j, b_j > 0` (``torch.distributions.Kumaraswamy``'s
``concentration1`` and ``concentration0``). Squeezing the inputs into
:math:`[\epsilon, 1 - \epsilon]` keeps :math:`\tilde x^{a-1}`, the slope at 0 when
:math:`a < 1`, finite; inputs outside the cube are clamped, so the warp is flat there. BoTorch
squeezes first and then clamps to :math:`[\epsilon, 1 - \epsilon]`; in floating point
:math:`\epsilon + (1 - 2\epsilon) \cdot 1` can round above :math:`1 - \epsilon`, and the clamp then
zeroes the gradient at :math:`x_j = 1`, where L-BFGS-B leaves an acquisition's candidates
stuck on the boundary. Clamping to the cube first keeps the gradient there.

The concentrations are parametrised by their logarithms, initialised at 0, i.e. the identity
warp :math:`a = b = 1`, and get the log-normal prior :math:`\log a_j, \log b_j \sim
\mathcal N(0, 0.75)` of BoTorch's input-warping tutorial, which keeps a MAP estimate from
bending the cube into a step when 30 points do not say so.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["LOG_CONCENTRATION_PRIOR_VAR", "KumaraswamyWarp", "kumaraswamy_cdf"]

#: Variance of the Gaussian prior on each log-concentration (BoTorch's warping tutorial:
#: ``LogNormal(0.0, 0.75 ** 0.5)`` on the concentrations).
LOG_CONCENTRATION_PRIOR_VAR = 0.75


def kumaraswamy_cdf(x: Tensor, concentration1: Tensor, concentration0: Tensor) -> Tensor:
    r"""The Kumaraswamy CDF :math:`1 - (1 - x^a)^b` for :math:`x \in (0, 1)`.

    Written as ``1 - exp(b * log1p(-x**a))``, not ``-expm1(...)``: ``expm1``'s backward is
    ``grad * (out + 1)``, which is exactly 0 once the CDF rounds to 1, while ``exp``'s keeps
    the (small, nonzero) slope; the price is absolute rather than relative accuracy near 0.

    Args:
        x: Points in the open interval (0, 1), any shape.
        concentration1: :math:`a > 0`, broadcastable with ``x``.
        concentration0: :math:`b > 0`, broadcastable with ``x``.

    Returns:
        The CDF at ``x``, of the broadcast shape.
    """
    return 1.0 - torch.exp(concentration0 * torch.log1p(-x.pow(concentration1)))


class KumaraswamyWarp(nn.Module):
    r"""A learnable warp of the unit cube, one Kumaraswamy CDF per input dimension.

    Args:
        dim: The input dimension d.
        batch_shape: Independent warps, e.g. ``torch.Size([S])`` for S ensemble members.
        eps: Inputs are squeezed into :math:`[\epsilon, 1 - \epsilon]` (BoTorch's default
            is 1e-7, too).
        dtype: The parameters' dtype.

    Attributes:
        log_concentration1: `batch_shape x d` parameter, :math:`\log a`.
        log_concentration0: `batch_shape x d` parameter, :math:`\log b`.
    """

    def __init__(
        self,
        dim: int,
        batch_shape: torch.Size = torch.Size(),  # noqa: B008 -- immutable
        eps: float = 1e-7,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        check_int("dim", dim, minimum=1)
        if not 0.0 < check_real("eps", eps) < 0.5:
            raise InputDataError("eps", "a number in (0, 0.5)", eps)
        self.eps = eps
        self.log_concentration1 = nn.Parameter(torch.zeros(*batch_shape, dim, dtype=dtype))
        self.log_concentration0 = nn.Parameter(torch.zeros(*batch_shape, dim, dtype=dtype))

    @property
    def concentration1(self) -> Tensor:
        """The `batch_shape x d` exponents a of the inputs."""
        return self.log_concentration1.exp()

    @property
    def concentration0(self) -> Tensor:
        """The `batch_shape x d` exponents b of the complements."""
        return self.log_concentration0.exp()

    def reset_parameters(self) -> None:
        """Back to the identity warp a = b = 1."""
        with torch.no_grad():
            self.log_concentration1.zero_()
            self.log_concentration0.zero_()

    def forward(self, X: Tensor, batch_indices: Tensor | None = None) -> Tensor:
        """Warp inputs of the unit cube.

        Args:
            X: An `N x d` tensor (shared by the batch of warps) or a `batch_shape x N x d` one.
            batch_indices: With a one-dimensional batch of warps, the `k` warps to use (then
                the result is `k x N x d`); None uses all of them.

        Returns:
            The warped inputs, `batch_shape x N x d` (`N x d` for an unbatched warp).
        """
        a, b = self.concentration1, self.concentration0
        if batch_indices is not None:
            a, b = a[batch_indices], b[batch_indices]
        x = self.eps + (1.0 - 2.0 * self.eps) * X.clamp(0.0, 1.0)  # clamp first: module docstring
        return kumaraswamy_cdf(x, a.unsqueeze(-2), b.unsqueeze(-2))

    def log_prior(self) -> Tensor:
        r"""The log density of the log-concentrations under :math:`\mathcal N(0, 0.75)`, summed: a scalar."""
        theta = torch.cat([self.log_concentration1.reshape(-1), self.log_concentration0.reshape(-1)])
        var = LOG_CONCENTRATION_PRIOR_VAR
        return -0.5 * theta.square().sum() / var - 0.5 * theta.numel() * math.log(2 * math.pi * var)
