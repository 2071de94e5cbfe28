"""Claims ``dkm.nngp_limit`` and ``dkm.sparse_equals_exact`` (deep kernel machines).

Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, *A theory of representation learning gives a
deep generalisation of kernel methods* (ICML 2023; arXiv 2108.13097); the two closed-form
oracles below follow from the DKM objective (docs/derivations.md, §9):

* with nu -> infinity every Gram matrix is pinned to G_l = K(G_{l-1}) and the DKM objective is
  the log marginal likelihood of the NNGP Gaussian process (to 1e-6 in float64);
* the sparse (inducing-point) objective with every training input as an inducing point equals
  the exact objective (relative 1e-8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from probtheory.gp import DeepKernelMachine
from probtheory.gp.gram_kernels import ReluGramKernel, StructuredGram
from probtheory.kernels import NNGPKernel
from proofs_checks.catalog.bibliography import YANG_DKM_2023
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.strategies import seeds


@dataclass(frozen=True)
class DKMInstance:
    depth: int
    n: int
    weight_variance: float
    bias_variance: float
    noise: float
    seed: int


def _data(inst: DKMInstance) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(inst.seed)
    x = torch.randn(inst.n, 3, generator=g, dtype=torch.float64)
    y = torch.sin(2 * x[:, 0]) + 0.3 * torch.randn(inst.n, generator=g, dtype=torch.float64)
    return x, y


def _model(cls, inst: DKMInstance, x, y, **options) -> DeepKernelMachine:
    kernel = ReluGramKernel(inst.weight_variance, inst.bias_variance)
    return cls(x, y, depth=inst.depth, kernel=kernel, noise=inst.noise, **options)


def _check_nngp_limit(inst: DKMInstance, cls) -> Evidence:
    x, y = _data(inst)
    with torch.no_grad():
        objective = _model(cls, inst, x, y, dof=math.inf).objective().item()
        nngp = NNGPKernel(depth=inst.depth + 1).double()
        nngp.weight_variance, nngp.bias_variance = inst.weight_variance, inst.bias_variance
        cov = nngp(x).to_dense() + inst.noise * torch.eye(inst.n, dtype=torch.float64)
        reference = torch.distributions.MultivariateNormal(torch.zeros(inst.n, dtype=torch.float64), cov)
        expected = reference.log_prob(y).item()
    return Evidence.at_most(
        "|DKM objective (dof = inf) - NNGP GP log marginal likelihood|", abs(objective - expected), 1e-6,
        "float64 agreement of two exact computations", objective=objective, nngp=expected,
    )  # fmt: skip


def _check_sparse_equals_exact(inst: DKMInstance, cls) -> Evidence:
    x, y = _data(inst)
    with torch.no_grad():
        # no jitter: the identity is exact only for the unregularised matrices
        exact = _model(DeepKernelMachine, inst, x, y, dof=1.0, jitter=0.0).objective().item()
        sparse = _model(cls, inst, x, y, dof=1.0, num_inducing=inst.n, jitter=0.0).objective().item()
    return Evidence.at_most(
        "relative difference of the sparse (all points inducing) and exact DKM objectives",
        abs(sparse - exact) / max(1.0, abs(exact)), 1e-8, "float64 agreement of two exact computations",
        exact=exact, sparse=sparse,
    )  # fmt: skip


class _WithoutLogDeterminant(DeepKernelMachine):
    """Mutant: the top-layer GP likelihood forgets its log-determinant (Occam) term."""

    def _log_marginal_likelihood(self, k: torch.Tensor) -> torch.Tensor:
        chol = torch.linalg.cholesky(k + self.noise * torch.eye(k.shape[0], dtype=k.dtype))
        alpha = torch.linalg.solve_triangular(chol, self.train_y, upper=False)
        return -0.5 * (alpha.square().sum() + self.num_outputs * k.shape[0] * math.log(2 * math.pi))


class _CrossBlockWithoutSolve(DeepKernelMachine):
    """Mutant: data points get G_ti = K_ti G_ii, the K_ii^{-1} of the GP conditional forgotten."""

    def _gram_layer(self, k: StructuredGram, chol: torch.Tensor, factor: torch.Tensor):  # noqa: D102
        kl, gram = super()._gram_layer(k, chol, factor)
        v = chol @ factor if self.whiten else factor
        wrong = k.ti @ v
        prior = torch.linalg.solve_triangular(chol, k.ti.T, upper=False).square().sum(0)
        g_t = k.t - prior + wrong.square().sum(1) / self._size
        return kl, StructuredGram(gram.ii, wrong @ v.T / self._size, g_t)


_STRATEGY = lambda: st.builds(  # noqa: E731
    DKMInstance,
    st.integers(1, 2),
    st.integers(8, 24),
    st.floats(1.0, 2.5),
    st.floats(0.05, 0.5),
    st.floats(0.02, 0.5),
    seeds(),
)


NNGP_LIMIT_CLAIM = Claim(
    id="dkm.nngp_limit",
    title="With nu -> infinity the DKM objective is the NNGP marginal likelihood",
    paper=YANG_DKM_2023,
    statement=(
        "Infinite degrees of freedom pin every Gram matrix to the kernel of the previous layer, "
        "G_l = K(G_{l-1}); the DKM objective is then the log marginal likelihood of the GP with "
        "the NNGP kernel (one layer deeper: the input layer is dense)."
    ),
    formula=(
        r"L(G_1, \dots, G_L; \nu = \infty) = \log \mathcal{N}(y; 0, K_{\mathrm{NNGP}}^{(L+1)} + "
        r"\sigma^2 I)"
    ),
    strategy=_STRATEGY,
    check=_check_nngp_limit,
    subject=DeepKernelMachine,
    mutants=(
        Mutant(
            "no-log-determinant",
            "the top GP likelihood without its log-determinant term",
            _WithoutLogDeterminant,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
)

SPARSE_EQUALS_EXACT_CLAIM = Claim(
    id="dkm.sparse_equals_exact",
    title="The sparse DKM with every point inducing equals the exact DKM",
    paper=YANG_DKM_2023,
    statement=(
        "Propagating Gram matrices to data points through inducing points is the GP conditional; "
        "with all training inputs as inducing points it is exact, and so is the sparse objective."
    ),
    formula=r"L_{\mathrm{sparse}}(Z = X) = L_{\mathrm{exact}}",
    strategy=_STRATEGY,
    check=_check_sparse_equals_exact,
    subject=DeepKernelMachine,
    mutants=(
        Mutant(
            "cross-block-without-solve",
            "G_ti = K_ti G_ii instead of K_ti K_ii^-1 G_ii",
            _CrossBlockWithoutSolve,
        ),
    ),  # fmt: skip
    examples={"ci": 4, "thorough": 40},
    mutant_examples=2,
)
