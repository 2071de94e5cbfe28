"""Local learning: each block of a network learns from an objective of its own.

:class:`LocalUpdate` is the :class:`~probtheory.training.loop.UpdateStrategy` shared by the
backprop-free learning rules (forward-forward, tpSGD, AugLocal, ForwardGNN, PhyLL). For one
batch it walks the blocks in order::

    h_0 = inputs(batch)
    for k, block in enumerate(blocks):
        h_k = block(h_{k-1}.detach())            # the block's own graph starts here
        objective_k(h_k, batch).backward()       # at once: the graph is freed before block k+1

so a block's gradient depends only on its input and its own objective: no gradient ever
crosses a block boundary, and at most one block's activations are held for backward at a
time. :func:`probtheory.training.loop.fit` then takes one optimizer step on all of them.

An *objective* is any callable ``objective(h, batch) -> scalar tensor``; one that is an
``nn.Module`` (a local classifier head, an auxiliary network) has its parameters trained too:
they are in :meth:`LocalUpdate.parameters`, which ``fit``'s default optimizer uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_int
from probtheory.errors import InputDataError
from probtheory.training.loop import TrainState

__all__ = ["LocalObjective", "LocalUpdate", "batch_inputs"]

#: ``objective(h, batch) -> scalar tensor``: a block's local loss on its output ``h``.
LocalObjective = Callable[[Tensor, Any], Tensor]


def batch_inputs(batch: Any) -> Tensor:
    """The network input of a batch: ``batch.x`` if it has one (a graph), else ``batch[0]``."""
    x = getattr(batch, "x", None)
    if isinstance(x, Tensor):
        return x
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, Sequence) and not isinstance(batch, str) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise InputDataError(
        "batch", "a pair (x, y), a tensor, or an object with a tensor attribute `x`", type(batch).__name__
    )


class LocalUpdate:
    """Train a stack of blocks, each by its own objective on a detached input.

    Args:
        blocks: The network's blocks in order, e.g. ``list(model)`` of an ``nn.Sequential`` or
            an ``nn.Sequential`` itself. Block k maps block k-1's output to its own.
        objectives: One objective per block, ``objective(h_k, batch) -> scalar``; an entry may be
            ``None`` only for a block that does not learn (see ``train``).
        inner_steps: Updates per block on each batch (several, as in physical local learning):
            the first ``inner_steps - 1`` are taken here, on that block's parameters alone, the
            last one by ``fit``'s optimizer step together with the other blocks.
        train: Indices of the blocks that learn; the others only run forward (without
            autograd). ``None``: every block. Blocks after the last learning one are not run.
            Greedy layer-wise training is one ``fit`` per block with ``train=[k]``.
        inputs: ``inputs(batch) -> h_0``, the first block's input; default
            :func:`batch_inputs` (``batch[0]``, or ``batch.x`` for a graph).

    Raises:
        InputDataError: If ``blocks`` is empty or holds a non-module, ``objectives`` does not
            have one callable per block (``None`` allowed only for blocks outside ``train``),
            ``inner_steps`` is not a positive integer, or ``train`` names no block or a block
            index out of range.
    """

    def __init__(
        self,
        blocks: Iterable[nn.Module],
        objectives: Sequence[LocalObjective | None],
        *,
        inner_steps: int = 1,
        train: Iterable[int] | None = None,
        inputs: Callable[[Any], Tensor] = batch_inputs,
    ) -> None:
        if isinstance(blocks, nn.Module) and not isinstance(blocks, (nn.Sequential, nn.ModuleList)):
            raise InputDataError(
                "blocks",
                "the blocks in order (a list, nn.Sequential or nn.ModuleList)",
                type(blocks).__name__,
            )
        self.blocks = list(blocks)
        if not self.blocks:
            raise InputDataError("blocks", "at least one block", "none")
        for k, block in enumerate(self.blocks):
            if not isinstance(block, nn.Module):
                raise InputDataError(f"blocks[{k}]", "an nn.Module", type(block).__name__)
        if isinstance(objectives, (str, Tensor)) or not isinstance(objectives, Sequence):
            raise InputDataError(
                "objectives", "a sequence of objectives, one per block", type(objectives).__name__
            )
        if len(objectives) != len(self.blocks):
            raise InputDataError(
                "objectives",
                f"one objective per block ({len(self.blocks)})",
                f"{len(objectives)} objectives",
            )
        self.inner_steps = check_int("inner_steps", inner_steps, minimum=1)
        self.train = self._check_train(train)
        for k, objective in enumerate(objectives):
            if objective is None and k in self.train:
                raise InputDataError(f"objectives[{k}]", f"an objective for learning block {k}", "None")
            if objective is not None and not callable(objective):
                raise InputDataError(
                    f"objectives[{k}]", "a callable objective(h, batch) -> scalar", type(objective).__name__
                )
        self.objectives = list(objectives)
        if not callable(inputs):
            raise InputDataError("inputs", "a callable inputs(batch) -> tensor", type(inputs).__name__)
        self.inputs = inputs

    def _check_train(self, train: Iterable[int] | None) -> frozenset[int]:
        if train is None:
            return frozenset(range(len(self.blocks)))
        if isinstance(train, (str, Tensor)) or not isinstance(train, Iterable):
            raise InputDataError("train", "block indices, e.g. [0] or range(2)", type(train).__name__)
        indices = frozenset(check_int("train", k, minimum=0) for k in train)
        if not indices:
            raise InputDataError("train", "at least one block index", "none")
        if max(indices) >= len(self.blocks):
            raise InputDataError(
                "train", f"block indices in [0, {len(self.blocks)})", f"index {max(indices)}"
            )
        return indices

    def parameters(self) -> Iterator[nn.Parameter]:
        """The learning blocks' parameters and their objectives' (local heads), each once."""
        seen: set[int] = set()
        for k in sorted(self.train):
            modules = [self.blocks[k]]
            if isinstance(self.objectives[k], nn.Module):
                modules.append(self.objectives[k])
            for module in modules:
                for parameter in module.parameters():
                    if id(parameter) not in seen:
                        seen.add(id(parameter))
                        yield parameter

    def __call__(self, state: TrainState, batch: Any) -> Tensor:
        """Backward through every learning block's objective in turn; return their summed loss."""
        h = self.inputs(batch)
        total = torch.zeros((), dtype=torch.float64)
        last = max(self.train)
        for k, block in enumerate(self.blocks[: last + 1]):
            if k not in self.train:
                with torch.no_grad():
                    h = block(h.detach())
                continue
            for _ in range(self.inner_steps - 1):
                self._inner_step(state, block, self.objectives[k], h, batch)
            h = block(h.detach())
            loss = self.objectives[k](h, batch)
            _check_scalar(k, loss)
            loss.backward()
            total += loss.detach().double()
        return total

    @staticmethod
    def _inner_step(
        state: TrainState, block: nn.Module, objective: LocalObjective, h: Tensor, batch: Any
    ) -> None:
        """One optimizer step on this block (and its head) alone, the other gradients set aside."""
        own = {id(p) for p in block.parameters()}
        if isinstance(objective, nn.Module):
            own |= {id(p) for p in objective.parameters()}
        params = [p for group in state.optimizer.param_groups for p in group["params"]]
        stashed = {id(p): p.grad for p in params if id(p) not in own}
        for p in params:
            p.grad = None
        loss = objective(block(h.detach()), batch)
        loss.backward()
        state.optimizer.step()
        for p in params:
            p.grad = stashed.get(id(p))


def _check_scalar(k: int, loss: object) -> None:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise InputDataError(f"objectives[{k}]", "a scalar loss", shape)
    if not loss.requires_grad:
        raise InputDataError(
            f"objectives[{k}]",
            "a loss that depends on the block's output (requires grad)",
            "a loss without a gradient path",
        )
