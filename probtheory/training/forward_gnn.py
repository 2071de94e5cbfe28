"""ForwardGNN: graph networks trained layer by layer, without backpropagation across layers.

Park et al., "Forward Learning of Graph Neural Networks" (ICLR 2024), Sec. 3.1-3.2, node
classification. The graph is *augmented* with one virtual node per class; each labelled
training node gets an edge to the virtual node of its class (both directions, the official
code's ``bidirection`` setting of its experiments). Every layer ``l`` is a graph convolution on
the row-normalised, detached output of the layer below (``h / ||h||``, the code's
``LayerNormalization``), followed by ReLU, and learns from its own objective:

* **single-forward (SF, Sec. 3.2)**: the logits of a training node ``i`` are the similarities
  ``<h_i, h_{v_c}> / tau`` to the virtual nodes, trained by cross-entropy against ``y_i``;
  one forward pass, no negatives. Prediction sums the layers' softmax over these logits.
* **forward-forward (FF, Sec. 3.1, virtual-node variant)**: a positive graph links each
  training node to its true class's virtual node, a negative graph to a wrong class drawn once
  from the seed; the goodness ``sum_j h_ij^2 - theta`` of the training nodes is trained by
  logistic loss towards 1 (positive) and 0 (negative). Prediction links every unlabelled node
  to each class's virtual node in turn and picks the class of largest summed goodness.

What the augmentation may read: ``graph.y[graph.train_mask]`` and nothing else of ``y``
(tested: changing validation or test labels leaves the augmented graph and the trained weights
bit-identical). The official code's FF evaluation of the *test* split also links validation
nodes by their labels; here only training labels are ever used. Layers are trained
simultaneously, one :class:`LocalUpdate` step per epoch on the whole graph (the code trains
them greedily, one after another with early stopping; ``local_update(train=[k])`` gives that
schedule).

* **top-down (SF, Sec. 3.3; the code's ``top2loss`` variant)**, ``top_down=True``: layer ``l``'s
  SF loss is taken on the mean of its own output and the row-normalised outputs of the layers
  *above* it from the previous training step (detached; a no-grad bottom-up pass initialises
  them), so higher layers steer lower ones by a forward signal, never by a gradient: each
  backward pass still runs through one layer only, but layer ``l``'s gradient now depends on
  the layers above through their previous outputs. Prediction sums, over layers, the softmax of
  the similarities of the same means from one bottom-up pass. (The code also feeds each layer
  the previous step's state of the layer below; here it gets this step's output.)

The virtual nodes' input features are fixed N(0, 1) draws (the code's ``nn.Embedding`` init,
detached), seeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_bool, check_int, check_name, check_real
from probtheory.errors import InputDataError
from probtheory.layers.graph import GraphBatch
from probtheory.training.local import LocalUpdate

__all__ = ["AugmentedGraph", "VirtualNodeGNN", "VirtualNodeObjective", "VirtualNodes"]

Variant = Literal["sf", "ff"]


@dataclass(frozen=True)
class AugmentedGraph:
    """A graph with one virtual node per class appended after its `n` real nodes.

    Attributes:
        x: An `(n + C) x d` tensor: the real features, then the virtual nodes' features.
        adjacency: The `(n + C) x (n + C)` sparse adjacency: the real edges plus the label edges.
        num_nodes: The number `n` of real nodes.
        train_index: The training nodes' indices.
        train_labels: Their labels (the only labels read).
        negative_adjacency: For the FF variant, the adjacency whose label edges point to a wrong
            class; ``None`` otherwise.
    """

    x: Tensor
    adjacency: Tensor
    num_nodes: int
    train_index: Tensor
    train_labels: Tensor
    negative_adjacency: Tensor | None = None


class VirtualNodes:
    """Adds the virtual class nodes and the training nodes' label edges to a graph.

    Args:
        num_classes: Number of classes `C` (one virtual node each).
        bidirectional: Label edges in both directions (training node <-> virtual node); else
            only into the virtual node.
        negatives: Also build the FF variant's negative graph (label edges to a wrong class).
        seed: Seed of the virtual nodes' features (and of the negative classes).

    Raises:
        InputDataError: If ``num_classes`` < 2 or a flag is not a bool.
    """

    def __init__(
        self, num_classes: int, *, bidirectional: bool = True, negatives: bool = False, seed: int = 0
    ) -> None:
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.negatives = check_bool("negatives", negatives)
        self.seed = check_int("seed", seed, minimum=0)
        self._last: tuple[GraphBatch, AugmentedGraph] | None = None

    def augment(self, graph: GraphBatch) -> AugmentedGraph:
        """The augmented graph (the last one is cached: full-batch training augments once).

        Args:
            graph: A :class:`GraphBatch`; only ``graph.y[graph.train_mask]`` of its labels is read.

        Raises:
            InputDataError: If ``graph`` is not a GraphBatch or a training label is outside
                ``[0, num_classes)``.
        """
        if not isinstance(graph, GraphBatch):
            raise InputDataError("graph", "a GraphBatch (fit's data: [graph])", type(graph).__name__)
        if self._last is not None and self._last[0] is graph:
            return self._last[1]
        n, c = graph.num_nodes, self.num_classes
        train_index = graph.train_mask.nonzero().squeeze(1)
        train_labels = graph.y[graph.train_mask]  # the only labels the augmentation reads
        if int(train_labels.max()) >= c:
            raise InputDataError(
                "graph.y", f"training labels in [0, {c})", f"label {int(train_labels.max())}"
            )
        generator = torch.Generator().manual_seed(self.seed)
        virtual = torch.randn(c, graph.num_features, generator=generator).to(graph.x.dtype)
        x = torch.cat([graph.x, virtual])
        adjacency = self._with_label_edges(graph, train_index, train_labels)
        negative = None
        if self.negatives:
            shift = torch.randint(1, c, train_labels.shape, generator=generator)
            negative = self._with_label_edges(graph, train_index, (train_labels + shift) % c)
        augmented = AugmentedGraph(x, adjacency, n, train_index, train_labels, negative)
        self._last = (graph, augmented)
        return augmented

    def with_label_edges(self, graph: GraphBatch, nodes: Tensor, labels: Tensor) -> Tensor:
        """The augmented adjacency in which ``nodes`` are linked to the virtual nodes of ``labels``."""
        return self._with_label_edges(graph, nodes, labels)

    def _with_label_edges(self, graph: GraphBatch, nodes: Tensor, labels: Tensor) -> Tensor:
        n, c = graph.num_nodes, self.num_classes
        real = (
            graph.adjacency.coalesce()
            if graph.adjacency.is_sparse
            else graph.adjacency.to_sparse().coalesce()
        )
        virtual = n + labels
        rows, cols = [real.indices()[0], virtual], [real.indices()[1], nodes]  # virtual <- real
        if self.bidirectional:
            rows.append(nodes)
            cols.append(virtual)
        index = torch.stack([torch.cat(rows), torch.cat(cols)])
        ones = torch.ones(index.shape[1] - real.indices().shape[1], dtype=real.values().dtype)
        value = torch.cat([real.values(), ones]).to(graph.x.dtype)
        return torch.sparse_coo_tensor(index, value, (n + c, n + c), check_invariants=False).coalesce()


class VirtualNodeObjective:
    """A graph layer's local objective with virtual class nodes (ForwardGNN, Sec. 3.1-3.2).

    Called as ``objective(h, graph)`` with ``h`` the layer's output on the augmented graph:

    * ``"sf"``: ``h`` is `(n + C) x k`; cross-entropy of ``<h_i, h_{v_c}> / temperature`` over
      the training nodes ``i``;
    * ``"ff"``: ``h`` is `2 x (n + C) x k` (positive graph, negative graph); logistic loss of the
      training nodes' goodness ``||h_i||^2 - theta``, towards 1 on the positive and 0 on the
      negative graph (the code's ``forwardforward_loss_fn``).

    Args:
        virtual_nodes: The :class:`VirtualNodes` that augment the graph.
        variant: ``"sf"`` (single-forward) or ``"ff"`` (forward-forward).
        temperature: ``tau`` of the SF logits, positive.
        theta: Goodness threshold of the FF variant, positive.

    Raises:
        InputDataError: If ``variant`` is unknown, a scale is not positive, or ``"ff"`` is asked
            of virtual nodes built without ``negatives``.
    """

    def __init__(
        self,
        virtual_nodes: VirtualNodes,
        *,
        variant: Variant = "sf",
        temperature: float = 1.0,
        theta: float = 2.0,
    ) -> None:
        if not isinstance(virtual_nodes, VirtualNodes):
            raise InputDataError("virtual_nodes", "a VirtualNodes instance", type(virtual_nodes).__name__)
        self.virtual_nodes = virtual_nodes
        self.variant = check_name("variant", variant, ("sf", "ff"), meaning="a ForwardGNN variant")
        self.temperature = check_real("temperature", temperature, positive=True)
        self.theta = check_real("theta", theta, positive=True)
        if self.variant == "ff" and not virtual_nodes.negatives:
            raise InputDataError(
                "virtual_nodes", "VirtualNodes(..., negatives=True) for variant 'ff'", "none"
            )

    def __call__(self, h: Tensor, graph: GraphBatch) -> Tensor:
        """The local loss of one layer's output ``h`` on ``graph`` (see the class)."""
        augmented = self.virtual_nodes.augment(graph)
        n, index = augmented.num_nodes, augmented.train_index
        if self.variant == "sf":
            logits = h[index] @ h[n:].T / self.temperature
            return F.cross_entropy(logits, augmented.train_labels)
        goodness = h[:, index].pow(2).sum(-1) - self.theta  # 2 x n_train
        target = torch.stack([torch.ones_like(goodness[0]), torch.zeros_like(goodness[1])])
        return F.binary_cross_entropy_with_logits(goodness, target)


class _CurrentGraph:
    """The adjacency (or adjacencies) of the batch being trained, shared by the layer blocks."""

    adjacency: Sequence[Tensor] = ()


class _GraphLayerBlock(nn.Module):
    """One ForwardGNN layer as a single-input block: ``relu(layer(h / ||h||, A))`` per graph."""

    def __init__(self, layer: nn.Module, current: _CurrentGraph) -> None:
        super().__init__()
        self.layer = layer
        self._current = current

    def forward(self, h: Tensor) -> Tensor:
        graphs = h if h.dim() == 3 else h.unsqueeze(0)
        outputs = [
            torch.relu(self.layer(_row_normalize(g), adjacency))
            for g, adjacency in zip(graphs, self._current.adjacency, strict=True)
        ]
        return torch.stack(outputs) if h.dim() == 3 else outputs[0]


def _row_normalize(h: Tensor) -> Tensor:
    return h / (h.norm(dim=-1, keepdim=True) + 1e-8)


class _TopDownStates:
    """The row-normalised outputs of every layer at the previous training step (detached)."""

    def __init__(self) -> None:
        self.graph: GraphBatch | None = None
        self.states: list[Tensor] = []


class _TopDownObjective:
    """Layer ``k``'s SF loss on the mean of its output and the previous outputs of the layers above."""

    def __init__(self, model: VirtualNodeGNN, k: int) -> None:
        self.model, self.k = model, k  # plain attributes: not registered as submodules

    def __call__(self, h: Tensor, graph: GraphBatch) -> Tensor:
        states = self.model._top_down_states(graph)
        embedding = torch.stack([h, *states[self.k + 1 :]]).mean(dim=0)
        loss = self.model.objective(embedding, graph)
        states[self.k] = _row_normalize(h).detach()
        return loss


class VirtualNodeGNN(nn.Module):
    """A stack of graph layers trained by ForwardGNN, predicting through virtual class nodes.

    Each layer is called ``layer(h, adjacency)`` (e.g. :class:`probtheory.layers.GCNConv`); the
    network applies ``relu(layer(h / ||h||, A_aug))`` in turn on the augmented graph.

    Args:
        layers: The graph layers in order; layer ``l + 1`` takes layer ``l``'s output width.
        num_classes: Number of classes `C`.
        variant: ``"sf"`` or ``"ff"`` (see :class:`VirtualNodeObjective`).
        temperature: ``tau`` of the SF similarities.
        theta: The FF goodness threshold.
        bidirectional: Label edges in both directions.
        top_down: SF with top-down signals (Sec. 3.3, see the module docstring); SF only.
        seed: Seed of the virtual nodes' features (and FF negatives).

    Example:
        >>> import torch
        >>> from probtheory.layers.graph import GCNConv
        >>> from probtheory.plugins.data import sbm_graph
        >>> from probtheory.training import fit
        >>> graph = sbm_graph(n=200, classes=2, p_in=0.1, p_out=0.01, noise=1.0, seed=0)
        >>> gnn = VirtualNodeGNN([GCNConv(16, 32), GCNConv(32, 32)], num_classes=2)
        >>> state = fit(gnn, [graph], epochs=5, update=gnn.local_update(), progress=False)
        >>> gnn(graph).shape
        torch.Size([200, 2])
    """

    def __init__(
        self,
        layers: Iterable[nn.Module],
        num_classes: int,
        *,
        variant: Variant = "sf",
        temperature: float = 1.0,
        theta: float = 2.0,
        bidirectional: bool = True,
        top_down: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        layers = list(layers) if not isinstance(layers, nn.Module) else list(layers.children())
        if not layers:
            raise InputDataError("layers", "at least one graph layer", "none")
        for k, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise InputDataError(
                    f"layers[{k}]", "an nn.Module called layer(h, adjacency)", type(layer).__name__
                )
        variant = check_name("variant", variant, ("sf", "ff"), meaning="a ForwardGNN variant")
        self.top_down = check_bool("top_down", top_down)
        if self.top_down and variant != "sf":
            raise InputDataError(
                "top_down", "top-down signals with variant 'sf' only", f"variant {variant!r}"
            )
        self._top_down = _TopDownStates()
        self.virtual_nodes = VirtualNodes(
            num_classes, bidirectional=bidirectional, negatives=variant == "ff", seed=seed
        )
        self.objective = VirtualNodeObjective(
            self.virtual_nodes, variant=variant, temperature=temperature, theta=theta
        )
        self._current = _CurrentGraph()
        self.blocks = nn.ModuleList(_GraphLayerBlock(layer, self._current) for layer in layers)

    @property
    def num_classes(self) -> int:
        """The number of classes `C`."""
        return self.virtual_nodes.num_classes

    def _inputs(self, graph: GraphBatch) -> Tensor:
        """``LocalUpdate``'s first input: the augmented features (stacked twice for FF)."""
        augmented = self.virtual_nodes.augment(graph)
        if self.objective.variant == "sf":
            self._current.adjacency = (augmented.adjacency,)
            return augmented.x
        self._current.adjacency = (augmented.adjacency, augmented.negative_adjacency)
        return torch.stack([augmented.x, augmented.x])

    def local_update(self, *, train: Iterable[int] | None = None) -> LocalUpdate:
        """The :class:`LocalUpdate` that trains every layer (or those in ``train``) by its objective.

        Pass it to :func:`probtheory.training.fit` with ``data=[graph]``.
        """
        if self.top_down:
            objectives = [_TopDownObjective(self, k) for k in range(len(self.blocks))]
        else:
            objectives = [self.objective] * len(self.blocks)
        return LocalUpdate(self.blocks, objectives, train=train, inputs=self._inputs)

    def _bottom_up(self, graph: GraphBatch) -> list[Tensor]:
        """Every layer's output on the augmented graph, one no-grad pass."""
        augmented = self.virtual_nodes.augment(graph)
        self._current.adjacency = (augmented.adjacency,)
        outputs, h = [], augmented.x
        with torch.no_grad():
            for block in self.blocks:
                h = block(h)
                outputs.append(h)
        return outputs

    def _top_down_states(self, graph: GraphBatch) -> list[Tensor]:
        store = self._top_down
        if store.graph is not graph:
            store.graph, store.states = graph, [_row_normalize(h) for h in self._bottom_up(graph)]
        return store.states

    def forward(self, graph: GraphBatch) -> Tensor:
        """Class scores of every real node: `n x C`, larger is more likely.

        SF: the sum over layers of the softmax of the similarities to the virtual nodes. FF: the
        goodness summed over layers, with the node linked to each class's virtual node in turn
        (the training nodes always to their own class).
        """
        augmented = self.virtual_nodes.augment(graph)
        n, c = augmented.num_nodes, self.num_classes
        if self.top_down:
            outputs = self._bottom_up(graph)
            above = [_row_normalize(h) for h in outputs]
            scores = torch.zeros(n, c, dtype=augmented.x.dtype)
            for k, h in enumerate(outputs):
                mean = torch.stack([h, *above[k + 1 :]]).mean(dim=0)
                scores = scores + torch.softmax(mean[:n] @ mean[n:].T / self.objective.temperature, dim=-1)
            return scores
        if self.objective.variant == "sf":
            self._current.adjacency = (augmented.adjacency,)
            h, scores = augmented.x, torch.zeros(n, c, dtype=augmented.x.dtype)
            for block in self.blocks:
                h = block(h)
                scores = scores + torch.softmax(h[:n] @ h[n:].T / self.objective.temperature, dim=-1)
            return scores
        others = (~graph.train_mask).nonzero().squeeze(1)
        nodes = torch.cat([augmented.train_index, others])
        columns = []
        for label in range(c):
            labels = torch.cat([augmented.train_labels, torch.full_like(others, label)])
            self._current.adjacency = (self.virtual_nodes.with_label_edges(graph, nodes, labels),)
            h, goodness = augmented.x, torch.zeros(n, dtype=augmented.x.dtype)
            for block in self.blocks:
                h = block(h)
                goodness = goodness + h[:n].pow(2).sum(-1)
            columns.append(goodness)
        return torch.stack(columns, dim=1)
