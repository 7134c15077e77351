"""The CLI's help: value names instead of Python types, full help for bare groups.

In process with Typer's test runner (its output is not a terminal, like a pipe); the
subprocess tests in tests/integration/test_cli.py run the installed entry point.
"""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from privatetrade.cli.help import HELP_WIDTH
from privatetrade.cli.main import app

# Typer's type labels: <str>, <int>, <float>, <path>, <list[str]>, <int range> ...
PYTHON_TYPE = re.compile(r"<(str|int|float|bool|path|datetime|list\[[^>]*\]|[a-z]+ range)>")


def command_paths() -> list[list[str]]:
    """Every command of the app as its words: ``["data", "fetch"]``, ``["backtest"]``."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, words: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children is None:
            paths.append(words)
            return
        for name, child in children.items():
            walk(child, [*words, name])

    walk(root, [])
    return paths


COMMANDS = command_paths()
GROUPS = [[], ["data"], ["db"], ["users"], ["tokens"]]


def test_every_command_is_reached() -> None:
    names = {" ".join(words) for words in COMMANDS}
    assert {"backtest", "data fetch", "db upgrade", "users create", "tokens revoke"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: "-".join(words))
def test_help_names_values_not_python_types(words: list[str]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: privatetrade {' '.join(words)}".rstrip())
    assert not PYTHON_TYPE.search(result.output), result.output
    assert "{" not in result.output.splitlines()[0]  # no "{codes}..." in the usage line
    assert max(len(line) for line in result.output.splitlines()) <= HELP_WIDTH


def test_value_names_say_what_to_give() -> None:
    backtest = CliRunner().invoke(app, ["backtest", "--help"]).output
    shown = ["[SYMBOL]", "--start DATE", "--param NAME=VALUE", "--commission RATE", "--csv FILE"]
    shown += ["--slippage BPS", "--slippage-ticks TICKS", "--tax RATE", "--min-commission AMOUNT"]
    for words in shown:
        assert words in backtest, words
    fetch = CliRunner().invoke(app, ["data", "fetch", "--help"]).output
    assert "Usage: privatetrade data fetch [OPTIONS] CODES..." in fetch
    assert "--start DATE" in fetch


@pytest.mark.parametrize("words", GROUPS, ids=lambda words: "-".join(words) or "root")
def test_a_group_without_a_command_prints_its_full_help(words: list[str]) -> None:
    result = CliRunner().invoke(app, words)
    assert result.exit_code == 2
    assert result.output == CliRunner().invoke(app, [*words, "--help"]).output
    lines = result.output.splitlines()
    assert lines[0].startswith("Usage: privatetrade")
    assert "Commands:" in lines
    assert not any(line.startswith("error") for line in lines)


def test_command_summaries_are_not_cut() -> None:
    summary = CliRunner().invoke(app, ["--help"]).output
    commands = summary[summary.index("Commands:") :].splitlines()[1:]
    assert len(commands) == 14
    assert not [line for line in commands if line.rstrip().endswith("...")]
