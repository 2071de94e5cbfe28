"""Which library modules run while a piece of code runs: recorded from the calls, not the imports.

:class:`ModuleRecorder` installs a :func:`sys.setprofile` hook that notes the module of every
Python function called (once per code object, so that a loop costs one set lookup per call).
The runner records a claim's first instance with it, for the coverage table of the report
(:mod:`proofs_checks.coverage`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["TRACKED_PACKAGES", "ModuleRecorder"]

#: The packages whose modules the coverage table lists.
TRACKED_PACKAGES: tuple[str, ...] = ("probtheory", "bo")


class ModuleRecorder:
    """Records the modules (of the given top-level packages) whose Python functions are called.

    Use as a context manager, or :meth:`start` and :meth:`stop` (idempotent) where the end of the
    recording is not the end of a block.
    """

    def __init__(self, prefixes: Iterable[str] = TRACKED_PACKAGES) -> None:
        self.prefixes = tuple(prefixes)
        self.modules: set[str] = set()
        self._seen_codes: set[int] = set()
        self._previous = None
        self._active = False

    def __call__(self, frame, event, arg) -> None:
        """The profile hook: note the module of a function called for the first time."""
        if event != "call":
            return
        code = id(frame.f_code)
        if code in self._seen_codes:
            return
        self._seen_codes.add(code)
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] in self.prefixes:
            self.modules.add(module)

    def start(self) -> ModuleRecorder:
        """Begin recording (the hook replaces any profiler for now; :meth:`stop` puts it back)."""
        if not self._active:
            self._previous = sys.getprofile()
            sys.setprofile(self)
            self._active = True
        return self

    def stop(self) -> None:
        """End recording; a second call does nothing."""
        if self._active:
            sys.setprofile(self._previous)
            self._active = False

    def __enter__(self) -> ModuleRecorder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
