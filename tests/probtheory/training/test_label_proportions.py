"""LLP-BP: BP marginals against brute-force enumeration, the k-NN graph, learning, errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from probtheory.errors import InputDataError, NotFittedError
from probtheory.training import LLPBeliefPropagation
from probtheory.training.label_proportions import bag_marginals, knn_edges

DTYPE = torch.float64


def _brute_force(bags, counts, edges, lambda_s, lambda_b):
    n = bags.numel()
    log_weights, labels = [], []
    for y in itertools.product([0, 1], repeat=n):
        y = torch.tensor(y, dtype=DTYPE)
        agree = sum(float(y[i] == y[j]) for i, j in edges.tolist())
        bag_counts = torch.zeros(counts.numel(), dtype=DTYPE).index_add_(0, bags, y)
        log_weights.append(lambda_s * agree - lambda_b * (bag_counts - counts).square().sum().item())
        labels.append(y)
    w = torch.softmax(torch.tensor(log_weights, dtype=DTYPE), dim=0)
    return (w.unsqueeze(1) * torch.stack(labels)).sum(0)


@pytest.mark.parametrize(
    ("bags", "counts", "edges"),
    [
        ([0, 0, 0, 1, 1, 1, 1], [1, 3], []),  # bag factors only
        ([0, 0, 0, 1, 1, 1, 1], [2, 1], [[0, 4]]),  # one edge between two bags: a tree
        ([0, 0, 1, 1, 2, 2, 2], [1, 0, 2], [[1, 2], [3, 5]]),  # a chain of three bags
    ],
)
def test_bp_is_exact_on_a_factor_tree(bags, counts, edges):
    bags, counts = torch.tensor(bags), torch.tensor(counts, dtype=DTYPE)
    edges = torch.tensor(edges, dtype=torch.long).reshape(-1, 2)
    bp = bag_marginals(bags, counts, edges, lambda_s=0.8, lambda_b=0.6, iterations=30, damping=0.0)
    torch.testing.assert_close(bp, _brute_force(bags, counts, edges, 0.8, 0.6), rtol=1e-10, atol=1e-12)


def test_loopy_bp_is_close_on_a_small_loopy_graph():
    bags, counts = torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([2.0, 1.0], dtype=DTYPE)
    edges = torch.tensor([[0, 3], [1, 4], [2, 5], [0, 1]])
    bp = bag_marginals(bags, counts, edges, lambda_s=0.3, lambda_b=0.5, iterations=100)
    exact = _brute_force(bags, counts, edges, 0.3, 0.5)
    assert (bp - exact).abs().max() < 0.05


def test_knn_edges_are_symmetric_unique_pairs():
    x = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
    edges = knn_edges(x, 1)
    assert edges.tolist() == [[0, 1], [2, 3]]
    assert knn_edges(x, 10).shape[0] == 6  # capped at n - 1 neighbours: the complete graph


def test_llp_bp_learns_instance_labels_from_bag_counts():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(240, 3, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    bags = torch.randperm(240, generator=g) // 24
    counts = torch.zeros(10).index_add_(0, bags, y.float())
    model = LLPBeliefPropagation(rounds=2, epochs=40, seed=0).fit(x, bags, counts)
    accuracy = ((model.predict_proba(x) > 0.5).long() == y).float().mean().item()
    assert accuracy > 0.85
    assert model.pseudo_labels.shape == (240,)


def test_bad_input_raises():
    x, bags, counts = torch.randn(6, 2), torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([1.0, 2.0])
    with pytest.raises(NotFittedError):
        LLPBeliefPropagation().predict_proba(x)
    with pytest.raises(InputDataError, match="counts"):
        LLPBeliefPropagation().fit(x, bags, torch.tensor([4.0, 1.0]))
    with pytest.raises(InputDataError, match="counts"):
        LLPBeliefPropagation().fit(x, bags, torch.tensor([1.0]))
    with pytest.raises(InputDataError, match="bags"):
        LLPBeliefPropagation().fit(x, torch.tensor([0, 0, 2, 2, 2, 2]), torch.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(InputDataError, match="bags"):
        LLPBeliefPropagation().fit(x, bags.float(), counts)
    with pytest.raises(InputDataError, match="x"):
        LLPBeliefPropagation().fit(torch.full((6, 2), float("nan")), bags, counts)
    with pytest.raises(InputDataError, match="damping"):
        bag_marginals(bags, counts, torch.zeros(0, 2, dtype=torch.long), damping=1.0)
    with pytest.raises(InputDataError, match="rounds"):
        LLPBeliefPropagation(rounds=0)
