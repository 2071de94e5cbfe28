"""What the registry records about one plug-in method, and what its reproduction returns.

A :class:`PluginEntry` names a method, cites its :class:`Paper`, says what *kind* of thing it
is (a layer, a training-time method, a backprop-free learning rule, a solver, an analysis
tool) and whether it is implemented, points at the implementation by import path, and runs
the method's small reproduction, which returns a :class:`ReproductionResult`.

Implementations and reproductions are named by import path rather than imported, so that
listing the registry (``probtheory list``) imports neither scikit-learn nor matplotlib.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, Literal

from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import InputDataError, UnsupportedError
from probtheory.papers import Paper  # re-exported: it lived here before probtheory.papers

__all__ = ["KINDS", "STATUSES", "Kind", "Paper", "PluginEntry", "ReproductionResult", "Status", "resolve"]

Kind = Literal["layer", "training-method", "learning-rule", "solver", "analysis"]
Status = Literal["implemented", "planned"]

#: ``layer``: an ``nn.Module`` drop-in; ``training-method``: a callback, optimizer policy or
#: update strategy on :func:`probtheory.training.fit` that still backpropagates through the
#: network; ``learning-rule``: a rule without end-to-end backpropagation, run through ``fit`` by
#: an update strategy (each block learns from a local objective); ``solver``: a scientific-ML
#: solver; ``analysis``: a fitter or estimator that trains nothing.
KINDS: tuple[str, ...] = ("layer", "training-method", "learning-rule", "solver", "analysis")
STATUSES: tuple[str, ...] = ("implemented", "planned")


@dataclass(frozen=True)
class ReproductionResult:
    """The outcome of one reproduction: the method's metric next to its baseline's.

    Attributes:
        method: Registry name of the method.
        metric: What was measured, e.g. ``"test accuracy (digits)"``.
        value: The method's value of the metric.
        baseline: Name of the baseline it is compared against.
        baseline_value: The baseline's value of the metric.
        seconds: Wall time of the whole reproduction, baseline included.
        verdict: One line saying whether the paper's qualitative claim showed up, and how sure.
        higher_is_better: Whether a larger metric is better (accuracy) or worse (loss).
        quick: Whether the reduced ``--quick`` budget was used.
        seed: The seed the run used.
        details: Further named values (every variant's metric, parameter counts, ...).
        figure: Path of the figure written, if any.
    """

    method: str
    metric: str
    value: float
    baseline: str
    baseline_value: float
    seconds: float
    verdict: str
    higher_is_better: bool = True
    quick: bool = False
    seed: int = 0
    details: Mapping[str, float] = field(default_factory=dict)
    figure: str | None = None

    def __post_init__(self) -> None:
        for name in ("method", "metric", "baseline", "verdict"):
            if not isinstance(getattr(self, name), str):
                raise InputDataError(name, "a string", repr(getattr(self, name)))
        for name in ("value", "baseline_value"):  # NaN allowed: a diverged run is an outcome
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise InputDataError(name, "a number", f"{value!r} of type {type(value).__name__}")
        check_real("seconds", self.seconds, nonnegative=True)
        check_int("seed", self.seed, minimum=0)

    @property
    def improvement(self) -> float:
        """How much better than the baseline the method is (negative: worse), in metric units."""
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (self.value - self.baseline_value)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary of every field plus ``improvement``."""
        record = dataclasses.asdict(self)
        record["details"] = dict(self.details)
        record["improvement"] = self.improvement
        return record


@dataclass(frozen=True)
class PluginEntry:
    """One registered method.

    Attributes:
        name: Registry name, lower-case with hyphens (``"polycom"``); what ``probtheory
            reproduce NAME`` takes.
        paper: The paper it implements.
        kind: One of :data:`KINDS`.
        status: ``"implemented"`` or ``"planned"``.
        summary: One line saying what a user gets.
        implementation: Dotted import paths of the public objects (``"probtheory.layers.PolyReLU"``);
            empty while planned.
        reproduction: ``"module:function"`` of the reproduction, a callable
            ``(quick: bool, seed: int, out_dir: Path | None) -> ReproductionResult``; ``None``
            while planned.
    """

    name: str
    paper: Paper
    kind: Kind
    status: Status
    summary: str
    implementation: tuple[str, ...] = ()
    reproduction: str | None = None

    def __post_init__(self) -> None:
        check_name("kind", self.kind, KINDS, meaning="a method kind")
        check_name("status", self.status, STATUSES, meaning="a status")
        if self.status == "implemented" and (not self.implementation or self.reproduction is None):
            raise InputDataError(
                "implementation",
                f"import paths and a reproduction for implemented method {self.name!r}",
                "none",
            )

    def load_implementation(self) -> list[object]:
        """Import and return the objects named in :attr:`implementation`."""
        return [resolve(path) for path in self.implementation]

    def reproduce(
        self, quick: bool = False, seed: int = 0, out_dir: str | Path | None = None
    ) -> ReproductionResult:
        """Run the method's reproduction against its baseline on offline data.

        Args:
            quick: Use the reduced budget (fewer seeds and epochs; about a minute on 2 CPU cores).
            seed: Seed for the data split, initialisation and minibatch order.
            out_dir: Folder for the figure; ``None`` draws no figure.

        Returns:
            The :class:`ReproductionResult`.

        Raises:
            UnsupportedError: If the method is still planned.
        """
        if self.reproduction is None:
            raise UnsupportedError("name", "an implemented method", f"{self.name!r}, which is {self.status}")
        seed = check_int("seed", seed, minimum=0)
        run = resolve(self.reproduction.replace(":", "."))
        return run(quick=bool(quick), seed=seed, out_dir=None if out_dir is None else Path(out_dir))


def resolve(path: str) -> Any:
    """Import ``"package.module.attribute"`` and return the attribute.

    Args:
        path: A dotted path whose last component is an attribute of the module before it.

    Raises:
        InputDataError: If the module or the attribute does not exist.
    """
    module_name, _, attribute = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as err:
        raise InputDataError("path", "an importable `module.attribute` path", f"{path!r} ({err})") from err
