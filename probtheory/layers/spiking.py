r"""Spiking neurons: the leaky integrate-and-fire neuron with a surrogate gradient.

A :class:`LIFNeuron` is stateful: each call is one time step. Its membrane potential follows
(Meng et al., ICCV 2023, Sec. 3.1; soft reset, input not decayed)

.. math::

    v[t] = \lambda\, v[t-1] + I[t], \qquad \lambda = 1 - 1/\tau, \qquad
    s[t] = H(v[t] - V_{th}), \qquad v[t] \leftarrow v[t] - s[t]\, V_{th},

and the Heaviside step is differentiated through a smooth surrogate. Backpropagation through
time (BPTT) follows the membrane's temporal edge :math:`v[t-1] \to v[t]`; with
``detach_temporal=True`` that edge is cut (``v[t-1].detach()``), which is spatial learning
through time (SLTT): every step's graph is then independent of the earlier steps, so it can be
differentiated and freed at once (:class:`probtheory.training.sltt.SLTT`).

:class:`TemporalSum` runs a network of such neurons over the time dimension of its input and
sums the outputs, the prediction rule of rate-coded spiking classifiers; :func:`rate_code`
turns intensities in [0, 1] into Bernoulli spike trains.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_name, check_real, make_generator
from probtheory.errors import InputDataError

__all__ = ["SURROGATES", "LIFNeuron", "TemporalSum", "rate_code", "reset_neurons", "temporal_detach"]

#: Surrogate derivatives of the Heaviside step H(u), u = v - V_th, with sharpness alpha.
SURROGATES: tuple[str, ...] = ("sigmoid", "rectangle", "triangle")


def _surrogate_derivative(u: Tensor, kind: str, alpha: float) -> Tensor:
    if kind == "sigmoid":  # d/du sigmoid(alpha u)
        s = torch.sigmoid(alpha * u)
        return alpha * s * (1 - s)
    if kind == "rectangle":  # 1/a on |u| < a/2
        width = 1.0 / alpha
        return (u.abs() < width / 2).to(u.dtype) / width
    return (alpha - alpha * alpha * u.abs()).clamp(min=0)  # triangle of height alpha, half-width 1/alpha


class _Spike(torch.autograd.Function):
    """Heaviside forward, surrogate derivative backward."""

    @staticmethod
    def forward(ctx: Any, u: Tensor, kind: str, alpha: float) -> Tensor:
        ctx.save_for_backward(u)
        ctx.kind, ctx.alpha = kind, alpha
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (u,) = ctx.saved_tensors
        return grad * _surrogate_derivative(u, ctx.kind, ctx.alpha), None, None


class LIFNeuron(nn.Module):
    """Leaky integrate-and-fire neuron, one time step per call.

    Args:
        tau: Membrane time constant, at least 1; the membrane keeps ``1 - 1/tau`` of its
            potential per step (``tau = 1``: it keeps nothing, no temporal dependence).
        v_th: Firing threshold, positive.
        surrogate: Derivative used for the spike's step function: ``"sigmoid"`` (of
            ``alpha * u``), ``"rectangle"`` or ``"triangle"`` (see :data:`SURROGATES`).
        alpha: Sharpness of the surrogate, positive.
        detach_temporal: Cut the membrane's temporal gradient path (SLTT); ``False`` is BPTT.

    Shape:
        Any input shape; the state takes the shape of the first input after :meth:`reset`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_th: float = 1.0,
        surrogate: str = "sigmoid",
        alpha: float = 4.0,
        detach_temporal: bool = False,
    ) -> None:
        super().__init__()
        self.tau = check_real("tau", tau)
        if self.tau < 1:
            raise InputDataError("tau", "a time constant >= 1 (retention 1 - 1/tau in [0, 1))", tau)
        self.v_th = check_real("v_th", v_th, positive=True)
        self.surrogate = check_name("surrogate", surrogate, SURROGATES, meaning="a surrogate derivative")
        self.alpha = check_real("alpha", alpha, positive=True)
        self.detach_temporal = bool(detach_temporal)
        self.v: Tensor | None = None

    @property
    def retention(self) -> float:
        """Share of the membrane potential kept from one step to the next, ``1 - 1/tau``."""
        return 1.0 - 1.0 / self.tau

    def reset(self) -> None:
        """Forget the membrane potential (call before each new input sequence)."""
        self.v = None

    def forward(self, current: Tensor) -> Tensor:
        """Integrate ``current`` for one step; return the spikes (0 or 1), shaped like it."""
        if self.v is None:
            v = current
        else:
            if self.v.shape != current.shape:
                raise InputDataError(
                    "current",
                    f"the shape of the previous step's input {tuple(self.v.shape)} (call reset() "
                    "between sequences)",
                    f"shape {tuple(current.shape)}",
                )
            previous = self.v.detach() if self.detach_temporal else self.v
            v = self.retention * previous + current
        spikes = _Spike.apply(v - self.v_th, self.surrogate, self.alpha)
        self.v = v - spikes * self.v_th  # soft reset
        return spikes

    def extra_repr(self) -> str:
        """The settings, for ``print(module)``."""
        return (
            f"tau={self.tau:g}, v_th={self.v_th:g}, surrogate={self.surrogate!r}, alpha={self.alpha:g}, "
            f"detach_temporal={self.detach_temporal}"
        )


