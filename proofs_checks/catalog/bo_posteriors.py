r"""Claim ``bo.posterior_moments`` (every BoTorch posterior reports the moments of what it samples).

Balandat et al., *BoTorch: A Framework for Efficient Monte-Carlo Bayesian Optimization*
(NeurIPS 2020), Sec. 4: acquisition functions are Monte-Carlo estimates over samples of the
posterior (``rsample``), while analytic ones, qUCB's scale and the surrogate's reports read its
``mean`` and ``variance``; both describe one distribution only if the moments are those of the
samples. For a mixture over S function draws with observation noise sigma_s^2 -- the
sample-based surrogates of Li, Rudner & Wilson (ICLR 2024) -- that is the law of total variance,

    Var[y] = (1/S) sum_s (f_s - fbar)^2 + (1/S) sum_s sigma_s^2,

the between-draw term plus the mean noise.

For every posterior class of ``bo`` -- ``SampleEnsemblePosterior`` (given values or a lazy
evaluator, noise-free, homoscedastic or heteroscedastic noise), ``MarginalPosterior`` over bar
distributions, ``ScaleMixtureNormalPosterior`` (the Student-t posterior, also ``rescaled``),
their ``affine`` scalarisations -- and for the posterior of every surrogate in ``bo.models``
(GP, IBNN, DKL and LaplaceBNN give ``GPyTorchPosterior``; DeepEnsemble, SVIBNN, HMCBNN the
sample ensemble; StudentTP the scale mixture; PFNSurrogate the marginal posterior), with and
without observation noise, ``mean`` and ``variance`` must equal the moments of what ``rsample``
draws. Checked coordinate by coordinate on 4096 draws: |sample mean - mean| <= 5 SE with
SE = s / sqrt(N), and |mean of (y - mean)^2 - variance| <= 5 SE with SE the standard deviation
of (y - mean)^2 over sqrt(N) -- the second moment about the reported mean is unbiased for the
variance once the mean is right, and its first-order standard error stays exact for a mixture of
two draws, where the sample variance's vanishes (z = 5; about 1e3 coordinates per instance give
a false-alarm rate of ~1e-3 per instance; a round-off allowance 1e-9 (1 + |mean| + variance)
covers coordinates whose draws do not vary).

A bar distribution may hold its variance in buckets of mass ~1e-5 -- the shipped PFN's
predictives do -- which no affordable sample resolves, nor the standard error of its moments.
For the marginal posterior the law that ``rsample`` draws is therefore checked by a
distribution-free KS test of (y - loc) / scale against the bar distribution's CDF (false-alarm
probability 1e-6 per coordinate), and the moments of that law, loc + scale E[Y] and
scale^2 Var[Y], by Gauss-Legendre quadrature of the density (the quadrature of claim
``pfn.bar_distribution``), to 1e-9 relative.

Every instance covers every batch layout (`q x d`, `3 x q x d`, `2 x 2 x q x d`) for each
direct posterior, with one and two outputs; the surrogates, fitted once per process on tiny
budgets (the identity holds for any fitted state), get the three layouts and one or two outputs
in rotation; q in 1..3 is drawn.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from botorch.posteriors import GPyTorchPosterior, Posterior
from hypothesis import strategies as st

from bo.models import DKL, GP, HMCBNN, IBNN, SVIBNN, DeepEnsemble, LaplaceBNN, PFNSurrogate, StudentTP
from bo.posteriors import MarginalPosterior, SampleEnsemblePosterior, ScaleMixtureNormalPosterior
from probtheory.pfn import BarDistribution
from proofs_checks.catalog.bar_distribution import bar_quadrature
from proofs_checks.catalog.bibliography import BALANDAT_BOTORCH_2020, LI_RUDNER_WILSON_2024
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes, z_score_histogram
from proofs_checks.statistics import Z
from proofs_checks.strategies import seeds

NUM_SAMPLES = 4096
KS_ALPHA = 1e-6
KS_CRITICAL = math.sqrt(-math.log(KS_ALPHA / 2) / (2 * NUM_SAMPLES))
LAYOUTS = ((), (3,), (2, 2))
#: The posterior classes the claim is about; a mutant replaces one by a broken subclass.
POSTERIOR_CLASSES = (
    SampleEnsemblePosterior,
    MarginalPosterior,
    ScaleMixtureNormalPosterior,
    GPyTorchPosterior,
)


@dataclass(frozen=True)
class MomentsInstance:
    q: int
    num_draws: int
    concentration: float
    log_concentration_2: float
    scale: float
    rotation: int
    seed: int


def _instances() -> st.SearchStrategy[MomentsInstance]:
    return st.builds(
        MomentsInstance,
        q=st.integers(1, 3),
        num_draws=st.integers(1, 6),
        # c > 4 keeps the 8th moment of the t finite, so its sample variance has a standard error;
        # the first output's c is small, where r / c and r / (c - 1) differ by >= 1/5
        concentration=st.floats(4.5, 6.0),
        log_concentration_2=st.floats(1.8, 4.1),  # the second output's: c in 6..60
        scale=st.sampled_from([0.3, 2.5]),
        rotation=st.integers(0, 2),
        seed=seeds(),
    )


def _as_subject(posterior: Posterior, subject: tuple[type, ...]) -> Posterior:
    """The posterior, re-classed to the subject's (mutant) subclass of its class, if any."""
    for cls in subject:
        if cls is not type(posterior) and issubclass(cls, type(posterior)):
            posterior.__class__ = cls
    return posterior


