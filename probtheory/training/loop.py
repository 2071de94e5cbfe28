"""The one training loop that training-time methods hook into.

:func:`fit` is an ordinary PyTorch loop: for each epoch, for each batch, compute the loss,
``backward()``, ``optimizer.step()``. A :class:`TrainingCallback` changes what happens at
fixed points of that loop, so a method is written as a callback instead of a loop of its own:

==========================  ===============================================================
hook                        typical use
==========================  ===============================================================
``on_fit_start``            allocate state, switch modules into a training stage
``on_epoch_start``          re-score or re-select the epoch's batches, schedules
``on_batch_start(batch)``   return the batch, a changed batch, or ``None`` to skip it
                            (hard-sample batch selection)
``on_loss(loss)``           return the loss plus a regulariser (nuclear norm, compatibility loss)
``on_after_backward``       edit gradients (sparse masks, clipping)
``on_step_end``             weight surgery after the update (rank truncation), hyper-steps
``on_epoch_end``            evaluation, logging, stage switches; set ``state.stop`` to end early
``on_fit_end``              final surgery, summaries
==========================  ===============================================================

Optimizer policies that only regroup parameters (e.g. ReLinear's small learning rate for the
quadratic terms) are not callbacks: build the optimizer and pass it to :func:`fit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["ClipGradNorm", "TrainState", "TrainingCallback", "classification_loss", "fit"]

LossFn = Callable[[nn.Module, Any], Tensor]


def classification_loss(model: nn.Module, batch: Sequence[Tensor]) -> Tensor:
    """Cross-entropy of ``model(x)`` against integer labels ``y`` for a batch ``(x, y)``.

    Args:
        model: Maps a `b x d` tensor to `b x c` logits.
        batch: ``(x, y)`` with `x` a `b x d` tensor and `y` a `b` tensor of class indices.
    """
    x, y = batch
    return F.cross_entropy(model(x), y)


@dataclass
class TrainState:
    """Everything a callback may read or change while :func:`fit` runs.

    Attributes:
        model: The model being trained.
        optimizer: Its optimizer.
        epoch: Index of the current epoch (0-based).
        step: Number of optimizer steps taken so far.
        loss: The current batch's loss after ``on_loss`` (``None`` outside a batch).
        epoch_losses: Mean training loss of each finished epoch.
        logs: Free-form per-epoch records that callbacks append to (``logs["val_acc"]``).
        stop: Set by a callback to end training after the current batch.
        interrupted: True if training ended by ``KeyboardInterrupt``.
        diverged: True if training stopped at a non-finite loss (``stop_on_nonfinite=True``).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0
    step: int = 0
    loss: Tensor | None = None
    epoch_losses: list[float] = field(default_factory=list)
    logs: dict[str, list[float]] = field(default_factory=dict)
    stop: bool = False
    interrupted: bool = False
    diverged: bool = False


class TrainingCallback:
    """Hooks into :func:`fit`; each one does nothing unless overridden.

    Subclass and override only the hooks a method needs. Hooks run in the order the callbacks
    were given; the batch and loss returned by one callback are passed to the next.
    """

    def on_fit_start(self, state: TrainState) -> None:
        """Called once before the first epoch."""

    def on_epoch_start(self, state: TrainState) -> None:
        """Called at the start of every epoch."""

    def on_batch_start(self, state: TrainState, batch: Any) -> Any | None:
        """Return the batch to train on, a modified batch, or ``None`` to skip this batch."""
        return batch

    def on_loss(self, state: TrainState, loss: Tensor) -> Tensor:
        """Return the scalar loss to differentiate (e.g. ``loss + penalty``)."""
        return loss

    def on_after_backward(self, state: TrainState) -> None:
        """Called after ``loss.backward()`` and before ``optimizer.step()``: gradients are set."""

    def on_step_end(self, state: TrainState) -> None:
        """Called after ``optimizer.step()``."""

    def on_epoch_end(self, state: TrainState) -> None:
        """Called at the end of every epoch, after ``state.epoch_losses`` is updated."""

    def on_fit_end(self, state: TrainState) -> None:
        """Called once when training ends, also after an interrupt or ``state.stop``."""


class ClipGradNorm(TrainingCallback):
    """Clip the global gradient norm before every step (``torch.nn.utils.clip_grad_norm_``).

    Args:
        max_norm: Largest allowed 2-norm of all gradients together; must be positive.
    """

    def __init__(self, max_norm: float) -> None:
        self.max_norm = check_real("max_norm", max_norm, positive=True)

    def on_after_backward(self, state: TrainState) -> None:
        """Clip the gradients in place."""
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), self.max_norm)


