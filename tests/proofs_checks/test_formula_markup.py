"""Only formulas that are clearly TeX go to MathJax; plain-text formulas stay code."""

import pytest

import proofs_checks
from proofs_checks.formula_markup import html_formula, is_tex, md_formula
from proofs_checks.registry import BUILTIN_CLAIMS


@pytest.mark.parametrize(
    "formula",
    [r"\lambda_{\min}(K) \geq 0", r"\mathbb{E}[z^4] = 3 \prod_k (1 + 5/n_k)", r"\|x\|_2 \le \text{tol}"],
)
def test_tex_formulas_are_typeset(formula):
    assert is_tex(formula)
    assert html_formula(formula).startswith("<p class='formula'>\\[") and md_formula(formula).startswith("$$")


@pytest.mark.parametrize(
    "formula",
    [
        "E[z^4] / E[z^2]^2 = 3 prod_k (1 + 5/n_k)",  # no control word: plain text
        r"\lambda_min(K) >= 0 for K in {Sigma}",  # bare words would run together in italics
        r"\frac{a}{b",  # unbalanced braces
        r"\alpha $x$",  # its own delimiters
        r"\alpha \] \beta",
    ],
)
def test_other_formulas_are_code(formula):
    assert not is_tex(formula)
    assert "<code>" in html_formula(formula) and md_formula(formula) == f"`{formula}`"


def test_html_formula_escapes():
    assert "&lt;" in html_formula(r"\alpha < \beta") and "&lt;" in html_formula("a < b")


def test_every_builtin_formula_is_shown_one_way_or_the_other():
    for claim in map(proofs_checks.get_claim, BUILTIN_CLAIMS):
        shown = html_formula(claim.formula)
        assert ("<code>" in shown) != is_tex(claim.formula), claim.id


def test_every_builtin_formula_is_tex():
    """The report typesets every built-in claim's formula; a plain-text one added later fails here."""
    plain = [c.id for c in map(proofs_checks.get_claim, BUILTIN_CLAIMS) if not is_tex(c.formula)]
    assert not plain, f"formulas that are not TeX: {plain}"
