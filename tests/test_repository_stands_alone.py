"""The repository stands alone: no text in it points readers at material they cannot see.

Design notes, research digests and issue threads live outside the repository, so code, docs and
tests must cite the papers themselves (authors, venue, year, section) or the derivations in
``docs/derivations.md`` and the conventions in ``docs/concepts.md`` instead. This test scans every
text file git knows about (tracked, plus untracked files that are not ignored, so a new file is
checked before it is committed; without git, the working tree minus the usual build and
environment folders) and lists each offending ``file:line``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THIS_FILE = Path(__file__).resolve()

#: references to material outside the repository; each is (name, pattern)
FORBIDDEN = (
    ("external research digest", re.compile(r"shared/research")),
    ("external design note", re.compile(r"shared/DESIGN|\bDESIGN\.md\b")),
    ("external style note", re.compile(r"\bSTYLE\.md\b")),
    ("external research digest", re.compile(r"research/(?:theory|bayes|plugins|ecosystem)\.md")),
    # a bare digest name followed by a section mark ("theory.md A.4.4", "``bayes.md`` 6(d)",
    # "plugins.md 21", "theory.md, section F"); a path such as docs/plugins.md is not one
    (
        "external research digest section",
        re.compile(
            r"(?<![\w/.-])(?:theory|bayes|plugins|ecosystem)\.md`{0,2},?\s*"
            r"(?:§|(?i:section|sec\.)\s|[A-N](?:\.\d|\b)|\d+(?:\.\d+)*(?:\([a-z]\))?(?![\w-]))"
        ),
    ),
    ("issue thread", re.compile(r"\b(?:the|this) issue\b|\bissue's bar\b", re.IGNORECASE)),
)

#: folders never scanned when walking the tree without git
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "site",
    "build",
    "dist",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".mypy_cache",
}


def _candidate_files(root: Path) -> list[Path]:
    """Files git tracks or would track; the working tree if git is unavailable."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
        return [root / n for n in names]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for directory, subdirs, names in os.walk(root):
            subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            files.extend(Path(directory) / n for n in names)
        return sorted(files)


def _text(path: Path) -> str | None:
    """The file's text, or None for binary, unreadable or missing files."""
    try:
        data = path.read_bytes()
    except OSError:  # deleted or renamed in the working tree, a broken link, a folder (submodule)
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


#: a digest name at the end of a line, whose section mark may start the next line
DIGEST_AT_END = re.compile(r"(?<![\w/.-])(?:theory|bayes|plugins|ecosystem)\.md`{0,2},?\s*$")
#: what may open a continuation line before the text: indentation and comment markers
LINE_OPENER = re.compile(r"^\s*(?:#+|//|\*|>)?\s*")


def external_references(text: str) -> list[tuple[int, str, str]]:
    """``(line number, what, line)`` for every reference to material outside the repository."""
    hits = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        probe = line
        if DIGEST_AT_END.search(line) and number < len(lines):
            probe = line.rstrip() + " " + LINE_OPENER.sub("", lines[number])
        for what, pattern in FORBIDDEN:
            if pattern.search(probe):
                hits.append((number, what, line.strip()))
                break
    return hits


@pytest.mark.parametrize(
    "line",
    [
        "see shared/research/theory.md A.4.4",
        "(``shared/research/bayes.md`` section 6(b))",
        "DESIGN.md: imports run one way",
        "as STYLE.md asks",
        "research/plugins.md 19",
        "theory.md A.4.4",
        "theory.md D.2 [VERIFIED-NUM]",
        "(theory.md F.2(a))",
        "bayes.md 9(c)1: N = 2000",
        "``bayes.md`` 6(d)",
        "ecosystem.md section 1",
        "theory.md, section F",
        "bayes.md §3",
        "plugins.md 21.",
        "theory.md I",
        "The issue's bar is a ratio >= 5.",
        "every method of this issue is implemented",
        "as the issue asks",
    ],
)
def test_patterns_catch_external_references(line):
    assert external_references(line), line


def test_a_section_mark_on_the_next_line_is_caught():
    assert external_references("the two numerical traps of theory.md\nI.2 are rejected")
    assert external_references("    # as derived in bayes.md\n    # 9(c), the overlap")
    assert not external_references("see the page plugins.md\nfor the list")


@pytest.mark.parametrize(
    "line",
    [
        "interface, each with a reproduction ([plug-ins](plugins.md)).",
        "      - Plug-in methods: plugins.md",
        "      - probtheory.layers, training and plugins: api/plugins.md",
        "see docs/derivations.md, §4",
        "see docs/plugins.md §2",
        '(docs/concepts.md, "BoTorch contract")',
        "the ReLU kind has neither issue.",
        "GitHub yucenli/bnn-bo#2",
    ],
)
def test_patterns_leave_in_repository_references_alone(line):
    assert not external_references(line), line


def test_no_file_points_outside_the_repository():
    offenders = []
    for path in _candidate_files(ROOT):
        if path.resolve() == THIS_FILE:
            continue
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(ROOT).as_posix()
        offenders += [f"{rel}:{number}: [{what}] {line}" for number, what, line in external_references(text)]
    assert not offenders, (
        f"{len(offenders)} reference(s) to material outside the repository (cite the paper itself, "
        "docs/derivations.md or docs/concepts.md instead):\n" + "\n".join(offenders)
    )
