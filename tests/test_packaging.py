"""Packaging basics: one version everywhere, a licence, type hints shipped."""

import importlib.metadata
import re
from pathlib import Path

import probtheory

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_has_one_source():
    assert importlib.metadata.version("probtheory") == probtheory.__version__
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^version: (\S+)$", citation, flags=re.M).group(1) == probtheory.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {probtheory.__version__}" in changelog


def test_licence_and_type_hints_ship():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    for package in ("probtheory", "proofs_checks", "bo"):
        assert (ROOT / package / "py.typed").exists()
