"""Graphs without torch_geometric: a node-classification graph and the GCN layer.

:class:`GraphBatch` is one whole graph (features, adjacency, labels, train/validation/test
masks), passed to :func:`probtheory.training.fit` as a one-element data set ``[graph]``.

:class:`GCNConv` is the graph convolution of Kipf & Welling (ICLR 2017, Eq. 2)::

    H' = D^{-1/2} (A + I) D^{-1/2} H W + b,      D = diag(rowsum(A + I))

computed with a sparse matrix product. ``A[i, j] != 0`` means node ``i`` receives a message from
node ``j`` (an undirected graph has a symmetric ``A``); the degrees are row sums, i.e. in-degrees
plus the self-loop, which is how torch_geometric's ``gcn_norm`` treats a directed edge list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from probtheory._checks import check_finite, check_int
from probtheory.errors import InputDataError

__all__ = ["GCNConv", "GraphBatch", "gcn_normalized_adjacency"]


@dataclass(frozen=True)
class GraphBatch:
    """One graph for node classification, as a single batch.

    Attributes:
        x: An `n x d` float tensor of node features.
        adjacency: An `n x n` adjacency matrix, sparse (COO) or dense; ``adjacency[i, j]`` is the
            weight of the edge from node ``j`` into node ``i`` (symmetric for an undirected graph).
        y: An `n` int64 tensor of class indices (all nodes; which of them a method may read is
            its own business: training rules read ``y[train_mask]`` only).
        train_mask: An `n` bool tensor: the labelled training nodes.
        val_mask: An `n` bool tensor: validation nodes.
        test_mask: An `n` bool tensor: test nodes.

    Raises:
        InputDataError: If ``x`` is not a finite `n x d` float tensor, ``adjacency`` is not
            square with `n` rows, ``y`` is not `n` non-negative integer labels, a mask is not an
            `n` bool tensor, or two masks share a node (naming the later mask).
    """

    x: Tensor
    adjacency: Tensor
    y: Tensor
    train_mask: Tensor
    val_mask: Tensor
    test_mask: Tensor

    def __post_init__(self) -> None:
        check_finite("x", self.x)
        if self.x.dim() != 2:
            raise InputDataError("x", "an `n x d` tensor of node features", f"shape {tuple(self.x.shape)}")
        n = self.x.shape[0]
        if not isinstance(self.adjacency, Tensor):
            raise InputDataError(
                "adjacency", "an `n x n` tensor (sparse or dense)", type(self.adjacency).__name__
            )
        if self.adjacency.dim() != 2 or self.adjacency.shape[0] != self.adjacency.shape[1]:
            raise InputDataError(
                "adjacency", "a square `n x n` matrix", f"shape {tuple(self.adjacency.shape)}"
            )
        if self.adjacency.shape[0] != n:
            raise InputDataError(
                "adjacency", f"{n} x {n} (one row per node of x)", f"shape {tuple(self.adjacency.shape)}"
            )
        if not isinstance(self.y, Tensor) or self.y.shape != (n,) or self.y.is_floating_point():
            raise InputDataError("y", f"an integer tensor of {n} labels", getattr(self.y, "shape", self.y))
        if n and int(self.y.min()) < 0:
            raise InputDataError("y", "non-negative class indices", f"minimum {int(self.y.min())}")
        seen = torch.zeros(n, dtype=torch.bool)
        for name in ("train_mask", "val_mask", "test_mask"):
            mask = getattr(self, name)
            if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (n,):
                shape = f"dtype {mask.dtype}, shape {tuple(mask.shape)}" if isinstance(mask, Tensor) else mask
                raise InputDataError(name, f"a bool tensor of {n} entries", shape)
            overlap = int((seen & mask).sum())
            if overlap:
                raise InputDataError(
                    name, "nodes in no other mask (disjoint splits)", f"{overlap} shared nodes"
                )
            seen |= mask
        if not bool(self.train_mask.any()):
            raise InputDataError("train_mask", "at least one training node", "none")

    @property
    def num_nodes(self) -> int:
        """The number of nodes `n`."""
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        """The feature dimension `d`."""
        return int(self.x.shape[1])


def gcn_normalized_adjacency(adjacency: Tensor) -> Tensor:
    """The sparse matrix ``D^{-1/2} (A + I) D^{-1/2}`` with ``D = diag(rowsum(A + I))``.

    Args:
        adjacency: An `n x n` adjacency matrix (sparse COO or dense) with non-negative weights.

    Returns:
        An `n x n` sparse COO tensor (coalesced), in ``adjacency``'s floating dtype (float32 for
        an integer or bool input).

    Raises:
        InputDataError: If ``adjacency`` is not a square matrix or has a negative weight.
    """
    if not isinstance(adjacency, Tensor) or adjacency.dim() != 2 or adjacency.shape[0] != adjacency.shape[1]:
        shape = tuple(adjacency.shape) if isinstance(adjacency, Tensor) else type(adjacency).__name__
        raise InputDataError("adjacency", "a square `n x n` matrix", shape)
    n = adjacency.shape[0]
    sparse = adjacency.coalesce() if adjacency.is_sparse else adjacency.to_sparse().coalesce()
    dtype = sparse.dtype if sparse.dtype.is_floating_point else torch.float32
    index, value = sparse.indices(), sparse.values().to(dtype)
    if value.numel() and bool((value < 0).any()):
        raise InputDataError("adjacency", "non-negative edge weights", "a negative weight")
    loops = torch.arange(n, device=index.device)
    index = torch.cat([index, torch.stack([loops, loops])], dim=1)
    value = torch.cat([value, torch.ones(n, dtype=dtype, device=value.device)])
    with_loops = torch.sparse_coo_tensor(index, value, (n, n), check_invariants=False).coalesce()
    index, value = with_loops.indices(), with_loops.values()
    degree = torch.zeros(n, dtype=dtype, device=value.device).index_add_(0, index[0], value)
    scale = degree.rsqrt()  # degree >= 1: the self-loop
    return torch.sparse_coo_tensor(
        index, scale[index[0]] * value * scale[index[1]], (n, n), check_invariants=False
    ).coalesce()


class GCNConv(nn.Module):
    """Graph convolution ``D^{-1/2} (A + I) D^{-1/2} X W + b`` (Kipf & Welling, ICLR 2017).

    The normalised adjacency of the last graph seen is cached (by identity and version of the
    adjacency tensor), so full-batch training on one graph normalises it once.

    Args:
        in_features: Node feature dimension `d`.
        out_features: Output dimension.
        bias: Whether to add a learnable bias.

    Raises:
        InputDataError: If a dimension is not a positive integer.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self._cache: tuple[Tensor, int, Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and a zero bias, as in the GCN paper."""
        bound = math.sqrt(6.0 / (self.in_features + self.out_features))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _normalized(self, adjacency: Tensor) -> Tensor:
        cache = self._cache
        if cache is not None and cache[0] is adjacency and cache[1] == adjacency._version:
            return cache[2]
        normalized = gcn_normalized_adjacency(adjacency)
        self._cache = (adjacency, adjacency._version, normalized)
        return normalized

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        """Propagate ``x`` over the graph.

        Args:
            x: An `n x in_features` tensor of node features.
            adjacency: The graph's `n x n` adjacency matrix (not normalised; see the class).

        Returns:
            An `n x out_features` tensor.
        """
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[-1] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InputDataError("x", f"an `n x {self.in_features}` tensor", shape)
        normalized = self._normalized(adjacency)
        if normalized.shape[0] != x.shape[0]:
            raise InputDataError(
                "adjacency", f"{x.shape[0]} x {x.shape[0]} (one row per node of x)", tuple(adjacency.shape)
            )
        out = torch.sparse.mm(normalized.to(x.dtype), x @ self.weight)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        """``in_features, out_features, bias``."""
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"
