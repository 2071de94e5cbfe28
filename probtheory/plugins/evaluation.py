"""Measuring reproductions: accuracy, relative error, memory held for backward, and verdicts.

The verdict compares two test accuracies with the binomial standard error of their
difference, so a one-point gap on 540 test images is reported as noise, not as a win.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = [
    "accuracy",
    "accuracy_verdict",
    "count_parameters",
    "matched_width",
    "relative_l2",
    "saved_tensor_bytes",
]


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Share of ``x``'s rows whose arg-max logit equals ``y``, with the model in eval mode.

    Args:
        model: Maps an `n x d` tensor to `n x c` logits.
        x: An `n x d` tensor of inputs.
        y: An `n` tensor of class indices.

    Returns:
        The accuracy in [0, 1]. The model's train/eval mode is restored afterwards.
    """
    if x.shape[0] != y.shape[0]:
        raise InputDataError("y", f"{x.shape[0]} labels (one per row of x)", f"shape {tuple(y.shape)}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        model.train(was_training)
    return float((logits.argmax(dim=-1) == y).float().mean())


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "an nn.Module", type(model).__name__)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def matched_width(build: Callable[[int], nn.Module], target: int, *, max_width: int = 4096) -> int:
    """The width whose model has the parameter count closest to ``target``.

    Args:
        build: ``build(width)`` returns a model; its parameter count must grow with ``width``.
        target: Parameter count to match.
        max_width: Largest width tried.

    Returns:
        The width in ``[1, max_width]`` minimising ``|count_parameters(build(width)) - target|``.
    """
    target = check_int("target", target, minimum=1)
    max_width = check_int("max_width", max_width, minimum=1)

    def count(width: int) -> int:
        return count_parameters(build(width))

    # bisection for the first width reaching the target, then the closer of it and its predecessor
    low, high = 1, max_width
    while low < high:
        mid = (low + high) // 2
        if count(mid) < target:
            low = mid + 1
        else:
            high = mid
    candidates = [w for w in (low - 1, low) if w >= 1]
    return min(candidates, key=lambda w: abs(count(w) - target))


def accuracy_verdict(
    method: str, value: float, baseline: str, baseline_value: float, n_test: int, *, z: float = 2.0
) -> str:
    """One line comparing two test accuracies against their sampling noise.

    The standard error of the difference of two accuracies measured on ``n_test`` test points
    is taken as ``sqrt((p1 (1 - p1) + p2 (1 - p2)) / n_test)``: binomial errors treated as
    independent, which overstates the error of a paired comparison on the same test set, so
    the verdict errs towards "no difference".

    Args:
        method: Name of the method.
        value: Its accuracy in [0, 1].
        baseline: Name of the baseline.
        baseline_value: The baseline's accuracy in [0, 1].
        n_test: Number of test points behind each accuracy (summed over seeds when averaged).
        z: How many standard errors count as a difference.

    Returns:
        E.g. ``"PolyNorm 97.4% vs GELU 96.9% (+0.5 pts, SE 1.0): no difference at this scale"``.
    """
    for name, p in (("value", value), ("baseline_value", baseline_value)):
        if not 0.0 <= check_real(name, p) <= 1.0:
            raise InputDataError(name, "an accuracy in [0, 1]", p)
    n_test = check_int("n_test", n_test, minimum=1)
    se = math.sqrt((value * (1 - value) + baseline_value * (1 - baseline_value)) / n_test)
    gap = value - baseline_value
    if gap > z * se:
        outcome = f"{method} better"
    elif gap < -z * se:
        outcome = f"{method} worse"
    else:
        outcome = f"no difference at this scale (|gap| < {z:g} SE)"
    return (
        f"{method} {100 * value:.1f}% vs {baseline} {100 * baseline_value:.1f}% "
        f"({100 * gap:+.1f} pts, SE {100 * se:.1f}): {outcome}"
    )


