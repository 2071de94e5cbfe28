"""The exceptions probtheory raises for bad input and unsupported requests.

Every error names the offending argument, what was expected and what was received, so a
user can fix the call without reading our source.
"""

from __future__ import annotations

__all__ = [
    "AlreadyFittedError",
    "ConfigurationError",
    "InputDataError",
    "NotFittedError",
    "ProbtheoryError",
    "UnknownNameError",
    "UnsupportedError",
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
    """Options that are each valid but inconsistent with one another."""


class NotFittedError(ConfigurationError):
    """A model was queried (e.g. ``posterior``) before ``fit()`` was called."""


class AlreadyFittedError(ConfigurationError):
    """``fit()`` was called on a model that is already fitted."""


class UnknownNameError(InputDataError, KeyError):
    """A name (claim id, method, problem, profile) that is not in its table.

    Also a ``KeyError``, so code that looks names up with ``except KeyError`` keeps working.
    """

    __str__ = InputDataError.__str__  # KeyError's would print the message as a quoted repr
