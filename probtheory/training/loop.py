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

Methods that do not differentiate one scalar loss end to end (local learning rules, spiking
networks trained step by step) pass an *update strategy* instead of a loss: an
:class:`UpdateStrategy` ``update(state, batch) -> Tensor`` runs its own forward and backward
passes, leaves the gradients in ``.grad``, and returns the detached loss for logging. ``fit``
then runs every other hook as usual (``on_after_backward``, ``optimizer.step()``,
``on_step_end``); only ``on_loss`` cannot apply, since there is no single loss to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from probtheory._checks import check_int, check_logit_labels, check_real
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.training.minibatches import check_batches

__all__ = ["ClipGradNorm", "TrainState", "TrainingCallback", "UpdateStrategy", "classification_loss", "fit"]

LossFn = Callable[[nn.Module, Any], Tensor]


def classification_loss(model: nn.Module, batch: Sequence[Tensor]) -> Tensor:
    """Cross-entropy of ``model(x)`` against integer labels ``y`` for a batch ``(x, y)``.

    Args:
        model: Maps a `b x d` tensor to `b x c` logits.
        batch: ``(x, y)`` with `x` a `b x d` tensor and `y` a `b` tensor of class indices.

    Raises:
        InputDataError: If the batch is not a pair ``(x, y)``, the logits are not `b x c`, or
            ``y`` is not `b` integer labels in [0, c) (naming ``y``, the batch's labels).
    """
    if isinstance(batch, (Tensor, str)) or not isinstance(batch, Sequence) or len(batch) != 2:
        raise InputDataError(
            "batch",
            "a pair (x, y) of inputs and integer labels (what fit's `data` yields: "
            "e.g. [(x, y)] or Minibatches(x, y, batch_size=...))",
            _describe_batch(batch),
        )
    x, y = batch
    logits = model(x)
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        raise InputDataError("model", "`b x c` logits from model(x)", _describe(logits))
    return F.cross_entropy(logits, check_logit_labels("y", y, logits))


@dataclass
class TrainState:
    """Everything a callback may read or change while :func:`fit` runs.

    Attributes:
        model: The model being trained.
        optimizer: Its optimizer.
        epoch: Index of the current epoch (0-based).
        step: Number of optimizer steps taken so far.
        loss: The current batch's loss after ``on_loss`` (``None`` outside a batch).
        epoch_losses: Mean training loss of each finished epoch; NaN only for an epoch ended by
            ``stop`` (or divergence) before any of its batches was trained.
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

    def __post_init__(self) -> None:
        if not isinstance(self.model, nn.Module):
            raise InputDataError("model", "a torch.nn.Module", _describe(self.model))
        if not isinstance(self.optimizer, torch.optim.Optimizer):
            raise InputDataError("optimizer", "a torch.optim.Optimizer", _describe(self.optimizer))


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


@runtime_checkable
class UpdateStrategy(Protocol):
    """How one batch produces gradients when it is not ``loss(model, batch).backward()``.

    Called by :func:`fit` after the gradients are zeroed and before ``on_after_backward``:
    it runs its own forward and backward passes (as many as it needs), leaving the gradients in
    the parameters' ``.grad``, and returns the batch's loss *detached*, a scalar tensor, for
    logging and the epoch mean. ``fit`` takes the optimizer step.
    """

    def __call__(self, state: TrainState, batch: Any) -> Tensor:
        """Accumulate this batch's gradients and return its detached scalar loss."""
        ...