def _neurons(model: nn.Module) -> list[LIFNeuron]:
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "an nn.Module (a network of LIFNeuron modules)", type(model).__name__)
    return [m for m in model.modules() if isinstance(m, LIFNeuron)]


def reset_neurons(model: nn.Module) -> int:
    """Reset every :class:`LIFNeuron` in ``model``; return how many there are."""
    neurons = _neurons(model)
    for neuron in neurons:
        neuron.reset()
    return len(neurons)


@contextmanager
def temporal_detach(model: nn.Module, detach: bool = True) -> Iterator[int]:
    """Within the block, every neuron of ``model`` has ``detach_temporal = detach``; restored after.

    Yields:
        The number of :class:`LIFNeuron` modules in ``model``.
    """
    neurons = _neurons(model)
    previous = [n.detach_temporal for n in neurons]
    for neuron in neurons:
        neuron.detach_temporal = bool(detach)
    try:
        yield len(neurons)
    finally:
        for neuron, value in zip(neurons, previous, strict=True):
            neuron.detach_temporal = value


def check_time_major(name: str, x: object, steps: int | None = None) -> Tensor:
    """``x`` as a `b x T x ...` tensor (time on dimension 1), with ``T == steps`` if given."""
    if not isinstance(x, Tensor) or x.dim() < 3:
        shape = f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise InputDataError(name, "a `batch x time x features` tensor (time on dimension 1)", shape)
    if steps is not None and x.shape[1] != steps:
        raise InputDataError(
            name, f"{steps} time steps on dimension 1", f"{x.shape[1]} (shape {tuple(x.shape)})"
        )
    return x


class TemporalSum(nn.Module):
    """Run a spiking network over time and sum its outputs: ``sum_t net(x[:, t])``.

    The neurons are reset before each sequence, so every call is an independent prediction;
    with an output layer of logits this is the rate-coded classifier's prediction.

    Args:
        net: The per-step network (one time step per call, neurons inside).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise InputDataError("net", "an nn.Module (the per-step network)", type(net).__name__)
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        """``x``: `b x T x ...` input; returns the summed `b x ...` outputs."""
        x = check_time_major("x", x)
        reset_neurons(self.net)
        total = self.net(x[:, 0])
        for t in range(1, x.shape[1]):
            total = total + self.net(x[:, t])
        return total


def rate_code(
    intensities: Tensor, steps: int, *, seed: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """Bernoulli spike trains: at each of ``steps`` steps, a unit fires with its intensity.

    Args:
        intensities: A `b x d` tensor of firing probabilities in [0, 1].
        steps: Number of time steps T, at least 1.
        seed: Seed of the draws (``None``: fresh entropy).
        generator: A generator to draw from instead of ``seed``.

    Returns:
        A `b x T x d` tensor of zeros and ones, of the intensities' dtype.
    """
    if not isinstance(intensities, Tensor) or not intensities.is_floating_point():
        raise InputDataError(
            "intensities", "a floating-point tensor of probabilities", type(intensities).__name__
        )
    if intensities.numel() and not bool(((intensities >= 0) & (intensities <= 1)).all()):
        raise InputDataError(
            "intensities",
            "firing probabilities in [0, 1]",
            f"values in [{float(intensities.min()):.3g}, {float(intensities.max()):.3g}]",
        )
    steps = check_int("steps", steps, minimum=1)
    generator = make_generator(seed, generator)
    shape = (intensities.shape[0], steps, *intensities.shape[1:])
    draws = torch.rand(shape, generator=generator, dtype=intensities.dtype)
    return (draws < intensities.unsqueeze(1)).to(intensities.dtype)
