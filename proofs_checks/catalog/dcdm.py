r"""Claim ``dcdm.conjugacy`` (DCDM: whatever the network returns, the directions are A-conjugate).

Kaneda, Akar, Chen, Kala, Hyde and Teran, *A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems* (ICML 2023), Algorithm 1: the network's direction :math:`q_k` is
A-orthogonalised against the two previous directions,
:math:`p_k = q_k - \sum_{j=k-2}^{k-1} (q_k^\top Ap_j / p_j^\top Ap_j) p_j`, and the step is the
exact line search :math:`x_{k+1} = x_k + (p_k^\top r_k / p_k^\top Ap_k) p_k`. So for any direction
map (a trained network, an untrained one, a random linear map) each direction is A-conjugate to
the previous two, and the A-norm error never increases.

Checked in float64 on random SPD matrices (condition numbers up to 1e4) with random direction
maps: :math:`|p_i^\top Ap_j| \le 10^{-10}\|p_i\|_A\|p_j\|_A` for :math:`j \in \{i-1, i-2\}`
(rounding of the twice-run Gram-Schmidt is ~1e-15 relative), and
:math:`\|e_{k+1}\|_A^2 \le \|e_k\|_A^2 (1 + 10^{-10})`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import nn

from probtheory.sciml.linear import DCDMSolver, NotConvergedWarning
from proofs_checks.catalog.bibliography import DCDM
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import label_axes
from proofs_checks.strategies import seeds

_DIRECTIONS = ("network", "linear map", "residual")  # the direction maps drawn


@dataclass(frozen=True)
class ConjugacyInstance:
    n: int
    log10_condition: float
    direction: str
    seed: int


@st.composite
def _instances(draw) -> ConjugacyInstance:
    return ConjugacyInstance(
        n=draw(st.integers(8, 40)),
        log10_condition=draw(st.floats(0.5, 4.0)),
        direction=draw(st.sampled_from(_DIRECTIONS)),
        seed=draw(seeds()),
    )


def _direction(inst: ConjugacyInstance):
    generator = torch.Generator().manual_seed(inst.seed + 1)
    if inst.direction == "network":
        torch.manual_seed(inst.seed)
        return nn.Sequential(nn.Linear(inst.n, 32), nn.Tanh(), nn.Linear(32, inst.n)).double()
    if inst.direction == "linear map":
        mixing = torch.randn(inst.n, inst.n, generator=generator, dtype=torch.float64)
        return lambda r: r @ mixing
    return lambda r: r


def _check(inst: ConjugacyInstance, subject) -> list[Evidence]:
    generator = torch.Generator().manual_seed(inst.seed)
    q, _ = torch.linalg.qr(torch.randn(inst.n, inst.n, generator=generator, dtype=torch.float64))
    a = (q * torch.logspace(0, inst.log10_condition, inst.n, dtype=torch.float64)) @ q.T
    b = torch.randn(inst.n, generator=generator, dtype=torch.float64)
    solver = subject(_direction(inst), record=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        solver.solve(a, b, tol=1e-13, maxiter=min(inst.n, 20))
    p = solver.directions
    norms = torch.sqrt(torch.einsum("in,nm,im->i", p, a, p))
    gram = (p @ a @ p.T) / torch.outer(norms, norms)
    worst = max(
        (float(gram[i, j].abs()) for i in range(p.shape[0]) for j in (i - 1, i - 2) if j >= 0), default=0.0
    )
    exact = torch.linalg.solve(a, b)
    errors = torch.stack([(exact - x) @ a @ (exact - x) for x in solver.iterates])
    growth = float((errors[1:] / errors[:-1]).max()) if errors.numel() > 1 else 0.0
    return [
        Evidence.at_most(
            "max |p_i^T A p_j| / (||p_i||_A ||p_j||_A), j = i-1, i-2",
            worst,
            1e-10,
            "float64 Gram-Schmidt run twice leaves ~1e-15; the exact identity with slack",
        ),
        Evidence.at_most(
            "max ||e_{k+1}||_A^2 / ||e_k||_A^2",
            growth,
            1.0,
            "exact A-norm line search along any direction: the error cannot grow (rounding ~1e-15)",
            tolerance=1e-10,
            errors=(errors / errors[0]).tolist(),
        ),
    ]


def plot(records, ax) -> None:
    """A-norm error over the iterations, by kind of direction map: it never grows."""
    labelled = set()
    for inst, evidence in records:
        color = f"C{_DIRECTIONS.index(inst.direction)}"
        label = None if inst.direction in labelled else f"{inst.direction} directions"
        labelled.add(inst.direction)
        errors = evidence[1].details["errors"]
        ax.plot(range(len(errors)), errors, "-", lw=1, alpha=0.8, color=color, label=label)
    ax.set_yscale("log", nonpositive="mask")  # an exact solve reaches 0
    label_axes(ax, "iteration k", "||x* - x_k||_A^2 / ||x* - x_0||_A^2")


class _NoOrthogonalisation(DCDMSolver):
    """Steps along the raw network directions (no A-orthogonalisation)."""

    def _orthogonalise(self, q, previous):
        return q


class _EuclideanOrthogonalisation(DCDMSolver):
    """Orthogonalises in the Euclidean inner product instead of A's."""

    def _orthogonalise(self, q, previous):
        for _ in range(2):
            for p, _ap, _curvature in previous:
                q = q - (float(q @ p) / float(p @ p)) * p
        return q


CONJUGACY_CLAIM = Claim(
    id="dcdm.conjugacy",
    title="DCDM directions are A-conjugate to the previous two, for any direction network",
    paper=DCDM,
    statement=(
        "For any direction map q(r), the DCDM direction p_k (q_k A-orthogonalised against p_{k-1} and "
        "p_{k-2}) is A-conjugate to p_{k-1} and p_{k-2}, and the exact A-norm line search never "
        "increases the A-norm error."
    ),
    formula=r"p_i^T A p_j = 0 \ (j = i-1, i-2);\quad \|x^* - x_{k+1}\|_A \le \|x^* - x_k\|_A",
    strategy=_instances,
    check=_check,
    subject=DCDMSolver,
    mutants=(
        Mutant(
            "no-orthogonalisation", "raw network directions, no A-orthogonalisation", _NoOrthogonalisation
        ),
        Mutant(
            "euclidean-orthogonalisation",
            "Gram-Schmidt in the Euclidean inner product",
            _EuclideanOrthogonalisation,
        ),
    ),
    examples={"ci": 6, "thorough": 60},
    mutant_examples=6,
    plot=plot,
)
