"""relative_l2 and saved_tensor_bytes against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.plugins.evaluation import relative_l2, saved_tensor_bytes


def test_relative_l2_whole_tensor_and_per_sample():
    target = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    prediction = torch.tensor([[3.0, 5.0], [0.0, 3.0]])
    assert relative_l2(prediction, target) == pytest.approx((1 + 4) ** 0.5 / (25 + 1) ** 0.5)
    assert relative_l2(prediction, target, per_sample=True) == pytest.approx((1 / 5 + 2 / 1) / 2)
    assert relative_l2(target, target) == 0.0


def _mlp(depth: int) -> nn.Module:
    torch.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(16, 16), nn.Tanh()]
    return nn.Sequential(*layers)


def test_saved_bytes_of_a_tanh_mlp_by_hand():
    """Each Linear saves its input, each Tanh its output; the two share storage after the first."""
    x = torch.randn(10, 16)
    for depth in (1, 3):
        net = _mlp(depth)
        measured = saved_tensor_bytes(lambda net=net: net(x).sum().backward(), exclude=net.parameters())
        # x, then one 10 x 16 float32 activation per Tanh output (input of the next Linear)
        assert measured == (1 + depth) * 10 * 16 * 4


def test_saved_bytes_count_parameters_unless_excluded():
    """The second Linear saves its weight (for its input's gradient); the first needs none."""
    x = torch.randn(10, 16)
    net = _mlp(2)
    run = lambda: net(x).sum().backward()  # noqa: E731
    weight_bytes = 16 * 16 * 4
    assert saved_tensor_bytes(run) - saved_tensor_bytes(run, exclude=net.parameters()) == weight_bytes


def test_saved_bytes_peak_is_one_step_when_graphs_are_freed_between_steps():
    x = torch.randn(10, 16)
    net = _mlp(2)
    one = saved_tensor_bytes(lambda: net(x).sum().backward(), exclude=net.parameters())

    def sequential_steps():
        for _ in range(4):
            net(x).sum().backward()

    def one_graph():
        sum(net(x * (i + 1)).sum() for i in range(4)).backward()

    assert saved_tensor_bytes(sequential_steps, exclude=net.parameters()) == one
    assert saved_tensor_bytes(one_graph, exclude=net.parameters()) > 3 * one
