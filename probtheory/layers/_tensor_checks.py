"""Cheap argument checks for layer forward passes (type and dtype only: no device sync)."""

from __future__ import annotations

from torch import Tensor

from probtheory.errors import InputDataError


def check_floating(name: str, x: object) -> Tensor:
    """Require a floating-point tensor; return it."""
    if not isinstance(x, Tensor):
        raise InputDataError(name, "a torch.Tensor", type(x).__name__)
    if not x.is_floating_point():
        raise InputDataError(name, "a floating-point tensor", f"dtype {x.dtype}")
    return x