def fit(
    model: nn.Module,
    data: Iterable[Any],
    *,
    epochs: int,
    loss: LossFn = classification_loss,
    update: UpdateStrategy | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    steps_per_epoch: int | None = None,
    seed: int | None = None,
    stop_on_nonfinite: bool = False,
    progress: bool = True,
) -> TrainState:
    """Train ``model`` for ``epochs`` passes over ``data``, running the callbacks' hooks.

    What an epoch is depends on ``steps_per_epoch``:

    * ``None`` (default): one full pass over ``data``, which must then be a non-empty,
      re-iterable collection of batches when ``epochs > 1`` (a one-shot iterator such as a
      generator would be exhausted after the first epoch, and is refused up front);
    * an integer: that many batches drawn from one iterator over ``data`` that persists across
      epochs. This is how to train on an endless stream (``itertools.cycle(batches)``, a
      generator that never ends, an ``IterableDataset``): a finite re-iterable collection is
      started over when it runs out, a one-shot iterator that runs out is an error.

    An endless iterator that ``fit`` can recognise (``itertools.cycle``, ``itertools.count``,
    ``itertools.repeat`` without ``times``) is refused without ``steps_per_epoch``; an endless
    generator cannot be recognised and would never finish its first epoch: pass
    ``steps_per_epoch`` with any stream.

    Every epoch must train on at least one batch: an epoch in which ``data`` yields no batch, or
    in which the callbacks' ``on_batch_start`` skipped every batch, raises instead of
    recording a meaningless (NaN) mean loss. Only an epoch ended by ``state.stop`` (a callback's
    request, or divergence under ``stop_on_nonfinite``) before any batch was trained records NaN.

    Args:
        model: The model; put in training mode at the start (evaluate it afterwards yourself).
        data: The batches: a re-iterable collection (a ``DataLoader``,
            :class:`probtheory.training.minibatches.Minibatches`, a list), iterated once per
            epoch; or, with ``steps_per_epoch``, any iterable, including one-shot and endless
            iterators.
        epochs: Number of epochs, at least 1.
        loss: ``loss(model, batch) -> scalar tensor``; default :func:`classification_loss`.
            Unused when ``update`` is given.
        update: An :class:`UpdateStrategy` that does each batch's forward and backward passes
            itself (e.g. :class:`probtheory.training.local.LocalUpdate`); ``None``: backward
            through ``loss``. No callback may then override ``on_loss``. If it has a
            ``parameters()`` method (local heads of its own), the default optimizer trains those.
        optimizer: The optimizer; default ``Adam(model.parameters(), lr=1e-3)`` (or
            ``update.parameters()``, see ``update``).
        callbacks: :class:`TrainingCallback` instances, run in order at every hook.
        steps_per_epoch: Batches per epoch, drawn from one persistent iterator over ``data``
            (``None``: one pass over ``data`` per epoch).
        seed: If given, the global torch RNG (dropout, random layers) is seeded with it for the
            duration of the call and restored afterwards.
        stop_on_nonfinite: At a NaN/inf loss, stop and set ``state.diverged`` instead of raising
            (for experiments in which divergence is an outcome, e.g. unstable baselines).
        progress: Show a tqdm bar over epochs.

    Returns:
        The final :class:`TrainState`. A ``KeyboardInterrupt`` ends training early and returns
        the state reached, with ``interrupted=True``, so finished epochs are not lost.

    Raises:
        InputDataError: If ``epochs`` or ``steps_per_epoch`` is not a positive integer, ``data``
            is empty, not iterable, or a one-shot or endless iterator without
            ``steps_per_epoch`` (or runs out with it), an epoch trains no batch, a callback is
            not a :class:`TrainingCallback`, the loss is not a scalar, or it is not finite and
            ``stop_on_nonfinite`` is False.
    """
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "a torch.nn.Module", _describe(model))
    epochs = check_int("epochs", epochs, minimum=1)
    if steps_per_epoch is not None:
        steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    batches = _EpochBatches(data, epochs, steps_per_epoch)
    if not callable(loss):
        raise InputDataError("loss", "a callable loss(model, batch) -> scalar tensor", type(loss).__name__)
    if isinstance(callbacks, TrainingCallback) or not isinstance(callbacks, Iterable):
        raise InputDataError(
            "callbacks", "a sequence of TrainingCallback (a single one in a list)", type(callbacks).__name__
        )
    callbacks = list(callbacks)
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, TrainingCallback):
            raise InputDataError(f"callbacks[{i}]", "a TrainingCallback instance", _describe(callback))
    if update is not None:
        if not callable(update):
            raise InputDataError(
                "update", "an UpdateStrategy: update(state, batch) -> detached scalar loss", _describe(update)
            )
        for i, callback in enumerate(callbacks):
            if type(callback).on_loss is not TrainingCallback.on_loss:
                raise ConfigurationError(
                    f"callbacks[{i}] ({type(callback).__name__}) overrides on_loss, which cannot apply "
                    f"with update={type(update).__name__}: the update strategy runs its own backward "
                    "passes, so there is no single loss to change; fold the term into the strategy's "
                    "objectives instead"
                )
    if optimizer is None:  # an update strategy with parameters of its own (local heads) trains them too
        parameters = getattr(update, "parameters", model.parameters)
        optimizer = torch.optim.Adam(parameters(), lr=1e-3)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise InputDataError("optimizer", "a torch.optim.Optimizer", _describe(optimizer))
    state = TrainState(model=model, optimizer=optimizer)
    if seed is None:
        _run(state, batches, epochs, loss, update, callbacks, stop_on_nonfinite, progress)
        return state
    # fork_rng: seeding this run leaves the caller's global RNG stream untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_int("seed", seed, minimum=0))
        _run(state, batches, epochs, loss, update, callbacks, stop_on_nonfinite, progress)
    return state


