"""Every public entry point on the docs' API pages has at least one bad-input case.

The cases are the ``CASES`` tables of the ``test_bad_input_*.py`` files (rows of
:class:`tests.bad_input.BadInput`); an entry point is a public class or function of a module
documented by a ``::: module`` line of ``docs/api/*.md``. A row whose ``entry`` is ``"PFN"`` or
``"PFN.predict"`` covers ``PFN``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import sys
from pathlib import Path

from tests.bad_input import BadInput

ROOT = Path(__file__).resolve().parents[1]

#: Entry points with nothing a user can get wrong, each with the reason.
NO_ARGUMENTS = {
    "claims": "takes no arguments",
    "methods": "takes no arguments",
    "recipes": "takes no arguments",
    "pretrained_names": "takes no arguments",
    "unnormalised_relu_dual": "takes no arguments",
}
#: Records the library returns (users read them; the library builds them).
RESULTS = frozenset(
    """
    AugmentedGraph BandlimitedFit BatchEigenvalues ClaimReport DeepKernels ErrorCurve
    ErrorRegressionResult GDTrajectory InductiveBias KernelGDTrajectory LipschitzBound MPNPLoss
    MeanFieldSolution MonteCarloEstimate ODEFamilyData ODESystem PatternSequences PhaseDiagram
    PreconditionedGDResult RegionEnumeration RegressionSplit RetrievalResult RunRecord Separability
    SlopeFit SolveResult StudentTPosteriorParameters TrainResult UnrollResult Verdict
    ZeroTemperatureOverlaps
    """.split()
)


def documented_modules() -> list[str]:
    modules = []
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        modules += re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), flags=re.M)
    return modules


def entry_points() -> dict[str, str]:
    """Public class or function name -> the documented module it is listed under."""
    found = {}
    for name in documented_modules():
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None)
        if public is None:
            public = [
                key
                for key, value in vars(module).items()
                if not key.startswith("_") and getattr(value, "__module__", None) == name
            ]
        for key in public:
            value = getattr(module, key)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if inspect.isclass(value) and issubclass(value, BaseException):
                continue  # the exceptions themselves
            found.setdefault(key, name)
    return found


@functools.cache
def bad_input_cases() -> list[BadInput]:
    """The rows of every table, imported under the name pytest gives the module (once per process)."""
    cases = []
    for path in sorted((ROOT / "tests").rglob("test_bad_input_*.py")):
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))  # pytest's rootdir-relative "prepend" import mode
        cases += importlib.import_module(path.stem).CASES
    return cases


def test_every_documented_entry_point_has_a_bad_input_case():
    covered = {case.entry.split(".")[0] for case in bad_input_cases()}
    missing = {
        name: module
        for name, module in entry_points().items()
        if name not in covered and name not in NO_ARGUMENTS and name not in RESULTS
    }
    assert not missing, "no bad-input case for: " + ", ".join(f"{m}.{n}" for n, m in sorted(missing.items()))


def test_the_tables_name_real_entry_points():
    known = set(entry_points()) | set(NO_ARGUMENTS) | RESULTS
    unknown = sorted({case.entry for case in bad_input_cases() if case.entry.split(".")[0] not in known})
    # rows may also exercise public entry points below the documented modules (e.g. a CLI)
    assert all(" " not in entry for entry in unknown), unknown
