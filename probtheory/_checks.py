"""Shared input validation: every public entry point checks its arguments here.

Each helper raises :class:`probtheory.errors.InputDataError` naming the argument, the
expectation and what it received, and returns the validated value. :func:`require_module` checks
the environment instead: an optional dependency that is not installed is a
:class:`probtheory.errors.ConfigurationError` naming the extra that installs it.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable, Iterable
from numbers import Integral, Real
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, requiring an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InputDataError(name, "an integer", f"{value!r} of type {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise InputDataError(name, f"an integer >= {minimum}", value)
    return int(value)


def check_int_or_inf(name: str, value: object, *, minimum: int | None = None) -> int | float:
    """Return ``value`` as an int ``>= minimum``, or ``math.inf`` (a limit such as infinite data)."""
    if isinstance(value, float) and value == math.inf:
        return math.inf
    return check_int(name, value, minimum=minimum)


def check_real(
    name: str,
    value: object,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a float, optionally requiring ``> 0`` or ``>= 0``.

    NaN is always refused, infinities unless ``allow_inf`` (a limit such as zero temperature, or
    an open bound; ``positive`` / ``nonnegative`` still refuse ``-inf``).
    """
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputDataError(name, "a real number", f"{value!r} of type {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise InputDataError(name, "a finite number" if not allow_inf else "a number (or an infinity)", value)
    if positive and value <= 0:
        raise InputDataError(name, "a number > 0", value)
    if nonnegative and value < 0:
        raise InputDataError(name, "a number >= 0", value)
    return value


def check_interval(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    closed: tuple[bool, bool] = (True, True),
    meaning: str = "a number",
) -> float:
    """Return ``value`` as a float in the interval from ``low`` to ``high`` (NaN is refused).

    Args:
        name: The argument's name, for the error.
        value: The value to check.
        low: The lower end.
        high: The upper end.
        closed: Whether each end belongs to the interval (``(False, False)``: the open interval).
        meaning: What the number is, for the error (``"a dataset quality"``).
    """
    value = check_real(name, value)
    low_ok = value >= low if closed[0] else value > low
    high_ok = value <= high if closed[1] else value < high
    if not (low_ok and high_ok):
        interval = f"{'[' if closed[0] else '('}{low:g}, {high:g}{']' if closed[1] else ')'}"
        raise InputDataError(name, f"{meaning} in {interval}", value)
    return value


def check_floating(name: str, x: object) -> Tensor:
    """Require a floating-point tensor (type and dtype only: no device sync, cheap in forward passes)."""
    if not isinstance(x, Tensor):
        raise InputDataError(name, "a torch.Tensor", type(x).__name__)
    if not x.is_floating_point():
        raise InputDataError(name, "a floating-point tensor", f"dtype {x.dtype}")
    return x


def check_spins(name: str, x: object, *, shape: tuple[int | None, ...]) -> Tensor:
    """Require a non-empty tensor of +-1 entries of the given shape (``None``: any size); as int8."""
    if not isinstance(x, Tensor):
        raise InputDataError(name, "a torch.Tensor of +-1 entries", type(x).__name__)
    if x.dim() != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape, strict=True)):
        expected = " x ".join("any" if s is None else str(s) for s in shape)
        raise InputDataError(name, f"a tensor of shape {expected}", f"shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise InputDataError(name, "a non-empty tensor", f"shape {tuple(x.shape)}")
    if x.is_complex():
        raise InputDataError(name, "binary patterns with entries in {-1, +1}", "complex entries")
    is_spin = (x == 1) | (x == -1)
    if x.dtype == torch.bool or not is_spin.all():
        bad = x.reshape(-1)[~is_spin.reshape(-1)][:3].tolist()
        raise InputDataError(name, "binary patterns with entries in {-1, +1}", f"entries such as {bad}")
    return x.to(torch.int8)


def make_generator(seed: int | None = None, generator: torch.Generator | None = None) -> torch.Generator:
    """The random generator of a stochastic function: ``generator`` if given, else one seeded by ``seed``.

    ``seed=None`` (and no generator) seeds from the operating system's entropy, without touching
    the global generator.
    """
    if generator is not None:
        return check_generator("generator", generator, optional=False)
    fresh = torch.Generator()
    if seed is None:
        fresh.seed()
    else:
        fresh.manual_seed(check_int("seed", seed, minimum=0))
    return fresh


def check_finite(name: str, tensor: Tensor) -> Tensor:
    """Require a floating tensor whose entries are all finite."""
    if not isinstance(tensor, Tensor):
        raise InputDataError(name, "a torch.Tensor", type(tensor).__name__)
    if not tensor.is_floating_point():
        raise InputDataError(name, "a floating-point tensor", f"dtype {tensor.dtype}")
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        raise InputDataError(name, "finite values (no NaN or inf)", f"{bad} non-finite entries")
    return tensor


def check_inputs(name: str, x: Tensor, *, feature_dim: int | None = None) -> Tensor:
    """Require a finite ``... x n x d`` tensor, with ``d == feature_dim`` when given."""
    check_finite(name, x)
    if x.dim() < 2:
        raise InputDataError(name, "a `... x n x d` tensor (at least 2 dims)", tuple(x.shape))
    if feature_dim is not None and x.shape[-1] != feature_dim:
        raise InputDataError(name, f"trailing dimension d = {feature_dim}", f"shape {tuple(x.shape)}")
    return x


def check_same_feature_dim(name1: str, x1: Tensor, name2: str, x2: Tensor) -> None:
    """Require two input tensors to share their trailing (feature) dimension."""
    if x1.shape[-1] != x2.shape[-1]:
        raise InputDataError(
            name2,
            f"the same trailing dimension as `{name1}` ({x1.shape[-1]})",
            f"shape {tuple(x2.shape)}",
        )


def check_class_labels(name: str, y: object, n: int, num_classes: int | None = None) -> Tensor:
    """Require a 1-d integer tensor of ``n`` class indices, in [0, num_classes) when given; as int64."""
    if not isinstance(y, Tensor) or y.dim() != 1 or y.shape[0] != n or y.is_floating_point():
        raise InputDataError(name, f"an integer tensor of {n} labels", getattr(y, "shape", type(y).__name__))
    too_large = num_classes is not None and n and y.max() >= num_classes
    if n and (y.min() < 0 or too_large):
        expected = "non-negative labels" if num_classes is None else f"labels in [0, {num_classes})"
        raise InputDataError(name, expected, f"range [{y.min()}, {y.max()}]")
    return y.long()


def check_elementwise(name: str, fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """Require ``fn`` to act elementwise: same shape out, and commuting with reshapes/permutations.

    A map like softmax or layer norm couples coordinates and has no infinite-width kernel of
    the kind computed here, so it is rejected up front rather than producing a wrong kernel.
    """
    if not callable(fn):
        raise InputDataError(name, "a callable elementwise activation", type(fn).__name__)
    probe = torch.linspace(-3.0, 3.0, 12, dtype=torch.float64).reshape(3, 4)
    try:
        out = fn(probe)
    except Exception as err:  # noqa: BLE001 - any failure means it is not usable here
        raise UnsupportedError(name, "an activation accepting a float64 tensor", repr(err)) from err
    if not isinstance(out, Tensor) or out.shape != probe.shape:
        raise UnsupportedError(
            name, "an elementwise activation (output shape == input shape)", _describe(out)
        )
    single = torch.stack([fn(v.reshape(1)).reshape(()) for v in probe.reshape(-1)])
    flipped = fn(probe.flip(-1)).flip(-1)
    if not (
        torch.allclose(out.reshape(-1), single, rtol=1e-6, atol=1e-9)
        and torch.allclose(out, flipped, rtol=1e-6, atol=1e-9)
    ):
        raise UnsupportedError(
            name,
            "an elementwise activation (each output depends on its own input only)",
            f"{getattr(fn, '__name__', type(fn).__name__)}, which mixes coordinates",
        )
    return fn


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def check_name(name: str, value: object, known: Iterable[str], *, meaning: str = "a known name") -> str:
    """Return ``value`` if it is one of the ``known`` names (exactly), else suggest the closest ones.

    Lookups of a name in a table (claim ids, methods, problems, profiles) all fail alike: with
    :class:`probtheory.errors.UnknownNameError` (an ``InputDataError`` that is also a
    ``KeyError``), listing the names when there are few and suggesting the closest ones, found
    by ``difflib`` and compared case-insensitively (``"ntk.Convergence"`` suggests
    ``"ntk.convergence"``). The match itself stays exact: a near miss is never silently taken.

    Args:
        name: The argument's name, for the error.
        value: The name looked up.
        known: The names of the table.
        meaning: What the name is, for the error (``"a claim id"``).
    """
    import difflib

    from probtheory.errors import UnknownNameError

    known = list(known)
    if isinstance(value, str) and value in known:
        return value
    expected = f"{meaning}, one of {sorted(known)}" if len(known) <= 12 else meaning
    if not isinstance(value, str):
        raise UnknownNameError(name, expected, f"{value!r} of type {type(value).__name__}")
    lowered: dict[str, str] = {}
    for candidate in known:
        lowered.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(value.lower(), list(lowered), n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(repr(lowered[c]) for c in close)}?)" if close else ""
    raise UnknownNameError(name, expected, f"{value!r}{hint}")


def match_parameter_dtype(name: str, x: object, dtype: torch.dtype) -> Tensor:
    """The package's dtype policy for inputs of a module with weights: returned in ``dtype``.

    A module with weights computes in the dtype of its parameters; a floating-point input of
    another dtype is converted to it (differentiably), and the caller returns its results in the
    input's dtype. Non-floating inputs (integer, boolean, complex) are refused, naming ``name``.

    Args:
        name: The argument's name, for the error.
        x: The input.
        dtype: The module's parameter dtype.
    """
    check_floating(name, x)
    return x if x.dtype == dtype else x.to(dtype)


def check_nonempty(name: str, x: Tensor, *, dim: int = 0, what: str = "data point") -> Tensor:
    """Require ``x.shape[dim] >= 1`` (at least one ``what``), naming ``name`` and the shape received."""
    if x.dim() == 0 or x.shape[dim] == 0:
        expected = f"at least one {what} (size >= 1 along dim {dim})"
        raise InputDataError(name, expected, f"shape {tuple(x.shape)}")
    return x


def check_range(
    name: str, value: object, *, minimum: float | None = None, integer: bool = False
) -> tuple[float, float] | tuple[int, int]:
    """Return a ``(low, high)`` pair with ``minimum <= low <= high`` (both integers if ``integer``).

    For arguments that are ranges to draw from (sizes, standard deviations), where a bare number
    or a swapped pair is the usual mistake.
    """
    kind = "integers" if integer else "numbers"
    expected = f"a pair (low, high) of {kind} with low <= high" + (
        f" and low >= {minimum:g}" if minimum is not None else ""
    )
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:  # type: ignore[arg-type]
        raise InputDataError(name, expected, repr(value))
    check = check_int if integer else check_real
    low, high = (check(f"{name}[{i}]", v) for i, v in enumerate(value))  # type: ignore[arg-type]
    if low > high or (minimum is not None and low < minimum):
        raise InputDataError(name, expected, repr(tuple(value)))  # type: ignore[arg-type]
    return low, high


def check_instance(name: str, value: object, cls: type | tuple[type, ...], expected: str) -> object:
    """Require ``isinstance(value, cls)``; ``expected`` says what in words (``"a CurveNormalizer"``)."""
    if not isinstance(value, cls):
        raise InputDataError(name, expected, f"{value!r} of type {type(value).__name__}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Require ``True`` or ``False`` (not a truthy string or number)."""
    if not isinstance(value, bool):
        raise InputDataError(name, "True or False", f"{value!r} of type {type(value).__name__}")
    return value


def check_generator(name: str, value: object, *, optional: bool = True) -> torch.Generator | None:
    """Require a ``torch.Generator`` (or ``None`` when ``optional``: torch's global one is used)."""
    if value is None and optional:
        return None
    if not isinstance(value, torch.Generator):
        expected = "a torch.Generator" + (" or None" if optional else "")
        raise InputDataError(name, expected, f"{value!r} of type {type(value).__name__}")
    return value


def check_path(name: str, value: object) -> Path:
    """Require a file-system path (``str`` or ``os.PathLike``); returned as a :class:`~pathlib.Path`."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)) or value == "":
        received = f"{value!r} of type {type(value).__name__}"
        raise InputDataError(name, "a non-empty str or os.PathLike path", received)
    return Path(value)


def check_not_nan(name: str, values: object) -> Tensor:
    """Require a real tensor (or number) without NaN entries; infinities are allowed (``cdf(inf) = 1``)."""
    tensor = _as_real_tensor(name, values)
    if tensor.isnan().any():
        bad = int(tensor.isnan().sum())
        raise InputDataError(name, "values that are not NaN", f"{bad} NaN entries of {tensor.numel()}")
    return tensor


def check_in_interval(
    name: str,
    values: object,
    low: float,
    high: float,
    *,
    closed: tuple[bool, bool] = (True, True),
    meaning: str = "values",
) -> Tensor:
    """Require every entry of a tensor (or number, or list of numbers) to lie in an interval.

    The comparisons are written so that NaN fails them (``not (low <= v <= high)``), unlike the
    common ``(v < low) | (v > high)``, which lets NaN through.

    Args:
        name: The argument's name, for the error.
        values: A real tensor, number or sequence of numbers (integers become float64).
        low: The lower end.
        high: The upper end.
        closed: Whether each end belongs to the interval (``(False, False)``: the open interval).
        meaning: What the entries are, for the error (``"probabilities"``).

    Returns:
        ``values`` as a floating-point tensor.
    """
    tensor = _as_real_tensor(name, values)
    inside = (tensor >= low if closed[0] else tensor > low) & (tensor <= high if closed[1] else tensor < high)
    if not inside.all():
        interval = f"{'[' if closed[0] else '('}{low:g}, {high:g}{']' if closed[1] else ')'}"
        bad = tensor[~inside]
        nan = int(bad.isnan().sum())
        shown = bad.flatten()[:5].tolist()
        received = f"{shown}" + (f" ({nan} NaN)" if nan else "")
        raise InputDataError(name, f"{meaning} in {interval}", received)
    return tensor


def check_probabilities(name: str, values: object, *, open_interval: bool = False) -> Tensor:
    """Require a non-empty tensor of probability levels in [0, 1] (``(0, 1)`` when ``open_interval``)."""
    tensor = _as_real_tensor(name, values)
    if tensor.numel() == 0:
        raise InputDataError(name, "at least one probability", "an empty tensor")
    closed = (not open_interval, not open_interval)
    return check_in_interval(name, tensor, 0.0, 1.0, closed=closed, meaning="probabilities")


def _as_real_tensor(name: str, values: object) -> Tensor:
    """``values`` as a real floating tensor (integers to float64); anything else is an InputDataError."""
    if isinstance(values, (bool, str)):
        raise InputDataError(name, "a real tensor or number", f"{values!r} of type {type(values).__name__}")
    try:
        tensor = torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputDataError(name, "a real tensor or number", f"{values!r} ({err})") from err
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise InputDataError(name, "a real tensor or number", f"dtype {tensor.dtype}")
    if not isinstance(values, Tensor):  # Python floats are float64: keep their precision
        return torch.as_tensor(values, dtype=torch.float64)
    return tensor if tensor.is_floating_point() else tensor.to(torch.float64)


def check_sequence(
    name: str,
    value: object,
    *,
    length: int | None = None,
    nonempty: bool = False,
    meaning: str = "a list or tuple",
) -> tuple:
    """Require a list or tuple, of ``length`` items when given; returned as a tuple."""
    if (
        not isinstance(value, (list, tuple))
        or (length is not None and len(value) != length)
        or (nonempty and not value)
    ):
        raise InputDataError(name, meaning, repr(value))
    return tuple(value)


def check_logit_labels(name: str, y: object, logits: Tensor) -> Tensor:
    """Integer class labels for `b x c` ``logits`` (a cross-entropy target): `b` labels in [0, c).

    Float labels (probabilities, or class indices stored as floats) and one-hot rows are refused
    with what was received, instead of the loss's own shape or dtype error; as int64.
    """
    if isinstance(y, Tensor) and (y.is_floating_point() or y.is_complex() or y.dtype == torch.bool):
        hint = ", or `b x c` one-hot rows: pass y.argmax(-1)" if y.dim() == 2 else ""
        raise InputDataError(name, "integer class indices (int64)", f"a {y.dtype} tensor{hint}")
    if isinstance(y, Tensor) and y.dim() == 2 and tuple(y.shape) == tuple(logits.shape):
        raise InputDataError(
            name, "`b` class indices, not one-hot rows (pass y.argmax(-1))", f"shape {tuple(y.shape)}"
        )
    return check_class_labels(name, y, logits.shape[0], logits.shape[-1])


#: Import name -> distribution name, where they differ (pip installs ``scikit-learn``).
_DISTRIBUTIONS = {"sklearn": "scikit-learn"}


def require_module(name: str, *, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or say in one line which extra installs it.

    scikit-learn (extra ``datasets``) and cvxpy (extra ``convex``) are not installed with
    probtheory itself; every use imports them through this function, at the point of use, so the
    package imports without them.

    Args:
        name: The module to import (``"sklearn"``, ``"cvxpy"``, or a submodule such as
            ``"sklearn.datasets"``).
        extra: The extra of probtheory that installs it (``pip install "probtheory[EXTRA]"``).
        purpose: What needs it, completing "needed for ..." (e.g. ``"the digits reproductions"``).

    Returns:
        The imported module.

    Raises:
        ConfigurationError: The module cannot be imported; the message names the package and the
            ``pip install`` command of the extra.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        top = name.partition(".")[0]
        package = _DISTRIBUTIONS.get(top, top)
        raise ConfigurationError(
            f"{package} is needed for {purpose} but is not installed; "
            f'install it with: pip install "probtheory[{extra}]"'
        ) from err
