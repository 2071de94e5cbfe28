"""Bad input to graphs and ForwardGNN (layers.graph, plugins.data.sbm_graph, training.forward_gnn)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.layers.graph import GCNConv, GraphBatch, gcn_normalized_adjacency
from probtheory.plugins.data import sbm_graph
from probtheory.training.forward_gnn import VirtualNodeGNN, VirtualNodeObjective, VirtualNodes
from tests.bad_input import BadInput, check_case

N = 6
X = torch.randn(N, 3)
A = torch.zeros(N, N)
Y = torch.tensor([0, 1, 0, 1, 0, 1])
TRAIN = torch.tensor([True, True, False, False, False, False])
VAL = torch.tensor([False, False, True, True, False, False])
TEST = torch.tensor([False, False, False, False, True, True])
GRAPH = GraphBatch(X, A, Y, TRAIN, VAL, TEST)


def graph(**changes):
    fields = {"x": X, "adjacency": A, "y": Y, "train_mask": TRAIN, "val_mask": VAL, "test_mask": TEST}
    return GraphBatch(**{**fields, **changes})


CASES = [
    BadInput(
        "GraphBatch",
        "non-square adjacency",
        lambda: graph(adjacency=torch.zeros(N, N + 1)),
        InputDataError,
        "adjacency",
    ),
    BadInput(
        "GraphBatch",
        "adjacency of another graph size",
        lambda: graph(adjacency=torch.zeros(N + 1, N + 1)),
        InputDataError,
        "adjacency",
    ),
    BadInput(
        "GraphBatch", "overlapping masks", lambda: graph(test_mask=TEST | TRAIN), InputDataError, "test_mask"
    ),
    BadInput("GraphBatch", "integer mask", lambda: graph(val_mask=VAL.long()), InputDataError, "val_mask"),
    BadInput("GraphBatch", "float labels", lambda: graph(y=Y.float()), InputDataError, "y"),
    BadInput(
        "GraphBatch", "NaN feature", lambda: graph(x=torch.full((N, 3), float("nan"))), InputDataError, "x"
    ),
    BadInput(
        "GraphBatch",
        "no training node",
        lambda: graph(train_mask=torch.zeros(N, dtype=torch.bool)),
        InputDataError,
        "train_mask",
    ),
    BadInput("GCNConv", "zero output width", lambda: GCNConv(3, 0), InputDataError, "out_features"),
    BadInput("GCNConv", "features of the wrong width", lambda: GCNConv(4, 2)(X, A), InputDataError, "x"),
    BadInput(
        "GCNConv",
        "adjacency of another graph",
        lambda: GCNConv(3, 2)(X, torch.zeros(N + 1, N + 1)),
        InputDataError,
        "adjacency",
    ),
    BadInput(
        "gcn_normalized_adjacency",
        "non-square",
        lambda: gcn_normalized_adjacency(torch.zeros(3, 4)),
        InputDataError,
        "adjacency",
    ),
    BadInput(
        "gcn_normalized_adjacency",
        "negative weight",
        lambda: gcn_normalized_adjacency(-torch.eye(3)),
        InputDataError,
        "adjacency",
    ),
    BadInput(
        "sbm_graph",
        "probability above 1",
        lambda: sbm_graph(100, 2, 1.5, 0.1, 1.0, 0),
        InputDataError,
        "p_in",
    ),
    BadInput(
        "sbm_graph", "zero noise", lambda: sbm_graph(100, 2, 0.1, 0.01, 0.0, 0), InputDataError, "noise"
    ),
    BadInput(
        "sbm_graph", "one class", lambda: sbm_graph(100, 1, 0.1, 0.01, 1.0, 0), InputDataError, "classes"
    ),
    BadInput(
        "sbm_graph",
        "splits leave no test node",
        lambda: sbm_graph(100, 2, 0.1, 0.01, 1.0, 0, split=(0.5, 0.5)),
        InputDataError,
        "split",
    ),
    BadInput("VirtualNodes", "one class", lambda: VirtualNodes(1), InputDataError, "num_classes"),
    BadInput(
        "VirtualNodes.augment",
        "not a GraphBatch",
        lambda: VirtualNodes(2).augment((X, Y)),
        InputDataError,
        "graph",
    ),
    BadInput(
        "VirtualNodes.augment",
        "training label outside the classes",
        lambda: VirtualNodes(2).augment(graph(y=torch.tensor([0, 5, 0, 1, 0, 1]))),
        InputDataError,
        "graph.y",
    ),
    BadInput(
        "VirtualNodeObjective",
        "unknown variant",
        lambda: VirtualNodeObjective(VirtualNodes(2), variant="bp"),
        InputDataError,
        "variant",
    ),
    BadInput(
        "VirtualNodeObjective",
        "zero temperature",
        lambda: VirtualNodeObjective(VirtualNodes(2), temperature=0.0),
        InputDataError,
        "temperature",
    ),
    BadInput(
        "VirtualNodeObjective",
        "theta <= 0",
        lambda: VirtualNodeObjective(VirtualNodes(2, negatives=True), variant="ff", theta=0.0),
        InputDataError,
        "theta",
    ),
    BadInput(
        "VirtualNodeObjective",
        "FF without negative graphs",
        lambda: VirtualNodeObjective(VirtualNodes(2), variant="ff"),
        InputDataError,
        "virtual_nodes",
    ),
    BadInput(
        "VirtualNodeGNN",
        "top-down with the FF variant",
        lambda: VirtualNodeGNN([GCNConv(3, 2)], 2, variant="ff", top_down=True),
        InputDataError,
        "top_down",
    ),
    BadInput("VirtualNodeGNN", "no layers", lambda: VirtualNodeGNN([], 2), InputDataError, "layers"),
    BadInput(
        "VirtualNodeGNN",
        "a layer that is not a module",
        lambda: VirtualNodeGNN([GCNConv(3, 2), "relu"], 2),
        InputDataError,
        "layers[1]",
    ),
    BadInput(
        "VirtualNodeGNN.local_update",
        "train names a missing layer",
        lambda: VirtualNodeGNN([GCNConv(3, 2)], 2).local_update(train=[3]),
        InputDataError,
        "train",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_replacing_a_field_is_checked_too():
    with pytest.raises(InputDataError, match="train_mask"):
        dataclasses.replace(GRAPH, train_mask=TRAIN.float())
