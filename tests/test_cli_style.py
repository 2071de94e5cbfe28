"""One command-line style: list arguments space- or comma-separated, claim families, --no-progress."""

from __future__ import annotations

import argparse

import pytest

from probtheory._cli_options import split_items
from probtheory.cli import build_parser, main
from proofs_checks.cli import claim_selection
from proofs_checks.registry import BUILTIN_CLAIMS, claim_ids

# (argv before the list, the argument's words in each syntax, argv after, the Namespace field)
LIST_ARGUMENTS = {
    "check --claims": (["check", "--claims"], [], "claims"),
    "bo --surrogates": (["bo", "--surrogates"], ["--problem", "branin", "--out", "o"], "surrogates"),
    "reproduce NAME": (["reproduce"], [], "names"),
    "cite NAME": (["cite"], [], "names"),
}
SYNTAXES = {
    "spaces": ["a", "b", "c"],
    "commas": ["a,b,c"],
    "mixed": ["a,b", "c"],
    "spaced commas": ["a,", "b ,c"],
}


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("argument", LIST_ARGUMENTS)
def test_list_arguments_take_spaces_commas_and_any_mix(argument, syntax):
    before, after, field = LIST_ARGUMENTS[argument]
    args = _parse([*before, *SYNTAXES[syntax], *after])
    assert getattr(args, field) == ["a", "b", "c"]


@pytest.mark.parametrize("words", [["0.1", "0.5", "0.9"], ["0.1,0.5,0.9"], ["0.1,0.5", "0.9"]])
def test_lcpfn_quantile_levels_are_floats_in_either_syntax(words):
    assert _parse(["lcpfn", "curve.csv", "--qs", *words]).qs == [0.1, 0.5, 0.9]


def test_list_defaults_are_lists():
    assert _parse(["bo", "--problem", "branin", "--out", "o"]).surrogates == ["gp"]
    assert _parse(["lcpfn", "curve.csv"]).qs == [0.05, 0.25, 0.5, 0.75, 0.95]
    assert _parse(["check"]).claims is None
    assert _parse(["reproduce", "--all"]).names == []


def test_a_bad_item_is_argparses_error_naming_the_item_type(capsys):
    assert main(["lcpfn", "curve.csv", "--qs", "0.1,x"]) == 2
    assert "invalid float value: '0.1,x'" in capsys.readouterr().err


def test_empty_pieces_are_dropped():
    assert split_items(" a, ,b,") == ["a", "b"]
    assert split_items("0.5,0.25", float) == [0.5, 0.25]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _help_of(parser: argparse.ArgumentParser, dest: str) -> str:
    return next(a.help for a in parser._actions if a.dest == dest)


@pytest.mark.parametrize(
    ("command", "dest"),
    [
        (("check",), "claims"),
        (("bo",), "surrogates"),
        (("lcpfn",), "qs"),
        (("reproduce",), "names"),
        (("cite",), "names"),
    ],
)
def test_list_help_says_space_or_comma_separated(command, dest):
    parser = build_parser()
    for name in command:
        parser = _subparsers(parser)[name]
    assert "space- or comma-separated" in _help_of(parser, dest)


LONG_COMMANDS = {
    "check": ["check"],
    "bo": ["bo", "--problem", "branin", "--out", "o"],
    "pfn train": ["pfn", "train", "gp-rbf-1d"],
    "reproduce": ["reproduce", "--all"],
}


@pytest.mark.parametrize("command", LONG_COMMANDS)
def test_every_long_command_takes_no_progress_with_help(command):
    argv = LONG_COMMANDS[command]
    assert _parse(argv).no_progress is False
    assert _parse([*argv, "--no-progress"]).no_progress is True
    parser = build_parser()
    for name in command.split():
        parser = _subparsers(parser)[name]
    assert _help_of(parser, "no_progress")


def test_a_claim_family_prefix_selects_every_claim_under_it():
    family = [claim_id for claim_id in BUILTIN_CLAIMS if claim_id.startswith("lipschitz.")]
    assert len(family) >= 2
    assert claim_selection(["lipschitz"]) == family
    assert claim_selection(_parse(["check", "--claims", "lipschitz"]).claims) == family


def test_an_exact_id_selects_only_that_claim_and_none_selects_all():
    exact = next(claim_id for claim_id in claim_ids() if claim_id.startswith("lipschitz."))
    assert claim_selection([exact]) == [exact]
    assert claim_selection(_parse(["check", "--claims", f"lipschitz,{exact}"]).claims)[-1] == exact
    assert claim_selection(None) is None


def test_an_unknown_claim_name_still_errors_with_suggestions(tmp_path, capsys):
    assert claim_selection(["lipschitzz"]) == ["lipschitzz"]  # kept, so the lookup refuses it
    status = main(["check", "--claims", "lipschitz.soundnes", "--out", str(tmp_path), "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert "lipschitz.soundnes" in err
    assert "did you mean 'lipschitz.soundness'" in err
