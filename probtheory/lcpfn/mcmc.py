"""MCMC over the parametric curve model: the baseline LC-PFN is measured against.

Domhan et al. (2015) and the LC-PFN paper's "MCMC-PP" sample the posterior of the same
weighted pow3 + ilog2 + janoschek model with emcee's affine-invariant ensemble sampler. This
is that sampler (Goodman & Weare's stretch move, a = 2, two alternating half-ensembles),
vectorised over curves: every curve of a batch runs its own ensemble in the same tensors.

The target is the curve prior's posterior exactly: parameter priors (log-normal parameters
sampled on the log scale), the rejection step as a support constraint (y(T_max) > y(1),
noiseless curve in [0, 1]) and the Gaussian likelihood of the observed prefix. Walkers
start from prior draws; after ``burn_in`` steps every ``thin``-th ensemble is kept, and the
kept samples form the equally weighted predictive mixture.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from probtheory._checks import check_instance, check_int, check_real
from probtheory.errors import ConfigurationError
from probtheory.lcpfn.curves import CurvePrior, ParameterSpec
from probtheory.lcpfn.extrapolator import CurveExtrapolator, GaussianMixture
from probtheory.lcpfn.importance import parametric_predictive

__all__ = ["MCMCExtrapolator"]


def _to_unconstrained(spec: ParameterSpec, value: Tensor) -> Tensor:
    return torch.log(value) if spec[0] == "lognormal" else value


def _from_unconstrained(spec: ParameterSpec, value: Tensor) -> Tensor:
    return torch.exp(value) if spec[0] == "lognormal" else value


def _log_density(spec: ParameterSpec, u: Tensor) -> Tensor:
    """Log prior density of a (log-scale for log-normal) parameter, up to a constant."""
    kind, p, q = spec
    if kind == "uniform":
        return torch.where((u >= p) & (u <= q), 0.0, -math.inf)
    return -0.5 * ((u - p) / q) ** 2


class MCMCExtrapolator(CurveExtrapolator):
    """Ensemble-MCMC posterior predictive of the parametric curve model.

    Args:
        prior: The curve prior (default: the LC-PFN prior).
        walkers: Ensemble size per curve (even, at least twice the dimension).
        steps: Total ensemble updates, burn-in included.
        burn_in: Updates discarded at the start.
        thin: Keep every ``thin``-th ensemble after burn-in.
        stretch: The stretch-move scale a (> 1).
        seed: Seed of initialisation and moves.
    """

    def __init__(
        self,
        prior: CurvePrior | None = None,
        walkers: int = 100,
        steps: int = 2_000,
        burn_in: int = 500,
        thin: int = 50,
        stretch: float = 2.0,
        seed: int = 0,
    ) -> None:
        """Configure the sampler (see the class docstring)."""
        self.prior = CurvePrior() if prior is None else prior
        check_instance("prior", self.prior, CurvePrior, "a CurvePrior or None")
        self.max_epochs = self.prior.max_epochs
        self.specs = self.prior.specs()
        self.walkers = check_int("walkers", walkers, minimum=2)
        self.steps = check_int("steps", steps, minimum=1)
        self.burn_in = check_int("burn_in", burn_in, minimum=0)
        self.thin = check_int("thin", thin, minimum=1)
        self.stretch = check_real("stretch", stretch, positive=True)
        self.seed = check_int("seed", seed, minimum=0)
        if walkers % 2 or walkers < 2 * len(self.specs):
            raise ConfigurationError(
                f"walkers ({walkers}) must be even and at least twice the dimension ({len(self.specs)})"
            )
        if burn_in >= steps or stretch <= 1:
            raise ConfigurationError(f"need burn_in < steps ({burn_in}, {steps}) and stretch > 1 ({stretch})")
        self.last_acceptance: Tensor | None = None

    def _params(self, u: Tensor) -> dict[str, Tensor]:
        return {key: _from_unconstrained(spec, u[..., i]) for i, (key, spec) in enumerate(self.specs.items())}

    def log_posterior(self, u: Tensor, x_train: Tensor, y_train: Tensor) -> Tensor:
        """Unnormalised log posterior of unconstrained parameters ``u`` (`B x W x D`) per curve."""
        log_prior = sum(_log_density(spec, u[..., i]) for i, spec in enumerate(self.specs.values()))
        params = self._params(u)
        full = self.prior.mean_curve(params, self.prior.epochs(self.max_epochs))  # B x W x T_max
        if bool((x_train == x_train.round()).all()):  # integer epochs: read them off the full curve
            index = (x_train.long() - 1).unsqueeze(1).expand(*full.shape[:2], -1)
            observed = full.gather(-1, index)
        else:
            observed = self.prior.mean_curve(params, x_train.unsqueeze(1))  # B x W x T
        sigma = torch.exp(params["log_sigma"]).unsqueeze(-1)
        z = (y_train.unsqueeze(1) - observed) / sigma
        log_lik = (-0.5 * z**2 - torch.log(sigma)).sum(-1)
        out = log_prior + log_lik
        return torch.where(self.prior.accepted(full) & out.isfinite(), out, -math.inf)

    def sample_posterior(self, x_train: Tensor, y_train: Tensor) -> dict[str, Tensor]:
        """Posterior samples for each curve: per parameter a `B x S` tensor."""
        g = torch.Generator().manual_seed(self.seed)
        b, w, d = x_train.shape[0], self.walkers, len(self.specs)
        start = self.prior.sample_parameters(b * w, self.max_epochs, g)
        u = torch.stack([_to_unconstrained(s, start[k]) for k, s in self.specs.items()], -1).view(b, w, d)
        logp = self.log_posterior(u, x_train, y_train)
        halves = (torch.arange(0, w, 2), torch.arange(1, w, 2))
        kept, accepted = [], torch.zeros(b)
        for step in range(self.steps):
            for active, partners in (halves, halves[::-1]):
                n = active.numel()
                z = (
                    (self.stretch - 1) * torch.rand(b, n, generator=g, dtype=u.dtype) + 1
                ) ** 2 / self.stretch
                pick = partners[torch.randint(0, partners.numel(), (b, n), generator=g)]
                partner = u.gather(1, pick.unsqueeze(-1).expand(b, n, d))
                proposal = partner + z.unsqueeze(-1) * (u[:, active] - partner)
                logp_new = self.log_posterior(proposal, x_train, y_train)
                log_ratio = (d - 1) * torch.log(z) + logp_new - logp[:, active]
                accept = torch.log(torch.rand(b, n, generator=g, dtype=u.dtype)) < log_ratio
                u[:, active] = torch.where(accept.unsqueeze(-1), proposal, u[:, active])
                logp[:, active] = torch.where(accept, logp_new, logp[:, active])
                accepted += accept.double().mean(-1) / (2 * self.steps)
            if step >= self.burn_in and (step - self.burn_in) % self.thin == 0:
                kept.append(u.clone())
        self.last_acceptance = accepted
        samples = torch.cat(kept, 1)  # B x S x D
        return self._params(samples)

    def _predict(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> GaussianMixture:
        return parametric_predictive(self.prior, self.sample_posterior(x_train, y_train), x_test)
