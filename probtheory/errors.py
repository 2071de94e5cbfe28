"""The exceptions probtheory raises for bad input and unsupported requests.

Every error names the offending argument, what was expected and what was received, so a
user can fix the call without reading our source.
"""

from __future__ import annotations

__all__ = [
    "AlreadyFittedError",
    "CheckpointError",
    "ConfigurationError",
    "InputDataError",
    "NotFittedError",
    "ProbtheoryError",
    "UnknownNameError",
    "UnsupportedError",
    "UnverifiedCheckpointWarning",
]


class ProbtheoryError(Exception):
    """Base class of every exception raised deliberately by probtheory."""


class _ArgumentError(ProbtheoryError):
    """An error about one named argument: what was expected and what was received."""

    def __init__(self, argument: str, expected: str, received: object) -> None:
        self.argument = argument
        self.expected = expected
        self.received = received
        super().__init__(f"`{argument}`: expected {expected}, received {received}.")


class InputDataError(_ArgumentError, ValueError):
    """An argument has the wrong shape, dtype or range, or contains non-finite values."""


class UnsupportedError(_ArgumentError, NotImplementedError):
    """A well-formed request for something probtheory does not support."""


class ConfigurationError(ProbtheoryError, ValueError):
    """Options that are each valid but inconsistent with one another, or a missing optional dependency."""


class NotFittedError(ConfigurationError):
    """A model was queried (e.g. ``posterior``) before ``fit()`` was called."""


class AlreadyFittedError(ConfigurationError):
    """``fit()`` was called on a model that is already fitted."""


class UnknownNameError(InputDataError, KeyError):
    """A name (claim id, method, problem, profile) that is not in its table.

    Also a ``KeyError``, so code that looks names up with ``except KeyError`` keeps working.
    """

    __str__ = InputDataError.__str__  # KeyError's would print the message as a quoted repr


class CheckpointError(ProbtheoryError, ValueError):
    """A saved model (``PATH.safetensors`` + ``PATH.json``) is missing, malformed or altered.

    Raised when a file is absent, the JSON is not valid, the weights do not hash to the
    recorded ``sha256``, or the configuration does not hash to its recorded ``config_sha256``
    (an edited architecture or prior would silently change the model's predictions). The
    message names the file and what differs: the recorded and the computed hash, or what
    was expected and what was found.

    Attributes:
        path: The checkpoint (file or path without suffix).
        problem: What is wrong with it.
    """

    def __init__(self, path: object, problem: str = "") -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"checkpoint {path}: {problem}" if problem else str(path))


class UnverifiedCheckpointWarning(UserWarning):
    """A checkpoint was loaded whose JSON configuration is not covered by a recorded hash.

    Checkpoints written before configurations were hashed record only the weights' sha256;
    their configuration cannot be verified until it is re-hashed (``probtheory pfn rehash``).
    """
