"""Hard-sample minibatch selection: the top-delta batches by loss, counted passes, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.plugins import fit
from probtheory.training import HardBatches
from probtheory.training.loop import classification_loss


def _batches(n_batches=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(8, 3, generator=g), torch.randint(0, 2, (8,), generator=g)) for _ in range(n_batches)
    ]


@pytest.mark.parametrize("delta", [0.1, 0.25, 0.5, 1.0])
def test_selects_the_top_delta_batches_by_loss(delta):
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    batches = _batches()
    data = HardBatches(batches, net, classification_loss, delta=delta)
    chosen = list(data)
    with torch.no_grad():
        losses = torch.tensor([classification_loss(net, b).item() for b in batches])
    expected = torch.argsort(losses, descending=True)[: math.ceil(delta * 10)].tolist()
    assert [next(i for i, b in enumerate(batches) if b is c) for c in chosen] == expected
    assert data.backward_passes == len(chosen) == len(data) and data.forward_passes == 10


def test_rescoring_period_reuses_the_selection():
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    data = HardBatches(_batches(), net, classification_loss, delta=0.3, rescore_every=2)
    first, second, third = list(data), list(data), list(data)
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert data.forward_passes == 20 and data.backward_passes == 9
    assert len(third) == 3


def test_training_on_hard_batches_counts_backward_passes_and_learns():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    batches = [(x, (x[:, 0] > 0).long()) for x, _ in _batches(12)]
    data = HardBatches(batches, net, classification_loss, delta=0.5)
    state = fit(net, data, epochs=8, seed=0, progress=False)
    assert data.backward_passes == state.step == 8 * 6
    with torch.no_grad():
        full = sum(classification_loss(net, b).item() for b in batches) / 12
    assert full < math.log(2)  # below chance level


def test_scoring_leaves_the_training_mode_alone():
    net = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    net.train()
    list(HardBatches(_batches(), net, classification_loss, delta=0.5))
    assert net.training


def test_bad_input_raises():
    net = nn.Linear(3, 2)
    with pytest.raises(InputDataError, match="delta"):
        HardBatches(_batches(), net, classification_loss, delta=0.0)
    with pytest.raises(InputDataError, match="delta"):
        HardBatches(_batches(), net, classification_loss, delta=1.5)
    with pytest.raises(InputDataError, match="rescore_every"):
        HardBatches(_batches(), net, classification_loss, delta=0.5, rescore_every=0)
    with pytest.raises(InputDataError, match="model"):
        HardBatches(_batches(), "net", classification_loss, delta=0.5)
    with pytest.raises(InputDataError, match="data"):
        list(HardBatches([], net, classification_loss, delta=0.5))
    with pytest.raises(InputDataError, match="loss"):
        list(HardBatches(_batches(), net, lambda m, b: torch.tensor(float("nan")), delta=0.5))
