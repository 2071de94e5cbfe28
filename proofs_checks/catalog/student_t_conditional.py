r"""Claim ``tp.exact_conditional`` (the Student-t process predictive is the joint's exact conditional).

Shah, Wilson & Ghahramani, *Student-t Processes as Alternatives to Gaussian Processes*
(AISTATS 2014), Sec. 3: the finite-dimensional laws of a Student-t process are multivariate t,
and the conditional of a multivariate t given n of its coordinates is again multivariate t,
with n more degrees of freedom, the Gaussian conditional's location, and a scale inflated by
the data fit (nu + beta) / (nu + n), beta = y^T Sigma^{-1} y. Lee, Yun, Yang & Lee (ICLR 2022)
parameterise the process by the inverse-gamma scale prior sigma^2 ~ InvGamma(a, b) of an NNGP's
readout, with the observation noise inside the mixture: y ~ MVT(nu = 2a, 0, (b/a)(K + eps I)).

So for any kernel, a, b, eps, training data (x, y) and test input x*, the predictive of
``StudentTProcess.posterior`` must equal

    p(y* | y) = MVT_{n+1}((y, y*); 2a, 0, (b/a)(K_{n+1} + eps I)) / MVT_n(y; 2a, 0, (b/a)(K_n + eps I)),

and ``marginal_log_likelihood`` must be log MVT_n(y; 2a, 0, (b/a)(K_n + eps I)). Both
references are scipy's ``multivariate_t`` log-densities of the joint and of the training
marginal, built from the kernel's Gram matrix of all n + 1 inputs -- no conditioning formula
enters the reference. Log-densities are compared on a grid of 9 values per test point (the
predictive's location +- 0, 0.5, 2, 5, 20 Gaussian-conditional scales, where the mutants differ
by O(1)). Tolerance: 1e3 cond(Sigma) eps (1 + |log p|), the round-off of two factorisations of
a matrix of that condition number.

Every instance checks the NNGP kernel (drawn depth, activation of each family, variances) and a
GPyTorch RBF kernel, each with context sizes 1 (the smallest ``StudentTProcess`` accepts: an empty
context raises ``InputDataError``; the predictive is then the prior's), a drawn n and 16, and one
and several test points. The regimes: the activation family, and a drawn n strictly between 1 and
16 (where the conditioning mixes both ends).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gpytorch.kernels import RBFKernel, ScaleKernel
from hypothesis import strategies as st
from scipy.stats import multivariate_t

from probtheory.gp import StudentTProcess
from probtheory.kernels import NNGPKernel
from proofs_checks.catalog.bibliography import LEE_SCALE_MIXTURES_2022, SHAH_WILSON_GHAHRAMANI_2014
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import activation_cases, activation_family, seeds

MAX_CONTEXT = 16
ACTIVATIONS = ("relu", "erf", "tanh")  # one of each family: ReLU-type, erf, quadrature
OFFSETS = np.array([-20.0, -5.0, -2.0, -0.5, 0.0, 0.5, 2.0, 5.0, 20.0])


@dataclass(frozen=True)
class ConditionalInstance:
    context: int
    num_test: int
    dim: int
    log_concentration: float
    log_rate: float
    log_noise: float
    log_data_scale: float
    depth: int
    activation: str
    seed: int


def _instances() -> st.SearchStrategy[ConditionalInstance]:
    return st.builds(
        ConditionalInstance,
        context=st.integers(1, MAX_CONTEXT),
        num_test=st.integers(2, 4),
        dim=st.integers(1, 3),
        log_concentration=st.floats(-1.0, 3.5),  # a in [0.37, 33]
        log_rate=st.floats(-3.0, 3.0),
        log_noise=st.floats(-7.0, 0.0),
        log_data_scale=st.floats(-2.0, 2.5),  # how far y is from the prior's scale: the data fit
        depth=st.integers(1, 3),
        activation=st.sampled_from(ACTIVATIONS),
        seed=seeds(),
    )


def _kernels(inst: ConditionalInstance, generator: torch.Generator):
    nngp = NNGPKernel(
        depth=inst.depth,
        activation=inst.activation,
        weight_variance=float(0.5 + 2 * torch.rand((), generator=generator)),
        bias_variance=float(0.5 * torch.rand((), generator=generator)),
    )
    rbf = ScaleKernel(RBFKernel())
    rbf.base_kernel.lengthscale = float(0.1 + torch.rand((), generator=generator))
    rbf.outputscale = float(0.5 + 2 * torch.rand((), generator=generator))
    return {"NNGP kernel": nngp.double(), "RBF kernel": rbf.double()}


def _check_one(subject, kernel, x, y, x_test, a: float, b: float, eps: float) -> tuple[float, float]:
    """(max relative error of the predictive's log-density, that of the marginal likelihood)."""
    n = len(y)
    tp = subject(x, y, kernel, concentration=a, rate=b, noise=eps)
    with torch.no_grad():
        predictive = tp.posterior(x_test)
        mll = float(tp.marginal_log_likelihood())
        inputs = torch.cat([x, x_test])
        # the parameters as the model holds them (stored through a softplus: a few ulps away)
        a, b, eps = float(tp.concentration), float(tp.rate), float(tp.noise)
        gram = kernel(inputs).to_dense().numpy() + eps * np.eye(len(inputs))
    shape = b / a * gram  # (b/a)(K + eps I) over the n training and m test inputs
    df = 2 * a
    train = multivariate_t(np.zeros(n), shape[:n, :n], df=df)
    reference_mll = float(train.logpdf(y.numpy()))
    worst = 0.0
    loc = predictive.loc.numpy()
    for j in range(len(x_test)):
        rows = list(range(n)) + [n + j]
        joint = multivariate_t(np.zeros(n + 1), shape[np.ix_(rows, rows)], df=df)
        # grid around the Gaussian conditional (independent of the library)
        cross = shape[n + j, :n]
        grid = loc[j] + OFFSETS * np.sqrt(shape[n + j, n + j] - cross @ np.linalg.solve(shape[:n, :n], cross))
        points = np.column_stack([np.tile(y.numpy(), (len(grid), 1)), grid])
        reference = joint.logpdf(points) - reference_mll
        measured = predictive.log_prob(torch.as_tensor(grid).unsqueeze(-1).expand(-1, len(x_test)))[:, j]
        tol = 1e3 * np.linalg.cond(shape[np.ix_(rows, rows)]) * np.finfo(float).eps
        worst = max(
            worst, float((np.abs(measured.numpy() - reference) / (tol * (1 + np.abs(reference)))).max())
        )
    tol = 1e3 * np.linalg.cond(shape[:n, :n]) * np.finfo(float).eps
    return worst, abs(mll - reference_mll) / (tol * (1 + abs(reference_mll)))


def _check(inst: ConditionalInstance, subject) -> list[Evidence]:
    g = torch.Generator().manual_seed(inst.seed)
    a, b, eps = (
        float(np.exp(inst.log_concentration)),
        float(np.exp(inst.log_rate)),
        float(np.exp(inst.log_noise)),
    )
    x_all = torch.rand(MAX_CONTEXT, inst.dim, generator=g, dtype=torch.float64)
    # heavy-tailed targets at a drawn scale, so the data fit beta / n is far from its prior value
    y_all = _student_t(MAX_CONTEXT, g) * float(np.exp(inst.log_data_scale))
    x_test = torch.rand(inst.num_test, inst.dim, generator=g, dtype=torch.float64)
    worst = {"predictive": (0.0, ""), "marginal": (0.0, "")}
    for name, kernel in _kernels(inst, g).items():
        for n in sorted({1, inst.context, MAX_CONTEXT}):
            for tests in (x_test[:1], x_test):
                predictive, marginal = _check_one(subject, kernel, x_all[:n], y_all[:n], tests, a, b, eps)
                where = (
                    f"{name}, n = {n}, {len(tests)} test point(s), a = {a:.3g}, b = {b:.3g}, eps = {eps:.2g}"
                )
                if predictive > worst["predictive"][0]:
                    worst["predictive"] = (predictive, where)
                if marginal > worst["marginal"][0]:
                    worst["marginal"] = (marginal, where)
    reason = "1e3 cond(Sigma) eps (1 + |log p|): round-off of factorising Sigma"
    return [
        Evidence.at_most(
            "max |log p(y* | y) - [log MVT(y, y*) - log MVT(y)]| / tolerance, posterior(), on the grid",
            worst["predictive"][0], 1.0, reason, worst_case=worst["predictive"][1],
        ),
        Evidence.at_most(
            "|marginal_log_likelihood() - log MVT(y; 2a, 0, (b/a)(K + eps I))| / tolerance",
            worst["marginal"][0], 1.0, reason, worst_case=worst["marginal"][1],
        ),
    ]  # fmt: skip


def _student_t(num: int, generator: torch.Generator) -> torch.Tensor:
    """``num`` draws of a Student t with 3 degrees of freedom, from ``generator`` (normal / chi)."""
    z = torch.randn(num, generator=generator, dtype=torch.float64)
    chi2 = (torch.randn(num, 3, generator=generator, dtype=torch.float64) ** 2).sum(-1)
    return z / torch.sqrt(chi2 / 3)


def _regimes(inst: ConditionalInstance) -> dict[str, str | tuple[str, ...]]:
    drawn = "2 to 15" if 1 < inst.context < MAX_CONTEXT else None
    return {
        "activation family": activation_family(inst.activation),
        "context size": ("1", *([drawn] if drawn else []), f"{MAX_CONTEXT} (the most)"),
        "kernel": ("NNGP", "RBF"),
        "test points": ("one", "several"),
    }


REGIMES = Regimes(
    of=_regimes,
    cases={
        "activation family": activation_cases(ACTIVATIONS),
        "context size": {
            "1": None,
            "2 to 15": {"context": st.integers(2, MAX_CONTEXT - 1)},
            f"{MAX_CONTEXT} (the most)": None,
        },
        "kernel": {"NNGP": None, "RBF": None},
        "test points": {"one": None, "several": None},
    },
)


# --------------------------------------------------------------------------------- mutants


class _PriorDegreesOfFreedom(StudentTProcess):
    """Mutant: the predictive keeps the prior's 2a degrees of freedom instead of 2a + n."""

    def posterior(self, test_x):  # noqa: D102
        predictive = super().posterior(test_x)
        return torch.distributions.StudentT(2 * self.concentration, predictive.loc, predictive.scale)


class _NoDataFit(StudentTProcess):
    """Mutant: the predictive scale^2 is (b/a) times the Gaussian conditional variance.

    The data fit (b + y^T (K + eps I)^{-1} y / 2) / (a + n/2) of the posterior is replaced by the prior's b/a.
    """

    def posterior(self, test_x):  # noqa: D102
        predictive = super().posterior(test_x)
        a, b, n = self.concentration, self.rate, len(self.train_y)
        k = self.kernel(self.train_x).to_dense() + self.noise * torch.eye(n, dtype=torch.float64)
        fit = (b + self.train_y @ torch.linalg.solve(k, self.train_y) / 2) / (a + n / 2)
        return torch.distributions.StudentT(
            predictive.df, predictive.loc, predictive.scale * (b / a / fit).sqrt()
        )


EXACT_CONDITIONAL_CLAIM = Claim(
    id="tp.exact_conditional",
    title="The Student-t process predictive is the exact conditional of the joint multivariate t",
    paper=SHAH_WILSON_GHAHRAMANI_2014,
    section="Sec. 3",
    related=(LEE_SCALE_MIXTURES_2022,),
    statement=(
        "With sigma^2 ~ InvGamma(a, b) and noise inside the mixture, the training targets and a test "
        "target are jointly multivariate t with 2a degrees of freedom and shape (b/a)(K + eps I); the "
        "predictive of StudentTProcess.posterior is the conditional of that joint given the training "
        "targets (2a + n degrees of freedom, scale inflated by the data fit), and its marginal likelihood "
        "is the joint's training marginal -- for any kernel, a, b, eps and context size."
    ),
    formula=(
        r"\log p(y^* \mid y) = \log \mathrm{MVT}_{n+1}((y, y^*); 2a, 0, (b/a)(K + \epsilon I)) - "
        r"\log \mathrm{MVT}_n(y; 2a, 0, (b/a)(K + \epsilon I))"
    ),
    strategy=_instances,
    check=_check,
    subject=StudentTProcess,
    mutants=(
        Mutant(
            "prior-degrees-of-freedom",
            "predictive with 2a degrees of freedom instead of 2a + n",
            _PriorDegreesOfFreedom,
        ),
        Mutant(
            "no-data-fit",
            "predictive scale without the data-fit factor (b + beta/2)/(a + n/2), b/a instead",
            _NoDataFit,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
    regimes=REGIMES,
)
