"""GCNConv against the dense formula; GraphBatch and the SBM generator."""

from __future__ import annotations

import torch

from probtheory.layers.graph import GCNConv, GraphBatch, gcn_normalized_adjacency
from probtheory.plugins.data import sbm_graph


def dense_gcn(x, adjacency, weight, bias):
    a = adjacency.to_dense().double() + torch.eye(adjacency.shape[0], dtype=torch.float64)
    d = a.sum(dim=1).rsqrt()
    return (d[:, None] * a * d[None, :]) @ x.double() @ weight.double() + bias.double()


def random_adjacency(n: int, seed: int, symmetric: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.3).float() * torch.rand(n, n, generator=g)
    a.fill_diagonal_(0)
    return a + a.T if symmetric else a


def test_gcn_conv_equals_the_dense_formula():
    for seed, symmetric in [(0, True), (1, False), (2, True)]:
        torch.manual_seed(seed)
        layer = GCNConv(5, 3)
        torch.nn.init.normal_(layer.bias)
        x = torch.randn(9, 5)
        adjacency = random_adjacency(9, seed, symmetric)
        expected = dense_gcn(x, adjacency, layer.weight, layer.bias)
        for form in (adjacency, adjacency.to_sparse()):
            assert torch.allclose(layer(x, form).double(), expected, atol=1e-5)


def test_normalized_adjacency_is_symmetric_with_unit_spectral_radius():
    adjacency = random_adjacency(12, 3)
    normalized = gcn_normalized_adjacency(adjacency).to_dense().double()
    assert torch.allclose(normalized, normalized.T)
    assert abs(torch.linalg.eigvalsh(normalized).abs().max().item() - 1.0) < 1e-6


def test_isolated_node_keeps_its_own_features():
    adjacency = torch.zeros(3, 3)
    adjacency[0, 1] = adjacency[1, 0] = 1.0
    layer = GCNConv(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2))
    x = torch.randn(3, 2)
    assert torch.allclose(layer(x, adjacency)[2], x[2])


def test_cache_follows_in_place_changes_of_the_adjacency():
    layer = GCNConv(2, 2)
    x = torch.randn(4, 2)
    adjacency = random_adjacency(4, 0)
    first = layer(x, adjacency)
    adjacency.zero_()
    assert not torch.allclose(layer(x, adjacency), first)


def test_gcn_gradients_reach_the_features_and_weights():
    layer = GCNConv(3, 2)
    x = torch.randn(6, 3, requires_grad=True)
    layer(x, random_adjacency(6, 1).to_sparse()).sum().backward()
    assert x.grad is not None and layer.weight.grad is not None


def test_sbm_graph_shapes_split_and_homophily():
    graph = sbm_graph(400, 4, 0.05, 0.005, 0.5, seed=2, features=8)
    assert isinstance(graph, GraphBatch)
    assert graph.x.shape == (400, 8) and graph.num_nodes == 400
    masks = torch.stack([graph.train_mask, graph.val_mask, graph.test_mask]).long()
    assert torch.equal(masks.sum(0), torch.ones(400, dtype=torch.long))
    assert (int(graph.train_mask.sum()), int(graph.val_mask.sum())) == (40, 40)
    dense = graph.adjacency.to_dense()
    assert torch.equal(dense, dense.T) and dense.diagonal().abs().sum() == 0
    rows, cols = graph.adjacency.coalesce().indices()
    same = (graph.y[rows] == graph.y[cols]).float().mean()
    assert same > 0.6  # expected 100 * 0.05 / (100 * 0.05 + 300 * 0.005) = 0.77
    assert torch.equal(sbm_graph(400, 4, 0.05, 0.005, 0.5, seed=2, features=8).x, graph.x)
