"""Sphinx cross-reference roles in docstrings, rewritten as mkdocs-autorefs cross-references.

The docstrings of probtheory, bo and proofs_checks name other objects with reST roles
(``:class:`~probtheory.networks.MLP```, ``:meth:`fit```), which Markdown would print as they are.
:func:`convert_roles` rewrites each role into an autorefs cross-reference whose title is the
role's text as code: ``~`` keeps the last component of the name (Sphinx's rule), an explicit
title (``:func:`the loop <bo.loop.run>```) is kept, and ``!`` asks for no link. A name the
caller's ``resolve`` cannot place becomes plain inline code.

A resolved name becomes ``<autoref identifier="..." optional>``, the element autorefs turns
``[title][identifier]`` into, with ``optional`` set: a target that no page documents (a private
helper, ``torch.Tensor`` with no inventory loaded) is then rendered as code instead of failing
``mkdocs build --strict``. Resolution in a docstring's scope lives in ``griffe_rst_roles.py``;
this module needs nothing but the standard library, so the test suite imports it without the
docs extra.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from html import escape

#: Python-domain roles that name an object (``:py:class:`` is the same as ``:class:``).
ROLES = ("class", "meth", "func", "mod", "data", "attr", "exc", "obj")

#: The class an autorefs link made from a role carries (``a.autorefs.rst-role`` in the HTML).
LINK_CLASS = "rst-role"

# One pass over the text: fenced code blocks and literal spans are matched (and kept as they
# are) before a role inside them could be, so a docstring may show a role's syntax in code.
_TOKEN = re.compile(
    r"(?P<fence>^[ \t]*(?P<marker>```|~~~).*?^[ \t]*(?P=marker))"
    r"|(?P<literal>``.+?``|`[^`\n]+`)"
    rf"|(?<![\w`]):(?:py:)?(?P<role>{'|'.join(ROLES)}):`(?P<body>[^`]+)`"
    r"|(?<![\w`]):math:`(?P<math>[^`]+)`"
    r"|^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>[^\n]*)\n"
    r"(?P<block>(?:(?P=indent)[ \t]+\S[^\n]*\n|[ \t]*\n)*)",
    flags=re.MULTILINE | re.DOTALL,
)
_EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", flags=re.DOTALL)


def convert_role(body: str, resolve: Callable[[str], str | None]) -> str:
    """The Markdown/HTML for one role's text ``body`` (what stands between its backticks).

    Args:
        body: The role's text: ``name``, ``~dotted.name``, ``.name``, ``!name``,
            ``title <dotted.name>``; a trailing ``()`` is kept in the title only.
        resolve: Maps a name as written (no ``~``, ``!``, leading dot or ``()``) to the full
            identifier of its object, or ``None`` when it names nothing known.

    Returns:
        An optional autorefs cross-reference with the title in code, or the title as inline
        code when ``body`` starts with ``!`` or ``resolve`` returns ``None``.
    """
    body = " ".join(body.split())  # a role may wrap over lines
    explicit = _EXPLICIT_TITLE.match(body)
    if explicit:
        title, target = explicit["title"], explicit["target"].strip()
    else:
        title = target = body
    target = "".join(target.split())  # a name has no spaces: it was wrapped at a dot
    no_link = target.startswith("!")
    target = target.lstrip("!~.")
    if not explicit:
        title = title.lstrip("!")
        title = target.rpartition(".")[2] if title.startswith("~") else target
    name = target.removesuffix("()")
    identifier = None if no_link or not name else resolve(name)
    code = f"`{title}`"  # a code span, not <code>: Markdown would read `__init__` as bold
    if identifier is None:
        return code
    return f'<autoref identifier="{escape(identifier)}" optional class="{LINK_CLASS}">{code}</autoref>'


def convert_roles(text: str, resolve: Callable[[str], str | None]) -> str:
    r"""``text`` with every cross-reference role rewritten by :func:`convert_role`.

    Roles inside fenced code blocks and inline literals (````...```` or ```...```) are left as
    written. Sphinx's math (``:math:`x``` and ``.. math::`` blocks) becomes ``\(x\)`` and a
    ``\[ ... \]`` display block, which the docs typeset with MathJax (pymdownx.arithmatex);
    other roles (``:ref:``) are left alone.

    Args:
        text: A docstring or a Markdown page.
        resolve: See :func:`convert_role`.

    Returns:
        The text with the roles replaced.
    """

    def replace(match: re.Match[str]) -> str:
        if match["math"] is not None:  # Sphinx's inline math, typeset by MathJax (arithmatex)
            return "\\(" + " ".join(match["math"].split()) + "\\)"
        if match["block"] is not None:  # a ``.. math::`` directive: display math
            lines = [match["first"].strip()] + textwrap.dedent(match["block"]).splitlines()
            lines = [line for line in lines if line.strip()]
            body = "\n".join(lines)  # no blank line: Markdown would split the block there
            return f"{match['indent']}\\[\n{body}\n{match['indent']}\\]\n\n"
        if match["role"] is None:
            return match[0]
        return convert_role(match["body"], resolve)

    return _TOKEN.sub(replace, text)


def count_roles(text: str) -> int:
    """How many cross-reference roles :func:`convert_roles` would rewrite in ``text``."""
    return sum(m["role"] is not None for m in _TOKEN.finditer(text))
