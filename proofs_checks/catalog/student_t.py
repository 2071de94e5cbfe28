"""Claims ``tp.student_t_readout`` and ``tp.gp_limit`` (scale mixtures of NNGPs).

Lee, Yun, Yang & Lee, *Scale Mixtures of Neural Network Gaussian Processes* (ICLR 2022):

* a network whose readout weights share one variance sigma^2 ~ InvGamma(a, b) has, given its
  hidden features x^L, the exact output law f / sqrt((b/a) |x^L|^2 / n) ~ t_{2a} — at any
  width, since f | sigma^2 is Gaussian and the normal-inverse-gamma mixture is a Student t —
  while per-weight variances average out to a Gaussian by the central limit theorem: heavy tails
  need a *shared* scale;
* the Student-t process tends to the GP with kernel (b/a) K as a, b -> infinity with b/a fixed,
  with a log-density gap O(1/a).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from scipy import stats

from probtheory.gp import StudentTProcess
from probtheory.kernels import NNGPKernel
from probtheory.networks import MLP
from proofs_checks.catalog.bibliography import LEE_SCALE_MIXTURES_2022
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import BOUND, instance_label, label_axes, power_law_guide
from proofs_checks.statistics import fit_loglog_slope
from proofs_checks.strategies import activation_regimes, seeds

DRAWS = 10_000
READOUT_ACTIVATIONS = ("relu", "erf", "tanh")  # one of each family: ReLU-type, erf, quadrature
WIDTH = 256
# KS critical value at false-alarm probability 1e-4: sqrt(-ln(1e-4 / 2) / (2 N))
KS_CRITICAL = math.sqrt(-math.log(0.5e-4) / (2 * DRAWS))


@dataclass(frozen=True)
class ReadoutInstance:
    concentration: float
    rate: float
    depth: int
    activation: str
    seed: int


def _inverse_gamma(shape: tuple[int, ...], a: float, b: float, generator: torch.Generator) -> torch.Tensor:
    """InvGamma(a, b) draws, as 1 / Gamma(a, rate b).

    torch's Gamma sampler takes no generator, so the global RNG is forked and seeded from it.
    """
    gamma = torch.distributions.Gamma(
        torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (), generator=generator)))
        return 1.0 / gamma.sample(shape)


def shared_scale_readout(
    num: int, width: int, a: float, b: float, generator: torch.Generator
) -> torch.Tensor:
    """Readout weights `num x width`: one sigma^2 ~ InvGamma(a, b) per network, v ~ N(0, sigma^2 / n)."""
    variance = _inverse_gamma((num, 1), a, b, generator)
    return torch.randn(num, width, generator=generator, dtype=torch.float64) * (variance / width).sqrt()


def per_weight_scale_readout(
    num: int, width: int, a: float, b: float, generator: torch.Generator
) -> torch.Tensor:
    """Mutant: an independent inverse-gamma variance for every readout weight."""
    variance = _inverse_gamma((num, width), a, b, generator)
    return torch.randn(num, width, generator=generator, dtype=torch.float64) * (variance / width).sqrt()


def _check_readout(inst: ReadoutInstance, sampler) -> Evidence:
    g = torch.Generator().manual_seed(inst.seed)
    net = MLP(
        3,
        [WIDTH] * inst.depth,
        activation=inst.activation,
        weight_variance=2.0,
        bias_variance=0.1,
        generator=g,
    )
    x = torch.randn(1, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        _, pre = net(x, return_preactivations=True)
        features = net.activation(pre[-1])[0]  # x^L, `n`
    v = sampler(DRAWS, WIDTH, inst.concentration, inst.rate, g)
    f = v @ features
    t = f / torch.sqrt(inst.rate / inst.concentration * (features**2).sum() / WIDTH)
    law = stats.t(df=2 * inst.concentration)
    ks = stats.kstest(t.numpy(), law.cdf).statistic
    # the empirical CDF minus t_(2a)'s at every 50th order statistic: the curve whose sup is the KS distance
    cdf = law.cdf(torch.sort(t).values.numpy())[::50]
    ecdf = (torch.arange(1, DRAWS + 1, dtype=torch.float64).numpy() / DRAWS)[::50]
    return Evidence.at_most(
        f"KS distance of the standardised output from t_(2a) ({DRAWS} draws)", ks, KS_CRITICAL,
        "KS critical value at false-alarm probability 1e-4",
        cdf=cdf.tolist(), ecdf_minus_cdf=(ecdf - cdf).tolist(),
    )  # fmt: skip


def plot_readout(records, ax) -> None:
    """Empirical CDF of the standardised outputs minus the t_(2a) CDF, inside the KS band."""
    reach = 1.4 * KS_CRITICAL
    for i, (inst, evidence) in enumerate(records):
        d = evidence[0].details
        label = f"2a = {2 * inst.concentration:.2f}, L = {inst.depth}, {inst.activation}"
        ax.plot(d["cdf"], d["ecdf_minus_cdf"], lw=1, label=instance_label(i, label))
        reach = max(reach, 1.1 * max(map(abs, d["ecdf_minus_cdf"])))
    ax.axhline(KS_CRITICAL, label=f"+-KS critical value {KS_CRITICAL:.3f}", **BOUND)
    ax.axhline(-KS_CRITICAL, **BOUND)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set_ylim(-reach, reach)
    label_axes(ax, "t_(2a) CDF at the sample", f"empirical CDF - t_(2a) CDF ({DRAWS} draws)")


@dataclass(frozen=True)
class LimitInstance:
    seed: int
    n: int


def _gap(model_cls, a: float, x, y, xs) -> float:
    tp = model_cls(x, y, NNGPKernel(depth=2, weight_variance=1.5, bias_variance=0.1), a, a, 0.1)
    with torch.no_grad():
        k = tp.kernel(x).to_dense() + 0.1 * torch.eye(len(x), dtype=torch.float64)
        ks = tp.kernel(xs, x).to_dense()
        mean = ks @ torch.linalg.solve(k, y)
        var = tp.kernel(xs, diag=True) + 0.1 - (ks * torch.linalg.solve(k, ks.T).T).sum(-1)
        gp = torch.distributions.Normal(mean, var.sqrt())
        pred = tp.posterior(xs)
        grid = mean[:, None] + var.sqrt()[:, None] * torch.linspace(-3, 3, 13, dtype=torch.float64)
        return float((pred.log_prob(grid.T) - gp.log_prob(grid.T)).abs().max())


A_VALUES = (1e2, 1e3, 1e4, 1e5)


def _check_limit(inst: LimitInstance, model_cls) -> list[Evidence]:
    g = torch.Generator().manual_seed(inst.seed)
    x = torch.rand(inst.n, 2, generator=g, dtype=torch.float64)
    xs = torch.rand(4, 2, generator=g, dtype=torch.float64)
    # data from the model itself, so y^T (K + eps I)^{-1} y ~ n and the asymptotic regime a >> n holds
    with torch.no_grad():
        k = NNGPKernel(depth=2, weight_variance=1.5, bias_variance=0.1).double()(x).to_dense()
        chol = torch.linalg.cholesky(k + 0.1 * torch.eye(inst.n, dtype=torch.float64))
    y = chol @ torch.randn(inst.n, generator=g, dtype=torch.float64)
    gaps = [_gap(model_cls, a, x, y, xs) for a in A_VALUES]
    fit = fit_loglog_slope(A_VALUES, gaps)
    return [
        Evidence.in_range("log-log slope of max |log p_TP - log p_GP| in a = b", fit.slope, -1.3, -0.7,
                          "theory -1 (the t's log density differs from the normal's by O(1/df))", gaps=gaps),
        Evidence.at_most(f"gap at a = b = {A_VALUES[-1]:g}", gaps[-1], 1e-3, "O(1/a) at a = 1e5"),
    ]  # fmt: skip


def plot_limit(records, ax) -> None:
    """Largest log-density gap between the Student-t and the Gaussian predictive against a = b."""
    for i, (inst, evidence) in enumerate(records):
        gaps = evidence[0].details["gaps"]
        ax.plot(
            A_VALUES,
            gaps,
            "o-",
            ms=4,
            label=instance_label(i, f"n = {inst.n} (slope {evidence[0].measured:.2f})"),
        )
    if records:
        power_law_guide(ax, A_VALUES, (A_VALUES[0], records[0][1][0].details["gaps"][0]), -1.0, "slope -1")
    ax.plot(A_VALUES[-1], 1e-3, "kv", ms=6, label="bound at a = 1e5")
    label_axes(ax, "a = b (b/a fixed)", "max |log p_TP - log p_GP|", xscale="log", yscale="log")


class _ShapeWithoutRatio(StudentTProcess):
    """Mutant: predictive scale computed with shape b K instead of (b / a) K."""

    def posterior(self, test_x):  # noqa: D102
        pred = super().posterior(test_x)
        return torch.distributions.StudentT(pred.df, pred.loc, pred.scale * self.concentration.sqrt())


STUDENT_T_READOUT_CLAIM = Claim(
    id="tp.student_t_readout",
    title="A shared inverse-gamma readout variance gives exactly Student-t outputs",
    paper=LEE_SCALE_MIXTURES_2022,
    statement=(
        "Given the hidden features of a network of any width, readout weights with one shared "
        "variance sigma^2 ~ InvGamma(a, b) make the output exactly Student-t with 2a degrees of "
        "freedom and scale sqrt((b/a) |x^L|^2 / n)."
    ),
    formula=r"f \big/ \sqrt{(b/a) |x^L|^2 / n} \sim t_{2a}",
    strategy=lambda: st.builds(
        ReadoutInstance,
        st.floats(1.2, 3.0),
        st.floats(0.5, 2.0),
        st.integers(1, 2),
        st.sampled_from(READOUT_ACTIVATIONS),
        seeds(),
    ),  # fmt: skip
    check=_check_readout,
    subject=shared_scale_readout,
    mutants=(
        Mutant(
            "per-weight-scales",
            "an independent inverse-gamma variance per readout weight (the output averages to a Gaussian)",
            per_weight_scale_readout,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
    regimes=activation_regimes(READOUT_ACTIVATIONS),
    plot=plot_readout,
)

GP_LIMIT_CLAIM = Claim(
    id="tp.gp_limit",
    title="The Student-t process tends to the GP as a, b -> infinity with b/a fixed",
    paper=LEE_SCALE_MIXTURES_2022,
    statement=(
        "The Student-t process predictive with a = b converges to the Gaussian-process "
        "predictive with kernel K + noise, the log-density gap shrinking like 1/a."
    ),
    formula=r"\max_y |\log p_{\mathrm{TP}}(y \mid a = b) - \log p_{\mathrm{GP}}(y)| = O(1/a)",
    strategy=lambda: st.builds(LimitInstance, seeds(), st.integers(3, 12)),
    check=_check_limit,
    subject=StudentTProcess,
    mutants=(
        Mutant(
            "shape-b-not-b-over-a",
            "predictive scale with shape b K instead of (b/a) K",
            _ShapeWithoutRatio,
        ),
    ),  # fmt: skip
    examples={"ci": 3, "thorough": 30},
    mutant_examples=2,
    plot=plot_limit,
)
