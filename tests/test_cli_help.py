"""Every subcommand's ``--help`` says what it does and shows examples that parse."""

from __future__ import annotations

import argparse
import shlex

import pytest

from probtheory.cli import build_parser


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


COMMANDS = dict(_subcommands(build_parser()))


def test_every_command_is_listed():
    names = {" ".join(path) for path in COMMANDS}
    assert {"bo", "check", "cite", "lcpfn", "list", "reproduce", "pfn", "pfn train", "pfn list"} <= names


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_has_a_description_and_examples_that_parse(path):
    parser = COMMANDS[path]
    assert parser.description and len(parser.description.split()) >= 15, "a one-paragraph description"
    assert parser.epilog and parser.epilog.startswith("examples:")
    examples = [line.strip() for line in parser.epilog.splitlines()[1:] if line.strip()]
    assert examples
    for example in examples:
        words = shlex.split(example)
        assert words[: 1 + len(path)] == ["probtheory", *path], example
        build_parser().parse_args(words[1:])  # exits (SystemExit) on an example that does not parse
    assert "examples:" in parser.format_help()


def test_bo_help_names_the_problems_surrogates_and_acquisitions():
    from bo import cli
    from bo.loop import ACQUISITIONS, SURROGATES
    from bo.problems import PROBLEMS

    assert cli.PROBLEM_NAMES == tuple(PROBLEMS)
    assert cli.SURROGATE_NAMES == SURROGATES
    assert cli.ACQUISITION_NAMES == ACQUISITIONS
    text = " ".join(COMMANDS[("bo",)].format_help().split())
    for name in (*PROBLEMS, *SURROGATES, *ACQUISITIONS):
        assert name in text