def relative_l2(prediction: Tensor, target: Tensor, *, per_sample: bool = False) -> float:
    """Relative L2 error ``||prediction - target|| / ||target||``.

    Args:
        prediction: The approximation.
        target: The reference, of the same shape.
        per_sample: Treat dimension 0 as samples: the mean over samples of each sample's
            relative error (how operator-learning papers report test error), instead of one
            ratio of whole-tensor norms.

    Raises:
        InputDataError: If the shapes differ, either holds a NaN or infinity, or a reference
            norm is zero (the relative error is undefined).
    """
    for name, value in (("prediction", prediction), ("target", target)):
        if not isinstance(value, Tensor):
            raise InputDataError(name, "a tensor", type(value).__name__)
        if not torch.isfinite(value).all():
            raise InputDataError(name, "finite values", "a tensor containing NaN or infinity")
    if prediction.shape != target.shape:
        raise InputDataError(
            "prediction", f"the target's shape {tuple(target.shape)}", f"shape {tuple(prediction.shape)}"
        )
    if per_sample:
        if target.dim() == 0 or target.shape[0] == 0:
            raise InputDataError(
                "target", "at least one sample along dimension 0", f"shape {tuple(target.shape)}"
            )
        error = (prediction - target).reshape(target.shape[0], -1).double().norm(dim=1)
        scale = target.reshape(target.shape[0], -1).double().norm(dim=1)
    else:
        error, scale = (prediction - target).double().norm(), target.double().norm()
    if bool((scale == 0).any()):
        raise InputDataError("target", "a nonzero reference (its norm divides the error)", "a zero norm")
    return float((error / scale).mean())


class _Held:
    """A tensor saved for backward, counted while autograd's graph keeps it."""

    __slots__ = ("key", "meter", "tensor")

    def __init__(self, tensor: Tensor, key: tuple[Any, ...], meter: _SavedBytesMeter) -> None:
        self.tensor, self.key, self.meter = tensor, key, meter
        meter.acquire(key, tensor.numel() * tensor.element_size())

    def __del__(self) -> None:
        self.meter.release(self.key)


class _SavedBytesMeter:
    """Bytes of the distinct tensors currently held for backward, and their peak."""

    def __init__(self, excluded: set[tuple[Any, int]]) -> None:
        self.excluded = excluded
        self.refs: dict[tuple[Any, ...], list[int]] = {}
        self.current = self.peak = 0

    def acquire(self, key: tuple[Any, ...], nbytes: int) -> None:
        entry = self.refs.get(key)
        if entry is None:
            self.refs[key] = [nbytes, 1]
            self.current += nbytes
            self.peak = max(self.peak, self.current)
        else:
            entry[1] += 1

    def release(self, key: tuple[Any, ...]) -> None:
        entry = self.refs[key]
        entry[1] -= 1
        if entry[1] == 0:
            del self.refs[key]
            self.current -= entry[0]

    def pack(self, tensor: Tensor) -> Any:
        if _storage_key(tensor) in self.excluded or tensor.numel() == 0:
            return tensor
        # the same view saved by several ops (a tanh's output and the next layer's input) counts once
        key = (*_storage_key(tensor), tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()))
        return _Held(tensor, key, self)

    @staticmethod
    def unpack(held: Any) -> Tensor:
        return held.tensor if isinstance(held, _Held) else held


def _storage_key(tensor: Tensor) -> tuple[Any, int]:
    return (tensor.device, tensor.untyped_storage().data_ptr())


def saved_tensor_bytes(run: Callable[[], Any], *, exclude: Iterable[Tensor] = ()) -> int:
    """Peak bytes that autograd holds for backward while ``run()`` executes.

    Every tensor that autograd saves for a backward pass goes through a saved-tensor hook
    (``torch.autograd.graph.saved_tensors_hooks``); a tensor is counted from the moment it is
    saved until the graph that holds it is freed (after ``backward()``, or when the graph goes
    out of scope). A tensor counts its own elements (a view of one time step of a long input
    counts that step, not the whole input), once however many ops save it, so the figure is
    the activation memory of training, independent of the allocator and device.

    Args:
        run: A callable doing forward and backward passes, e.g. one training step.
        exclude: Tensors not to count, with every view of their storage (typically
            ``model.parameters()``: weights are saved for backward too, but they are held whatever
            the training method).

    Returns:
        The peak, in bytes, of the distinct tensors held for backward at any one time.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
        >>> step = lambda: net(torch.randn(16, 8)).sum().backward()
        >>> saved_tensor_bytes(step, exclude=net.parameters()) > 0
        True
    """
    if not callable(run):
        raise InputDataError("run", "a callable doing forward and backward passes", type(run).__name__)
    if isinstance(exclude, Tensor):
        exclude = [exclude]
    excluded = set()
    for i, tensor in enumerate(exclude):
        if not isinstance(tensor, Tensor):
            raise InputDataError(f"exclude[{i}]", "a tensor (e.g. a parameter)", type(tensor).__name__)
        excluded.add(_storage_key(tensor))
    meter = _SavedBytesMeter(excluded)
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, meter.unpack):
        run()
    return meter.peak
