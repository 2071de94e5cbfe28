"""The examples in every probtheory module's docstrings run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest

import probtheory

MODULES = [info.name for info in pkgutil.walk_packages(probtheory.__path__, "probtheory.")]


def test_every_module_is_found():
    assert {"probtheory.pfn.bar_distribution", "probtheory.training.self_tuning.callback"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
