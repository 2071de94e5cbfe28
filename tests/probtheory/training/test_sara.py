"""SaRA: exact mask selection, only masked entries move, the nuclear-norm gradient, re-selection, adapters."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from probtheory.plugins import fit
from probtheory.training.loop import TrainingCallback
from probtheory.training.sara import (
    SaRA,
    ineffective_mask,
    load_state_delta,
    magnitude_threshold,
    masked_nuclear_norm,
)

DTYPE = torch.float64


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 9), nn.Tanh(), nn.Linear(9, 3)).double()


def _data(seed: int = 0, n_batches: int = 6):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(16, 6, generator=g, dtype=DTYPE), torch.randint(0, 3, (16,), generator=g))
        for _ in range(n_batches)
    ]


def test_magnitude_threshold_cuts_exactly_k_entries():
    a = torch.tensor([0.5, -0.1, 0.3], dtype=DTYPE)
    b = torch.tensor([[-0.2, 0.05], [0.4, -0.6]], dtype=DTYPE)
    # magnitudes sorted: .05 .1 .2 .3 .4 .5 .6 (N = 7); fraction 3/7 -> k = 3, t = (.2 + .3) / 2
    t = magnitude_threshold([a, b], 3 / 7)
    assert t == pytest.approx(0.25, abs=1e-15)
    assert int(ineffective_mask(a, t).sum() + ineffective_mask(b, t).sum()) == 3
    # a tie at the cut: fewer than k entries lie strictly below t, never more
    tied = torch.tensor([0.1, 0.2, 0.2, 0.3], dtype=DTYPE)
    t = magnitude_threshold([tied], 0.5)
    assert int((tied.abs() < t).sum()) <= 2


def test_mask_selects_exactly_the_entries_below_the_threshold():
    net = _net()
    t = 0.08
    sara = SaRA(net, threshold=t)
    for name, p in net.named_parameters():
        assert torch.equal(sara.masks[name], p.detach().abs() < t)
    assert sara.num_trainable() == sum(int((p.abs() < t).sum()) for p in net.parameters())
    assert sara.selections == [(0, sara.num_trainable())]


def test_fraction_selects_the_smallest_entries_globally():
    net = _net()
    sara = SaRA(net, fraction=0.2)
    everything = torch.cat([p.detach().abs().reshape(-1) for p in net.parameters()])
    k = round(0.2 * everything.numel())
    assert sara.num_trainable() == k  # random weights: no ties
    chosen = torch.cat([p.detach().abs()[sara.masks[n]] for n, p in net.named_parameters()])
    assert chosen.max() < torch.sort(everything).values[k]  # the k smallest, nothing else


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.5),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    ],
)
def test_only_masked_entries_change(make_optimizer):
    net = _net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    sara = SaRA(net, fraction=0.3, nuclear_weight=1e-3)
    state = fit(net, _data(), epochs=3, optimizer=make_optimizer(net.parameters()), callbacks=[sara],
                progress=False)  # fmt: skip
    assert state.step == 18
    moved = 0
    for name, p in net.named_parameters():
        mask = sara.masks[name]
        assert torch.equal(p.detach()[~mask], before[name][~mask])  # weight decay / momentum included
        moved += int((p.detach()[mask] != before[name][mask]).sum())
    assert moved > 0.9 * sara.num_trainable()


def test_nuclear_penalty_gradient_equals_masked_uv_transpose():
    net = _net()
    sara = SaRA(net, fraction=0.5, nuclear_weight=0.3)
    loss = sara.on_loss(None, torch.zeros((), dtype=DTYPE))
    loss.backward()
    for name, p in net.named_parameters():
        mask = sara.masks[name]
        if p.dim() != 2:
            assert p.grad is None
            continue
        masked = p.detach() * mask
        u, s, vh = torch.linalg.svd(masked, full_matrices=False)
        assert s.min() > 1e-6  # full rank: U V^T is the gradient, not merely a subgradient
        torch.testing.assert_close(p.grad, 0.3 * (mask * (u @ vh)), rtol=1e-10, atol=1e-12)
        expected = torch.autograd.grad(torch.linalg.matrix_norm(p * mask, "nuc"), p)[0]
        torch.testing.assert_close(p.grad, 0.3 * expected, rtol=1e-10, atol=1e-12)
    value = sum(torch.linalg.matrix_norm(p.detach() * sara.masks[n], "nuc") for n, p in net.named_parameters()
                if p.dim() == 2)  # fmt: skip
    torch.testing.assert_close(loss.detach(), 0.3 * value)


def test_matrices_per_step_penalises_one_matrix():
    net = _net()
    sara = SaRA(net, fraction=0.5, nuclear_weight=1.0, matrices_per_step=1, seed=3)
    norms = [float(masked_nuclear_norm(p.detach(), sara.masks[n])) for n, p in net.named_parameters()
             if p.dim() == 2]  # fmt: skip
    for _ in range(5):
        assert float(sara.nuclear_penalty().detach()) in [pytest.approx(v, rel=1e-12) for v in norms]


def test_progressive_reselection_keeps_entries_still_below_threshold_and_resets_optimizer():
    net = _net()
    sara = SaRA(net, fraction=0.3, progressive_step=6)
    first = {n: m.clone() for n, m in sara.masks.items()}
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    seen = {}

    class Spy(TrainingCallback):
        def on_step_end(self, state):
            if state.step == 6:  # runs after SaRA's hook: the re-selection has just happened
                seen["state"] = [len(optimizer.state[p]) for p in net.parameters()]

    fit(net, _data(), epochs=2, optimizer=optimizer, callbacks=[sara, Spy()], progress=False)
    assert seen["state"] == [0] * len(list(net.parameters()))
    assert [s for s, _ in sara.selections] == [0, 6]
    reselected_count = 0
    for name in first:
        # entries outside the first mask never moved and stay >= t, so the new mask is a subset
        assert not (sara.masks[name] & ~first[name]).any()
        reselected_count += int(sara.masks[name].sum())
    assert 0 < reselected_count < int(sum(m.sum() for m in first.values()))
    assert sara.selections[1][1] == reselected_count


def test_reselect_is_exactly_the_threshold_on_current_weights():
    net = _net()
    sara = SaRA(net, threshold=0.1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05)
    sara.reselect()
    for name, p in net.named_parameters():
        assert torch.equal(sara.masks[name], p.detach().abs() < 0.1)


def test_state_delta_round_trips_into_the_pretrained_model():
    net = _net()
    pretrained = copy.deepcopy(net)
    sara = SaRA(net, fraction=0.25, progressive_step=4)
    first_count = sara.num_trainable()
    fit(net, _data(), epochs=2, optimizer=torch.optim.Adam(net.parameters(), lr=1e-2), callbacks=[sara],
        progress=False)  # fmt: skip
    assert sara.num_trainable() < first_count  # the re-selection froze some trained entries
    delta = sara.state_delta()
    # the adapter keeps every entry that was ever trainable, frozen-after-training ones included
    assert sum(v.numel() for k, v in delta.items() if k.endswith(".value")) == first_count
    load_state_delta(pretrained, delta)
    for a, b in zip(pretrained.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_random_selection_has_the_same_size_and_is_seeded():
    net = _net()
    smallest = SaRA(net, fraction=0.2)
    one, two = (SaRA(net, fraction=0.2, selection="random", seed=5) for _ in range(2))
    assert one.num_trainable() == smallest.num_trainable()
    assert all(torch.equal(one.masks[n], two.masks[n]) for n in one.masks)
    assert any(not torch.equal(one.masks[n], smallest.masks[n]) for n in one.masks)


def test_parameters_restricts_the_adapted_set():
    net = _net()
    sara = SaRA(net, threshold=0.5, parameters=["2.weight"])
    assert list(sara.masks) == ["2.weight"]


def test_bad_input_raises():
    net = _net()
    with pytest.raises(ConfigurationError, match="exactly one"):
        SaRA(net)
    with pytest.raises(ConfigurationError, match="exactly one"):
        SaRA(net, threshold=0.1, fraction=0.1)
    with pytest.raises(InputDataError, match="fraction"):
        SaRA(net, fraction=1.0)
    with pytest.raises(InputDataError, match="threshold"):
        SaRA(net, threshold=-0.1)
    with pytest.raises(InputDataError, match="threshold"):
        SaRA(net, threshold=1e-12)  # nothing would train
    with pytest.raises(InputDataError, match="nuclear_weight"):
        SaRA(net, fraction=0.1, nuclear_weight=-1.0)
    with pytest.raises(InputDataError, match="progressive_step"):
        SaRA(net, fraction=0.1, progressive_step=0)
    with pytest.raises(InputDataError, match="matrices_per_step"):
        SaRA(net, fraction=0.1, matrices_per_step=0)
    with pytest.raises(InputDataError, match="selection"):
        SaRA(net, fraction=0.1, selection="largest")
    with pytest.raises(ConfigurationError, match="random"):
        SaRA(net, fraction=0.1, selection="random", progressive_step=3)
    with pytest.raises(InputDataError, match="parameters"):
        SaRA(net, fraction=0.1, parameters=["nope.weight"])
    with pytest.raises(InputDataError, match="model"):
        SaRA("net", fraction=0.1)
    with pytest.raises(UnsupportedError, match="selection"):
        SaRA(net, fraction=0.1, selection="random", seed=0).reselect()
    with pytest.raises(InputDataError, match="model"):
        fit(_net(1), _data(), epochs=1, callbacks=[SaRA(net, fraction=0.1)], progress=False)
    with pytest.raises(UnsupportedError, match="weight"):
        masked_nuclear_norm(torch.ones(3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(InputDataError, match="mask"):
        masked_nuclear_norm(torch.ones(2, 3), torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(InputDataError, match="tensors"):
        magnitude_threshold([], 0.5)
    with pytest.raises(InputDataError, match="weight"):
        ineffective_mask(torch.ones(3, dtype=torch.long), 0.5)
    with pytest.raises(InputDataError, match="delta"):
        load_state_delta(net, {"nope.index": torch.zeros(1, dtype=torch.long), "nope.value": torch.zeros(1)})
    with pytest.raises(InputDataError, match="index"):
        load_state_delta(net, {"0.bias.index": torch.tensor([99]), "0.bias.value": torch.zeros(1)})
