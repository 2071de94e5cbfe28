"""The examples in the pfn modules' docstrings run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest

import probtheory.pfn

MODULES = [info.name for info in pkgutil.iter_modules(probtheory.pfn.__path__, "probtheory.pfn.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
