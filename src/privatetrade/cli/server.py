"""Command line: ``privatetrade serve`` and ``privatetrade db ...``."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from privatetrade.cli.help import command_group
from privatetrade.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from privatetrade.accounts.service import AccountService

__all__ = ["db_app", "serve"]

db_app = command_group("Database schema: upgrade, downgrade, current, history.")


def _settings_env(**values: object) -> None:
    for name, value in values.items():
        if value is not None:
            os.environ[f"PRIVATETRADE_{name.upper()}"] = str(value)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", help="Worker processes for backtests (default: CPU count)."),
    ] = None,
    processes: Annotated[
        int | None, typer.Option(metavar="N", help="Web server processes (default 1).")
    ] = None,
) -> None:
    """Start the web service: API, job dispatcher and workers."""
    from privatetrade.accounts.keys import resolve_secret_key
    from privatetrade.cli.context import migrated_system
    from privatetrade.logs import configure_logging

    _settings_env(host=host, port=port, workers=workers, server_processes=processes)
    settings = Settings()
    # Refuse a missing or short key before touching the database (one error line, no logs).
    resolve_secret_key(settings.secret(), settings.host, settings.data_dir)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    system = migrated_system()
    link = _first_login_link(system.accounts, settings)
    system.engine.dispose()
    metrics_dir: str | None = None
    if settings.server_processes > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="privatetrade-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    base = f"http://{_display_host(settings.host)}:{settings.port}"
    typer.echo(
        f"privatetrade serving on {base}  (API docs: /docs, data: {settings.data_dir})",
        err=True,
    )
    if link is not None:
        typer.echo(f"log in as admin (one-time link): {base}/login?token={link}", err=True)
    # uvicorn raises the SIGTERM it handled again after its graceful shutdown: exit 0
    # through Python's exit path (atexit handlers run, the finally below too).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        _run_uvicorn(settings)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _exit_cleanly(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def _run_uvicorn(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "privatetrade.web.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.server_processes if settings.server_processes > 1 else None,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # X-Forwarded-For/-Proto only from the configured proxies (uvicorn's default
        # would believe anyone on 127.0.0.1): the same setting the login limits use.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
    )


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def _first_login_link(accounts: AccountService, settings: Settings) -> str | None:
    """Create the admin on first start; return a one-time login token while it has no password."""
    accounts.bootstrap(settings.admin_password_text())
    token: str | None = accounts.login_link_token("admin")
    return token


def _engine() -> Engine:
    from privatetrade.cli.context import system

    return system().engine


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database up (to the newest revision by default)."""
    from privatetrade.db import migrate

    engine = _engine()
    migrate.upgrade(engine, revision)
    typer.echo(f"database at {migrate.current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (base = empty).")],
) -> None:
    """Migrate the database down to a revision."""
    from privatetrade.db import migrate

    engine = _engine()
    migrate.downgrade(engine, revision)
    typer.echo(f"database at {migrate.current_revision(engine) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one shipped."""
    from privatetrade.db import migrate

    engine = _engine()
    current = migrate.current_revision(engine) or "base"
    head = migrate.head_revision(engine)
    typer.echo(f"{current} (head: {head})")


@db_app.command("history")
def db_history() -> None:
    """List the shipped migrations, newest first."""
    from privatetrade.db import migrate

    for revision in migrate.history(_engine()):
        typer.echo(f"{revision.id}  {revision.message}  (after {revision.down or 'base'})")