def _iid_estimates(posterior: Posterior, mean: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Sample mean, second moment about ``mean`` and their standard errors from ``rsample`` (i.i.d.)."""
    samples = torch.cat([posterior.rsample(torch.Size([1024])) for _ in range(NUM_SAMPLES // 1024)]).double()
    squares = (samples - mean).square()
    root_n = NUM_SAMPLES**0.5
    return samples.mean(0), samples.std(0) / root_n, squares.mean(0), squares.std(0) / root_n


def _z_scores(posterior: Posterior, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed z-scores, coordinate by coordinate, of the sample mean and of the sample second moment."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        mean, variance = posterior.mean.double(), posterior.variance.double()
        # the second moment about the reported mean: unbiased for the variance when the mean is
        # right (which z_mean checks), with an exact first-order standard error even for mixtures of
        # two draws, where that of the sample variance vanishes
        sample_mean, mean_se, second, second_se = _iid_estimates(posterior, mean)
    roundoff = 1e-9 * (1 + mean.abs() + variance)
    return (sample_mean - mean) / (mean_se + roundoff), (second - variance) / (second_se + roundoff)


# ------------------------------------------------------------------ direct constructions


def _direct(inst: MomentsInstance, layout: tuple[int, ...], m: int, g: torch.Generator):
    """(name, posterior, (loc, scale) of a marginal posterior or None) per class, `layout x q x m`."""
    shape = (*layout, inst.q, m)
    s = inst.num_draws
    values = torch.randn(s, *shape, generator=g, dtype=torch.float64) * 2 + 1
    spread = values.var(0, correction=0).mean().clamp_min(0.1)
    per_draw = spread * torch.exp(torch.randn(s, *[1] * (len(shape) - 1), m, generator=g))
    per_point = spread * torch.exp(torch.randn(s, *shape, generator=g, dtype=torch.float64))
    yield "SampleEnsemblePosterior, no noise", SampleEnsemblePosterior.from_values(values), None
    noisy = SampleEnsemblePosterior.from_values(values, per_draw)
    yield "SampleEnsemblePosterior, noise per draw", noisy, None
    lazy = SampleEnsemblePosterior(
        lambda indices: values[indices], s, values.shape[1:], dtype=values.dtype, device=values.device,
        noise_variance=per_point,
    )  # fmt: skip
    yield "SampleEnsemblePosterior (lazy), noise per point", lazy, None
    weights = torch.randn(m, generator=g, dtype=torch.float64)
    yield "SampleEnsemblePosterior.affine", lazy.affine(weights, 0.7), None
    # bar distributions per point and output
    k = 6
    borders = torch.cat([torch.zeros(1), torch.rand(k, generator=g).add(0.2).cumsum(0)]).double() - 2
    logits = 2 * torch.randn(*shape, k, generator=g, dtype=torch.float64)
    bars = BarDistribution(borders, logits, full_support=True)
    loc = torch.randn(m, generator=g, dtype=torch.float64)
    marginal = MarginalPosterior(bars, loc=loc, scale=inst.scale)
    yield "MarginalPosterior over bar distributions", marginal, (loc, inst.scale)
    if m == 1:
        affine = marginal.affine(torch.tensor([-1.7], dtype=torch.float64), 0.3)
        yield "MarginalPosterior.affine", affine, (0.3 - 1.7 * loc, -1.7 * inst.scale)
    # Student-t scale mixtures: per output, f = mean + sigma L z, sigma^2 ~ InvGamma(c, r)
    mean = torch.randn(*shape, generator=g, dtype=torch.float64)
    a = torch.randn(*layout, m, inst.q, inst.q, generator=g, dtype=torch.float64)
    tril = torch.linalg.cholesky(a @ a.transpose(-1, -2) + 0.1 * torch.eye(inst.q, dtype=torch.float64))
    concentration = torch.tensor(
        [inst.concentration, math.exp(inst.log_concentration_2)][:m], dtype=torch.float64
    )
    rate = torch.rand(m, generator=g, dtype=torch.float64) + 0.5
    mixture = ScaleMixtureNormalPosterior(mean, tril, concentration, rate)
    yield "ScaleMixtureNormalPosterior", mixture, None
    scale = torch.full((m,), inst.scale, dtype=torch.float64)
    rescaled = mixture.rescaled(scale, torch.ones(m, dtype=torch.float64))
    yield "ScaleMixtureNormalPosterior.rescaled", rescaled, None
    if m == 1:
        yield "ScaleMixtureNormalPosterior.affine", mixture.affine(torch.tensor([-inst.scale]), 0.3), None


# ------------------------------------------------------------------------ surrogates


def _training_data(d: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(8, d, generator=g, dtype=torch.float64)
    outputs = [torch.sin(6 * x).sum(-1), (x - 0.3).square().sum(-1) + 0.1 * torch.randn(8, generator=g)]
    return x, torch.stack(outputs[:m], -1).to(torch.float64)


SURROGATES = {
    "GP": lambda x, y: GP(x, y),
    "IBNN": lambda x, y: IBNN(x, y),
    "DKL": lambda x, y: DKL(x, y, width=8, train_steps=5, seed=0),
    "LaplaceBNN": lambda x, y: LaplaceBNN(x, y, width=8, map_steps=5, seed=0),
    "DeepEnsemble": lambda x, y: DeepEnsemble(x, y, n_models=4, width=8, steps=5, seed=0),
    "SVIBNN": lambda x, y: SVIBNN(x, y, width=8, depth=1, steps=5, num_draws=8, seed=0),
    "HMCBNN": lambda x, y: HMCBNN(
        x, y, width=4, depth=1, num_samples=4, warmup_steps=4, max_tree_depth=3, map_steps=5, seed=0
    ),
    "StudentTP": lambda x, y: StudentTP(x, y, steps=3),
    "PFNSurrogate": lambda x, y: PFNSurrogate(x, y),
}


@functools.cache
def _fitted(name: str, m: int):
    """The surrogate ``name`` fitted once on tiny budgets (m outputs; the PFN has d = 1, m = 1)."""
    x, y = _training_data(1 if name == "PFNSurrogate" else 2, 1 if name == "PFNSurrogate" else m)
    return SURROGATES[name](x, y).fit()


def _surrogates(inst: MomentsInstance, g: torch.Generator):
    for i, name in enumerate(SURROGATES):
        layout = LAYOUTS[(i + inst.rotation) % len(LAYOUTS)]
        model = _fitted(name, 1 + (i + inst.rotation) % 2)
        d = model.train_X.shape[-1] if hasattr(model, "train_X") else model.train_inputs[0].shape[-1]
        x = torch.rand(*layout, inst.q, d, generator=g, dtype=torch.float64)
        for noise in (False, True):
            with torch.no_grad():
                posterior = model.posterior(x, observation_noise=noise)
            if isinstance(posterior, MarginalPosterior):  # the PFN: standardised outputs
                transform = model.outcome_transform
                affine = (transform.means[..., 0], transform.stdvs[..., 0])
            else:
                affine = None
            yield f"{name}, observation_noise={noise}, X {(*layout, inst.q, d)}", posterior, affine


def _bar_moments(dist: BarDistribution) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, variance and second moment of a bar distribution by quadrature of its density."""
    nodes, weights = bar_quadrature(dist.borders.double().numpy(), dist.full_support)
    y = torch.as_tensor(nodes).reshape(-1, *[1] * len(dist.batch_shape))
    w = torch.as_tensor(weights).reshape_as(y)
    with torch.no_grad():
        density = dist.log_prob(y.to(dist.logits.dtype)).double().exp()
    mean = (w * y * density).sum(0)
    second = (w * y.square() * density).sum(0)
    return mean, second - mean.square(), second


def _marginal_errors(posterior: MarginalPosterior, loc, scale, seed: int) -> tuple[float, float]:
    """(KS distance of rsample from loc + scale Y, relative error of the moments vs quadrature).

    A bar distribution may hold its variance in buckets of mass ~1e-5 (the shipped PFNs'
    predictives do), which no affordable Monte-Carlo sample resolves, nor its standard error: the
    law rsample draws is checked by a distribution-free KS test instead, and the moments of that
    law -- loc + scale E[Y], scale^2 Var[Y] -- by quadrature of the density.
    """
    dist = posterior.distribution
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        samples = torch.cat([posterior.rsample(torch.Size([1024])) for _ in range(NUM_SAMPLES // 1024)])
        standardised = (samples.double() - loc) / scale
        cdf = dist.cdf(standardised.to(dist.logits.dtype)).double().sort(0).values
        mean, variance = posterior.mean.double(), posterior.variance.double()
    ranks = torch.arange(1, NUM_SAMPLES + 1, dtype=torch.float64).view(-1, *[1] * (cdf.dim() - 1))
    ks = torch.maximum(ranks / NUM_SAMPLES - cdf, cdf - (ranks - 1) / NUM_SAMPLES).max()
    y_mean, y_var, y_second = _bar_moments(dist)
    scale = torch.as_tensor(scale, dtype=torch.float64)
    expected_mean = loc + scale * y_mean
    mean_error = (mean - expected_mean).abs() / (1e-9 * (1 + expected_mean.abs()))
    var_error = (variance - scale.square() * y_var).abs() / (1e-9 * scale.square() * y_second + 1e-300)
    return float(ks), float(torch.maximum(mean_error.max(), var_error.max()))


def _check(inst: MomentsInstance, subject) -> list[Evidence]:
    g = torch.Generator().manual_seed(inst.seed)
    worst = {key: (0.0, "") for key in ("mean", "variance", "ks", "quadrature")}
    z_scores: dict[str, list[float]] = {"mean": [], "variance": []}  # every coordinate, for the report

    def record(key: str, value: float, name: str) -> None:
        if value > worst[key][0]:
            worst[key] = (value, name)

    cases = [
        (f"{name}, batch {layout}, m = {m}", p, a)
        for layout in LAYOUTS
        for m in (1, 2)
        for name, p, a in _direct(inst, layout, m, g)
    ]
    cases += list(_surrogates(inst, g))
    for i, (name, posterior, affine) in enumerate(cases):
        posterior = _as_subject(posterior, subject)
        if isinstance(posterior, MarginalPosterior):
            ks, quadrature = _marginal_errors(posterior, *affine, inst.seed + i)
            record("ks", ks, name)
            record("quadrature", quadrature, name)
        else:
            z_mean, z_var = _z_scores(posterior, inst.seed + i)
            record("mean", float(z_mean.abs().max()), name)
            record("variance", float(z_var.abs().max()), name)
            z_scores["mean"] += z_mean.flatten().tolist()
            z_scores["variance"] += z_var.flatten().tolist()
    reason = f"z = {Z:g}: max over coordinates of |difference| / standard error of {NUM_SAMPLES} samples"
    return [
        Evidence.at_most(
            "max |sample mean of rsample - posterior.mean| / SE", worst["mean"][0], Z, reason,
            worst_case=worst["mean"][1], posteriors=len(cases), z_scores=z_scores,
        ),
        Evidence.at_most(
            "max |mean of (rsample - mean)^2 - posterior.variance| / SE", worst["variance"][0], Z, reason,
            worst_case=worst["variance"][1],
        ),
        Evidence.at_most(
            "marginal posteriors: max KS distance of (rsample - loc) / scale from the bar distribution",
            worst["ks"][0], KS_CRITICAL,
            f"KS critical value at false-alarm probability {KS_ALPHA:g} per coordinate, {NUM_SAMPLES} draws",
            worst_case=worst["ks"][1],
        ),
        Evidence.at_most(
            "marginal posteriors: max |moment - quadrature of loc + scale Y| / 1e-9 (relative)",
            worst["quadrature"][0], 1.0, "round-off of the closed-form moments (E[Y^2] - E[Y]^2)",
            worst_case=worst["quadrature"][1],
        ),
    ]  # fmt: skip


def plot(records, ax) -> None:
    """Signed z-scores of every coordinate's sample mean and second moment against N(0, 1)."""
    groups: dict[str, list[float]] = {"sample mean vs posterior.mean": [], "second moment vs .variance": []}
    for _, evidence in records:
        z = evidence[0].details["z_scores"]
        groups["sample mean vs posterior.mean"] += z["mean"]
        groups["second moment vs .variance"] += z["variance"]
    z_score_histogram(ax, groups, Z)
    label_axes(ax, f"(moment of {NUM_SAMPLES} rsample draws - reported) / SE", "density")


# --------------------------------------------------------------------------------- mutants


class _EnsembleWithoutNoise(SampleEnsemblePosterior):
    """Mutant: the mixture variance without the mean observation noise."""

    @property
    def variance(self):  # noqa: D102
        return self.values.var(dim=0, correction=0)


class _EnsembleWithoutSpread(SampleEnsemblePosterior):
    """Mutant: the mixture variance without the between-draw term (the noise only)."""

    @property
    def variance(self):  # noqa: D102
        noise = self.observation_noise
        return torch.zeros_like(self.mean) if noise is None else noise.mean(dim=0)


class _ScaleMixtureMode(ScaleMixtureNormalPosterior):
    """Mutant: E[sigma^2] of InvGamma(c, r) taken as r / c (the -1 of r / (c - 1) dropped)."""

    @property
    def variance(self):  # noqa: D102
        unit = self._tril.square().sum(-1).transpose(-1, -2)
        return unit * self.rate / self.concentration


class _MarginalScaleNotSquared(MarginalPosterior):
    """Mutant: Var[loc + scale Y] = scale Var[Y] (the square of the scale forgotten)."""

    @property
    def variance(self):  # noqa: D102
        return self._scale * self.distribution.variance


def _replacing(mutant: type) -> tuple[type, ...]:
    return tuple(mutant if issubclass(mutant, cls) else cls for cls in POSTERIOR_CLASSES)


POSTERIOR_MOMENTS_CLAIM = Claim(
    id="bo.posterior_moments",
    title="Every BoTorch posterior's mean and variance are the moments of its rsample",
    paper=BALANDAT_BOTORCH_2020,
    section="Sec. 4",
    related=(LI_RUDNER_WILSON_2024,),
    statement=(
        "For every posterior in bo (sample ensembles with and without noise, marginal bar-distribution "
        "posteriors, Student-t scale mixtures, their affine maps) and the posterior of every surrogate in "
        "bo.models, with and without observation noise, in every batch layout and for q >= 1, the reported "
        "mean and variance are those of the law rsample draws (Monte-Carlo within 5 standard errors; for "
        "bar distributions, whose variance may sit in buckets of mass ~1e-5, a KS test of the law and "
        "quadrature of its moments); for a mixture of draws the variance is the between-draw variance plus "
        "the mean noise."
    ),
    formula=(
        r"|\mathrm{mean}(\mathrm{rsample}) - \mathrm{mean}| \le 5\,\mathrm{SE},\quad "
        r"|\mathbb{E}(\mathrm{rsample} - \mathrm{mean})^2 - \mathrm{variance}| \le "
        r"5\,\mathrm{SE};\quad \mathrm{Var} = \mathrm{Var}_s[f_s] + \mathbb{E}_s[\sigma_s^2]"
    ),
    strategy=_instances,
    check=_check,
    subject=POSTERIOR_CLASSES,
    mutants=(
        Mutant(
            "ensemble-variance-without-noise",
            "sample-ensemble variance misses the observation noise",
            _replacing(_EnsembleWithoutNoise),
        ),
        Mutant(
            "ensemble-variance-without-spread",
            "sample-ensemble variance misses the between-draw term",
            _replacing(_EnsembleWithoutSpread),
        ),
        Mutant(
            "student-t-variance-r-over-c",
            "scale-mixture variance uses r / c for E[sigma^2] = r / (c - 1)",
            _replacing(_ScaleMixtureMode),
        ),
        Mutant(
            "marginal-scale-not-squared",
            "marginal posterior variance scale Var[Y] instead of scale^2 Var[Y]",
            _replacing(_MarginalScaleNotSquared),
        ),
    ),
    examples={"ci": 2, "thorough": 30},
    mutant_examples=2,
    plot=plot,
)
