"""Forward-forward, tpSGD and PhyLL: exact properties of each local rule and of its objective.

Every rule is checked for isolation (each backward call passes through exactly one block and
its local head; block k's gradient ignores later blocks and heads; no block input carries a
graph), then for its own formula: forward-forward's goodness and negatives (Hinton 2022),
tpSGD's delta rule in closed form (Lomnitz et al., AAAI 2023), PhyLL's black-box layers and
goodness prediction (Momeni et al., Science 2023).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from probtheory.layers.physical import BlackBoxLayer, IntensityTransmission
from probtheory.training import TrainingCallback, fit
from probtheory.training.local import (
    FFGoodness,
    LabelOverlay,
    LengthNormalization,
    LocalUpdate,
    TargetProjection,
    predict_by_goodness,
)
from probtheory.training.phyll import CosineGoodness

CLASSES = 3


def _batch(seed: int = 1, n: int = 6, d: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, CLASSES, (n,), generator=g)


class LinearHead(nn.Module):
    """A local head with parameters: cross-entropy of a linear classifier on the block output."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, CLASSES).double()

    def forward(self, h, batch):
        return F.cross_entropy(self.linear(h), batch[1])


def _forward_forward():
    torch.manual_seed(0)
    widths = (5 + CLASSES, 7, 6, 6)
    blocks = [
        nn.Sequential(LengthNormalization(), nn.Linear(a, b), nn.ReLU()).double()
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    return blocks, [FFGoodness(1.0)] * 3, {"inputs": LabelOverlay(CLASSES, seed=0)}


def _tpsgd():
    torch.manual_seed(0)
    blocks = [
        nn.Sequential(nn.Linear(5, 7), nn.Tanh()),
        nn.Sequential(nn.Linear(7, 6), nn.Tanh()),
        nn.Linear(6, 4),
    ]
    objectives = [TargetProjection(7, CLASSES, seed=1), TargetProjection(6, CLASSES, loss="l1", seed=2)]
    objectives.append(LinearHead(4))
    return [b.double() for b in blocks], objectives, {}


def _phyll():
    torch.manual_seed(0)
    blocks = [
        nn.Sequential(BlackBoxLayer(IntensityTransmission(5, 8, seed=k), name=f"medium {k}"), nn.Linear(8, w))
        for k, w in ((0, 5), (1, 5), (2, 4))
    ]
    blocks = [b.double() for b in blocks]
    objectives = [CosineGoodness(w, seed=k) for k, w in enumerate((5, 5, 4))]
    return blocks, objectives, {"inputs": LabelOverlay(CLASSES, mode="replace", seed=0), "inner_steps": 2}


RULES = {"forward-forward": _forward_forward, "tpsgd": _tpsgd, "phyll": _phyll}


def _run(blocks, objectives, options, batch):
    update = LocalUpdate(blocks, objectives, **options)
    optimizer = torch.optim.SGD(list(update.parameters()), lr=0.0)
    fit(nn.ModuleList(blocks), [batch], epochs=1, update=update, optimizer=optimizer, progress=False)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("rule", RULES)
def test_each_backward_call_passes_through_exactly_one_block_and_its_head(rule):
    blocks, objectives, options = RULES[rule]()
    events: list[tuple[str, int]] = []
    for k, block in enumerate(blocks):
        block.register_full_backward_hook(lambda m, gi, go, k=k: events.append(("block", k)))
        if isinstance(objectives[k], LinearHead):
            objectives[k].linear.register_full_backward_hook(
                lambda m, gi, go, k=k: events.append(("head", k))
            )
    calls = []
    original = torch.Tensor.backward

    def counting_backward(self, *args, **kwargs):
        start = len(events)
        original(self, *args, **kwargs)
        calls.append(events[start:])

    torch.Tensor.backward = counting_backward
    try:
        _run(blocks, objectives, options, _batch())
    finally:
        torch.Tensor.backward = original
    inner = options.get("inner_steps", 1)
    assert len(calls) == len(blocks) * inner
    for i, fired in enumerate(calls):
        k = i // inner
        assert {kind_k[1] for kind_k in fired} == {k}, f"backward call {i} reached blocks {fired}"
        assert ("block", k) in fired
        if isinstance(objectives[k], LinearHead):
            assert ("head", k) in fired


@pytest.mark.parametrize("rule", RULES)
def test_block_gradient_unchanged_when_later_blocks_and_heads_are_perturbed(rule):
    blocks, objectives, options = RULES[rule]()
    options = {k: v for k, v in options.items() if k != "inner_steps"}  # one gradient per batch
    batch = _batch()
    fresh = copy.deepcopy((blocks, objectives, options))
    _run(blocks, objectives, options, batch)
    for k in range(len(blocks) - 1):
        twin_blocks, twin_objectives, twin_options = copy.deepcopy(fresh)
        with torch.no_grad():
            later = twin_blocks[k + 1 :] + [o for o in twin_objectives[k + 1 :] if isinstance(o, nn.Module)]
            for module in later:
                for p in module.parameters():
                    p.add_(torch.randn_like(p))
        _run(twin_blocks, twin_objectives, twin_options, batch)
        for j in range(k + 1):
            for p, q in zip(blocks[j].parameters(), twin_blocks[j].parameters(), strict=True):
                assert torch.equal(p.grad, q.grad), f"block {j} moved when blocks after {k} changed"
        moved = zip(blocks[k + 1].parameters(), twin_blocks[k + 1].parameters(), strict=True)
        assert any(not torch.equal(p.grad, q.grad) for p, q in moved)  # the perturbation is visible


@pytest.mark.parametrize("rule", RULES)
def test_no_block_input_carries_a_graph(rule):
    blocks, objectives, options = RULES[rule]()
    seen = []
    for block in blocks:
        block.register_forward_pre_hook(lambda m, args: seen.append((args[0].grad_fn, args[0].requires_grad)))
    _run(blocks, objectives, options, _batch())
    assert seen and all(grad_fn is None and not requires_grad for grad_fn, requires_grad in seen)


# ------------------------------------------------------------------------------ forward-forward


def test_goodness_is_the_sum_of_squares_and_the_loss_its_logistic_form():
    h = torch.tensor(
        [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0], [2.0, 2.0, 2.0], [0.25, 0.0, 0.0]], dtype=torch.float64
    )
    objective = FFGoodness(theta=4.0)
    assert torch.equal(objective.goodness(h), torch.tensor([5.25, 10.0, 12.0, 0.0625], dtype=torch.float64))
    expected = (
        torch.log1p(torch.exp(torch.tensor([4.0 - 5.25, 4.0 - 10.0], dtype=torch.float64))).mean()
        + torch.log1p(torch.exp(torch.tensor([12.0 - 4.0, 0.0625 - 4.0], dtype=torch.float64))).mean()
    )
    torch.testing.assert_close(objective(h), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("c", [1e-3, 0.37, 5.0, 1e4])
def test_length_normalisation_makes_the_next_layer_scale_invariant(c):
    torch.manual_seed(0)
    layer = nn.Sequential(LengthNormalization(), nn.Linear(6, 4), nn.ReLU()).double()
    x = torch.randn(9, 6, dtype=torch.float64)
    torch.testing.assert_close(layer(c * x), layer(x), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(LengthNormalization()(x).norm(dim=1), torch.ones(9, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_negatives_never_carry_the_true_label_and_cover_every_other_class(mode):
    classes = 4
    overlay = LabelOverlay(classes, mode=mode, seed=3)
    y = torch.arange(classes).repeat(500)
    x = torch.rand(y.numel(), 6) + 0.5
    both = overlay((x, y))
    positive, negative = both[: y.numel()], both[y.numel() :]
    label_part = slice(6, 6 + classes) if mode == "append" else slice(0, classes)
    carried_pos = positive[:, label_part].argmax(dim=1)
    carried_neg = negative[:, label_part].argmax(dim=1)
    assert torch.equal(carried_pos, y)
    assert not bool((carried_neg == y).any())
    assert bool(((negative[:, label_part] > 0).sum(dim=1) == 1).all())  # exactly one label carried
    for c in range(classes):
        others = set(carried_neg[y == c].tolist())
        assert others == set(range(classes)) - {c}


# ------------------------------------------------------------------------------------- tpSGD


def test_projection_is_fixed_outside_the_optimizer_and_reproducible_from_the_seed():
    torch.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(5, 7), nn.Tanh()), nn.Linear(7, CLASSES)]
    objective = TargetProjection(7, CLASSES, seed=11)
    before = objective.projection.clone()
    update = LocalUpdate(blocks, [objective, lambda h, b: F.cross_entropy(h, b[1])])
    assert list(objective.parameters()) == []
    in_optimizer = {id(p) for p in update.parameters()}
    assert id(objective.projection) not in in_optimizer
    x, y = _batch()
    fit(nn.ModuleList(blocks), [(x.float(), y)] * 3, epochs=5, update=update, progress=False)
    assert torch.equal(objective.projection, before)
    assert torch.equal(TargetProjection(7, CLASSES, seed=11).projection, before)
    assert not torch.equal(TargetProjection(7, CLASSES, seed=12).projection, before)
    assert "projection" in objective.state_dict()


@pytest.mark.parametrize("loss", ["l2", "l1"])
@pytest.mark.parametrize(("activation", "derivative"), [
    (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
])  # fmt: skip
def test_local_gradient_equals_the_closed_form_delta_rule(loss, activation, derivative):
    g = torch.Generator().manual_seed(4)
    n, d_in, width = 5, 6, 8
    h = torch.randn(n, d_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    weight = torch.randn(width, d_in, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(width, generator=g, dtype=torch.float64, requires_grad=True)
    objective = TargetProjection(width, CLASSES, loss=loss, seed=7)
    z = h @ weight.t() + bias
    out = activation(z)
    objective(out, (h, y)).backward()
    t = objective.projection.double().t()[y]
    residual = t - out.detach()
    signal = 2 * residual if loss == "l2" else torch.sign(residual)
    delta = -signal * derivative(z.detach())
    torch.testing.assert_close(weight.grad, delta.t() @ h / n, rtol=0, atol=1e-6)
    torch.testing.assert_close(bias.grad, delta.sum(dim=0) / n, rtol=0, atol=1e-6)
    plain = (t - out).pow(2) if loss == "l2" else (t - out).abs()
    torch.testing.assert_close(objective(out, (h, y)), plain.sum(dim=1).mean(), rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------------- PhyLL


def test_black_box_layer_runs_its_system_without_autograd():
    modes = []

    def system(x):
        modes.append(torch.is_grad_enabled())
        return x.pow(2)

    layer = BlackBoxLayer(system, name="speaker")
    x = torch.randn(3, 4, requires_grad=True)
    out = layer(x)
    layer(x.detach())
    assert modes == [False, False]
    assert out.requires_grad and layer(x.detach()).grad_fn is None


def test_backprop_through_a_black_box_layer_raises_naming_it():
    medium = IntensityTransmission(4, 6, seed=0)
    model = nn.Sequential(nn.Linear(3, 4), BlackBoxLayer(medium, name="optical medium 2"), nn.Linear(6, 2))
    loss = model(torch.randn(5, 3)).sum()
    with pytest.raises(UnsupportedError, match="optical medium 2") as raised:
        loss.backward()
    assert "BlackBoxLayer" in str(raised.value)
    assert medium.transmission.grad is None


def test_intensity_transmission_is_the_squared_modulus_of_a_fixed_complex_matrix():
    medium = IntensityTransmission(4, 3, seed=2).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    expected = (x.to(torch.complex128) @ medium.transmission.to(torch.complex128).t()).abs() ** 2
    torch.testing.assert_close(medium(x), expected, rtol=1e-6, atol=1e-6)
    assert list(medium.parameters()) == []


def test_cosine_goodness_prediction_equals_brute_force_over_all_overlays():
    blocks, objectives, options = _phyll()
    overlay = options["inputs"]
    x, _ = _batch(seed=5, n=7)
    predicted = predict_by_goodness(blocks, [o.goodness for o in objectives], x, overlay)
    for i in range(x.shape[0]):
        totals = []
        for c in range(CLASSES):
            row = x[i].clone()
            row[:CLASSES] = 0
            row[c] = x[i].max()
            h, total = row.unsqueeze(0), 0.0
            for block, objective in zip(blocks, objectives, strict=True):
                h = block(h)
                a = h.abs().squeeze(0)
                total += float(
                    a.detach()
                    @ objective.probe.double()
                    / (a.detach().norm() * objective.probe.double().norm())
                )
            totals.append(total)
        assert int(predicted[i]) == max(range(CLASSES), key=lambda c: (totals[c], -c))


def test_cosine_goodness_loss_is_the_logistic_loss_of_the_goodness_gap():
    objective = CosineGoodness(3, theta=4.0, seed=0).double()
    h = torch.randn(8, 3, dtype=torch.float64)
    g = objective.goodness(h)
    expected = torch.log1p(torch.exp(-4.0 * (g[:4] - g[4:]))).mean()
    torch.testing.assert_close(objective(h), expected, rtol=1e-12, atol=0)


# ------------------------------------------------------------------------- fit(update=LocalUpdate)


def test_fit_refuses_an_on_loss_callback_with_a_local_update():
    class Penalty(TrainingCallback):
        def on_loss(self, state, loss):
            return loss + 1

    blocks, objectives, options = _tpsgd()
    with pytest.raises(ConfigurationError, match="on_loss"):
        fit(nn.ModuleList(blocks), [_batch()], epochs=1, update=LocalUpdate(blocks, objectives),
            callbacks=[Penalty()], progress=False)  # fmt: skip


def test_three_objectives_for_four_blocks_are_refused_naming_objectives():
    blocks = [nn.Linear(3, 3) for _ in range(4)]
    with pytest.raises(InputDataError, match="`objectives`"):
        LocalUpdate(blocks, [FFGoodness(1.0)] * 3)
