"""Spatial learning through time (SLTT): training spiking networks with memory independent of T.

Meng et al., *Towards Memory- and Time-Efficient Backpropagation for Training Spiking Neural
Networks* (ICCV 2023), Sec. 4. Backpropagation through time (BPTT) differentiates the sum over
time steps of the per-step losses through one graph that spans all T steps, so it holds T steps'
activations. The paper observes that the gradient flowing along the membrane's temporal edge
contributes little, cuts it (``v[t-1].detach()``), and then each step's loss depends on that
step's graph alone: SLTT backpropagates it at once and frees it, so the memory held for backward
is one step's, whatever T. SLTT-K backpropagates only K randomly chosen steps (the others run
forward without autograd), which also cuts the backward time by about T/K.

With the temporal edge cut the gradient is exact for the cut computation: SLTT equals autograd
through the one graph of all steps with ``detach_temporal=True``. It equals BPTT's gradient
exactly when there is no temporal dependence to cut (T = 1, or a membrane that keeps nothing
between steps, ``tau = 1``).

:func:`bptt_loss` is the baseline: the same network and per-step losses through :func:`fit`'s
ordinary loss path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, make_generator
from probtheory.errors import InputDataError
from probtheory.layers.spiking import check_time_major, reset_neurons, temporal_detach
from probtheory.training.loop import TrainState

__all__ = ["SLTT", "bptt_loss"]

#: ``step_loss(output_t, y) -> scalar``: the loss of one time step's output.
StepLoss = Callable[[Tensor, Tensor], Tensor]


def _pair(batch: Any, steps: int | None) -> tuple[Tensor, Tensor]:
    if isinstance(batch, (Tensor, str)) or not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise InputDataError(
            "batch", "a pair (x, y) with x of shape `batch x time x features`", type(batch).__name__
        )
    x, y = batch
    return check_time_major("x", x, steps), y


def bptt_loss(model: nn.Module, batch: Any, *, step_loss: StepLoss = F.cross_entropy) -> Tensor:
    """Backpropagation through time's loss: the mean over steps of ``step_loss(model(x_t), y)``.

    Used as ``fit(net, data, loss=bptt_loss)``: one graph over all T steps, with the neurons'
    temporal edges as they are set (``detach_temporal=False`` for BPTT proper).

    Args:
        model: The per-step spiking network (one time step per call).
        batch: ``(x, y)`` with ``x`` a `b x T x ...` tensor (time on dimension 1).
        step_loss: The loss of one step's output; default cross-entropy.
    """
    x, y = _pair(batch, None)
    reset_neurons(model)
    total = step_loss(model(x[:, 0]), y)
    for t in range(1, x.shape[1]):
        total = total + step_loss(model(x[:, t]), y)
    return total / x.shape[1]


class SLTT:
    """Update strategy: backward at every time step (or at K of them), temporal edges cut.

    ``fit(net, data, update=SLTT(T=8))`` trains the per-step network ``net``: for each batch
    the neurons are reset, and at each step t the loss ``step_loss(net(x_t), y) / T`` is
    backpropagated at once, its graph freed before step t + 1. The neurons' ``detach_temporal``
    is switched on for the call and restored afterwards, so the same network can be trained by
    :func:`bptt_loss` as the baseline.

    Args:
        T: Number of time steps of every input (dimension 1 of ``x``).
        K: Backpropagate only at ``K`` steps drawn uniformly without replacement per batch
            (SLTT-K), each step's loss scaled by ``1 / K`` so that the gradient is an unbiased
            estimate of SLTT's; the other steps run forward without autograd. ``None``: all T.
        step_loss: The loss of one step's output; default cross-entropy.
        seed: Seed of SLTT-K's step draws.

    Raises:
        InputDataError: If ``T`` or ``K`` is not a positive integer, ``K > T``, or a batch's
            ``x`` has no time dimension of length ``T``.
    """

    def __init__(
        self, T: int, K: int | None = None, *, step_loss: StepLoss = F.cross_entropy, seed: int = 0
    ) -> None:
        self.T = check_int("T", T, minimum=1)
        self.K = None if K is None else check_int("K", K, minimum=1)
        if self.K is not None and self.K > self.T:
            raise InputDataError("K", f"at most T = {self.T} steps to backpropagate", self.K)
        if not callable(step_loss):
            raise InputDataError(
                "step_loss", "a callable step_loss(output, y) -> scalar", type(step_loss).__name__
            )
        self.step_loss = step_loss
        self._generator = make_generator(seed)
        #: Time steps backpropagated in the last batch (for inspection and tests).
        self.last_backward_steps: list[int] = []

    def _backward_steps(self) -> set[int]:
        if self.K is None:
            return set(range(self.T))
        return {int(t) for t in torch.randperm(self.T, generator=self._generator)[: self.K]}

    def __call__(self, state: TrainState, batch: Any) -> Tensor:
        """Accumulate the batch's SLTT gradient; return the mean step loss over all T steps."""
        x, y = _pair(batch, self.T)
        net = state.model
        chosen = self._backward_steps()
        scale = 1.0 / (self.T if self.K is None else self.K)
        total = torch.zeros((), dtype=torch.float64)
        self.last_backward_steps = []
        with temporal_detach(net, True):
            reset_neurons(net)
            for t in range(self.T):
                if t in chosen:
                    loss = self.step_loss(net(x[:, t]), y)
                    (loss * scale).backward()
                    self.last_backward_steps.append(t)
                else:
                    with torch.no_grad():
                        loss = self.step_loss(net(x[:, t]), y)
                total += loss.detach().double()
        return total / self.T
