"""Apply, revert and inspect the schema migrations (Alembic, shipped in the package)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from privatetrade.db.engine import is_sqlite

__all__ = ["Revision", "current_revision", "downgrade", "head_revision", "history", "upgrade"]

_PG_MIGRATION_LOCK = 80_450_117  # advisory lock id: one migrator at a time


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration."""

    id: str
    down: str | None
    message: str


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "privatetrade.db:migrations")
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a transaction, as the database's only migrator.

    The whole command runs in that one transaction (Alembic sees it as external and
    commits nothing itself). PostgreSQL: an advisory lock is held around it. SQLite:
    it begins ``IMMEDIATE``, so a second migrator waits (busy timeout) and then finds
    the work done, instead of failing with "database is locked".
    """
    with engine.connect() as connection:
        if is_sqlite(engine):
            with connection.execution_options(immediate=True).begin():
                yield connection
            return
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
        connection.commit()
        try:
            with connection.begin():
                yield connection
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_MIGRATION_LOCK})
            connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    with _migrating(engine) as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes everything)."""
    with _migrating(engine) as connection:
        command.downgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """Return the newest revision shipped with this version."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def history(engine: Engine) -> list[Revision]:
    """Return every shipped migration, newest first."""
    script = ScriptDirectory.from_config(_config())
    return [
        Revision(
            id=item.revision,
            down=item.down_revision if isinstance(item.down_revision, str) else None,
            message=item.doc,
        )
        for item in script.walk_revisions()
    ]
