"""Apply, revert and inspect the schema migrations (Alembic, shipped in the package)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from privatetrade.db.engine import is_sqlite

__all__ = ["Revision", "current_revision", "downgrade", "head_revision", "history", "upgrade"]

_PG_MIGRATION_LOCK = 80_450_117  # advisory lock id: one migrator at a time


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration."""

    id: str
    down: str | None
    message: str


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "privatetrade.db:migrations")
    config.attributes["engine"] = engine
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if is_sqlite(engine):
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_MIGRATION_LOCK})
            connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    with _migration_lock(engine):
        command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes everything)."""
    with _migration_lock(engine):
        command.downgrade(_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """Return the newest revision shipped with this version."""
    return ScriptDirectory.from_config(_config(engine)).get_current_head()


def history(engine: Engine) -> list[Revision]:
    """Return every shipped migration, newest first."""
    script = ScriptDirectory.from_config(_config(engine))
    return [
        Revision(
            id=item.revision,
            down=item.down_revision if isinstance(item.down_revision, str) else None,
            message=item.doc,
        )
        for item in script.walk_revisions()
    ]
