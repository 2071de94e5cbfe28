"""Claims ``quadratic.degree`` and ``quadratic.xor`` (quadratic neurons).

Fan, Li, Wang, Lai, Wang, *On Expressivity and Trainability of Quadratic Networks* (IEEE TNNLS
2023): a quadratic neuron computes (W_r x + b_r)(W_g x + b_g) + W_b x^2 + b_b, so

* an L-layer network of quadratic layers is a polynomial of degree exactly 2^L in its inputs;
* a single quadratic neuron separates XOR, which no single linear neuron can.

The degree is measured on the module itself, not on a transcription of its formula: along a
line x = t v the network is a univariate polynomial p(t), evaluated at t = 0, 1, ..., 2^L + 1 with
positive integer weights and inputs, where float64 arithmetic is exact (all values stay below
2^53), and its degree is the order of the last non-zero finite difference. Positive weights and
directions make the leading coefficient a sum of positive products, so it cannot cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import nn

from probtheory.layers import QuadraticLinear
from probtheory.plugins import fit
from proofs_checks.catalog.bibliography import FAN_QUADRATIC_NETWORKS
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.regimes import Regimes
from proofs_checks.strategies import seeds


@dataclass(frozen=True)
class DegreeInstance:
    depth: int
    seed: int


def _degree_along_line(net: nn.Module, direction: torch.Tensor, points: int) -> int:
    t = torch.arange(points, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        values = net(t * direction)[:, 0]
    degree = 0
    for k in range(1, points):
        values = values[1:] - values[:-1]
        if (values != 0).any():
            degree = k
    return degree


def _check_degree(inst: DegreeInstance, layer) -> Evidence:
    g = torch.Generator().manual_seed(inst.seed)
    high = 2 if inst.depth <= 2 else 1  # weights in {1, .., high}: exact float64 at every depth
    net = nn.Sequential(*(layer(2, 2) for _ in range(inst.depth - 1)), layer(2, 1)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randint(1, high + 1, p.shape, generator=g, dtype=torch.float64))
    direction = torch.randint(1, high + 1, (2,), generator=g, dtype=torch.float64)
    degree = _degree_along_line(net, direction, 2**inst.depth + 2)
    return Evidence.within(
        "degree of the network along a line (last non-zero finite difference)", degree, 2**inst.depth, 0,
        "exact: integer arithmetic below 2^53 in float64", depth=inst.depth,
    )  # fmt: skip


def _check_xor(seed: int, layer) -> Evidence:
    torch.manual_seed(seed)
    neuron = layer(2, 1)
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])

    def bce(model, batch):
        return nn.functional.binary_cross_entropy_with_logits(model(batch[0])[:, 0], batch[1])

    fit(neuron, [(x, y)], epochs=300, loss=bce, optimizer=torch.optim.Adam(neuron.parameters(), lr=0.1),
        seed=seed, progress=False)  # fmt: skip
    with torch.no_grad():
        accuracy = ((neuron(x)[:, 0] > 0).float() == y).float().mean().item()
    return Evidence.at_least(
        "XOR accuracy of one trained neuron (4 points)", accuracy, 1.0,
        "exact: a quadratic neuron represents XOR; training must find it", seed=seed,
    )  # fmt: skip


class _AffineGateLayer(QuadraticLinear):
    """Mutant: the gate and the square term read as affine maps of x (a linearised layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.r(x) * self.g.bias + self.b(x)


DEGREE_CLAIM = Claim(
    id="quadratic.degree",
    title="An L-layer quadratic network is a polynomial of degree 2^L",
    paper=FAN_QUADRATIC_NETWORKS,
    statement=(
        "Each quadratic layer multiplies two affine maps of its input (plus a weighted square), "
        "doubling the polynomial degree: L layers give degree exactly 2^L."
    ),
    formula=r"\deg f_L = 2^L",
    strategy=lambda: st.builds(DegreeInstance, st.integers(1, 3), seeds()),
    check=_check_degree,
    subject=QuadraticLinear,
    mutants=(Mutant("affine-gate", "gate and square terms applied as affine maps of x", _AffineGateLayer),),
    examples={"ci": 6, "thorough": 60},
    mutant_examples=3,
    # each L predicts its own degree 2^L, and L = 3 draws its weights from {1} instead of {1, 2}
    regimes=Regimes(
        of=lambda inst: {"layers L": str(inst.depth)},
        cases={"layers L": {str(depth): {"depth": depth} for depth in (1, 2, 3)}},
    ),
)

XOR_CLAIM = Claim(
    id="quadratic.xor",
    title="A single quadratic neuron learns XOR",
    paper=FAN_QUADRATIC_NETWORKS,
    statement=(
        "x1 + x2 - 2 x1 x2 is XOR on {0, 1}^2 and is one quadratic neuron; gradient training of "
        "one neuron finds a separating one, which a linear neuron cannot be."
    ),
    formula=(
        r"\operatorname{sign}(q(x)) = \mathrm{XOR}(x_1, x_2) \text{ on } \{0,1\}^2 \text{ for one "
        r"trained quadratic neuron}"
    ),
    strategy=seeds,
    check=_check_xor,
    subject=QuadraticLinear,
    mutants=(Mutant("linear-neuron", "a conventional (affine) neuron", nn.Linear),),
    examples={"ci": 2, "thorough": 20},
    mutant_examples=2,
)
