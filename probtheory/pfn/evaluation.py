"""Reference posteriors for evaluating GP-prior PFNs: exact GP predictives and calibration.

The exact posterior predictive of GP regression with known hyperparameters is Gaussian:
mean ``k_*^T (K + s^2 I)^{-1} y`` and variance ``k_** - k_*^T (K + s^2 I)^{-1} k_* + s^2``
(Rasmussen & Williams 2006, eq. 2.23-2.24), computed here batched over datasets in float64.
With hyper-priors on the hyperparameters (:class:`~probtheory.pfn.priors.GPHyperPrior`) the
Bayes predictive averages these over the posterior of the hyperparameters;
:func:`hyperprior_gp_predictive` does so by self-normalised importance sampling from the
hyper-prior, the weights being the marginal likelihoods (eq. 2.30).

A PFN predicts a bar distribution on fixed bucket borders, so even a perfect network is not
the Bayes predictive itself but its bar projection (:func:`bar_projection`): the bucket masses of
the predictive. Its NLL gap to the predictive is the discretisation floor of a PFN's gap.
"""

from __future__ import annotations

import math

import torch
from scipy import stats
from torch import Tensor

from probtheory._checks import check_finite, check_generator, check_in_interval, check_int, check_real
from probtheory.errors import InputDataError
from probtheory.pfn.bar_distribution import BarDistribution, check_borders
from probtheory.pfn.gp import gp_predictive
from probtheory.pfn.priors import GPHyperPrior
from probtheory.pfn.soft_targets import gaussian_bucket_masses

__all__ = [
    "bar_projection",
    "discretisation_floor",
    "exact_gp_predictive",
    "hyperprior_gp_predictive",
    "ks_uniform",
]


def _check_shapes(x_train: Tensor, y_train: Tensor, x_test: Tensor) -> None:
    for name, t in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test)):
        check_finite(name, t)
    if x_train.dim() != 3 or y_train.shape != x_train.shape[:2]:
        raise InputDataError("y_train", "`B x S` matching x_train `B x S x F`", tuple(y_train.shape))
    if x_test.dim() != 3 or x_test.shape[0] != x_train.shape[0] or x_test.shape[-1] != x_train.shape[-1]:
        raise InputDataError(
            "x_test", f"a `{x_train.shape[0]} x Q x {x_train.shape[-1]}` tensor", tuple(x_test.shape)
        )


def exact_gp_predictive(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, lengthscale: float, outputscale: float, noise: float
) -> torch.distributions.Normal:
    """Exact GP posterior predictive of noisy observations at the queries.

    Args:
        x_train: A `B x S x F` tensor (S may be 0).
        y_train: A `B x S` tensor.
        x_test: A `B x Q x F` tensor.
        lengthscale: RBF lengthscale.
        outputscale: Kernel variance.
        noise: Observation-noise variance.

    Returns:
        A Normal of batch shape `B x Q` (float64).
    """
    _check_shapes(x_train, y_train, x_test)
    for name, value in (("lengthscale", lengthscale), ("outputscale", outputscale), ("noise", noise)):
        check_real(name, value, positive=True)
    b = x_train.shape[0]
    hyper = [torch.full((b,), float(v), dtype=torch.float64) for v in (lengthscale, outputscale, noise)]
    with torch.no_grad():
        mean, var, _ = gp_predictive(x_train.double(), y_train.double(), x_test.double(), *hyper)
    return torch.distributions.Normal(mean, var.sqrt())


