"""LocalUpdate and fit(update=...): the mechanics every local learning rule relies on."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from probtheory.errors import ConfigurationError
from probtheory.training import TrainingCallback, fit
from probtheory.training.local import LocalUpdate, batch_inputs


def _blocks(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Sequential(nn.Linear(4, 6), nn.Tanh()),
        nn.Sequential(nn.Linear(6, 5), nn.Tanh()),
        nn.Sequential(nn.Linear(5, 3)),
    ).double()


class Head(nn.Module):
    """A linear classifier head on a block's output: a local objective with parameters."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 3).double()

    def forward(self, h, batch):
        return F.cross_entropy(self.linear(h), batch[1])


def _batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (8,), generator=g)


def _heads():
    torch.manual_seed(2)
    return [Head(6), Head(5), Head(3)]


def _grads(modules):
    return [p.grad.clone() if p.grad is not None else None for m in modules for p in m.parameters()]


def _step(model, heads, **kwargs):
    update = LocalUpdate(model, heads, **kwargs)
    optimizer = torch.optim.SGD(list(update.parameters()), lr=0.0)
    state = fit(model, [_batch()], epochs=1, update=update, optimizer=optimizer, progress=False)
    return update, state


def test_each_block_gradient_equals_its_own_local_problem():
    """Block k's gradient is that of objective_k(block_k(h)) with h a constant: computed apart."""
    model, heads = _blocks(), _heads()
    _step(model, heads)
    x, y = _batch()
    reference, reference_heads = copy.deepcopy(model), copy.deepcopy(heads)
    h = x
    for block, head in zip(reference, reference_heads, strict=True):
        h = block(h.detach())
        head(h, (x, y)).backward()
    for block, twin in zip(model, reference, strict=True):
        for p, q in zip(block.parameters(), twin.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0)


def test_train_subset_leaves_other_blocks_without_gradient_and_stops_after_last():
    model, heads = _blocks(), _heads()
    calls = []
    model[2].register_forward_hook(lambda *a: calls.append("block 2"))
    update, _ = _step(model, heads, train=[1])
    assert all(p.grad is None for p in model[0].parameters())
    assert all(p.grad is not None for p in model[1].parameters())
    assert calls == []  # blocks after the last learning one are not run
    ids = {id(p) for p in update.parameters()}
    assert ids == {id(p) for m in (model[1], heads[1]) for p in m.parameters()}


def test_inner_steps_update_a_block_before_the_next_one_sees_it():
    model, heads = _blocks(), _heads()
    update = LocalUpdate(model, heads, inner_steps=3)
    optimizer = torch.optim.SGD(list(update.parameters()), lr=0.1)
    before = copy.deepcopy(model)
    fit(model, [_batch()], epochs=1, update=update, optimizer=optimizer, progress=False)
    # reference: per block, 3 plain SGD steps on its own problem, input from the block before
    # as it was when that block's final pass ran
    ref_model, ref_heads = before, _heads()
    x, y = _batch()
    h = x
    for block, head in zip(ref_model, ref_heads, strict=True):
        params = list(block.parameters()) + list(head.parameters())
        for _ in range(3):
            for p in params:
                p.grad = None
            out = block(h.detach())
            head(out, (x, y)).backward()
            with torch.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
        h = out
    for p, q in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_default_optimizer_trains_the_heads_too():
    model, heads = _blocks(), _heads()
    head_before = [p.clone() for h in heads for p in h.parameters()]
    fit(model, [_batch()], epochs=2, update=LocalUpdate(model, heads), progress=False)
    after = [p for h in heads for p in h.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(after, head_before, strict=True))


def test_fit_logs_the_summed_local_losses():
    model, heads = _blocks(), _heads()
    _, state = _step(model, heads)
    x, y = _batch()
    h, total = x, 0.0
    with torch.no_grad():
        for block, head in zip(model, heads, strict=True):
            h = block(h)
            total += float(head(h, (x, y)))
    assert state.epoch_losses[0] == pytest.approx(total, rel=1e-12)


def test_a_callback_changing_the_loss_is_refused_with_an_update_strategy():
    class Penalty(TrainingCallback):
        def on_loss(self, state, loss):
            return loss + 1.0

    model, heads = _blocks(), _heads()
    with pytest.raises(ConfigurationError, match="on_loss"):
        fit(
            model,
            [_batch()],
            epochs=1,
            update=LocalUpdate(model, heads),
            callbacks=[Penalty()],
            progress=False,
        )


def test_other_hooks_still_run_with_an_update_strategy():
    seen = []

    class Record(TrainingCallback):
        def on_after_backward(self, state):
            seen.append(("after_backward", all(p.grad is not None for p in state.model.parameters())))

        def on_step_end(self, state):
            seen.append(("step_end", state.step))

    model, heads = _blocks(), _heads()
    fit(
        model,
        [_batch(), _batch(2)],
        epochs=1,
        update=LocalUpdate(model, heads),
        callbacks=[Record()],
        progress=False,
    )
    assert seen == [("after_backward", True), ("step_end", 1), ("after_backward", True), ("step_end", 2)]


def test_batch_inputs_reads_pairs_tensors_and_graphs():
    x = torch.zeros(2, 3)

    class Graph:
        def __init__(self):
            self.x = x

    assert batch_inputs((x, None)) is x
    assert batch_inputs(x) is x
    assert batch_inputs(Graph()) is x
