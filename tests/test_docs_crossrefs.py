"""The docstrings' reST roles become autorefs cross-references (docs/rst_roles.py, docs/griffe_rst_roles.py).

The conversion itself needs only the standard library and runs everywhere; the scope
resolution needs griffe and the one-page build mkdocs, both from the ``docs`` extra, so those
tests skip without it (CI's ``mkdocs build --strict`` then covers the whole site).
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rst_roles = _load("rst_roles")

KNOWN = {"fit": "pkg.train.fit", "Model": "pkg.models.Model", "Model.fit": "pkg.models.Model.fit"}


def resolve(name: str) -> str | None:
    """Relative names from KNOWN, dotted names under pkg as absolute, anything else unknown."""
    return KNOWN.get(name) or (name if name.startswith("pkg.") else None)


def link(identifier: str, title: str) -> str:
    return f'<autoref identifier="{identifier}" optional class="rst-role">`{title}`</autoref>'


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (":class:`pkg.models.Model`", link("pkg.models.Model", "pkg.models.Model")),
        (":class:`~pkg.models.Model`", link("pkg.models.Model", "Model")),
        (":py:func:`~pkg.train.fit`", link("pkg.train.fit", "fit")),
        (":meth:`fit`", link("pkg.train.fit", "fit")),
        (":meth:`Model.fit`", link("pkg.models.Model.fit", "Model.fit")),
        (":meth:`~Model.fit`", link("pkg.models.Model.fit", "fit")),
        (":meth:`.fit`", link("pkg.train.fit", "fit")),
        (":func:`fit()`", link("pkg.train.fit", "fit()")),
        (":func:`the loop <pkg.train.fit>`", link("pkg.train.fit", "the loop")),
        (":mod:`pkg.train`", link("pkg.train", "pkg.train")),
        (":attr:`unknown_name`", "`unknown_name`"),
        (":data:`~other.CONSTANT`", "`CONSTANT`"),
        (":class:`!pkg.models.Model`", "`pkg.models.Model`"),
        (":class:`pkg.models.\n    Model`", link("pkg.models.Model", "pkg.models.Model")),
        (":func:`the training\n    loop <pkg.train.fit>`", link("pkg.train.fit", "the training loop")),
    ],
)
def test_a_role_becomes_a_cross_reference_or_code(role, expected):
    assert rst_roles.convert_roles(role, resolve) == expected


def test_roles_among_code_spans_and_literals():
    text = (
        "Use ``x`` or `y`, then :class:`~pkg.models.Model` (``:class:`Model` `` is literal) and :func:`fit`."
    )
    assert rst_roles.convert_roles(text, resolve) == (
        f"Use ``x`` or `y`, then {link('pkg.models.Model', 'Model')} "
        f"(``:class:`Model` `` is literal) and {link('pkg.train.fit', 'fit')}."
    )
    assert rst_roles.count_roles(text) == 2


def test_roles_in_a_code_block_and_other_roles_are_left_alone():
    text = "```python\n# :class:`Model`\n```\n:ref:`label`, not a role:class:`Model`"
    assert rst_roles.convert_roles(text, resolve) == text


def test_the_title_of_dunder_methods_stays_code():
    # a code span, not <code>: Markdown would turn __init__ inside <code> into bold "init"
    assert rst_roles.convert_roles(":meth:`~pkg.models.Model.__init__`", resolve).endswith(
        ">`__init__`</autoref>"
    )


SOURCES = {
    "__init__.py": (
        '"""See :class:`~pkg.models.Model` and :mod:`pkg.nothing_here`."""\nfrom pkg.models import Model\n'
    ),
    "models.py": (
        '"""Models: :class:`Model`, :func:`helper`, :class:`Missing`."""\n'
        "def helper():\n"
        '    """The :class:`Model` of :mod:`pkg`, see :func:`_private`."""\n'
        "def _private():\n"
        '    """Not documented."""\n'
        "class Base:\n"
        "    def fit(self):\n"
        '        """Fit."""\n'
        "class Model(Base):\n"
        '    """Call :meth:`fit` (inherited), :meth:`predict`, :meth:`Model.predict`, :class:`Base`."""\n'
        "    def predict(self):\n"
        '        """After :meth:`fit`, from :class:`Model`."""\n'
    ),
    "train.py": (
        '"""Train a :class:`Model` (imported) with :func:`pkg.models.helper`."""\n'
        "from pkg.models import Model\n"
    ),
}


@pytest.fixture(scope="module")
def converted_package():
    griffe = pytest.importorskip("griffe")
    extension = _load("griffe_rst_roles").RstRoles()
    with griffe.temporary_visited_package(
        "pkg", SOURCES, extensions=griffe.load_extensions(extension)
    ) as pkg:
        yield pkg


def _targets(docstring: str) -> list[str]:
    """The identifiers of the cross-references, and the titles of the roles left as code."""
    return re.findall(r'identifier="([^"]+)"|(?<![\w>])`([\w.]+)`', docstring)


def test_roles_resolve_in_their_scope(converted_package):
    pkg = converted_package
    assert _targets(pkg.docstring.value) == [("pkg.models.Model", ""), ("", "pkg.nothing_here")]
    assert _targets(pkg["models"].docstring.value) == [
        ("pkg.models.Model", ""),
        ("pkg.models.helper", ""),
        ("", "Missing"),
    ]
    assert _targets(pkg["models.helper"].docstring.value) == [
        ("pkg.models.Model", ""),
        ("pkg", ""),
        ("pkg.models._private", ""),
    ]
    assert _targets(pkg["models.Model"].docstring.value) == [
        ("pkg.models.Base.fit", ""),
        ("pkg.models.Model.predict", ""),
        ("pkg.models.Model.predict", ""),
        ("pkg.models.Base", ""),
    ]
    assert _targets(pkg["models.Model.predict"].docstring.value) == [
        ("pkg.models.Base.fit", ""),
        ("pkg.models.Model", ""),
    ]
    assert _targets(pkg["train"].docstring.value) == [("pkg.models.Model", ""), ("pkg.models.helper", "")]


def test_an_api_page_links_a_converted_role(tmp_path):
    """A one-page site built with the project's mkdocstrings options links the roles' targets."""
    pytest.importorskip("mkdocs")
    yaml = pytest.importorskip("yaml")
    for path, source in SOURCES.items():
        (tmp_path / "src" / "pkg" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / "pkg" / path).write_text(source)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("::: pkg.models\n")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    plugin = next(p for p in config["plugins"] if isinstance(p, dict) and "mkdocstrings" in p)
    handler = plugin["mkdocstrings"]["handlers"]["python"]
    handler["paths"] = [str(tmp_path / "src")]
    handler["options"]["extensions"] = [str(ROOT / e) for e in handler["options"]["extensions"]]
    site = {
        "site_name": "t",
        "strict": True,
        "plugins": [plugin],
        "markdown_extensions": config["markdown_extensions"],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(site))
    command = ["mkdocs", "build", "-q", "-f", str(tmp_path / "mkdocs.yml"), "-d", str(tmp_path / "site")]
    subprocess.run([sys.executable, "-m", *command], check=True, cwd=tmp_path)  # strict: no warning

    html = (tmp_path / "site" / "index.html").read_text()
    links = re.findall(
        r'<a class="autorefs autorefs-internal rst-role"[^>]* href="#([^"]+)"><code>([^<]+)</code>', html
    )
    assert ("pkg.models.Base.fit", "fit") in links  # inherited
    assert ("pkg.models.Model.predict", "Model.predict") in links
    assert '<span title="pkg.models._private"><code>_private</code></span>' in html  # not documented
    assert "<code>Missing</code>" in html  # not found
    assert not re.search(r":(class|meth|func|mod):", html)


def test_sphinx_math_becomes_mathjax_delimiters():
    text = (
        "The factor :math:`\\sigma_w/\\sqrt{d}` and ``:math:`kept```.\n\n"
        ".. math::\n    a = b,\n\n    c = d\n\nafter :math:`x`.\n"
    )
    expected = "The factor \\(\\sigma_w/\\sqrt{d}\\) and ``:math:`kept```.\n\n"
    expected += "\\[\na = b,\nc = d\n\\]\n\nafter \\(x\\).\n"
    assert rst_roles.convert_roles(text, lambda name: None) == expected


def test_a_math_directive_may_start_on_its_own_line():
    text = "so\n\n.. math:: a = b,\n    c = d\n\nafter\n"
    assert rst_roles.convert_roles(text, lambda name: None) == "so\n\n\\[\na = b,\nc = d\n\\]\n\nafter\n"
