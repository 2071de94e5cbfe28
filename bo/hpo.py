"""Hyperparameter search over training runs, with optional predictive early stopping.

A training run is anything that yields its validation metric once per epoch: ``train(config)``
returns an iterator, and the loop simply stops pulling from it when the stopping rule says
so (a generator that trains lazily wastes no work). Runs are visited in a seeded random
order (random search); the incumbent is the best final value of the runs trained to the end.
:func:`replay` turns recorded curves into such runs, which is how the early-stopping
benchmark measures savings without retraining.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bo.early_stopping import PredictiveEarlyStopping
from probtheory._checks import check_int
from probtheory.errors import InputDataError

__all__ = ["HPOResult", "RunRecord", "random_search", "replay"]


@dataclass
class RunRecord:
    """One training run: its configuration, the values seen, and where it was stopped."""

    config: Any
    values: list[float]
    stopped_early: bool

    @property
    def epochs(self) -> int:
        """Epochs trained."""
        return len(self.values)


@dataclass
class HPOResult:
    """The runs in the order visited, and the incumbent after each."""

    runs: list[RunRecord] = field(default_factory=list)
    incumbents: list[float | None] = field(default_factory=list)
    minimize: bool = False

    @property
    def total_epochs(self) -> int:
        """Epochs trained over all runs."""
        return sum(r.epochs for r in self.runs)

    @property
    def best(self) -> RunRecord | None:
        """The completed run with the best final value."""
        done = [r for r in self.runs if not r.stopped_early and r.values]
        if not done:
            return None
        key = (lambda r: -r.values[-1]) if self.minimize else (lambda r: r.values[-1])
        return max(done, key=key)

    def to_json(self, path: str | Path) -> None:
        """Save (configs must be JSON-serialisable)."""
        Path(path).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def from_json(cls, path: str | Path) -> HPOResult:
        """Load a result written by :meth:`to_json`."""
        text = Path(path).read_text()
        try:
            data = json.loads(text)
            runs = [RunRecord(r["config"], list(r["values"]), bool(r["stopped_early"])) for r in data["runs"]]
            return cls(runs, list(data["incumbents"]), bool(data["minimize"]))
        except (ValueError, TypeError, KeyError) as error:
            expected = "the path of an HPOResult JSON file written by to_json"
            raise InputDataError(
                "path", expected, f"{str(path)!r} ({type(error).__name__}: {error})"
            ) from None


def replay(curves: Sequence[Sequence[float]]) -> Callable[[int], Iterator[float]]:
    """Recorded curves as training runs: ``train(i)`` yields curve i epoch by epoch.

    Args:
        curves: A non-empty list of curves, each a non-empty list of metric values.
    """
    if isinstance(curves, (str, bytes)) or not isinstance(curves, Sequence) or not curves:
        raise InputDataError("curves", "a non-empty list of curves (lists of values)", repr(curves)[:80])
    for i, curve in enumerate(curves):
        if isinstance(curve, (str, bytes)) or not isinstance(curve, Sequence) or not curve:
            expected = "curves that are non-empty lists of values (a single curve goes in a list: [curve])"
            raise InputDataError(f"curves[{i}]", expected, repr(curve)[:80])

    def train(index: int) -> Iterator[float]:
        yield from (float(v) for v in curves[index])

    return train


def random_search(
    train: Callable[[Any], Iterable[float]],
    configs: Sequence[Any],
    max_epochs: int,
    early_stopping: PredictiveEarlyStopping | None = None,
    *,
    minimize: bool = False,
    seed: int = 0,
    progress: bool = True,
) -> HPOResult:
    """Train every configuration in a seeded random order, stopping hopeless runs early.

    Args:
        train: ``train(config)`` yields the validation metric after each epoch.
        configs: The hyperparameter configurations to try.
        max_epochs: Epochs of a complete run.
        early_stopping: The stopping rule (None: every run trains to the end).
        minimize: The metric is a loss (lower is better).
        seed: Seed of the visiting order.
        progress: Show a progress bar with the incumbent and the epochs spent.

    Returns:
        An :class:`HPOResult`.
    """
    if not callable(train):
        raise InputDataError("train", "a callable train(config) yielding the metric per epoch", repr(train))
    check_int("max_epochs", max_epochs, minimum=1)
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Sequence):
        raise InputDataError("configs", "a sequence (list) of configurations", type(configs).__name__)
    if not configs:
        raise InputDataError("configs", "at least one configuration", "an empty sequence")
    if early_stopping is not None and not isinstance(early_stopping, PredictiveEarlyStopping):
        expected = "a PredictiveEarlyStopping rule or None"
        raise InputDataError("early_stopping", expected, type(early_stopping).__name__)
    if early_stopping is not None and early_stopping.normalizer.minimize != minimize:
        raise InputDataError(
            "early_stopping", f"a rule whose normalizer has minimize={minimize}", "the opposite"
        )
    order = list(range(len(configs)))
    random.Random(seed).shuffle(order)
    result = HPOResult(minimize=minimize)
    incumbent: float | None = None
    bar = tqdm(order, disable=not progress, desc="random search")
    for index in bar:
        values: list[float] = []
        stopped = False
        run = iter(train(configs[index]))
        for value in run:
            values.append(float(value))
            if len(values) >= max_epochs:
                break
            if early_stopping is not None and early_stopping.should_stop(values, incumbent):
                stopped = True
                break
        if hasattr(run, "close"):
            run.close()
        if not stopped and len(values) < max_epochs:
            raise InputDataError(
                f"train({configs[index]!r})", f"{max_epochs} epochs", f"{len(values)} values"
            )
        result.runs.append(RunRecord(configs[index], values, stopped))
        if not stopped:
            final = values[-1]
            better = incumbent is None or (final < incumbent if minimize else final > incumbent)
            incumbent = final if better else incumbent
        result.incumbents.append(incumbent)
        bar.set_postfix(incumbent=f"{incumbent:.4g}", epochs=result.total_epochs)
    return result
