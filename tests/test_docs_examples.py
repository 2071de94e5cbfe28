"""Every Python example in the README and the docs runs (examples never rot)."""

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)], ids=lambda p: p.name)
def test_page_examples_run(page, capsys):
    dtype = torch.get_default_dtype()
    namespace: dict = {"__name__": f"docs_example_{page.stem}"}
    try:
        for block in _python_blocks(page):
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        torch.set_default_dtype(dtype)
    capsys.readouterr()


def test_readme_has_exactly_two_setup_commands():
    setup = ROOT.joinpath("README.md").read_text().split("## A short tour")[0]
    commands = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)
    assert len(commands) == 2
    assert commands[0].strip().endswith("probtheory check")
    assert "pytest" in commands[1]
