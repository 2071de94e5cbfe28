import itertools
import math

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.plugins import ClipGradNorm, TrainingCallback, classification_loss, fit


def _data(n_batches=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(4, 3, generator=generator), torch.randint(0, 2, (4,), generator=generator))
        for _ in range(n_batches)
    ]


class Recorder(TrainingCallback):
    def __init__(self):
        self.calls = []

    def on_fit_start(self, state):
        self.calls.append("fit_start")

    def on_epoch_start(self, state):
        self.calls.append(f"epoch_start {state.epoch}")

    def on_batch_start(self, state, batch):
        self.calls.append("batch")
        return batch

    def on_loss(self, state, loss):
        self.calls.append("loss")
        return loss

    def on_after_backward(self, state):
        assert all(p.grad is not None for p in state.model.parameters())
        self.calls.append("backward")

    def on_step_end(self, state):
        self.calls.append(f"step {state.step}")

    def on_epoch_end(self, state):
        self.calls.append(f"epoch_end {len(state.epoch_losses)}")

    def on_fit_end(self, state):
        self.calls.append("fit_end")


def test_hooks_run_in_loop_order():
    recorder = Recorder()
    state = fit(nn.Linear(3, 2), _data(), epochs=2, callbacks=[recorder], progress=False)
    batch = ["batch", "loss", "backward"]
    assert recorder.calls == [
        "fit_start",
        "epoch_start 0", *batch, "step 1", *batch, "step 2", "epoch_end 1",
        "epoch_start 1", *batch, "step 3", *batch, "step 4", "epoch_end 2",
        "fit_end",
    ]  # fmt: skip
    assert state.step == 4 and len(state.epoch_losses) == 2 and state.loss is None


def test_a_batch_hook_can_skip_batches():
    class SkipFirst(TrainingCallback):
        def on_batch_start(self, state, batch):
            return None if batch is first else batch

    data = _data(3)
    first = data[0]
    state = fit(nn.Linear(3, 2), data, epochs=2, callbacks=[SkipFirst()], progress=False)
    assert state.step == 4


def test_the_loss_hook_changes_what_is_differentiated():
    class Penalty(TrainingCallback):
        def on_loss(self, state, loss):
            return loss + state.model.weight.sum()

    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    zero_loss = lambda m, batch: (m(batch) * 0.0).sum()  # noqa: E731
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(
        model,
        [torch.ones(2, 1)],
        epochs=1,
        loss=zero_loss,
        optimizer=optimizer,
        callbacks=[Penalty()],
        progress=False,
    )
    assert model.weight.item() == pytest.approx(-0.1)  # one SGD step on d(w)/dw = 1


def test_gradient_and_weight_surgery_hooks():
    class ZeroGrad(TrainingCallback):
        def on_after_backward(self, state):
            for p in state.model.parameters():
                p.grad.zero_()

    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    fit(
        model,
        _data(),
        epochs=2,
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
        callbacks=[ZeroGrad()],
        progress=False,
    )
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))

    class Truncate(TrainingCallback):  # a rank-truncation-style surgery after every step
        def on_step_end(self, state):
            with torch.no_grad():
                state.model.weight[1:].zero_()

    model = nn.Linear(3, 2)
    fit(model, _data(), epochs=1, callbacks=[Truncate()], progress=False)
    assert not model.weight[1:].any() and model.weight[0].any()


def test_clip_grad_norm_bounds_the_gradient():
    class Check(TrainingCallback):
        def on_after_backward(self, state):
            norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in state.model.parameters()))
            assert norm <= 1e-3 * (1 + 1e-5)

    big_loss = lambda m, batch: 1e6 * m(batch[0]).pow(2).sum()  # noqa: E731
    fit(
        nn.Linear(3, 2),
        _data(),
        epochs=1,
        loss=big_loss,
        callbacks=[ClipGradNorm(1e-3), Check()],
        progress=False,
    )
    with pytest.raises(InputDataError, match="max_norm"):
        ClipGradNorm(0.0)


def test_stop_and_interrupt_keep_what_was_done():
    class StopAfterFirstStep(TrainingCallback):
        def on_step_end(self, state):
            state.stop = True

    state = fit(nn.Linear(3, 2), _data(), epochs=5, callbacks=[StopAfterFirstStep()], progress=False)
    assert state.step == 1 and len(state.epoch_losses) == 1 and not state.interrupted

    recorder = Recorder()

    class InterruptAtSecondEpochEnd(TrainingCallback):
        def on_epoch_end(self, state):
            if state.epoch == 1:
                raise KeyboardInterrupt

    state = fit(
        nn.Linear(3, 2), _data(), epochs=5, callbacks=[recorder, InterruptAtSecondEpochEnd()], progress=False
    )
    assert state.interrupted and len(state.epoch_losses) == 2 and state.step == 4
    assert recorder.calls[-1] == "fit_end"


