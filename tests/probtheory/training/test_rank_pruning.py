"""Trained Rank Pruning: energy ranks, exact truncation and decomposition, the nuclear subgradient."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError, UnsupportedError
from probtheory.plugins import fit
from probtheory.training import TrainedRankPruning, decompose_low_rank
from probtheory.training.rank_pruning import _unmatricize, energy_rank, matricize

DTYPE = torch.float64


@pytest.mark.parametrize(("energy", "rank"), [(0.5, 1), (4 / 6, 1), (0.7, 2), (5 / 6, 2), (0.9, 3), (1.0, 3)])
def test_energy_rank_exact_cases(energy, rank):
    # squares 4, 1, 1: cumulative fractions 2/3, 5/6, 1
    assert energy_rank(torch.tensor([2.0, 1.0, 1.0], dtype=DTYPE), energy) == rank


def test_energy_rank_of_zero_matrix_is_one():
    assert energy_rank(torch.zeros(3), 0.9) == 1


def test_conv_matricization_round_trips():
    w = torch.randn(5, 3, 2, 4, dtype=DTYPE)
    m = matricize(w)
    assert m.shape == (3 * 2, 5 * 4)
    assert m[1 * 2 + 1, 4 * 4 + 3] == w[4, 1, 1, 3]
    assert torch.equal(_unmatricize(m, w.shape), w)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 6, 3, stride=(2, 1), padding=(1, 2)),
        nn.ReLU(),
        nn.Conv2d(6, 4, (3, 2), padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.LazyLinear(16),
        nn.ReLU(),
        nn.Linear(16, 3),
    ).double()


def test_truncation_sets_the_reported_rank_and_decomposition_is_exact():
    net = _net()
    x = torch.randn(7, 2, 8, 8, dtype=DTYPE)
    net(x)  # materialise the lazy layer
    trp = TrainedRankPruning(energy=0.8)
    trp.on_fit_start(type("S", (), {"model": net})())
    assert trp.layers == [net[0], net[2], net[5]]  # the classifier stays dense
    ranks = trp.truncate()
    for layer, k in zip(trp.layers, ranks, strict=True):
        assert torch.linalg.matrix_rank(matricize(layer.weight.detach())).item() == k
    assert ranks[0] < min(matricize(net[0].weight).shape)
    small = decompose_low_rank(net, trp.ranks())
    torch.testing.assert_close(small(x), net(x), rtol=1e-10, atol=1e-10)
    assert isinstance(small[0], nn.Sequential) and small[0][0].kernel_size == (3, 1)
    assert sum(p.numel() for p in small[0].parameters()) < sum(p.numel() for p in net[0].parameters())
    assert isinstance(net[0], nn.Conv2d)  # the original is not modified


def test_training_with_trp_reaches_low_rank_and_keeps_learning():
    torch.manual_seed(0)
    x = torch.randn(128, 10)
    y = (x[:, 0] > 0).long()
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    trp = TrainedRankPruning(energy=0.9, period=2)
    state = fit(net, [(x, y)] * 10, epochs=5, callbacks=[trp], seed=0, progress=False)
    assert len(trp.history) == 25
    assert max(trp.history[-1]) < 32
    assert state.epoch_losses[-1] < state.epoch_losses[0]


def test_nuclear_subgradient_is_the_nuclear_norm_gradient():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2)).double()
    weight = net[0].weight
    expected = torch.autograd.grad(torch.linalg.matrix_norm(weight, "nuc"), weight)[0]
    trp = TrainedRankPruning(energy=1.0, nuclear_weight=0.3)
    trp.on_fit_start(type("S", (), {"model": net})())
    weight.grad = torch.zeros_like(weight)
    trp.on_after_backward(None)
    torch.testing.assert_close(weight.grad, 0.3 * expected)


def test_bad_input_raises():
    with pytest.raises(InputDataError, match="energy"):
        TrainedRankPruning(energy=0.0)
    with pytest.raises(InputDataError, match="energy"):
        energy_rank(torch.ones(2), 1.5)
    with pytest.raises(InputDataError, match="period"):
        TrainedRankPruning(period=0)
    with pytest.raises(InputDataError, match="nuclear_weight"):
        TrainedRankPruning(nuclear_weight=-1.0)
    with pytest.raises(UnsupportedError, match=r"layers\[0\]"):
        TrainedRankPruning(layers=[nn.ReLU()])
    with pytest.raises(InputDataError, match="model"):
        fit(nn.Linear(3, 2), [(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))], epochs=1,
            callbacks=[TrainedRankPruning()], progress=False)  # fmt: skip
    with pytest.raises(InputDataError, match="history"):
        TrainedRankPruning().ranks()
    with pytest.raises(UnsupportedError, match="weight"):
        matricize(torch.ones(3))


def test_energy_one_keeps_every_singular_value_in_float32_too():
    # the float32 cumulative fraction of this spectrum ends just below 1 (the rank was n + 1)
    g = torch.Generator().manual_seed(18)
    s = torch.linalg.svdvals(torch.randn(3, 3, generator=g))
    assert s.dtype == torch.float32
    assert energy_rank(s, 1.0) == 3 == energy_rank(s.double(), 1.0)
