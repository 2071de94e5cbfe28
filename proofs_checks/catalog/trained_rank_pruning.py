"""Claim ``trp.energy_rank`` (Trained Rank Pruning: the energy rule that picks the rank).

Xu et al., *TRP: Trained Rank Pruning for Efficient Deep Neural Networks* (IJCAI 2020), Sec. 3.1:
every truncation keeps the fewest leading singular values of the (matricised) weight that hold a
fraction e of its energy, the sum of the squared singular values,

    k = min { k : sum_{i <= k} s_i^2 >= e * sum_i s_i^2 }.

The reference here is independent of the library: numpy's SVD of the weight matrix (matricised
by the paper's rule, written out with numpy) and numpy's cumulative sum. Exact arithmetic cannot
be asked of a float32 weight, so a rank is *admissible* when it satisfies the rule up to the
round-off delta of the dtype: c_k >= e - delta and c_{k-1} < e + delta, with c_k the cumulative
energy fraction and delta = max(1e-12, 8 n eps) (n singular values: the SVD perturbs each s_i^2
by about n eps s_1^2 and the cumulative sum adds n eps). The measured quantity is the distance of
the library's rank from the admissible set, which must be 0; ranks outside 1..n never are.

Every instance checks four spectra -- generic (Gaussian matrix), ties (repeated singular
values), rank-deficient (trailing zeros) and the zero matrix, whose rank is 1 by convention --
at five energies: a drawn one, an exact boundary (e = c_j for a drawn j < n, inside a tie block
for the tied spectrum), just below it (by 2 delta of float32: only j is admissible there, on
every path), e = 1 and a tiny e; for a drawn
matrix of 2 to 12 rows and columns and a single row (n = 1) on ``energy_rank`` (float64 and
float32 singular values) and ``TrainedRankPruning.truncate`` on a Linear weight (layers chosen
by default, float32 and float64), and for a drawn Conv2d weight on the callback (the spatial
matricisation ``(C kh) x (N kw)``). The subject is the rank rule: the check installs it
where the callback looks it up, so a broken rule is seen on every path.
"""

from __future__ import annotations

from dataclasses import dataclass
from unittest import mock

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from probtheory.training import rank_pruning
from probtheory.training.loop import TrainState
from probtheory.training.rank_pruning import TrainedRankPruning, energy_rank
from proofs_checks.catalog.bibliography import XU_TRP_2020
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.strategies import seeds

SPECTRA = ("generic", "ties", "rank_deficient", "zero")


@dataclass(frozen=True)
class EnergyRankInstance:
    rows: int
    cols: int
    channels_in: int
    channels_out: int
    kernel: tuple[int, int]
    energy: float
    boundary: float
    seed: int


@st.composite
def _instances(draw) -> EnergyRankInstance:
    return EnergyRankInstance(
        rows=draw(st.integers(2, 12)),
        cols=draw(st.integers(2, 12)),
        channels_in=draw(st.integers(1, 5)),
        channels_out=draw(st.integers(1, 5)),
        kernel=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        energy=draw(st.floats(0.05, 0.999)),
        boundary=draw(st.floats(0.0, 1.0)),  # which cumulative fraction c_j, j < n, is used as e
        seed=draw(seeds()),
    )