class _EpochBatches:
    """Each epoch's batches for :func:`fit`: a pass over ``data``, or ``steps`` batches of one stream."""

    def __init__(self, data: Iterable[Any], epochs: int, steps: int | None) -> None:
        source = check_batches("data", data)
        self.one_shot = source.one_shot
        kind = type(data).__name__
        if steps is None and source.endless:
            raise InputDataError(
                "data",
                "a finite collection of batches, or `steps_per_epoch` to train on an endless stream",
                f"an endless {kind} iterator",
            )
        if steps is None and self.one_shot and epochs > 1:
            raise InputDataError(
                "data",
                "a re-iterable collection of batches (a list, a DataLoader, Minibatches) for "
                "epochs > 1, or `steps_per_epoch` to draw that many batches per epoch from one iterator",
                f"a one-shot {kind} iterator, which the first epoch would exhaust",
            )
        self.data, self.steps = data, steps
        self.drawn = 0
        self._stream: Iterator[Any] | None = None

    def epoch(self) -> Iterator[Any]:
        """The batches of the next epoch."""
        if self.steps is None:
            for batch in self.data:
                self.drawn += 1
                yield batch
            return
        for _ in range(self.steps):
            yield self._next()

    def _next(self) -> Any:
        if self._stream is None:
            self._stream = iter(self.data)
        try:
            batch = next(self._stream)
        except StopIteration:
            if self.one_shot:
                raise InputDataError(
                    "data",
                    "enough batches for every epoch (epochs x steps_per_epoch)",
                    f"an iterator that ran out after {self.drawn} batches",
                ) from None
            self._stream = iter(self.data)  # a finite collection: start another pass
            try:
                batch = next(self._stream)
            except StopIteration:
                raise InputDataError("data", "at least one batch", "a collection that yields none") from None
        self.drawn += 1
        return batch


def _run(
    state: TrainState,
    batches: _EpochBatches,
    epochs: int,
    loss_fn: LossFn,
    update: UpdateStrategy | None,
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
            total, count, seen = 0.0, 0, 0
            for batch in batches.epoch():
                seen += 1
                value = _train_batch(state, batch, loss_fn, update, callbacks, stop_on_nonfinite)
                if value is not None:
                    total, count = total + value, count + 1
                if state.stop:
                    break
            if count == 0 and not state.stop:
                _no_batch_trained(epoch, seen, batches.one_shot)
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


def _no_batch_trained(epoch: int, seen: int, one_shot: bool) -> None:
    if seen:
        raise InputDataError(
            "callbacks",
            "at least one batch trained per epoch",
            f"every batch of epoch {epoch} ({seen}) skipped by on_batch_start",
        )
    received = "an iterable that yielded no batch"
    if epoch > 0:
        received += f" in epoch {epoch} (exhausted by the earlier epochs{'' if one_shot else '?'})"
    raise InputDataError("data", "at least one batch per epoch", received)


def _train_batch(
    state: TrainState,
    batch: Any,
    loss_fn: LossFn,
    update: UpdateStrategy | None,
    callbacks: Sequence[TrainingCallback],
    stop_on_nonfinite: bool,
) -> float | None:
    for callback in callbacks:
        batch = callback.on_batch_start(state, batch)
        if batch is None:
            return None
    if update is not None:
        state.optimizer.zero_grad(set_to_none=True)
        loss = update(state, batch)
        name = "update"
    else:
        loss = loss_fn(state.model, batch)
        for callback in callbacks:
            loss = callback.on_loss(state, loss)
        name = "loss"
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise InputDataError(name, "a scalar tensor (the batch's loss)", _describe(loss))
    if not torch.isfinite(loss):
        if stop_on_nonfinite:
            state.diverged = state.stop = True
            return None
        raise InputDataError(
            name, "a finite loss", f"{loss.item()} at epoch {state.epoch}, step {state.step}"
        )
    state.loss = loss
    if update is None:
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
    for callback in callbacks:
        callback.on_after_backward(state)
    state.optimizer.step()
    state.step += 1
    for callback in callbacks:
        callback.on_step_end(state)
    return float(loss.detach())


def _describe_batch(batch: object) -> str:
    if isinstance(batch, Sequence) and not isinstance(batch, (Tensor, str)):
        return f"a {type(batch).__name__} of {len(batch)} items"
    return _describe(batch)


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, type):
        return f"the class {value.__name__} (instantiate it: {value.__name__}(...))"
    return type(value).__name__
