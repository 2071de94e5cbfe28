"""The reference posterior of the parametric curve model by importance sampling from the prior.

Draw N parameter sets from the curve prior once (rejection step included); for an observed
prefix weight each by its likelihood, w_n = p(y_1..T' | theta_n). The posterior predictive
at a future epoch is then the w-weighted mixture of N(f(t; theta_n), sigma_n^2): exact as
N -> infinity, and the oracle an LC-PFN is trained to approximate. The weights are reduced to
``num_components`` equally weighted components by systematic resampling; the effective sample
size of each curve's weights (:attr:`ImportanceSamplingExtrapolator.last_ess`) says how far
to trust it (long, precise prefixes make the likelihood so peaked that few samples matter).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from probtheory._checks import check_finite, check_instance, check_int
from probtheory.errors import InputDataError
from probtheory.lcpfn.curves import CurvePrior
from probtheory.lcpfn.extrapolator import CurveExtrapolator, GaussianMixture

__all__ = ["ImportanceSamplingExtrapolator", "parametric_predictive"]


def parametric_predictive(
    prior: CurvePrior, params: Mapping[str, Tensor], x_test: Tensor, logits: Tensor | None = None
) -> GaussianMixture:
    """The predictive mixture over parameter samples.

    Args:
        prior: The parametric model.
        params: Per key of ``prior.specs()``, a `B x S` tensor of samples for each curve.
        x_test: `B x Q` epochs.
        logits: `B x S` log weights (default: equal weights).

    Returns:
        A :class:`GaussianMixture` of batch shape `B x Q` with S components.
    """
    check_instance("prior", prior, CurvePrior, "a CurvePrior")
    missing = set(prior.specs()) - set(params)
    if missing:
        raise InputDataError(
            "params",
            f"a tensor for each key of prior.specs() {sorted(prior.specs())}",
            f"missing {sorted(missing)}",
        )
    check_finite("x_test", x_test)
    loc = prior.mean_curve(params, x_test.unsqueeze(1)).transpose(1, 2)  # B x Q x S
    scale = torch.exp(params["log_sigma"]).unsqueeze(1).expand_as(loc)
    logits = torch.zeros_like(scale) if logits is None else logits.unsqueeze(1).expand_as(loc)
    return GaussianMixture(logits, loc, scale)


def _systematic_resample(log_weights: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """Indices of ``k`` equally weighted draws (systematic resampling) per row of `B x N` weights."""
    weights = torch.softmax(log_weights, -1)
    cumulative = weights.cumsum(-1)
    cumulative[:, -1] = 1.0
    u = (torch.rand(weights.shape[0], 1, generator=generator, dtype=weights.dtype) + torch.arange(k)) / k
    return torch.searchsorted(cumulative, u.contiguous()).clamp_max(weights.shape[-1] - 1)


class ImportanceSamplingExtrapolator(CurveExtrapolator):
    """Near-exact posterior predictive of the curve prior's parametric model (see module doc).

    Args:
        prior: The curve prior (default: the LC-PFN prior).
        num_samples: Prior draws N (shared by every curve).
        num_components: Mixture components kept after resampling.
        seed: Seed of the prior draws and the resampling (every call resamples alike).
    """

    def __init__(
        self,
        prior: CurvePrior | None = None,
        num_samples: int = 100_000,
        num_components: int = 2_000,
        seed: int = 0,
    ) -> None:
        """Draw the prior samples (see the class docstring)."""
        self.prior = CurvePrior() if prior is None else prior
        check_instance("prior", self.prior, CurvePrior, "a CurvePrior or None")
        self.max_epochs = self.prior.max_epochs
        self.num_components = check_int("num_components", num_components, minimum=1)
        check_int("num_samples", num_samples, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        generator = torch.Generator().manual_seed(seed)
        self.samples = self.prior.sample_parameters(num_samples, self.max_epochs, generator)
        self.last_ess: Tensor | None = None

    def log_weights(self, x_train: Tensor, y_train: Tensor) -> Tensor:
        """Log-likelihood of each prior sample for each observed prefix: `B x N`."""
        sigma = torch.exp(self.samples["log_sigma"]).unsqueeze(-1)  # N x 1
        rows = []
        for xs, ys in zip(x_train, y_train, strict=True):
            z = (ys - self.prior.mean_curve(self.samples, xs)) / sigma
            rows.append(-0.5 * (z**2).sum(-1) - xs.numel() * torch.log(sigma[:, 0]))
        return torch.stack(rows)

    def _predict(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> GaussianMixture:
        log_w = self.log_weights(x_train, y_train)
        w = torch.softmax(log_w, -1)
        self.last_ess = 1.0 / (w**2).sum(-1)
        # resampling seeded per call: the same data always gives the same predictive
        generator = torch.Generator().manual_seed(self.seed + 1)
        index = _systematic_resample(log_w, self.num_components, generator)
        params = {key: value[index] for key, value in self.samples.items()}
        return parametric_predictive(self.prior, params, x_test)
