"""scikit-learn and cvxpy are extras: without them the package imports, and their users say which.

A missing module is simulated with ``sys.modules[name] = None``, which makes ``import name`` raise
``ImportError`` exactly as an absent package does.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from probtheory._checks import require_module
from probtheory.cli import main
from probtheory.errors import ConfigurationError

DATASETS = 'pip install "probtheory[datasets]"'
CONVEX = 'pip install "probtheory[convex]"'


@pytest.fixture
def without_sklearn(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)


@pytest.fixture
def without_cvxpy(monkeypatch):
    for name in [m for m in sys.modules if m == "cvxpy" or m.startswith("cvxpy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cvxpy", None)


def test_require_module_returns_an_installed_module():
    assert require_module("math", extra="unused", purpose="nothing") is sys.modules["math"]


def test_a_missing_module_names_its_package_and_the_extra(without_sklearn):
    with pytest.raises(ConfigurationError) as raised:
        require_module("sklearn.datasets", extra="datasets", purpose="the digits reproductions")
    message = str(raised.value)
    assert "scikit-learn" in message and "the digits reproductions" in message
    assert DATASETS in message and "\n" not in message
    assert isinstance(raised.value.__cause__, ImportError)


def test_the_digits_split_without_sklearn(without_sklearn):
    from probtheory.plugins.data import digits_split

    with pytest.raises(ConfigurationError, match=r"scikit-learn .*probtheory\[datasets\]"):
        digits_split(seed=0)


def test_the_regression_set_without_sklearn(without_sklearn):
    from probtheory.gp.datasets import regression_dataset

    with pytest.raises(ConfigurationError, match=r"probtheory\[datasets\]"):
        regression_dataset("diabetes")


def test_the_convex_relu_solver_without_cvxpy(without_cvxpy):
    from probtheory.training.convex_relu import fit_convex_relu

    x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)
    with pytest.raises(ConfigurationError) as raised:
        fit_convex_relu(x, y, 0.1)
    assert "cvxpy" in str(raised.value) and CONVEX in str(raised.value)


def test_the_cli_reports_a_missing_extra_in_one_line(without_sklearn, tmp_path, capsys):
    status = main(["reproduce", "polycom", "--quick", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("probtheory: error:") and DATASETS in lines[0]


def test_the_packages_import_without_the_extras():
    # a fresh interpreter: the claims table and the method registry load without sklearn or cvxpy
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None\n"
        "sys.modules['cvxpy'] = None\n"
        "import bo, probtheory, proofs_checks\n"
        "from probtheory.plugins.registry import methods\n"
        "assert proofs_checks.claims() and methods()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
