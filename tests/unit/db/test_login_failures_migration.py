"""Migration 0004 on SQLite and PostgreSQL: old ``user:``/``client:`` failure rows become
rows with a client column, and a downgrade writes the old kinds back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from databases import postgres_database
from privatetrade.db import migrate
from privatetrade.db.engine import create_db_engine
from privatetrade.db.schema import UTCDateTime

T1 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(minutes=1)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        created = create_db_engine(f"sqlite+pysqlite:///{tmp_path / 'migrate.db'}")
        yield created
        created.dispose()
        return
    with postgres_database("pt_m4") as url:
        created = create_db_engine(url, pool_size=2)
        yield created
        created.dispose()


def failures_table(*columns: str) -> sa.TableClause:
    types = {"key": sa.String(), "at": UTCDateTime(), "client": sa.String()}
    types["cleared_at"] = UTCDateTime()
    return sa.table("login_failures", *(sa.column(name, types[name]) for name in columns))


def stored(engine: Engine, *columns: str) -> list[tuple[object, ...]]:
    table = failures_table(*columns)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(*table.c).order_by(*table.c)).all()
    return [tuple(row) for row in rows]


def test_old_rows_keep_their_usernames_and_come_back_on_a_downgrade(engine: Engine) -> None:
    migrate.upgrade(engine, "0003")
    old = failures_table("key", "at")
    with engine.begin() as connection:
        connection.execute(
            sa.insert(old),
            [
                {"key": "user:alice", "at": T1},
                {"key": "client:10.0.0.1", "at": T1},
                {"key": "user:bob", "at": T2},
                {"key": "client:10.0.0.2", "at": T2},
            ],
        )

    migrate.upgrade(engine, "0004")
    assert stored(engine, "key", "client", "cleared_at", "at") == [
        ("alice", None, None, T1),
        ("bob", None, None, T2),
    ]
    new = failures_table("key", "at", "client", "cleared_at")
    with engine.begin() as connection:
        connection.execute(
            sa.insert(new),
            [
                {"key": "carol", "at": T2, "client": "192.0.2.9", "cleared_at": None},
                {"key": "carol", "at": T1, "client": "192.0.2.8", "cleared_at": T2},
            ],
        )

    migrate.downgrade(engine, "0003")
    assert "client" not in {c["name"] for c in sa.inspect(engine).get_columns("login_failures")}
    assert stored(engine, "key", "at") == [
        ("client:192.0.2.9", T2),  # the cleared failure went, as a success deleted it
        ("user:alice", T1),
        ("user:bob", T2),
        ("user:carol", T2),
    ]
    migrate.upgrade(engine, "head")
    assert stored(engine, "key", "client") == [("alice", None), ("bob", None), ("carol", None)]
