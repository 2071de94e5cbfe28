"""``BOResult``: what a Bayesian-optimisation run evaluated, saved and resumed as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from probtheory.errors import InputDataError

__all__ = ["BOResult"]

_FORMAT = "probtheory.bo.BOResult/1"


@dataclass
class BOResult:
    """Everything a BO run evaluated, with its settings and timings.

    Attributes:
        problem: The problem's name.
        surrogate: The surrogate's name (a factory's ``__name__``).
        acquisition: The acquisition's name (ignored by ``"random"``).
        seed: The run's seed.
        n_init: Size of the Sobol initial design.
        budget: Evaluations after the initial design.
        q: Batch size.
        bounds: The problem's `2 x d` bounds (``X`` is in the unit cube).
        optimal_value: The problem's maximum, or None if unknown.
        X: `N x d` evaluated points in the unit cube, in evaluation order.
        Y: `N` observed values.
        fit_seconds: Wall time of fitting the surrogate, per BO iteration.
        acquisition_seconds: Wall time of choosing the next points, per BO iteration.
        surrogate_options: Keyword options passed to a named surrogate.
        acquisition_options: The :class:`AcquisitionOptions` as a dict.
        trust_region: The :class:`~bo.trust_region.TrustRegion` settings as a dict, or None
            (the acquisition searched the whole cube).
        trust_region_state: The trust region's state after the last evaluation
            (:meth:`bo.trust_region.TrustRegionState.to_dict`), or None.
        probtheory_version: The package version that made the run (None in files written
            before it was recorded).
    """

    problem: str
    surrogate: str
    acquisition: str
    seed: int
    n_init: int
    budget: int
    q: int
    bounds: Tensor
    optimal_value: float | None
    X: Tensor
    Y: Tensor
    fit_seconds: list[float] = field(default_factory=list)
    acquisition_seconds: list[float] = field(default_factory=list)
    surrogate_options: dict[str, Any] = field(default_factory=dict)
    acquisition_options: dict[str, Any] = field(default_factory=dict)
    trust_region: dict[str, Any] | None = None
    trust_region_state: dict[str, Any] | None = None
    probtheory_version: str | None = None

    @property
    def n_evaluations(self) -> int:
        """The number of evaluations N so far."""
        return self.Y.shape[0]

    @property
    def complete(self) -> bool:
        """Whether all ``n_init + budget`` evaluations are done."""
        return self.n_evaluations >= self.n_init + self.budget

    @property
    def best_so_far(self) -> Tensor:
        """`N` tensor: the best value among the first i evaluations (non-decreasing)."""
        return torch.cummax(self.Y, dim=0).values

    @property
    def simple_regret(self) -> Tensor | None:
        """`N` tensor ``optimal_value - best_so_far`` (non-increasing), or None if the optimum is unknown."""
        return None if self.optimal_value is None else self.optimal_value - self.best_so_far

    def to_json(self) -> str:
        """The result as JSON (floats written exactly; best-so-far and regret added for readers)."""
        data = {
            "format": _FORMAT,
            **{k: v for k, v in asdict(self).items() if k not in ("bounds", "X", "Y")},
            "bounds": self.bounds.tolist(),
            "X": self.X.tolist(),
            "Y": self.Y.tolist(),
            "best_so_far": self.best_so_far.tolist(),
            "simple_regret": None if self.simple_regret is None else self.simple_regret.tolist(),
        }
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> BOResult:
        """Rebuild a result from :meth:`to_json`'s output.

        Raises:
            InputDataError: If ``text`` is not such a JSON document.
        """
        try:
            data = json.loads(text)
            if data.pop("format") != _FORMAT:
                raise ValueError("format")
            del data["best_so_far"], data["simple_regret"]  # derived, recomputed from Y
            d = len(data["bounds"][0])
            data["bounds"] = torch.tensor(data["bounds"], dtype=torch.float64)
            data["X"] = torch.tensor(data["X"], dtype=torch.float64).reshape(-1, d)
            data["Y"] = torch.tensor(data["Y"], dtype=torch.float64).reshape(-1)
            return cls(**data)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise InputDataError("text", f"a BOResult JSON document ({_FORMAT})", repr(error)) from None

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path`` atomically (a crash never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(self.to_json())
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | Path) -> BOResult:
        """Read a result written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise InputDataError("resume_from", "the path of an existing BOResult JSON file", str(path))
        return cls.from_json(path.read_text())
