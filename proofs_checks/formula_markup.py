"""How a claim's formula is shown in the report: typeset by MathJax if it is TeX, else as code.

The formulas of the claims are mostly plain text (``E[z^4] / E[z^2]^2 = 3 prod_k (1 + 5/n_k)``);
typesetting those would run their words together in italics, so only formulas that are
clearly TeX are handed to MathJax.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_formula", "is_tex", "md_formula"]

_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_TEX_TEXT = re.compile(r"\\(?:text|mathrm|operatorname|mathbf|mathcal|mathbb)\{[^{}]*\}")


def is_tex(formula: str) -> bool:
    r"""Whether ``formula`` is TeX that MathJax can typeset, judged conservatively.

    Most formulas are plain text (``lambda_min(K) >= 0 for K in ...``): typeset, their words
    would run together in italics. So TeX means: at least one control word (``\lambda``),
    balanced braces, no ``$`` or math delimiters of its own, and no bare word of three letters
    or more once control words and ``\text{...}``-like arguments are taken out.
    """
    if "$" in formula or "\\)" in formula or "\\]" in formula or not _TEX_COMMAND.search(formula):
        return False
    braces = formula.replace("\\{", "").replace("\\}", "")
    depth = 0
    for char in braces:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    if depth:
        return False
    bare = _TEX_COMMAND.sub(" ", _TEX_TEXT.sub(" ", formula))
    return re.search(r"[A-Za-z]{3,}", bare) is None


def md_formula(formula: str) -> str:
    """Display math (``$$``) when ``formula`` is TeX, else inline code."""
    return f"$$\n{formula}\n$$" if is_tex(formula) else f"`{formula}`"


def html_formula(formula: str) -> str:
    """Display math for MathJax when ``formula`` is TeX, else code (MathJax skips ``<code>``)."""
    if is_tex(formula):
        return f"<p class='formula'>\\[{html.escape(formula)}\\]</p>"
    return f"<p class='formula'><code>{html.escape(formula)}</code></p>"