def _spectrum_matrix(kind: str, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A float64 `rows x cols` matrix with the spectrum ``kind``."""
    r = min(rows, cols)
    if kind == "generic":
        return rng.standard_normal((rows, cols))
    if kind == "zero":
        return np.zeros((rows, cols))
    if kind == "ties":
        s = np.sort(rng.choice([1.0, 2.0, 3.0], size=r))[::-1]
    else:  # rank_deficient: about half the singular values are exactly zero
        s = np.sort(rng.uniform(0.5, 2.0, size=r))[::-1]
        s[max(1, r // 2) :] = 0.0
    u, _ = np.linalg.qr(rng.standard_normal((rows, r)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, r)))
    return (u * s) @ v.T


def _singular_values(matrix: np.ndarray) -> np.ndarray:
    """Singular values of ``matrix`` by numpy, in float64."""
    return np.linalg.svd(matrix.astype(np.float64), compute_uv=False)


def _reference_fractions(singular_values: np.ndarray) -> np.ndarray:
    """Cumulative energy fractions c_1..c_n (all zeros for the zero matrix)."""
    squares = singular_values.astype(np.float64) ** 2
    total = squares.sum()
    return np.cumsum(squares) / total if total > 0 else np.zeros_like(squares)


def _distance_to_admissible(rank: int, fractions: np.ndarray, energy: float, delta: float) -> float:
    """How far ``rank`` is from the ranks that satisfy the rule up to round-off ``delta``."""
    n = len(fractions)
    if not fractions.any():  # the zero matrix: rank 1 by convention
        admissible = [1]
    else:
        previous = np.concatenate([[-np.inf], fractions[:-1]])
        satisfied, not_before = fractions >= energy - delta, previous < energy + delta
        admissible = [k + 1 for k in range(n) if satisfied[k] and not_before[k]]
    return float(min(abs(rank - k) for k in admissible))


def _conv_weight(matrix: np.ndarray, inst: EnergyRankInstance) -> np.ndarray:
    """The `N x C x kh x kw` weight whose spatial matricisation (rows (c, i), cols (n, j)) is ``matrix``."""
    c, n, (kh, kw) = inst.channels_in, inst.channels_out, inst.kernel
    return matrix.reshape(c, kh, n, kw).transpose(2, 0, 1, 3)


def _callback_rank(layer: nn.Module, model: nn.Module, energy: float, use_default_layers: bool) -> int:
    """The rank ``TrainedRankPruning.truncate`` gives ``layer`` (a copy of the model is truncated)."""
    trp = TrainedRankPruning(energy=energy, layers=None if use_default_layers else [layer])
    trp.on_fit_start(TrainState(model, torch.optim.SGD(model.parameters(), lr=0.0)))
    return trp.truncate()[0]


def _paths(matrix: np.ndarray, inst: EnergyRankInstance, energy: float, subject, conv: bool):
    """(path, dtype, the rank the path gives, the singular values of what it truncated, by numpy)."""
    singular = _singular_values(matrix)
    if conv:
        layer = nn.Conv2d(inst.channels_in, inst.channels_out, inst.kernel, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(np.ascontiguousarray(_conv_weight(matrix, inst))))
        rank = _callback_rank(layer, layer, energy, use_default_layers=False)
        yield "TrainedRankPruning Conv2d float64", torch.float64, rank, singular
        return
    yield "energy_rank float64", torch.float64, subject(torch.as_tensor(singular), energy), singular
    s32 = torch.as_tensor(singular).to(torch.float32)
    yield "energy_rank float32", torch.float32, subject(s32, energy), s32.double().numpy()
    rows, cols = matrix.shape
    for dtype in (torch.float32, torch.float64):
        linear = nn.Linear(cols, rows, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(matrix))
        stored = _singular_values(linear.weight.detach().double().numpy())
        model = nn.Sequential(linear, nn.Tanh(), nn.Linear(rows, 1, dtype=dtype))
        name = f"TrainedRankPruning Linear {str(dtype).removeprefix('torch.')}"
        yield name, dtype, _callback_rank(linear, model, energy, use_default_layers=True), stored


def _delta(n: int, dtype: torch.dtype) -> float:
    """Round-off of the cumulative energy fractions of n singular values computed in ``dtype``."""
    return max(1e-12, 8 * n * torch.finfo(dtype).eps)


def _check_matrix(inst, subject, matrix: np.ndarray, shape: str, kind: str, worst: dict) -> None:
    """Record the worst distance from the admissible ranks on every path, at every energy."""
    fractions = _reference_fractions(_singular_values(matrix))
    n = len(fractions)
    # a boundary c_j with j < n (e = 1 when n = 1): at e = c_j round-off may pick j or j + 1, just
    # below it (by twice the float32 delta) only j is admissible on every path. A c_j past the last
    # nonzero singular value is 1, which the cumulative sum may round to 1 + eps: e is a fraction.
    boundary = min(float(fractions[min(int(inst.boundary * (n - 1)), n - 2)]), 1.0) if n > 1 else 1.0
    below = boundary - 2 * _delta(n, torch.float32) if boundary > 0 else 1e-9
    energies = {"drawn": inst.energy, "boundary": boundary or 1.0, "below a boundary": below, "one": 1.0,
                "tiny": 1e-9}  # fmt: skip
    for label, energy in energies.items():
        for path, dtype, rank, singular in _paths(matrix, inst, energy, subject, conv=shape == "conv"):
            distance = _distance_to_admissible(rank, _reference_fractions(singular), energy, _delta(n, dtype))
            where = f"{kind} spectrum, {shape} matrix, e = {label} ({energy:.6g}): rank {rank}, n = {n}"
            if path not in worst or distance > worst[path][0]:
                worst[path] = (distance, where)


def _check(inst: EnergyRankInstance, subject) -> list[Evidence]:
    rng = np.random.default_rng(inst.seed)
    shapes = {
        "drawn": (inst.rows, inst.cols),
        "one row": (1, inst.cols),  # a single singular value
        "conv": (inst.channels_in * inst.kernel[0], inst.channels_out * inst.kernel[1]),
    }
    worst: dict[str, tuple[float, str]] = {}
    # the callback looks the rule up in its module: install the subject there
    with mock.patch.object(rank_pruning, "energy_rank", subject):
        for shape, (rows, cols) in shapes.items():
            for kind in SPECTRA:
                _check_matrix(inst, subject, _spectrum_matrix(kind, rows, cols, rng), shape, kind, worst)
    return [
        Evidence.at_most(
            f"distance of the rank from the admissible ranks, {path}",
            distance,
            0.0,
            "admissible: c_k >= e - delta and c_(k-1) < e + delta, delta = max(1e-12, 8 n eps) "
            "(SVD backward error and cumulative-sum round-off); ranks lie in 1..n",
            worst_case=where,
        )
        for path, (distance, where) in worst.items()
    ]


def _off_by_one(singular_values: torch.Tensor, energy: float) -> int:
    """Mutant: counts the leading values below the energy but forgets the one that reaches it."""
    squares = singular_values.square()
    total = squares.sum()
    if total == 0:
        return 1
    cumulative = squares.cumsum(0) / total
    return int((cumulative < energy - 1e-12).sum().item())


def _not_squared(singular_values: torch.Tensor, energy: float) -> int:
    """Mutant: the energy of the singular values themselves, not of their squares."""
    squares = singular_values
    total = squares.sum()
    if total == 0:
        return 1
    cumulative = squares.cumsum(0) / total
    return int((cumulative < energy - 1e-12).sum().item()) + 1


ENERGY_RANK_CLAIM = Claim(
    id="trp.energy_rank",
    title="TRP keeps the fewest singular values holding a fraction e of the squared spectrum",
    paper=XU_TRP_2020,
    section="Sec. 3.1",
    statement=(
        "Each TRP truncation keeps rank k = the smallest k whose leading squared singular values "
        "reach the fraction e of their total, on every path (energy_rank on float32/float64 "
        "singular values, the callback on Linear and Conv2d weights), ties and e = 1 included."
    ),
    formula=r"k = \min\{k : \sum_{i \le k} s_i^2 \ge e \sum_i s_i^2\}",
    strategy=_instances,
    check=_check,
    subject=energy_rank,
    mutants=(
        Mutant(
            "off-by-one", "the count of values below the energy, without the one that reaches it", _off_by_one
        ),
        Mutant("not-squared", "cumulative sum of the singular values instead of their squares", _not_squared),
    ),  # fmt: skip
    examples={"ci": 6, "thorough": 60},
    mutant_examples=3,
)
