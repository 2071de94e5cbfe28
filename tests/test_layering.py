"""The import layering of the three packages, as docs/concepts.md states it, enforced.

* ``probtheory`` imports neither ``bo`` nor ``proofs_checks``; both are built on ``probtheory``,
  and ``proofs_checks`` may import ``bo`` (it checks its posteriors) but never the other way.
* Inside ``probtheory``, a subpackage imports only subpackages of strictly lower layers
  (``LAYERS``, bottom first); a subpackage not placed in a layer fails the test, so a new one
  must be placed deliberately.
* No import cycle between modules of the three packages (imports inside functions count; those
  under ``if TYPE_CHECKING:`` do not).

The checker is run on small planted trees too, so each rule is shown to fail when broken.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("probtheory", "proofs_checks", "bo")

#: The subpackages (and top-level modules) of probtheory, bottom layer first. A subpackage may
#: import only from strictly lower layers; ``probtheory`` itself is the version module.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"probtheory"}),
    frozenset({"errors"}),
    frozenset({"_checks", "_cli_options"}),
    frozenset({"papers"}),
    frozenset({"kernels"}),
    frozenset({"networks", "gp", "pfn", "layers", "theory", "bounds", "energy", "processes", "recurrent"}),
    frozenset({"lcpfn", "training"}),
    frozenset({"sciml"}),
    frozenset({"plugins"}),
    frozenset({"cli"}),
)
#: Top-level packages each top-level package may import (besides itself).
ALLOWED_TOP = {"probtheory": set(), "proofs_checks": {"probtheory", "bo"}, "bo": {"probtheory"}}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules ``module`` imports (explicitly), skipping TYPE_CHECKING blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from pkg import submodule` imports the submodule too
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports, for the tree under ``root``."""
    sources = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            sources[_module_name(path, root)] = path
    graph = {}
    for module, path in sources.items():
        names = _imports(ast.parse(path.read_text(encoding="utf-8")), module, path.name == "__init__.py")
        graph[module] = {name for name in names if name in sources and name != module}
    return graph


def _layer_key(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the package order or the layers of probtheory."""
    layer_of = {name: level for level, names in enumerate(LAYERS) for name in names}
    problems = []
    for module, targets in sorted(graph.items()):
        top = module.split(".")[0]
        for target in sorted(targets):
            target_top = target.split(".")[0]
            if target_top != top:
                if target_top not in ALLOWED_TOP[top]:
                    problems.append(f"{module} imports {target}: {top} must not import {target_top}")
                continue
            if top != "probtheory":
                continue
            source_key, target_key = _layer_key(module), _layer_key(target)
            if source_key == target_key:
                continue
            for key in (source_key, target_key):
                if key not in layer_of:
                    problems.append(
                        f"probtheory.{key} is in no layer: place it in LAYERS and docs/concepts.md"
                    )
            if (
                source_key in layer_of
                and target_key in layer_of
                and layer_of[target_key] >= layer_of[source_key]
            ):
                problems.append(
                    f"{module} imports {target}: probtheory.{source_key} (layer {layer_of[source_key]}) may "
                    f"import only lower layers, probtheory.{target_key} is layer {layer_of[target_key]}"
                )
    return sorted(set(problems))


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def test_the_packages_import_downward_only():
    assert layering_violations(import_graph(ROOT)) == []


def test_no_import_cycle():
    assert import_cycles(import_graph(ROOT)) == []


def test_every_probtheory_subpackage_has_a_layer():
    subpackages = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "probtheory").iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.stem != "__init__")
    }
    placed = set().union(*LAYERS)
    assert subpackages - placed == set()


def test_docs_state_the_same_layers():
    concepts = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    for level, names in enumerate(LAYERS[1:], start=1):
        for name in names:
            assert f"`{name}`" in concepts, f"docs/concepts.md does not place `{name}` (layer {level})"


# ------------------------------------------------------------- the checker fails when it should


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"probtheory/pfn/__init__.py": "from bo.models import GP\n", "bo/models.py": ""},
            "must not import bo",
        ),
        (
            {"probtheory/pfn/__init__.py": "import proofs_checks.claim\n", "proofs_checks/claim.py": ""},
            "must not import proofs_checks",
        ),
        ({"bo/loop.py": "from proofs_checks import run\n"}, "bo must not import proofs_checks"),
        (
            {
                "probtheory/pfn/recipes.py": "from probtheory.lcpfn.curves import CurvePrior\n",
                "probtheory/lcpfn/curves.py": "",
            },
            "probtheory.pfn (layer 5) may import only lower layers",
        ),
        (
            {
                "probtheory/training/bt2.py": "def f():\n    from probtheory.plugins.training import fit\n",
                "probtheory/plugins/training.py": "",
            },
            "probtheory.training (layer 6)",
        ),
        (
            {
                "probtheory/unplaced/__init__.py": "from probtheory.kernels import x\n",
                "probtheory/kernels/__init__.py": "",
            },
            "probtheory.unplaced is in no layer",
        ),
    ],
)
def test_a_planted_violation_is_reported(tmp_path, files, expected):
    problems = layering_violations(import_graph(_plant(tmp_path, files)))
    assert any(expected in problem for problem in problems), problems


def test_a_planted_cycle_is_reported_and_type_checking_imports_are_not(tmp_path):
    root = _plant(
        tmp_path,
        {
            "probtheory/gp/a.py": "from probtheory.gp.b import g\n",
            "probtheory/gp/b.py": "def g():\n    from probtheory.gp import a\n",
            "probtheory/gp/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from probtheory.gp.a import f\n"
            ),
        },
    )
    graph = import_graph(root)
    assert import_cycles(graph) == [["probtheory.gp.a", "probtheory.gp.b"]]
    assert graph["probtheory.gp.c"] == set()
