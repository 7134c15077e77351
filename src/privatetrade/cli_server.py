"""Command line: ``privatetrade serve`` and ``privatetrade db ...``."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated, Any

import typer

from privatetrade.settings import Settings

__all__ = ["db_app", "serve", "tokens_app", "users_app"]

db_app = typer.Typer(help="Database schema: upgrade, downgrade, current, history.")
users_app = typer.Typer(help="User accounts: create, list, disable, enable, reset-password.")
tokens_app = typer.Typer(help="API tokens: create, list, revoke.")


def _settings_env(**values: object) -> None:
    for name, value in values.items():
        if value is not None:
            os.environ[f"PRIVATETRADE_{name.upper()}"] = str(value)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes for backtests (default: CPU count).")
    ] = None,
    processes: Annotated[int | None, typer.Option(help="Web server processes (default 1).")] = None,
) -> None:
    """Start the web service: API, job dispatcher and worker processes."""
    import uvicorn

    from privatetrade.accounts.keys import resolve_secret_key
    from privatetrade.db import migrate
    from privatetrade.db.engine import create_db_engine
    from privatetrade.logs import configure_logging

    _settings_env(host=host, port=port, workers=workers, server_processes=processes)
    settings = Settings()
    # Refuse a missing or short key before touching the database (one error line, no logs).
    resolve_secret_key(settings.secret(), settings.host, settings.data_dir)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    engine = create_db_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    link = _first_login_link(settings, engine)
    engine.dispose()
    if settings.server_processes > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="privatetrade-metrics-")
    base = f"http://{_display_host(settings.host)}:{settings.port}"
    typer.echo(
        f"privatetrade serving on {base}  (API docs: /docs, data: {settings.data_dir})",
        err=True,
    )
    if link is not None:
        typer.echo(f"log in as admin (one-time link): {base}/login?token={link}", err=True)
    uvicorn.run(
        "privatetrade.web.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.server_processes if settings.server_processes > 1 else None,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def _accounts(settings: Settings, engine: Any) -> Any:
    from privatetrade.accounts.keys import resolve_secret_key
    from privatetrade.accounts.service import AccountService
    from privatetrade.db.users import UserRepository

    key = resolve_secret_key(settings.secret(), settings.host, settings.data_dir)
    return AccountService(UserRepository(engine), key)


def _first_login_link(settings: Settings, engine: Any) -> str | None:
    """Create the admin on first start; return a one-time login token while it has no password."""
    accounts = _accounts(settings, engine)
    password = settings.admin_password
    accounts.bootstrap(None if password is None else password.get_secret_value())
    token: str | None = accounts.login_link_token("admin")
    return token


def _engine() -> object:
    from privatetrade.db.engine import create_db_engine

    return create_db_engine(Settings().resolved_database_url)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database up (to the newest revision by default)."""
    from privatetrade.db import migrate

    engine = _engine()
    migrate.upgrade(engine, revision)  # type: ignore[arg-type]
    typer.echo(f"database at {migrate.current_revision(engine)}")  # type: ignore[arg-type]


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (base = empty).")],
) -> None:
    """Migrate the database down to a revision."""
    from privatetrade.db import migrate

    engine = _engine()
    migrate.downgrade(engine, revision)  # type: ignore[arg-type]
    typer.echo(f"database at {migrate.current_revision(engine) or 'base'}")  # type: ignore[arg-type]


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one shipped."""
    from privatetrade.db import migrate

    engine = _engine()
    current = migrate.current_revision(engine) or "base"  # type: ignore[arg-type]
    head = migrate.head_revision(engine)  # type: ignore[arg-type]
    typer.echo(f"{current} (head: {head})")


@db_app.command("history")
def db_history() -> None:
    """List the shipped migrations, newest first."""
    from privatetrade.db import migrate

    for revision in migrate.history(_engine()):  # type: ignore[arg-type]
        typer.echo(f"{revision.id}  {revision.message}  (after {revision.down or 'base'})")


def _account_service() -> Any:
    from privatetrade.db import migrate
    from privatetrade.db.engine import create_db_engine

    settings = Settings()
    engine = create_db_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    return _accounts(settings, engine)


def _read_password(from_stdin: bool) -> str:
    import sys

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user (asks for the password)."""
    from privatetrade.accounts.service import UserExistsError
    from privatetrade.domain.users import Role
    from privatetrade.errors import InputError

    accounts = _account_service()
    password = _read_password(password_stdin)
    try:
        user = accounts.create_user(username, password, Role.ADMIN if admin else Role.USER)
    except UserExistsError as exc:
        raise InputError(f"a user named {username!r} already exists", field="username") from exc
    typer.echo(f"created {user.role} {user.username}")


@users_app.command("list")
def users_list() -> None:
    """List the users."""
    for user in _account_service().repository.all():
        state = "disabled" if user.disabled else "active"
        password = "" if user.has_password else "  (no password yet)"
        typer.echo(f"{user.username:<24} {user.role:<6} {state}{password}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Disable a user: no login, sessions end, tokens stop working."""
    user = _account_service().set_disabled(username, True)
    typer.echo(f"disabled {user.username}")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Enable a disabled user again."""
    user = _account_service().set_disabled(username, False)
    typer.echo(f"enabled {user.username}")


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a new password (ends the user's sessions)."""
    accounts = _account_service()
    accounts.user(username)
    user = accounts.set_password(username, _read_password(password_stdin))
    typer.echo(f"password of {user.username} changed")


@tokens_app.command("create")
def tokens_create(
    username: Annotated[str, typer.Argument(help="Owner of the token.")],
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "cli",
) -> None:
    """Create an API token and print it (only this once)."""
    accounts = _account_service()
    secret, _token = accounts.create_token(accounts.user(username), name)
    typer.echo(secret)


@tokens_app.command("list")
def tokens_list(username: Annotated[str, typer.Argument(help="Owner of the tokens.")]) -> None:
    """List a user's tokens (never their secrets)."""
    accounts = _account_service()
    for token in accounts.tokens(accounts.user(username)):
        state = "revoked" if token.revoked_at else "valid"
        typer.echo(f"{token.id}  {token.prefix}...  {token.name:<20} {state}")


@tokens_app.command("revoke")
def tokens_revoke(
    username: Annotated[str, typer.Argument(help="Owner of the token.")],
    token_id: Annotated[str, typer.Argument(help="Token id (see `tokens list`).")],
) -> None:
    """Revoke a token."""
    from privatetrade.errors import InputError

    accounts = _account_service()
    if not accounts.revoke_token(accounts.user(username), token_id):
        raise InputError(f"{username} has no token {token_id!r}", field="token_id")
    typer.echo(f"revoked {token_id}")
