"""Every number a docs page quotes from a benchmark result resolves (docs/hooks.py placeholders)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)

PLACEHOLDER = re.compile(r"<!-- value:(\w+):([^:>]+?)(?::([^>]*?))? -->")
PAGES = [p for p in sorted((ROOT / "docs").glob("*.md")) if PLACEHOLDER.search(p.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_quoted_values_resolve(page):
    for match in PLACEHOLDER.finditer(page.read_text()):
        hooks.benchmark_value(match.group(1), match.group(2), match.group(3) or ".4g")


def test_a_missing_key_is_an_error():
    with pytest.raises(KeyError, match="no-such-method"):
        hooks.benchmark_value("plugins", "results.no-such-method.value")


def test_a_value_is_formatted():
    assert re.fullmatch(r"\d+\.\d%", hooks.benchmark_value("plugins", "results.sltt.value", ".1%"))
