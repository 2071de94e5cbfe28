r"""Trained Rank Pruning (TRP): low-rank weights reached during training, not imposed after it.

Xu et al., "TRP: Trained Rank Pruning for Efficient Deep Neural Networks" (IJCAI 2020; code
yuhuixu1993/Trained-Rank-Pruning). Every ``period`` optimizer steps each selected layer's weight
matrix is replaced by its truncated SVD, keeping the fewest singular values that hold a fraction
``energy`` of the squared spectrum,

.. math::
    k = \min\Bigl\{k : \textstyle\sum_{i \le k} s_i^2 \big/ \sum_i s_i^2 \ge e\Bigr\},
    \qquad W \leftarrow U_k \operatorname{diag}(s_{1..k}) V_k^\top,

and training continues from the low-rank weight, so the network learns to live with it. An
optional nuclear-norm regulariser adds the subgradient :math:`\lambda U_k V_k^\top` of
:math:`\lambda\lVert W\rVert_*` to the gradient, pushing the spectrum down further. After
training, :func:`decompose_low_rank` splits every truncated layer into two thin layers, which is
where the savings in parameters and FLOPs come from.

Weights are matricised as in the paper: a ``Linear`` weight is its ``out x in`` matrix; a
``Conv2d`` weight ``N x C x kh x kw`` is the spatial ("VH") matrix ``(C kh) x (N kw)``, whose
rank-k factors are a ``kh x 1`` convolution to k channels followed by a ``1 x kw`` one.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.plugins import fit
    >>> from probtheory.training import TrainedRankPruning, decompose_low_rank
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    >>> x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    >>> trp = TrainedRankPruning(energy=0.9)
    >>> _ = fit(net, [(x, y)] * 20, epochs=2, callbacks=[trp], progress=False)
    >>> small = decompose_low_rank(net, trp.ranks())
    >>> bool(torch.allclose(small(x), net(x), atol=1e-5))
    True
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_interval, check_real
from probtheory.errors import InputDataError, UnsupportedError
from probtheory.training.loop import TrainingCallback, TrainState

__all__ = ["TrainedRankPruning", "decompose_low_rank", "energy_rank", "low_rank_matrix", "matricize"]


def energy_rank(singular_values: Tensor, energy: float) -> int:
    """The fewest leading singular values holding a fraction ``energy`` of ``sum s_i^2`` (at least 1).

    Args:
        singular_values: A 1-d tensor of singular values in decreasing order.
        energy: The fraction in (0, 1].
    """
    energy = _check_energy(energy)
    # float64 whatever the weights' dtype: in float32 the 1e-12 slack vanishes and the cumulative
    # fraction can end below 1, which made energy = 1 give rank n + 1
    squares = singular_values.detach().double().square()
    total = squares.sum()
    if total == 0:
        return 1
    cumulative = squares.cumsum(0) / total
    # the small slack keeps energy = 1 from failing on the round-off of the cumulative sum
    rank = int((cumulative < energy - 1e-12).sum().item()) + 1
    return min(rank, singular_values.numel())


def matricize(weight: Tensor) -> Tensor:
    """The matrix TRP truncates: `out x in` for a Linear weight, `(C kh) x (N kw)` for a conv weight."""
    if weight.dim() == 2:
        return weight
    if weight.dim() == 4:
        n, c, kh, kw = weight.shape
        return weight.permute(1, 2, 0, 3).reshape(c * kh, n * kw)
    raise UnsupportedError("weight", "a Linear (2-d) or Conv2d (4-d) weight", f"a {weight.dim()}-d tensor")


def _unmatricize(matrix: Tensor, shape: torch.Size) -> Tensor:
    if len(shape) == 2:
        return matrix
    n, c, kh, kw = shape
    return matrix.reshape(c, kh, n, kw).permute(2, 0, 1, 3)


def low_rank_matrix(matrix: Tensor, rank: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(U_k, s_k, V_k^T)`` of the rank-``rank`` truncated SVD of a 2-d ``matrix``."""
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    return u[:, :rank], s[:rank], vh[:rank]


