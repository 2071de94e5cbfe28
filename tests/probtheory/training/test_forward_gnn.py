"""ForwardGNN (Park et al., ICLR 2024): virtual-node augmentation, label isolation, local updates."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from probtheory.layers.graph import GCNConv
from probtheory.plugins.data import sbm_graph
from probtheory.training import fit
from probtheory.training.forward_gnn import VirtualNodeGNN, VirtualNodeObjective, VirtualNodes
from probtheory.training.loop import TrainState

pytestmark = pytest.mark.filterwarnings("ignore:Full backward hook is firing")


def small_graph(seed: int = 0):
    return sbm_graph(120, 3, 0.15, 0.01, 0.8, seed=seed, features=6)


def network(variant: str = "sf", seed: int = 0, top_down: bool = False) -> VirtualNodeGNN:
    torch.manual_seed(seed)
    return VirtualNodeGNN([GCNConv(6, 8), GCNConv(8, 8)], 3, variant=variant, seed=seed, top_down=top_down)


def relabelled(graph, seed: int = 5):
    """The graph with every validation and test label changed (training labels kept)."""
    g = torch.Generator().manual_seed(seed)
    y = graph.y.clone()
    others = ~graph.train_mask
    y[others] = (y[others] + torch.randint(1, 3, (int(others.sum()),), generator=g)) % 3
    assert not torch.equal(y, graph.y)
    return dataclasses.replace(graph, y=y)


def test_augmentation_adds_one_virtual_node_per_class_and_label_edges():
    graph = small_graph()
    augmented = VirtualNodes(3).augment(graph)
    n = graph.num_nodes
    assert augmented.x.shape == (n + 3, 6)
    dense = augmented.adjacency.to_dense()
    assert torch.equal(dense[:n, :n], graph.adjacency.to_dense())
    train = graph.train_mask.nonzero().squeeze(1)
    expected = torch.zeros(n, 3)
    expected[train, graph.y[train]] = 1.0
    assert torch.equal(dense[:n, n:], expected)  # training node <- its class's virtual node
    assert torch.equal(dense[n:, :n], expected.T)  # and back (bidirectional)
    one_way = VirtualNodes(3, bidirectional=False).augment(graph).adjacency.to_dense()
    assert one_way[:n, n:].abs().sum() == 0 and torch.equal(one_way[n:, :n], expected.T)


@pytest.mark.parametrize(("variant", "top_down"), [("sf", False), ("ff", False), ("sf", True)])
def test_augmentation_and_training_read_training_labels_only(variant, top_down):
    graph = small_graph()
    other = relabelled(graph)
    nodes = VirtualNodes(3, negatives=variant == "ff")
    first, second = nodes.augment(graph), VirtualNodes(3, negatives=variant == "ff").augment(other)
    assert torch.equal(first.x, second.x)
    assert torch.equal(first.adjacency.to_dense(), second.adjacency.to_dense())
    if variant == "ff":
        assert torch.equal(first.negative_adjacency.to_dense(), second.negative_adjacency.to_dense())
    weights = []
    for g in (graph, other):
        model = network(variant, top_down=top_down)
        fit(model, [g], epochs=2, update=model.local_update(), progress=False, seed=0)
        weights.append(model.state_dict())
        model.eval()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_negative_graph_never_links_a_node_to_its_true_class():
    graph = small_graph()
    augmented = VirtualNodes(3, negatives=True).augment(graph)
    n = graph.num_nodes
    negative = augmented.negative_adjacency.to_dense()[n:, :n]  # virtual <- real
    train = augmented.train_index
    assert torch.equal(negative[:, train].sum(0), torch.ones(len(train)))
    assert negative[graph.y[train], train].abs().sum() == 0


def test_sf_objective_is_cross_entropy_of_virtual_node_similarities():
    graph = small_graph()
    nodes = VirtualNodes(3)
    augmented = nodes.augment(graph)
    h = torch.randn(graph.num_nodes + 3, 4, dtype=torch.float64)
    loss = VirtualNodeObjective(nodes, temperature=0.5)(h, graph)
    n = graph.num_nodes
    expected = 0.0
    for i, label in zip(augmented.train_index.tolist(), augmented.train_labels.tolist(), strict=True):
        logits = torch.stack([h[i] @ h[n + c] / 0.5 for c in range(3)])
        expected += -(logits[label] - torch.logsumexp(logits, 0))
    assert torch.allclose(loss, expected / len(augmented.train_index))


def test_each_backward_passes_through_exactly_one_layer():
    graph = small_graph()
    model = network()
    update = model.local_update()
    events: list[str] = []
    inputs: list[torch.Tensor] = []
    for k, block in enumerate(model.blocks):
        block.register_full_backward_hook(lambda m, gi, go, k=k: events.append(f"layer{k}"))
        block.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    objective = update.objectives[0]
    update.objectives = [lambda h, b: (events.append("loss"), objective(h, b))[1]] * 2
    update(TrainState(model, torch.optim.SGD(update.parameters(), lr=0.0)), graph)
    assert events == ["loss", "layer0", "loss", "layer1"]
    assert all(h.grad_fn is None for h in inputs)


@pytest.mark.parametrize("variant", ["sf", "ff"])
def test_first_layers_gradient_ignores_the_second_layer(variant):
    graph = small_graph()

    def gradient(perturb: bool) -> torch.Tensor:
        model = network(variant)
        if perturb:
            with torch.no_grad():
                for p in model.blocks[1].parameters():
                    p.add_(torch.randn_like(p))
        update = model.local_update()
        optimizer = torch.optim.SGD(update.parameters(), lr=0.0)
        optimizer.zero_grad()
        update(TrainState(model, optimizer), graph)
        return model.blocks[0].layer.weight.grad.clone()

    assert torch.equal(gradient(False), gradient(True))


def test_sf_training_beats_chance_on_a_homophilous_graph():
    graph = small_graph()
    model = network("sf")
    update = model.local_update()
    optimizer = torch.optim.Adam(update.parameters(), lr=0.05)
    fit(model, [graph], epochs=15, update=update, optimizer=optimizer, progress=False, seed=0)
    model.eval()
    with torch.no_grad():
        scores = model(graph)
    assert scores.shape == (graph.num_nodes, 3)
    test = graph.test_mask
    assert (scores.argmax(1)[test] == graph.y[test]).float().mean() > 0.6  # chance 1/3


def test_ff_training_lowers_its_loss_and_scores_every_class():
    graph = small_graph()
    model = network("ff")
    update = model.local_update()
    optimizer = torch.optim.Adam(update.parameters(), lr=0.05)
    state = fit(model, [graph], epochs=10, update=update, optimizer=optimizer, progress=False, seed=0)
    assert state.epoch_losses[-1] < state.epoch_losses[0]
    with torch.no_grad():
        assert model(graph).shape == (graph.num_nodes, 3)


def test_greedy_schedule_trains_only_the_named_layer():
    graph = small_graph()
    model = network()
    second = [p.detach().clone() for p in model.blocks[1].parameters()]
    fit(model, [graph], epochs=3, update=model.local_update(train=[0]), progress=False, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(model.blocks[1].parameters(), second, strict=True))


def test_top_down_loss_uses_the_previous_outputs_of_the_layers_above():
    graph = small_graph()
    model = network(top_down=True)
    update = model.local_update()
    augmented = model.virtual_nodes.augment(graph)
    with torch.no_grad():
        model._current.adjacency = (augmented.adjacency,)
        first = model.blocks[0](augmented.x)
        second = model.blocks[1](first)
        unit = second / (second.norm(dim=-1, keepdim=True) + 1e-8)
        expected = [model.objective((first + unit) / 2, graph), model.objective(second, graph)]
        plain = model.objective(first, graph)
    losses = []
    update.objectives = [lambda h, b, o=o: losses.append(o(h, b)) or losses[-1] for o in update.objectives]
    update(TrainState(model, torch.optim.SGD(update.parameters(), lr=0.0)), graph)
    assert torch.allclose(losses[0], expected[0]) and torch.allclose(losses[1], expected[1])
    assert not torch.allclose(losses[0], plain)  # the signal from above changes the loss


def test_top_down_backward_still_passes_through_one_layer():
    graph = small_graph()
    model = network(top_down=True)
    update = model.local_update()
    events: list[str] = []
    for k, block in enumerate(model.blocks):
        block.register_full_backward_hook(lambda m, gi, go, k=k: events.append(f"layer{k}"))
    objectives = list(update.objectives)
    update.objectives = [lambda h, b, o=o: (events.append("loss"), o(h, b))[1] for o in objectives]
    update(TrainState(model, torch.optim.SGD(update.parameters(), lr=0.0)), graph)
    assert events == ["loss", "layer0", "loss", "layer1"]
    with torch.no_grad():
        assert model(graph).shape == (graph.num_nodes, 3)
