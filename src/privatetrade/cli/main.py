"""The ``privatetrade`` command: the Typer app, its command groups and exit codes.

Errors print one line on stderr and exit non-zero: 2 for bad input (arguments,
files, data, an unknown or failing strategy), 1 for anything else privatetrade
reports, 130 on cancellation. A group called without a command (``privatetrade``,
``privatetrade data``) prints its help on stdout and exits 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.exceptions import TyperException

from privatetrade import __version__
from privatetrade.cli.help import help_context, show_help_without_command, use_readable_help
from privatetrade.errors import (
    CancelledError,
    DataError,
    InputError,
    PrivatetradeError,
    StrategyError,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="privatetrade",
    help="Self-hosted stock backtesting for KRX and US equities.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    invoke_without_command=True,
    context_settings=help_context(),
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"privatetrade {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Self-hosted stock backtesting for KRX and US equities."""
    show_help_without_command(ctx)


def _register_commands() -> None:
    from privatetrade.cli.accounts import tokens_app, users_app
    from privatetrade.cli.backtest import backtest, strategies
    from privatetrade.cli.backup import backup, restore
    from privatetrade.cli.data import data_app
    from privatetrade.cli.portfolio import portfolio
    from privatetrade.cli.research import optimize, walkforward
    from privatetrade.cli.scan import scan
    from privatetrade.cli.server import db_app, serve
    from privatetrade.cli.smoke import smoke

    app.command()(backtest)
    app.command()(strategies)
    app.command()(optimize)
    app.command()(walkforward)
    app.command()(scan)
    app.command()(portfolio)
    app.add_typer(data_app, name="data")
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.command()(serve)
    app.command()(backup)
    app.command()(restore)
    app.command()(smoke)
    use_readable_help(app)


_register_commands()


def main() -> None:
    """Run the command line, turning errors into one line and an exit code."""
    try:
        code = app(prog_name="privatetrade", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except CancelledError as exc:
        _fail(str(exc), 130)
    except (InputError, DataError, StrategyError) as exc:
        _fail(str(exc), 2)
    except PrivatetradeError as exc:
        _fail(str(exc), 1)
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 2)


def _fail(message: str, code: int) -> None:
    first_line = " ".join(message.split())
    sys.stderr.write(f"error: {first_line}\n")
    sys.exit(code)