def test_nonfinite_loss_raises_or_stops():
    nan_loss = lambda m, batch: m(batch[0]).sum() * float("nan")  # noqa: E731
    with pytest.raises(InputDataError, match="finite"):
        fit(nn.Linear(3, 2), _data(), epochs=1, loss=nan_loss, progress=False)
    state = fit(nn.Linear(3, 2), _data(), epochs=3, loss=nan_loss, stop_on_nonfinite=True, progress=False)
    assert state.diverged and state.step == 0


def test_seed_makes_training_reproducible_and_leaves_the_global_rng_alone():
    def train(seed):
        torch.manual_seed(123)  # same initialisation, different dropout masks unless seeded
        model = nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.5), nn.Linear(16, 2))
        fit(model, _data(), epochs=3, seed=seed, progress=False)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(train(0), train(0))
    assert not torch.equal(train(0), train(1))
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    torch.manual_seed(7)
    fit(model, _data(), epochs=1, seed=0, progress=False)
    after = torch.rand(1)
    torch.manual_seed(7)
    assert torch.equal(after, torch.rand(1))


def test_training_learns_a_separable_problem():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=generator)
    y = (x[:, 0] > 0).long()
    model = nn.Linear(2, 2)
    state = fit(
        model, [(x, y)], epochs=200, optimizer=torch.optim.Adam(model.parameters(), lr=0.05), progress=False
    )
    assert state.epoch_losses[-1] < 0.2 * state.epoch_losses[0]
    assert (model(x).argmax(-1) == y).float().mean() > 0.95


def test_bad_arguments_are_rejected():
    with pytest.raises(InputDataError, match="epochs"):
        fit(nn.Linear(3, 2), _data(), epochs=0)
    with pytest.raises(InputDataError, match=r"callbacks\[0\]"):
        fit(nn.Linear(3, 2), _data(), epochs=1, callbacks=[object()])
    with pytest.raises(InputDataError, match="scalar"):
        fit(nn.Linear(3, 2), _data(), epochs=1, loss=lambda m, b: m(b[0]), progress=False)


class BatchLog(TrainingCallback):
    def __init__(self):
        self.seen = []

    def on_batch_start(self, state, batch):
        self.seen.append((state.epoch, batch[0][0, 0].item()))
        return batch


def test_steps_per_epoch_trains_on_an_endless_stream():
    data = _data(2)
    for stream in (itertools.cycle(data), (batch for _ in itertools.count() for batch in data)):
        state = fit(nn.Linear(3, 2), stream, epochs=3, steps_per_epoch=3, progress=False)
        assert state.step == 9 and len(state.epoch_losses) == 3
        assert all(math.isfinite(loss) for loss in state.epoch_losses)


def test_steps_per_epoch_continues_one_iterator_across_epochs_and_restarts_a_collection():
    data = _data(2)
    firsts = [batch[0][0, 0].item() for batch in data]
    log = BatchLog()
    fit(nn.Linear(3, 2), data, epochs=2, steps_per_epoch=3, callbacks=[log], progress=False)
    # epoch 0: batches 0, 1, then a new pass: 0; epoch 1 continues the same pass: 1, then 0, 1
    assert log.seen == [(0, firsts[0]), (0, firsts[1]), (0, firsts[0]), (1, firsts[1]), (1, firsts[0]),
                        (1, firsts[1])]  # fmt: skip


def test_a_generator_is_fine_for_one_epoch_and_a_dataloader_for_many():
    state = fit(nn.Linear(3, 2), (batch for batch in _data(2)), epochs=1, progress=False)
    assert state.step == 2
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    state = fit(nn.Linear(3, 2), loader, epochs=3, progress=False)
    assert state.step == 6 and len(state.epoch_losses) == 3


def test_an_epoch_without_a_trained_batch_raises_unless_training_was_stopped():
    class SkipAll(TrainingCallback):
        def on_batch_start(self, state, batch):
            return None

    with pytest.raises(InputDataError, match="callbacks") as info:
        fit(nn.Linear(3, 2), _data(2), epochs=2, callbacks=[SkipAll()], progress=False)
    assert "every batch of epoch 0 (2) skipped" in str(info.value)

    class StopAtSecondEpoch(TrainingCallback):
        def on_batch_start(self, state, batch):
            if state.epoch == 1:
                state.stop = True
                return None
            return batch

    state = fit(nn.Linear(3, 2), _data(2), epochs=3, callbacks=[StopAtSecondEpoch()], progress=False)
    assert len(state.epoch_losses) == 2 and math.isfinite(state.epoch_losses[0])
    assert math.isnan(state.epoch_losses[1])  # documented: an epoch stopped before any batch trained

    class ReIterableThatEmpties:  # a collection whose second pass is empty
        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            return iter(_data(2) if self.passes == 1 else [])

    with pytest.raises(InputDataError, match="`data`.*epoch 1"):
        fit(nn.Linear(3, 2), ReIterableThatEmpties(), epochs=2, progress=False)


def test_classification_loss_accepts_integer_labels_of_any_width():
    x = torch.randn(4, 3)
    for dtype in (torch.int32, torch.int64, torch.uint8):
        y = torch.tensor([0, 1, 1, 0], dtype=dtype)
        assert torch.isfinite(classification_loss(nn.Linear(3, 2), (x, y)))
