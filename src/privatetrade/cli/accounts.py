"""Command line: ``privatetrade users ...`` and ``privatetrade tokens ...``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from privatetrade.cli.help import command_group

__all__ = ["tokens_app", "users_app"]

users_app = command_group("User accounts: create, list, disable, enable, reset-password.")
tokens_app = command_group("API tokens: create, list, revoke.")


def _account_service() -> Any:
    from privatetrade.cli.context import migrated_system

    return migrated_system().accounts


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
