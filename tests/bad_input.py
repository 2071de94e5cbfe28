"""Table-driven bad-input cases: one line per realistic user mistake.

Each package's ``test_bad_input.py`` lists :class:`BadInput` rows and runs them with
:func:`check_case`; adding a case is adding a row::

    CASES = [
        BadInput("PFN.predict_quantiles", "NaN level", lambda: model.predict_quantiles(x, y, xq, qs=[nan]),
                 InputDataError, "qs"),
    ]

    @pytest.mark.parametrize("case", CASES, ids=str)
    def test_bad_input(case):
        check_case(case)

``entry`` names the public entry point (as listed on the API pages) so that coverage of the
public API can be counted; ``argument`` is the argument the error message must name (between
backticks, as :class:`probtheory.errors.InputDataError` writes it), or a regular expression
the message must match when ``argument`` is given as ``re=...``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class BadInput:
    """One user mistake and the error it must get.

    Attributes:
        entry: The public entry point called (``"PFN.predict_quantiles"``).
        mistake: What the user got wrong, in a few words.
        call: Makes the call.
        error: The exception type expected (a ``probtheory.errors`` class), or a warning class
            when ``warns`` is set.
        argument: The argument the message must name, as ```name``` (backticks added here);
            ``None`` to check only the type.
        pattern: A regular expression the message must also match.
        warns: The call must warn with ``error`` (a warning category) instead of raising.
    """

    entry: str
    mistake: str
    call: Callable[[], object]
    error: type[BaseException] | type[Warning]
    argument: str | None = None
    pattern: str | None = None
    warns: bool = False

    def __str__(self) -> str:
        return f"{self.entry}: {self.mistake}"


def check_case(case: BadInput) -> None:
    """Run ``case.call`` and require its error (or warning), naming the argument."""
    if case.warns:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            case.call()
        messages = [str(w.message) for w in caught if issubclass(w.category, case.error)]
        assert messages, f"{case}: no {case.error.__name__} was issued"
        text = " | ".join(messages)
    else:
        with pytest.raises(case.error) as info:
            case.call()
        text = str(info.value)
    if case.argument is not None:
        assert f"`{case.argument}`" in text, f"{case}: the message does not name `{case.argument}`: {text}"
    if case.pattern is not None:
        assert re.search(case.pattern, text), f"{case}: the message does not match {case.pattern!r}: {text}"
