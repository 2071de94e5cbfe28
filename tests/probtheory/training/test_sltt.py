"""SLTT against BPTT and autograd: exact limits, the cut graph, K steps, memory flat in T."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from probtheory.layers.spiking import LIFNeuron, TemporalSum, rate_code, temporal_detach
from probtheory.plugins.evaluation import saved_tensor_bytes
from probtheory.training import fit
from probtheory.training.sltt import SLTT, bptt_loss


def spiking_mlp(tau: float = 2.0, seed: int = 0, widths=(5, 7, 6, 3)) -> nn.Sequential:
    """Two spiking hidden layers and a linear readout, float64."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-2], widths[1:-1], strict=True):
        layers += [nn.Linear(a, b), LIFNeuron(tau=tau, v_th=0.5)]
    layers.append(nn.Linear(widths[-2], widths[-1]))
    net = nn.Sequential(*layers).double()
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(2.0)  # enough drive that units fire and reset
    return net


def batch(T: int, seed: int = 1, width: int = 5):
    g = torch.Generator().manual_seed(seed)
    x = rate_code(torch.rand(6, width, generator=g, dtype=torch.float64), T, generator=g)
    return x, torch.randint(0, 3, (6,), generator=g)


def sltt_grads(net, data, **kwargs):
    update = SLTT(data[0].shape[1], **kwargs)
    fit(
        net,
        [data],
        epochs=1,
        update=update,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.0),
        progress=False,
    )
    return [p.grad.clone() for p in net.parameters()], update


def autograd_grads(net, data, detach: bool):
    net.zero_grad()
    with temporal_detach(net, detach):
        bptt_loss(net, data).backward()
    return [p.grad.clone() for p in net.parameters()]


def assert_same(a, b, atol=1e-12):
    for g, h in zip(a, b, strict=True):
        torch.testing.assert_close(g, h, rtol=0, atol=atol)


@pytest.mark.parametrize(("T", "tau"), [(1, 2.0), (4, 1.0), (6, 1.0)])
def test_sltt_equals_bptt_without_temporal_dependence(T, tau):
    net = spiking_mlp(tau=tau)
    data = batch(T)
    sltt, _ = sltt_grads(copy.deepcopy(net), data)
    assert_same(sltt, autograd_grads(net, data, detach=False))


def test_sltt_equals_autograd_of_the_cut_graph_for_t4():
    net = spiking_mlp(tau=2.0)
    data = batch(4)
    sltt, _ = sltt_grads(copy.deepcopy(net), data)
    assert_same(sltt, autograd_grads(copy.deepcopy(net), data, detach=True))
    bptt = autograd_grads(net, data, detach=False)
    assert max(float((g - h).abs().max()) for g, h in zip(sltt, bptt, strict=True)) > 1e-6  # the cut matters


def test_the_network_keeps_its_own_temporal_setting_after_sltt():
    net = spiking_mlp()
    sltt_grads(net, batch(3))
    assert all(not m.detach_temporal for m in net if isinstance(m, LIFNeuron))


@pytest.mark.parametrize("K", [1, 2, 5])
def test_sltt_k_backpropagates_exactly_k_steps(K):
    net = spiking_mlp()
    calls = []
    net[2].register_full_backward_hook(lambda *args: calls.append(1))
    _, update = sltt_grads(net, batch(5), K=K, seed=3)
    assert len(calls) == K
    assert len(set(update.last_backward_steps)) == K


def test_sltt_k_with_k_equal_t_is_sltt():
    net = spiking_mlp()
    data = batch(4)
    full, _ = sltt_grads(copy.deepcopy(net), data)
    k_all, _ = sltt_grads(net, data, K=4)
    assert_same(full, k_all)


def _bytes(T: int, method: str) -> int:
    net = spiking_mlp(tau=2.0).float()
    x, y = batch(T)
    data = (x.float(), y)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    if method == "sltt":
        run = lambda: fit(net, [data], epochs=1, update=SLTT(T), optimizer=optimizer, progress=False)  # noqa: E731
    else:
        run = lambda: fit(net, [data], epochs=1, loss=bptt_loss, optimizer=optimizer, progress=False)  # noqa: E731
    return saved_tensor_bytes(run, exclude=net.parameters())


def test_sltt_memory_is_flat_in_t_and_bptt_grows_linearly():
    sltt = [_bytes(T, "sltt") for T in (2, 4, 8)]
    bptt = [_bytes(T, "bptt") for T in (2, 4, 8)]
    assert sltt[0] == sltt[1] == sltt[2]
    assert bptt[2] - bptt[1] == 2 * (bptt[1] - bptt[0]) > 0


def test_lif_dynamics_by_hand():
    neuron = LIFNeuron(tau=2.0, v_th=1.0)
    currents = [0.6, 0.9, 0.2, 1.5]
    v, expected = 0.0, []
    for current in currents:
        v = 0.5 * v + current
        s = 1.0 if v >= 1.0 else 0.0
        v -= s
        expected.append(s)
    out = [float(neuron(torch.tensor([c]))) for c in currents]
    assert out == expected == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("surrogate", ["sigmoid", "rectangle", "triangle"])
def test_surrogate_gradients(surrogate):
    u = torch.tensor([-0.3, -0.05, 0.0, 0.05, 0.3], dtype=torch.float64, requires_grad=True)
    neuron = LIFNeuron(tau=1.0, v_th=1.0, surrogate=surrogate, alpha=4.0)
    neuron(u + 1.0).sum().backward()
    if surrogate == "sigmoid":
        s = torch.sigmoid(4 * u.detach())
        expected = 4 * s * (1 - s)
    elif surrogate == "rectangle":
        expected = (u.detach().abs() < 0.125).double() * 4
    else:
        expected = (4 - 16 * u.detach().abs()).clamp(min=0)
    torch.testing.assert_close(u.grad, expected)


def test_temporal_sum_resets_between_sequences():
    net = spiking_mlp()
    model = TemporalSum(net)
    x, _ = batch(5)
    first = model(x)
    torch.testing.assert_close(model(x), first, rtol=0, atol=0)


def test_rate_code_fires_at_the_given_rates():
    intensities = torch.tensor([[0.0, 0.25, 1.0]], dtype=torch.float64)
    spikes = rate_code(intensities, 4000, seed=0)
    assert spikes.shape == (1, 4000, 3)
    rates = spikes.mean(dim=1)[0]
    se = (0.25 * 0.75 / 4000) ** 0.5
    assert float(rates[0]) == 0.0 and float(rates[2]) == 1.0
    assert abs(float(rates[1]) - 0.25) < 4 * se
