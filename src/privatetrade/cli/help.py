"""Help that reads well on a terminal and through a pipe.

- Values are named by what they are (``--start DATE``, ``SYMBOL``), never by their
  Python type (``<str>``, ``<list[str]>``): options take their ``metavar``, or their
  name in capitals (as argparse does), and arguments drop the type label.
- A group called without a command (``privatetrade``, ``privatetrade data``) prints its
  full help instead of a one-line error.
- Help is laid out 100 columns wide at most on a terminal, and exactly 100 columns when
  the output is not a terminal, so a pipe never cuts a command's summary short.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperCommand

__all__ = [
    "HelpCommand",
    "command_group",
    "help_context",
    "show_help_without_command",
    "use_readable_help",
]

HELP_WIDTH = 100
NO_COMMAND_EXIT_CODE = 2


class HelpCommand(TyperCommand):
    """A command whose help names values (``--start DATE``) instead of types (``<str>``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None and not getattr(param, "is_flag", False):
                param.metavar = (param.name or "value").upper()

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """Return the usage line's pieces: ``[OPTIONS] [SYMBOL]``, ``[OPTIONS] CODES...``."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _value_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Write the Arguments and Options sections, arguments by their value names."""
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((_value_name(param), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _value_name(argument: Any) -> str:
    name = str(argument.metavar or (argument.name or "").upper())
    return name + ("..." if argument.nargs == -1 else "")


def show_help_without_command(ctx: typer.Context) -> None:
    """Print the group's full help when it is called without a command."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(NO_COMMAND_EXIT_CODE)


def command_group(help_text: str) -> typer.Typer:
    """Return a command group that prints its help when called without a command."""
    group = typer.Typer(help=help_text, invoke_without_command=True)
    group.callback()(show_help_without_command)
    return group


def help_context() -> dict[str, Any]:
    """Click context settings: help 100 columns wide at most, exactly that when piped."""
    settings: dict[str, Any] = {"max_content_width": HELP_WIDTH}
    if not sys.stdout.isatty():
        settings["terminal_width"] = HELP_WIDTH
    return settings


def use_readable_help(app: typer.Typer) -> None:
    """Give every command of ``app`` and its groups the :class:`HelpCommand` help."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = HelpCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_readable_help(group.typer_instance)