def hyperprior_gp_predictive(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    prior: GPHyperPrior,
    num_samples: int = 2048,
    generator: torch.Generator | None = None,
) -> torch.distributions.MixtureSameFamily:
    """Bayes predictive under a GP hyper-prior, by importance sampling from the hyper-prior.

    Draws ``num_samples`` hyperparameter triples from ``prior.hyperprior()`` (the same draws
    for every dataset), weights draw s of dataset b by its marginal likelihood
    ``p(y_b | x_b, theta_s)``, and mixes the exact GP predictives with the normalised weights.
    This is consistent as ``num_samples`` grows; the effective sample size
    ``1 / sum(w^2)`` of the weights (``mixture_distribution.probs``) says how well the draws
    cover the posterior, and falls as the context grows.

    Args:
        x_train: A `B x S x F` tensor (S may be 0: the prior predictive).
        y_train: A `B x S` tensor.
        x_test: A `B x Q x F` tensor.
        prior: The hyper-prior the data come from.
        num_samples: Number of hyperparameter draws.
        generator: Random generator of the draws (None: torch's global one).

    Returns:
        A mixture of ``num_samples`` Normals per query, batch shape `B x Q` (float64).

    Example:
        >>> import torch
        >>> from probtheory.pfn import GPHyperPrior
        >>> prior = GPHyperPrior()
        >>> batch = prior.sample(4, 11, torch.Generator().manual_seed(0))
        >>> pred = hyperprior_gp_predictive(batch.x[:, :10], batch.y[:, :10], batch.x[:, 10:], prior, 256)
        >>> pred.log_prob(batch.y[:, 10:]).shape
        torch.Size([4, 1])
    """
    _check_shapes(x_train, y_train, x_test)
    check_int("num_samples", num_samples, minimum=1)
    if not isinstance(prior, GPHyperPrior):
        raise InputDataError("prior", "a GPHyperPrior", type(prior).__name__)
    check_generator("generator", generator)
    z = torch.randn(3, num_samples, generator=generator, dtype=torch.float64)
    hyper = [
        torch.exp(d.loc.double() + d.scale.double() * z[i])
        for i, d in enumerate(prior.hyperprior().values())  # lengthscale, outputscale, noise
    ]
    means, variances, log_weights = [], [], []
    with torch.no_grad():
        for b in range(x_train.shape[0]):  # one dataset at a time: S x n x n at most in memory
            rows = [
                t[b : b + 1].double().expand(num_samples, *t.shape[1:]) for t in (x_train, y_train, x_test)
            ]
            mean, var, log_evidence = gp_predictive(*rows, *hyper)
            means.append(mean.T)
            variances.append(var.T)
            log_weights.append(log_evidence.expand(x_test.shape[1], num_samples))
    mixing = torch.distributions.Categorical(logits=torch.stack(log_weights))
    components = torch.distributions.Normal(torch.stack(means), torch.stack(variances).sqrt())
    return torch.distributions.MixtureSameFamily(mixing, components)


def _gaussian_mixture(predictive: object) -> tuple[Tensor, Tensor, Tensor, torch.Size]:
    """Weights, means and standard deviations (each `N x components`, float64) and batch shape."""
    if isinstance(predictive, torch.distributions.Normal):
        loc, scale = torch.broadcast_tensors(predictive.loc.double(), predictive.scale.double())
        return torch.ones_like(loc).reshape(-1, 1), loc.reshape(-1, 1), scale.reshape(-1, 1), loc.shape
    if isinstance(predictive, torch.distributions.MixtureSameFamily) and isinstance(
        predictive.component_distribution, torch.distributions.Normal
    ):
        components = predictive.component_distribution
        weights = predictive.mixture_distribution.probs.double().reshape(-1, components.batch_shape[-1])
        loc = components.loc.double().reshape(weights.shape)
        scale = components.scale.double().reshape(weights.shape)
        return weights, loc, scale, predictive.batch_shape
    expected = "a Normal or a MixtureSameFamily of Normals"
    raise InputDataError("predictive", expected, type(predictive).__name__)


def _row_chunks(weights: Tensor, chunk: int) -> list[slice]:
    """Slices of ``chunk`` rows (all rows at once for a single Normal); one empty slice if none."""
    n = weights.shape[0]
    step = max(n, 1) if weights.shape[1] == 1 else chunk
    return [slice(i, i + step) for i in range(0, max(n, 1), step)]


def bar_projection(
    predictive: torch.distributions.Normal | torch.distributions.MixtureSameFamily,
    borders: Tensor,
    chunk: int = 8,
) -> BarDistribution:
    """The bar distribution on ``borders`` closest to a Gaussian (mixture) predictive.

    Its bucket masses are the predictive's masses in the buckets (the end buckets reaching to
    -inf and +inf). Whatever the true density, a full-support bar distribution's expected NLL
    under it is the cross-entropy of its masses against the true bucket masses plus terms that
    do not depend on the masses, so by Gibbs' inequality this projection has the smallest
    expected NLL (KL divergence) of all bar distributions on these borders: the NLL gap of
    the projection to the predictive is the floor of any PFN's gap on these borders
    (its expectation: :func:`discretisation_floor`).

    Args:
        predictive: A ``Normal``, or a ``MixtureSameFamily`` of ``Normal`` components (such as
            :func:`hyperprior_gp_predictive`'s), of batch shape `batch_shape`.
        borders: The K + 1 bucket borders (strictly increasing, K >= 2), e.g. a PFN's ``borders``.
        chunk: Batch elements processed at once (memory ``chunk x components x K``); a single
            Normal is processed in one pass.

    Returns:
        A full-support :class:`~probtheory.pfn.bar_distribution.BarDistribution` of batch shape
        `batch_shape` (float64).

    Example:
        >>> import torch
        >>> normal = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
        >>> bar = bar_projection(normal, torch.linspace(-4, 4, 201))
        >>> gap = -bar.log_prob(torch.zeros(3)) + normal.log_prob(torch.zeros(3))
        >>> bool(gap.abs().max() < 1e-3)
        True
    """
    check_int("chunk", chunk, minimum=1)
    borders = check_borders(borders).double()  # before the masses: they cost far more
    weights, loc, scale, shape = _gaussian_mixture(predictive)
    rows = _row_chunks(weights, chunk)
    masses = torch.cat(
        [
            torch.einsum("ns,nsk->nk", weights[i], gaussian_bucket_masses(borders, loc[i], scale[i]))
            for i in rows
        ]
    ).reshape(*shape, borders.numel() - 1)
    return BarDistribution(borders, masses.clamp_min(torch.finfo(torch.float64).tiny).log())


