"""Measuring reproductions: accuracy, parameter counts, width matching, and the verdict line.

The verdict compares two test accuracies with the binomial standard error of their
difference, so a one-point gap on 540 test images is reported as noise, not as a win.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["accuracy", "accuracy_verdict", "count_parameters", "matched_width"]


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