def fit(
    model: nn.Module,
    data: Iterable[Any],
    *,
    epochs: int,
    loss: LossFn = classification_loss,
    optimizer: torch.optim.Optimizer | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    seed: int | None = None,
    stop_on_nonfinite: bool = False,
    progress: bool = True,
) -> TrainState:
    """Train ``model`` for ``epochs`` passes over ``data``, running the callbacks' hooks.

    Args:
        model: The model; put in training mode at the start (evaluate it afterwards yourself).
        data: A re-iterable collection of batches (a ``DataLoader``,
            :class:`probtheory.training.minibatches.Minibatches`, a list); iterated once per epoch.
        epochs: Number of passes over ``data``, at least 1.
        loss: ``loss(model, batch) -> scalar tensor``; default :func:`classification_loss`.
        optimizer: The optimizer; default ``Adam(model.parameters(), lr=1e-3)``.
        callbacks: :class:`TrainingCallback` instances, run in order at every hook.
        seed: If given, the global torch RNG (dropout, random layers) is seeded with it for the
            duration of the call and restored afterwards.
        stop_on_nonfinite: At a NaN/inf loss, stop and set ``state.diverged`` instead of raising
            (for experiments in which divergence is an outcome, e.g. unstable baselines).
        progress: Show a tqdm bar over epochs.

    Returns:
        The final :class:`TrainState`. A ``KeyboardInterrupt`` ends training early and returns
        the state reached, with ``interrupted=True``, so finished epochs are not lost.

    Raises:
        InputDataError: If ``epochs`` is not a positive integer, a callback is not a
            :class:`TrainingCallback`, the loss is not a scalar, or it is not finite and
            ``stop_on_nonfinite`` is False.
    """
    epochs = check_int("epochs", epochs, minimum=1)
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, TrainingCallback):
            raise InputDataError(f"callbacks[{i}]", "a TrainingCallback", type(callback).__name__)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    state = TrainState(model=model, optimizer=optimizer)
    if seed is None:
        _run(state, data, epochs, loss, callbacks, stop_on_nonfinite, progress)
        return state
    # fork_rng: seeding this run leaves the caller's global RNG stream untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_int("seed", seed, minimum=0))
        _run(state, data, epochs, loss, callbacks, stop_on_nonfinite, progress)
    return state


def _run(
    state: TrainState,
    data: Iterable[Any],
    epochs: int,
    loss_fn: LossFn,
    callbacks: Sequence[TrainingCallback],
    stop_on_nonfinite: bool,
    progress: bool,
) -> None:
    state.model.train()
    try:
        for callback in callbacks:
            callback.on_fit_start(state)
        for epoch in tqdm(range(epochs), desc="fit", disable=not progress, leave=False):
            state.epoch = epoch
            for callback in callbacks:
                callback.on_epoch_start(state)
            total, count = 0.0, 0
            for batch in data:
                value = _train_batch(state, batch, loss_fn, callbacks, stop_on_nonfinite)
                if value is not None:
                    total, count = total + value, count + 1
                if state.stop:
                    break
            state.epoch_losses.append(total / count if count else float("nan"))
            for callback in callbacks:
                callback.on_epoch_end(state)
            if state.stop:
                break
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        state.loss = None
        for callback in callbacks:
            callback.on_fit_end(state)


def _train_batch(
    state: TrainState,
    batch: Any,
    loss_fn: LossFn,
    callbacks: Sequence[TrainingCallback],
    stop_on_nonfinite: bool,
) -> float | None:
    for callback in callbacks:
        batch = callback.on_batch_start(state, batch)
        if batch is None:
            return None
    loss = loss_fn(state.model, batch)
    for callback in callbacks:
        loss = callback.on_loss(state, loss)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise InputDataError("loss", "a scalar tensor", _describe(loss))
    if not torch.isfinite(loss):
        if stop_on_nonfinite:
            state.diverged = state.stop = True
            return None
        raise InputDataError(
            "loss", "a finite value", f"{loss.item()} at epoch {state.epoch}, step {state.step}"
        )
    state.loss = loss
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for callback in callbacks:
        callback.on_after_backward(state)
    state.optimizer.step()
    state.step += 1
    for callback in callbacks:
        callback.on_step_end(state)
    return float(loss.detach())


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__
