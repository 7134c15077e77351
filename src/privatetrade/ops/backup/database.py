"""The database side of backups: SQLite snapshots, ``pg_dump``, ``pg_restore``, upgrades."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from privatetrade.errors import InputError
from privatetrade.ops.backup.manifest import Backend, BackupError

__all__ = [
    "backend_of",
    "check_postgres_target",
    "dump_postgres",
    "known_revisions",
    "libpq_url",
    "pg_restore",
    "snapshot_sqlite",
    "sqlite_path",
    "upgrade_schema",
]


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """Turn a SQLAlchemy PostgreSQL URL into a libpq URL for pg_dump and pg_restore.

    The driver suffix (``+psycopg``) is dropped and the password moves out of the URL
    (so it never shows in a process list) into ``PGPASSWORD``.

    Args:
        url: E.g. ``postgresql+psycopg://user:secret@host:5432/db``.

    Returns:
        The libpq URL and the environment variables to run the client with.
    """
    parsed = make_url(url)
    environment = {} if parsed.password is None else {"PGPASSWORD": str(parsed.password)}
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), environment


def backend_of(url: str) -> Backend:
    """Return the backend of a database URL (SQLite or PostgreSQL; others are refused)."""
    name = make_url(url).get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise InputError(f"backups support SQLite and PostgreSQL, not {name}", field="database_url")


def sqlite_path(url: str) -> Path:
    """Return the file of a SQLite URL (in-memory and URI databases are refused)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise InputError("backups need a SQLite database file", field="database_url")
    return Path(database).expanduser().resolve()


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[0]


def _run_client(arguments: list[str], environment: dict[str, str]) -> None:
    try:
        completed = subprocess.run(
            arguments,
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BackupError(
            f"{arguments[0]} not found: install the PostgreSQL client tools "
            "(the same major version as the server or newer)"
        ) from exc
    if completed.returncode != 0:
        raise BackupError(f"{arguments[0]} failed: {_first_line(completed.stderr)}")


def snapshot_sqlite(source: Path, snapshot: Path) -> str | None:
    """Copy a live SQLite database with the online backup API; return its revision."""
    if not source.is_file():
        raise BackupError(
            f"no database at {source}: start the server or run `privatetrade db upgrade` first"
        )
    live = sqlite3.connect(source, timeout=30.0)
    try:
        copy = sqlite3.connect(snapshot)
        try:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the SQLite database {source}: {exc}") from exc
    finally:
        live.close()
    return _revision(f"sqlite+pysqlite:///{snapshot}")


def dump_postgres(url: str, dump: Path) -> str | None:
    """Dump the configured PostgreSQL database (custom format); return its revision."""
    revision = _revision(url)
    address, environment = libpq_url(url)
    _run_client(
        ["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={address}"], environment
    )
    return revision


def _revision(url: str) -> str | None:
    from privatetrade.db import migrate

    engine = create_engine(url)
    try:
        return migrate.current_revision(engine)
    except SQLAlchemyError as exc:
        raise BackupError(
            f"cannot read the database {_safe_url(url)}: {_first_line(str(exc))}"
        ) from exc
    finally:
        engine.dispose()


def check_postgres_target(url: str, replace: bool) -> None:
    """Refuse a PostgreSQL database that cannot be reached, or holds tables unless ``replace``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except SQLAlchemyError as exc:
        raise BackupError(
            f"cannot connect to the database {_safe_url(url)} (it must exist): "
            f"{_first_line(str(exc))}"
        ) from exc
    finally:
        engine.dispose()
    if tables and not replace:
        raise InputError(
            f"database {_safe_url(url)} is not empty ({len(tables)} tables): "
            "pass --yes to replace its content",
            field="database_url",
        )


def known_revisions() -> tuple[set[str], str | None]:
    """Return the schema revisions this version ships, and the newest."""
    from privatetrade.db import migrate

    engine = create_engine("sqlite://")
    try:
        return {item.id for item in migrate.history(engine)}, migrate.head_revision(engine)
    finally:
        engine.dispose()


def pg_restore(url: str, dump: Path) -> None:
    """Restore a custom-format dump into the database, in one transaction."""
    address, environment = libpq_url(url)
    _run_client(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={address}",
            str(dump),
        ],
        environment,
    )


def upgrade_schema(url: str) -> str | None:
    """Migrate a restored database to the newest schema; return its revision."""
    from privatetrade.db import migrate
    from privatetrade.db.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        return migrate.current_revision(engine)
    except SQLAlchemyError as exc:
        raise BackupError(
            "the backup was restored but upgrading its schema failed "
            f"({_first_line(str(exc))}): run `privatetrade db upgrade`"
        ) from exc
    finally:
        engine.dispose()