def discretisation_floor(
    predictive: torch.distributions.Normal | torch.distributions.MixtureSameFamily,
    borders: Tensor,
    draws: int = 64,
    generator: torch.Generator | None = None,
    chunk: int = 8,
) -> Tensor:
    """Expected NLL gap of :func:`bar_projection` to the predictive: the KL divergence, by Monte Carlo.

    The floor of any PFN's expected gap on these borders, per batch element, estimated from
    ``draws`` values y of the predictive: the mean of ``log p(y) - log q(y)``, ``q`` the
    projection. Only the bucket holding each y is needed (its mass, and its width or tail), not
    all K masses, so this costs ``draws x 2`` normal CDFs per component instead of ``K``: it
    compares bucket layouts on many predictives cheaply (as
    :func:`~probtheory.pfn.bar_distribution.bucket_borders`' ``power`` does). The estimate is
    unbiased; its standard error per element is the draws' standard deviation over
    ``sqrt(draws)``.

    Args:
        predictive: A ``Normal``, or a ``MixtureSameFamily`` of ``Normal`` components, of batch
            shape `batch_shape`.
        borders: The K + 1 bucket borders (strictly increasing, K >= 2).
        draws: Values of y per batch element.
        generator: Random generator of the draws (None: torch's global one).
        chunk: Batch elements processed at once (memory ``chunk x draws x components``); a
            single Normal is processed in one pass.

    Returns:
        A `batch_shape` tensor (float64) of estimated KL divergences in nats.

    Example:
        >>> import torch
        >>> normal = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
        >>> g = torch.Generator().manual_seed(0)
        >>> fine = discretisation_floor(normal, torch.linspace(-6, 6, 601), 4000, g)
        >>> coarse = discretisation_floor(normal, torch.linspace(-6, 6, 13), 4000, g)
        >>> bool((fine < 1e-3).all() and (coarse > 0.02).all())
        True
    """
    check_int("draws", draws, minimum=1)
    check_int("chunk", chunk, minimum=1)
    check_generator("generator", generator)
    borders = check_borders(borders).double()
    weights, loc, scale, shape = _gaussian_mixture(predictive)
    n, k = weights.shape[0], borders.numel() - 1
    if n == 0:
        return torch.zeros(shape, dtype=torch.float64)
    component = torch.multinomial(weights, draws, replacement=True, generator=generator)
    noise = torch.randn(n, draws, generator=generator, dtype=torch.float64)
    y = loc.gather(1, component) + scale.gather(1, component) * noise  # n x draws
    # the projection's log density is its bucket's log mass plus that of a uniform-mass bar
    # distribution on the same borders less log(1 / K): the bucket's -log width, or its tail
    uniform = BarDistribution(borders, torch.zeros(k, dtype=torch.float64))
    shape_term = uniform.log_prob(y) + math.log(k)
    bucket = uniform._bucket(y)  # the projection's own bucketing
    low = torch.where(bucket == 0, -math.inf, borders[bucket])
    high = torch.where(bucket == k - 1, math.inf, borders[bucket + 1])
    gaps = []
    for i in _row_chunks(weights, chunk):
        w, m, s = weights[i, None], loc[i, None], scale[i, None]
        value, lo, hi = y[i, :, None], low[i, :, None], high[i, :, None]
        log_p = torch.logsumexp(w.log() + torch.distributions.Normal(m, s).log_prob(value), -1)
        mass = (w * (torch.special.ndtr((hi - m) / s) - torch.special.ndtr((lo - m) / s))).sum(-1)
        gaps.append(log_p - mass.clamp_min(torch.finfo(torch.float64).tiny).log() - shape_term[i])
    return torch.cat(gaps).mean(-1).reshape(shape)


def ks_uniform(pit: Tensor) -> float:
    """Kolmogorov-Smirnov distance of PIT values from U(0, 1) (0: perfectly calibrated).

    Args:
        pit: Probability integral transforms ``F(y)`` of observations under their predictives:
            a non-empty tensor of values in [0, 1] (NaN refused).
    """
    pit = check_in_interval("pit", pit, 0.0, 1.0, meaning="PIT values (probabilities)")
    if pit.numel() == 0:
        raise InputDataError("pit", "at least one PIT value", "an empty tensor")
    return float(stats.kstest(pit.detach().flatten().cpu().numpy(), "uniform").statistic)
