"""AugLocal (Ma et al., ICLR 2024): pyramid depths, sampled layers, fresh auxiliaries, isolation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.training import fit
from probtheory.training.auglocal import (
    AugmentedAuxiliary,
    auglocal_update,
    fresh_copy,
    pyramid_depths,
    sampled_layer_indices,
)

pytestmark = pytest.mark.filterwarnings("ignore:Full backward hook is firing")

WIDTH = 6


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(WIDTH, WIDTH)
        self.norm = nn.LayerNorm(WIDTH)

    def forward(self, x):
        return torch.relu(x + self.inner(self.norm(x)))


def network(num_layers: int = 6, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(*[Residual() for _ in range(num_layers)], nn.Linear(WIDTH, 3))


def batch(n: int = 10, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, WIDTH, generator=g), torch.randint(0, 3, (n,), generator=g)


# (d, c, K) -> d_k, worked by hand from max(1, round(d (1 - k c/(K-2)) + k c/(K-2))), Python's round
PYRAMID = [
    (2, 1.0, 8, [2, 2, 2, 2, 1, 1, 1]),  # k=3: 1.5 -> 2 (half to even)
    (3, 1.0, 5, [3, 2, 2, 1]),  # 7/3 -> 2, 5/3 -> 2
    (4, 0.5, 6, [4, 4, 3, 3, 2]),  # 3.625, 3.25, 2.875, 2.5 -> 2 (half to even)
    (4, 0.0, 4, [4, 4, 4]),  # no decay
    (5, 1.0, 2, [5]),  # one auxiliary network
    (1, 1.0, 6, [1, 1, 1, 1, 1]),
    (3, 2.0, 6, [3, 2, 1, 1, 1]),  # c > 1: 2, 1, 0 -> 1, -1 -> 1 (the floor of 1)
]


@pytest.mark.parametrize(("d", "c", "k", "expected"), PYRAMID)
def test_pyramid_depths_follow_the_papers_formula(d, c, k, expected):
    assert pyramid_depths(d, k, c) == expected


# (j, L, d) -> round(j + (L - j - 1) i / d), i = 1..d, or all later layers
SAMPLES = [
    (0, 16, 3, [5, 10, 15]),
    (3, 9, 2, [6, 8]),  # 5.5 -> 6
    (1, 9, 4, [3, 4, 6, 8]),  # 2.75, 4.5 -> 4 (half to even), 6.25, 8
    (5, 8, 3, [6, 7]),  # d >= L - 1 - j: every later layer
    (6, 8, 1, [7]),
    (0, 9, 1, [8]),  # the last sampled layer is always the network's last
]


@pytest.mark.parametrize(("j", "num_layers", "d", "expected"), SAMPLES)
def test_sampled_layer_indices(j, num_layers, d, expected):
    assert sampled_layer_indices(j, num_layers, d) == expected


def test_auxiliary_networks_copy_the_sampled_layers_and_the_head():
    net = network(8)
    update = auglocal_update(net, num_modules=6, depth=3)
    depths = pyramid_depths(3, 6, 1.0)
    for k, d_k in enumerate(depths):
        auxiliary = update.objectives[k].auxiliary
        expected = sampled_layer_indices(k, 8, d_k)
        assert len(auxiliary) == len(expected) + 1
        assert all(type(layer) is Residual for layer in auxiliary[:-1])
        assert isinstance(auxiliary[-1], nn.Linear) and auxiliary[-1].out_features == 3
    # the blocks are layers 0..K-2 and then the rest with the head
    assert update.blocks[:5] == [net[k] for k in range(5)]
    assert list(update.blocks[5]) == list(net[5:])


def test_auxiliary_networks_share_no_storage_with_the_backbone():
    net = network(6)
    update = auglocal_update(net, num_modules=5, depth=2, seed=3)
    backbone = {t.untyped_storage().data_ptr() for t in [*net.parameters(), *net.buffers()]}
    for objective in update.objectives[:-1]:
        for tensor in [*objective.parameters(), *objective.buffers()]:
            assert tensor.untyped_storage().data_ptr() not in backbone
        # fresh weights, not copies of the trained ones
        first = objective.auxiliary[0]
        assert not any(torch.equal(first.inner.weight, net[i].inner.weight) for i in range(6))


def test_fresh_copy_is_seeded_and_new():
    layer = nn.Linear(4, 4)
    torch.manual_seed(5)
    a = fresh_copy(layer)
    torch.manual_seed(5)
    b = fresh_copy(layer)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, layer.weight)
    assert a.weight.data_ptr() != layer.weight.data_ptr()


def test_auxiliaries_are_reproducible_from_the_seed():
    first = auglocal_update(network(6), num_modules=4, depth=2, seed=7)
    second = auglocal_update(network(6), num_modules=4, depth=2, seed=7)
    for a, b in zip(first.objectives[:-1], second.objectives[:-1], strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)


def test_removing_the_auxiliaries_leaves_inference_bit_identical():
    net = network(6)
    x, y = batch(24)
    update = auglocal_update(net, num_modules=6, depth=2)
    fit(net, [(x, y)], epochs=3, update=update, progress=False, seed=0)
    net.eval()
    with torch.no_grad():
        before = net(x)
    keys = set(net.state_dict())
    del update  # the auxiliary networks go with the update strategy
    plain = network(6, seed=9)
    plain.load_state_dict(net.state_dict())  # the model alone: no auxiliary weights in it
    plain.eval()
    with torch.no_grad():
        assert torch.equal(plain(x), before)
        assert torch.equal(net(x), before)
    assert keys == set(plain.state_dict())


def test_update_trains_backbone_and_auxiliaries_and_lowers_the_loss():
    net = network(4)
    x, y = batch(30)
    update = auglocal_update(net, num_modules=4, depth=2)
    auxiliary = update.objectives[0].auxiliary[0].inner.weight.detach().clone()
    state = fit(net, [(x, y)], epochs=15, update=update, progress=False, seed=0)
    assert state.epoch_losses[-1] < state.epoch_losses[0]
    assert not torch.equal(update.objectives[0].auxiliary[0].inner.weight, auxiliary)


def test_each_backward_passes_through_one_module_and_its_auxiliary():
    net = network(5)
    update = auglocal_update(net, num_modules=5, depth=2)
    events: list[str] = []
    for k, block in enumerate(update.blocks):
        block.register_full_backward_hook(lambda m, gi, go, k=k: events.append(f"block{k}"))
    for k, objective in enumerate(update.objectives[:-1]):
        for layer in objective.auxiliary:
            layer.register_full_backward_hook(lambda m, gi, go, k=k: events.append(f"aux{k}"))
        original = objective.forward

        def marked(h, b, k=k, original=original):
            events.append(f"loss{k}")
            return original(h, b)

        objective.forward = marked
    last = update.objectives[-1]
    update.objectives[-1] = lambda h, b: (events.append("loss4"), last(h, b))[1]
    inputs: list[torch.Tensor] = []
    for block in update.blocks:
        block.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    optimizer = torch.optim.SGD(update.parameters(), lr=0.0)
    from probtheory.training.loop import TrainState

    update(TrainState(net, optimizer), batch())
    assert all(h.grad_fn is None for h in inputs)  # no block input carries a graph
    segments: list[set[str]] = []
    for event in events:
        if event.startswith("loss"):
            segments.append(set())
        else:
            segments[-1].add(event)
    assert segments == [
        {"block0", "aux0"},
        {"block1", "aux1"},
        {"block2", "aux2"},
        {"block3", "aux3"},
        {"block4"},
    ]


def test_a_modules_gradient_ignores_later_modules_and_auxiliaries():
    from probtheory.training.loop import TrainState

    def first_gradient(perturb: bool) -> torch.Tensor:
        net = network(5)
        update = auglocal_update(net, num_modules=5, depth=2)
        if perturb:
            with torch.no_grad():
                for module in [*net[1:], *[o.auxiliary for o in update.objectives[1:-1]]]:
                    for p in module.parameters():
                        p.add_(torch.randn_like(p))
        optimizer = torch.optim.SGD(update.parameters(), lr=0.0)
        optimizer.zero_grad()
        update(TrainState(net, optimizer), batch())
        return net[0].inner.weight.grad.clone()

    assert torch.equal(first_gradient(False), first_gradient(True))


def test_batch_norm_auxiliary_works_with_two_samples():
    objective = AugmentedAuxiliary(nn.Sequential(nn.BatchNorm1d(WIDTH), nn.Linear(WIDTH, 3)))
    x, y = batch(2)
    assert objective(x, (x, y)).isfinite()
