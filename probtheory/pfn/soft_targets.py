r"""Soft targets: the PFN loss averaged exactly over a Gaussian observation given the prior's latent.

Every built-in prior draws a latent first (a GP's function values with its hyperparameters, a
learning curve's parameters, a BNN's weights) and then :math:`y = f + \sigma\varepsilon`. The
PFN loss :math:`-\log p_\theta(y)` of a bar distribution with log masses
:math:`\log q_k` is :math:`-\log q_{k(y)} - c_{k(y)}(y)`, where :math:`c_k` is the log shape of
bucket :math:`k` (:math:`-\log w_k` inside, a half-normal log density in the tails), which does not
depend on the network. Its expectation over :math:`y \sim \mathcal N(f, \sigma^2)` is therefore

.. math::
    \mathbb E_y[-\log p_\theta(y)] = -\sum_k P_k \log q_k - \sum_k \mathbb E[c_k(y)\,1\{y \in B_k\}],
    \qquad P_k = \Phi\big(\tfrac{b_{k+1} - f}{\sigma}\big) - \Phi\big(\tfrac{b_k - f}{\sigma}\big),

a cross-entropy against the Gaussian's bucket masses plus a constant. Training on it has the
same minimiser as training on sampled :math:`y` (the posterior predictive: the expectation over
the latent's posterior gives the predictive back) with the observation noise's share of the
gradient variance removed -- a Rao-Blackwellisation of the prior-data NLL of Müller, Hollmann,
Pineda Arango, Grabocka & Hutter, "Transformers Can Do Bayesian Inference" (ICLR 2022, Eq. 2).

The same identity holds for any Gaussian law of the target given what the network does not see.
A GP prior's hyperparameters :math:`\eta` are drawn first, and given them and the context
:math:`D_s` the query's observation is Gaussian, the GP posterior predictive
:math:`\mathcal N(\mu_\eta(x), \sigma^2_\eta(x))` with the function values integrated out
(Rasmussen & Williams 2006, eq. 2.23-2.24). By the tower property
:math:`\mathbb E_{\eta, D_s, y}[-\log p_\theta(y)] = \mathbb E_{\eta, D_s}\,\mathbb E_{y \mid D_s,
\eta}[-\log p_\theta(y)]`, so the expected loss against that Gaussian (``targets="posterior"``
in :class:`~probtheory.pfn.training.TrainConfig`) equals the prior-data NLL in expectation, not
only in its minimiser, and removes the function values' share of the gradient variance besides
the noise's: what remains is the spread of the hyperparameters' posterior (:math:`p_\theta` is
the network's predictive, as above). For a prior with fixed hyperparameters the target is the
exact posterior predictive itself.

The tail terms are exact: with :math:`t = (b_1 - f)/\sigma`,
:math:`\mathbb E[(b_1 - y)^2 1\{y < b_1\}] = \sigma^2[(t^2 + 1)\Phi(t) + t\varphi(t)]`, and likewise on
the right.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from probtheory._checks import check_finite
from probtheory.errors import InputDataError
from probtheory.pfn.bar_distribution import BarDistribution

__all__ = ["expected_nll", "gaussian_bucket_masses"]

_LOG_SQRT_2_OVER_PI = 0.5 * math.log(2.0 / math.pi)


def _check_gaussian(loc: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    check_finite("loc", loc)
    check_finite("scale", scale)
    if not (scale > 0).all():
        raise InputDataError(
            "scale", "observation standard deviations > 0", f"minimum {scale.min().item():g}"
        )
    return torch.broadcast_tensors(loc, scale)


def gaussian_bucket_masses(borders: Tensor, loc: Tensor, scale: Tensor, full_support: bool = True) -> Tensor:
    r"""The masses :math:`P_k` of :math:`\mathcal N(\text{loc}, \text{scale}^2)` in each bucket.

    Args:
        borders: The K + 1 bucket borders.
        loc: A `batch_shape` tensor of means.
        scale: A `batch_shape` tensor of standard deviations (> 0).
        full_support: The end buckets extend to -inf and +inf (as the tails of a full-support
            :class:`~probtheory.pfn.bar_distribution.BarDistribution` do); otherwise mass
            outside the borders is dropped.

    Returns:
        A `batch_shape x K` tensor of masses (summing to one with full support).
    """
    loc, scale = _check_gaussian(loc, scale)
    z = (borders.to(loc.dtype) - loc.unsqueeze(-1)) / scale.unsqueeze(-1)
    cdf = torch.special.ndtr(z)
    if full_support:
        cdf = torch.cat([torch.zeros_like(cdf[..., :1]), cdf[..., 1:-1], torch.ones_like(cdf[..., :1])], -1)
    return (cdf[..., 1:] - cdf[..., :-1]).clamp_min(0.0)


def _truncated_square(t: Tensor) -> Tensor:
    r""":math:`\int_{-\infty}^t (t - z)^2 \varphi(z) dz = (t^2 + 1)\Phi(t) + t\varphi(t)`."""
    phi = torch.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
    return (t * t + 1) * torch.special.ndtr(t) + t * phi


def expected_nll(distribution: BarDistribution, loc: Tensor, scale: Tensor) -> Tensor:
    r""":math:`\mathbb E[-\log p(y)]` for :math:`y \sim \mathcal N(\text{loc}, \text{scale}^2)`, exactly.

    Differentiable in the distribution's logits (the gradient is that of the cross-entropy
    against :func:`gaussian_bucket_masses`); the shape terms are constants.

    Args:
        distribution: A full-support bar distribution of batch shape `batch_shape`.
        loc: A `batch_shape` tensor: the mean of the observation given the latent.
        scale: A `batch_shape` tensor: its standard deviation (> 0).

    Returns:
        A `batch_shape` tensor of expected negative log-likelihoods.
    """
    if not distribution.full_support:
        raise InputDataError(
            "distribution",
            "a full-support BarDistribution (a Gaussian has mass outside the borders)",
            "full_support=False",
        )
    dtype = distribution.logits.dtype
    loc, scale = _check_gaussian(loc.to(dtype), scale.to(dtype))
    borders = distribution.borders
    masses = gaussian_bucket_masses(borders, loc, scale)
    cross_entropy = -(masses * distribution.log_masses).sum(-1)
    # shape terms: -log w_k inside, the half-normal log density in the two tail regions
    inner = -(masses[..., 1:-1] * distribution.widths[1:-1].log()).sum(-1)
    t_left = (borders[1] - loc) / scale
    t_right = (loc - borders[-2]) / scale
    tails = 0.0
    for t, mass, tail_scale in (
        (t_left, masses[..., 0], distribution.left_scale),
        (t_right, masses[..., -1], distribution.right_scale),
    ):
        log_norm = _LOG_SQRT_2_OVER_PI - torch.log(tail_scale)
        tails = tails + mass * log_norm - scale**2 * _truncated_square(t) / (2 * tail_scale**2)
    return cross_entropy - inner - tails