class TrainedRankPruning(TrainingCallback):
    """The TRP callback for :func:`probtheory.plugins.fit`.

    Args:
        energy: Fraction e in (0, 1] of the squared spectrum each truncation keeps (paper: 0.99;
            smaller gives lower ranks).
        period: Truncate every ``period`` optimizer steps (the reference code: every step).
        nuclear_weight: lambda >= 0 of the nuclear-norm subgradient added after each backward.
        layers: The ``Linear`` / ``Conv2d`` modules to prune; default every ``Linear`` and
            ``Conv2d`` except the last module (the classifier) and 1 x 1 convolutions.

    Attributes:
        history: For each truncation, the ranks of the layers in ``layers`` order.
    """

    def __init__(
        self,
        energy: float = 0.99,
        period: int = 1,
        nuclear_weight: float = 0.0,
        layers: list[nn.Module] | None = None,
    ) -> None:
        self.energy = _check_energy(energy)
        self.period = check_int("period", period, minimum=1)
        self.nuclear_weight = check_real("nuclear_weight", nuclear_weight, nonnegative=True)
        self._given_layers = layers
        self.layers: list[nn.Module] = []
        self.history: list[list[int]] = []
        if layers is not None:
            for i, layer in enumerate(layers):
                _check_layer(f"layers[{i}]", layer)

    def on_fit_start(self, state: TrainState) -> None:
        """Select the layers (default: see the class docstring)."""
        if self._given_layers is not None:
            self.layers = list(self._given_layers)
            return
        candidates = [
            m
            for m in state.model.modules()
            if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1))
        ]
        self.layers = candidates[:-1]
        if not self.layers:
            raise InputDataError("model", "at least two Linear/Conv2d layers (the last is kept dense)", 0)

    def on_after_backward(self, state: TrainState) -> None:
        """Add the nuclear-norm subgradient ``lambda U_k V_k^T`` to each layer's gradient."""
        if self.nuclear_weight == 0.0:
            return
        with torch.no_grad():
            for layer in self.layers:
                if layer.weight.grad is None:
                    continue
                u, s, vh = torch.linalg.svd(matricize(layer.weight), full_matrices=False)
                k = energy_rank(s, self.energy)
                direction = _unmatricize(u[:, :k] @ vh[:k], layer.weight.shape)
                layer.weight.grad.add_(direction, alpha=self.nuclear_weight)

    def on_step_end(self, state: TrainState) -> None:
        """Every ``period`` steps, replace each weight by its energy-truncated SVD."""
        if state.step % self.period == 0:
            self.truncate()

    def truncate(self) -> list[int]:
        """Truncate every selected layer now; returns their ranks (also appended to ``history``)."""
        ranks = []
        with torch.no_grad():
            for layer in self.layers:
                u, s, vh = torch.linalg.svd(matricize(layer.weight), full_matrices=False)
                k = energy_rank(s, self.energy)
                layer.weight.copy_(_unmatricize((u[:, :k] * s[:k]) @ vh[:k], layer.weight.shape))
                ranks.append(k)
        self.history.append(ranks)
        return ranks

    def ranks(self) -> dict[nn.Module, int]:
        """The rank of each layer at the last truncation (for :func:`decompose_low_rank`)."""
        if not self.history:
            raise InputDataError("history", "at least one truncation (train first)", "none")
        return dict(zip(self.layers, self.history[-1], strict=True))


def decompose_low_rank(model: nn.Module, ranks: dict[nn.Module, int]) -> nn.Module:
    """A copy of ``model`` with each layer in ``ranks`` split into two thin layers of that rank.

    A ``Linear(in, out)`` becomes ``Linear(in, k, bias=False)`` then ``Linear(k, out)``; a
    ``Conv2d`` becomes a ``kh x 1`` convolution to k channels then a ``1 x kw`` one, with the
    original stride, padding and dilation split between them. The weights are the truncated
    SVD's factors (each scaled by the square root of the singular values), so the copy computes
    the rank-k truncation of each weight exactly (to round-off).

    Args:
        model: The trained network (not modified).
        ranks: Layer -> rank, e.g. :meth:`TrainedRankPruning.ranks`.
    """
    replacements = {}
    for i, (layer, rank) in enumerate(ranks.items()):
        _check_layer(f"ranks key {i}", layer)
        replacements[id(layer)] = _split(layer, check_int(f"rank of layer {i}", rank, minimum=1))
    copied = copy.deepcopy(model)
    originals = {id(a): b for a, b in zip(model.modules(), copied.modules(), strict=True)}
    targets = {id(originals[key]): value for key, value in replacements.items()}
    _replace(copied, targets)
    return copied


def _replace(module: nn.Module, targets: dict[int, nn.Module]) -> None:
    for name, child in module.named_children():
        if id(child) in targets:
            setattr(module, name, targets[id(child)])
        else:
            _replace(child, targets)


def _split(layer: nn.Module, rank: int) -> nn.Sequential:
    weight = layer.weight.detach()
    matrix = matricize(weight)
    rank = min(rank, min(matrix.shape))
    u, s, vh = low_rank_matrix(matrix, rank)
    root = s.sqrt()
    left, right = u * root, root[:, None] * vh  # matrix ~ left @ right
    bias = layer.bias is not None
    if isinstance(layer, nn.Linear):
        first = nn.Linear(layer.in_features, rank, bias=False, dtype=weight.dtype)
        second = nn.Linear(rank, layer.out_features, bias=bias, dtype=weight.dtype)
        with torch.no_grad():
            first.weight.copy_(right)
            second.weight.copy_(left)
    else:
        n, c, kh, kw = weight.shape
        if layer.groups != 1 or not isinstance(layer.padding, tuple):
            raise UnsupportedError("layer", "a Conv2d with groups=1 and numeric padding", repr(layer))
        (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
        first = nn.Conv2d(c, rank, (kh, 1), (sh, 1), (ph, 0), (dh, 1), bias=False, dtype=weight.dtype)
        second = nn.Conv2d(rank, n, (1, kw), (1, sw), (0, pw), (1, dw), bias=bias, dtype=weight.dtype)
        with torch.no_grad():
            # left: (C kh) x k -> k x C x kh x 1; right: k x (N kw) -> N x k x 1 x kw
            first.weight.copy_(left.reshape(c, kh, rank).permute(2, 0, 1).unsqueeze(-1))
            second.weight.copy_(right.reshape(rank, n, kw).permute(1, 0, 2).unsqueeze(2))
    if bias:
        with torch.no_grad():
            second.bias.copy_(layer.bias)
    return nn.Sequential(first, second)


def _check_energy(energy: float) -> float:
    return check_interval("energy", energy, 0.0, 1.0, closed=(False, True), meaning="a fraction")


def _check_layer(name: str, layer: object) -> None:
    if not isinstance(layer, nn.Linear | nn.Conv2d):
        raise UnsupportedError(name, "an nn.Linear or nn.Conv2d", type(layer).__name__)
