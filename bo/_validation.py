"""Input checks shared by every BoTorch surrogate in :mod:`bo.models`.

Surrogates assume normalised inputs (the unit cube) and a single, unbatched training set;
these helpers reject anything else with a :class:`probtheory.errors.InputDataError` that
names the argument, the expectation and what was received, before a bad tensor can turn
into a silent NaN deep inside a Cholesky factor or an optimiser. The fit-state errors and
the options-to-config helper live here too, so that GP-based surrogates (which subclass
BoTorch's ``SingleTaskGP``) and sample-based ones (which subclass
:class:`bo.models.SurrogateModel`) share one implementation.
"""

from __future__ import annotations

import dataclasses
import difflib
import warnings
from collections.abc import Iterable
from typing import Any, TypeVar

import torch
from botorch.exceptions import InputDataWarning
from torch import Tensor

from probtheory._checks import check_finite, check_inputs
from probtheory.errors import ConfigurationError, InputDataError

__all__ = [
    "EXTRAPOLATION_TOLERANCE",
    "UNIT_CUBE_TOLERANCE",
    "check_output_indices",
    "check_test_inputs",
    "check_training_data",
    "resolve_config",
]

#: Slack allowed outside [0, 1]: ``botorch.utils.transforms.normalize`` is exact only up to
#: floating-point rounding, and float32 data normalised in float32 can overshoot by ~1e-7.
UNIT_CUBE_TOLERANCE = 1e-6

#: How far outside the unit cube (in normalised units: a tenth of the cube's side) ``posterior``
#: inputs may lie before an ``InputDataWarning``. A surrogate trained on [0, 1]^d extrapolates
#: beyond it; a little of that (a plot's margin) is a choice, but inputs much further out are
#: nearly always unnormalised ones (a problem's raw bounds, standardised features), which the
#: surrogate would answer with its prior mean and no error.
EXTRAPOLATION_TOLERANCE = 0.1

ConfigT = TypeVar("ConfigT")


def check_training_data(train_X: Tensor, train_Y: Tensor, *, min_points: int = 2) -> tuple[Tensor, Tensor]:
    """Validate a training set for a BoTorch surrogate.

    Args:
        train_X: An `n x d` floating tensor of inputs in the unit cube [0, 1]^d.
        train_Y: An `n x m` floating tensor of observations.
        min_points: The model's minimum number of training points n.

    Returns:
        ``(train_X, train_Y)`` unchanged.

    Raises:
        InputDataError: On a wrong type, dtype, shape or range, too few points,
            non-finite values, or mismatched numbers of rows.
    """
    check_finite("train_X", train_X)
    if train_X.dim() != 2:
        raise InputDataError(
            "train_X",
            "an `n x d` tensor (batched training sets are not supported)",
            f"shape {tuple(train_X.shape)}",
        )
    n, d = train_X.shape
    if d < 1:
        raise InputDataError(
            "train_X", "at least one input dimension (d >= 1)", f"shape {tuple(train_X.shape)}"
        )
    if n < min_points:
        raise InputDataError("train_X", f"at least {min_points} training points", f"n = {n}")
    low, high = train_X.min().item(), train_X.max().item()
    if low < -UNIT_CUBE_TOLERANCE or high > 1.0 + UNIT_CUBE_TOLERANCE:
        raise InputDataError(
            "train_X",
            "inputs in the unit cube [0, 1]^d (surrogates assume normalised inputs: "
            "use `botorch.utils.transforms.normalize(X, bounds)`)",
            f"values in [{low:.6g}, {high:.6g}]",
        )
    check_finite("train_Y", train_Y)
    if train_Y.dim() != 2:
        hint = " (use `train_Y.unsqueeze(-1)` for one output)" if train_Y.dim() == 1 else ""
        raise InputDataError("train_Y", f"an `n x m` tensor{hint}", f"shape {tuple(train_Y.shape)}")
    if train_Y.shape[0] != n:
        raise InputDataError(
            "train_Y", f"n = {n} rows, as many as `train_X`", f"shape {tuple(train_Y.shape)}"
        )
    if train_Y.shape[1] < 1:
        raise InputDataError(
            "train_Y", "at least one output column (m >= 1)", f"shape {tuple(train_Y.shape)}"
        )
    return train_X, train_Y


