"""Benchmark tables say whether each bar is met, from the results files (docs/benchmark_bars.py)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)
bars = hooks.benchmark_bars

PLACEHOLDER = re.compile(r"<!-- bar:(\w+):([^:>]+?):((?:<=|<|>=|>) ?[^\s:]+) -->")
PAGES = [p for p in sorted((ROOT / "docs").glob("*.md")) if PLACEHOLDER.search(p.read_text())]


def _table(table: str) -> tuple[dict, list[dict]]:
    name, _, key = table.partition(":")
    data = json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())
    return data, data[key or "table"]


@pytest.mark.parametrize("table", sorted(bars.BARS))
def test_every_bar_picks_one_row_and_is_decided(table):
    data, rows = _table(table)
    cells = bars.verdicts(table, data, rows)
    assert len(cells) == len(rows)
    assert sum(cell.count("met") for cell in cells) == len(bars.BARS[table])


@pytest.mark.parametrize("table", sorted(bars.BARS))
def test_every_table_with_bars_is_on_a_page(table):
    name, _, key = table.partition(":")
    placeholder = f"<!-- benchmark:{name}:{key} -->" if key else f"<!-- benchmark:{name} -->"
    assert any(placeholder in page.read_text() for page in (ROOT / "docs").glob("*.md"))


def test_a_rendered_table_has_the_verdict_column():
    data, _ = _table("kernels")
    verdict = "met" if data["headline"]["ratio"] <= 0.6 else "not met"
    table = hooks.on_page_markdown("<!-- benchmark:kernels -->")
    assert table.splitlines()[0].endswith("| bar |")
    assert f"| ≤ 0.6x BoTorch: {verdict} |" in table
    # a table whose script writes the bar gets the verdict next to it
    assert hooks.on_page_markdown("<!-- benchmark:pfn_gp -->").splitlines()[0].endswith("| bar | bar met |")


def test_a_bar_that_picks_no_row_is_an_error():
    with pytest.raises(LookupError, match="picks 0 rows"):
        bars.verdicts("kernels", {"headline": {"ratio": 0.5}}, [{"case": "another case"}])


def test_a_verdict_follows_the_number():
    value = hooks._result("plugins", "results.aas.details.aas_over_uniform")
    assert hooks.bar_verdict("plugins", "results.aas.details.aas_over_uniform", f"<= {value!r}") == "met"
    assert hooks.bar_verdict("plugins", "results.aas.details.aas_over_uniform", f"< {value!r}") == "not met"
    assert hooks.bar_verdict("plugins", "results.aas.details.aas_over_uniform", f">= {value!r}") == "met"
    with pytest.raises(ValueError, match="is not one of"):
        hooks.bar_verdict("plugins", "results.aas.details.aas_over_uniform", "about 0.5")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_verdicts_in_pages_resolve(page):
    for match in PLACEHOLDER.finditer(page.read_text()):
        assert hooks.bar_verdict(*match.groups()) in ("met", "not met")
    assert "<!-- bar:" not in hooks.on_page_markdown(page.read_text())
