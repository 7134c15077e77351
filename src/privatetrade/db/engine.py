"""Database engines: SQLite (WAL, busy timeout, immediate writes) or PostgreSQL (pooled)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from privatetrade.errors import UnavailableError

__all__ = ["create_db_engine", "is_sqlite", "read_tx", "unavailable", "write_tx"]

_BUSY_TIMEOUT_MS = 10_000


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str, *, pool_size: int = 10, pool_timeout: float = 5.0) -> Engine:
    """Create an engine for ``url``, configured for concurrent jobs.

    SQLite runs in WAL mode with a busy timeout; write transactions begin with
    ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way.
    PostgreSQL gets a bounded pool whose timeout surfaces as an error, not a hang.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def unavailable() -> Iterator[None]:
    """Turn the database's "busy" and "gone" errors into :class:`UnavailableError`."""
    try:
        yield
    except PoolTimeoutError as exc:
        raise UnavailableError("the database is busy; try again", retry_after=1) from exc
    except OperationalError as exc:
        raise UnavailableError(f"the database is unavailable ({_first_line(exc.orig)})") from exc


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit on success.

    Raises:
        UnavailableError: The database is unreachable, locked or its pool exhausted.
    """
    with unavailable(), engine.connect() as connection:
        connection = connection.execution_options(immediate=True)
        with connection.begin():
            yield connection


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """Open a read transaction (a consistent snapshot).

    Raises:
        UnavailableError: The database is unreachable, locked or its pool exhausted.
    """
    with unavailable(), engine.connect() as connection, connection.begin():
        yield connection