def check_test_inputs(X: Tensor, d: int, *, model: str = "the surrogate") -> Tensor:
    """Validate the inputs of ``posterior``: a finite floating `batch_shape x q x d` tensor.

    Inputs more than :data:`EXTRAPOLATION_TOLERANCE` outside the unit cube get a
    ``botorch.exceptions.InputDataWarning`` naming the surrogate: it was trained on normalised
    inputs and extrapolates there.

    Args:
        X: The candidate inputs.
        d: The input dimension of the training data.
        model: The surrogate's name, for the warning.

    Returns:
        ``X`` unchanged.
    """
    X = check_inputs("X", X, feature_dim=d)
    if X.numel():
        low, high = (value.item() for value in torch.aminmax(X.detach()))
        if low < -EXTRAPOLATION_TOLERANCE or high > 1.0 + EXTRAPOLATION_TOLERANCE:
            warnings.warn(
                f"{model}.posterior: `X` has values in [{low:.4g}, {high:.4g}], more than "
                f"{EXTRAPOLATION_TOLERANCE:g} outside the unit cube [0, 1]^d that {model} was trained on, "
                "where it extrapolates; normalise test inputs like the training inputs "
                "(`botorch.utils.transforms.normalize(X, bounds)`)",
                InputDataWarning,
                stacklevel=3,
            )
    return X


def check_output_indices(output_indices: list[int] | None, num_outputs: int) -> list[int]:
    """Validate ``output_indices`` of ``posterior`` and return the selected outputs.

    Args:
        output_indices: Indices of the outputs to keep, or None for all of them.
        num_outputs: The model's number of outputs m.

    Returns:
        The list of selected output indices.
    """
    if output_indices is None:
        return list(range(num_outputs))
    if isinstance(output_indices, (str, bytes)) or not isinstance(output_indices, Iterable):
        raise InputDataError(
            "output_indices",
            f"a non-empty list of integers in [0, {num_outputs})",
            f"{output_indices!r} (a list is needed even for one output: [{output_indices!r}])",
        )
    indices = list(output_indices)
    if not indices or any(
        isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_outputs for i in indices
    ):
        raise InputDataError(
            "output_indices", f"a non-empty list of integers in [0, {num_outputs})", output_indices
        )
    return indices


def resolve_config(config_class: type[ConfigT], config: ConfigT | None, options: dict[str, Any]) -> ConfigT:
    """Build a surrogate's configuration dataclass from either a config or keyword options.

    ``Surrogate(X, Y, config=SurrogateConfig(depth=2))`` and ``Surrogate(X, Y, depth=2)`` are
    the same call; mixing both, or naming an option the config does not have, is an error.

    Args:
        config_class: The frozen dataclass holding the surrogate's options.
        config: A ready configuration, or None.
        options: Keyword options, the fields of ``config_class`` to override.

    Returns:
        The configuration.

    Raises:
        ConfigurationError: If both ``config`` and ``options`` are given or an option is unknown.
    """
    if config is not None:
        if options:
            raise ConfigurationError(
                "pass either `config` or keyword options to the surrogate, not both "
                f"(got options {sorted(options)})"
            )
        if not isinstance(config, config_class):
            raise InputDataError("config", f"a {config_class.__name__}", type(config).__name__)
        return config
    fields = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - fields)
    if unknown:
        close = {name: difflib.get_close_matches(name.lower(), sorted(fields), n=1) for name in unknown}
        hints = "".join(f"; did you mean {m[0]!r} for {name!r}?" for name, m in close.items() if m)
        raise ConfigurationError(
            f"unknown option(s) {unknown} for {config_class.__name__}{hints}; valid: {sorted(fields)}"
        )
    return config_class(**options)
