"""Schema migrations on a fresh SQLite file and a fresh PostgreSQL database.

The migrations must build exactly the tables ``schema.py`` declares, survive a
downgrade to base and a new upgrade, move stored results into artifacts and back
(0002 <-> 0003) byte for byte, and be drivable from the ``privatetrade db`` command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from databases import postgres_database
from privatetrade.db import migrate
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobResults
from privatetrade.db.schema import UTCDateTime, api_tokens, artifacts, jobs, metadata, users

HEAD = "0007"
HISTORY = [
    (
        "0007",
        "Notifications: per-user channels, the outbox of messages and their delivery attempts.",
    ),
    ("0006", "Rule strategies: a user's saved rule documents, every version kept."),
    ("0005", "Jobs: when the workers a queued job waits for are expected to be ready."),
    (
        "0004",
        "Login failures: one row per failure with the client's address, cleared by a success.",
    ),
    (
        "0003",
        "Artifacts: a job's named result documents, stored generically instead of in fixed "
        "columns.",
    ),
    ("0002", "Accounts: users, sessions, API tokens, one-time login links, login failures."),
    ("0001", "Jobs and results."),
]
JSON = "application/json"
CSV = "text/csv; charset=utf-8"
# The results table of revisions 0001 and 0002 (schema.py no longer declares it).
legacy_results = sa.table(
    "results",
    sa.column("job_id", sa.String),
    sa.column("owner", sa.String),
    sa.column("attempt", sa.Integer),
    sa.column("created_at", UTCDateTime),
    sa.column("document", sa.LargeBinary),
    sa.column("trades_csv", sa.LargeBinary),
    sa.column("equity_csv", sa.LargeBinary),
    sa.column("document_sha256", sa.String),
)
TABLES = set(metadata.tables)
ACCOUNT_TABLES = {"users", "sessions", "api_tokens", "login_links", "login_failures"}
NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, fresh for every test."""
    if request.param == "sqlite":
        yield f"sqlite+pysqlite:///{tmp_path / 'privatetrade.db'}"
        return
    with postgres_database("pt_migr") as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        engine.dispose()


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def insert_job(engine: Engine, job_id: str, owner: str = "local") -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(jobs).values(
                id=job_id,
                owner=owner,
                state="succeeded",
                spec='{"symbol":"AAPL"}',
                spec_hash="0" * 64,
                symbol="AAPL",
                strategy="sma_cross",
                created_at=NOW,
                updated_at=NOW,
                summary={"total_return": 0.1},
            )
        )


def artifact_row(job_id: str, name: str, content: bytes, *, inline: bool) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "name": name,
        "attempt": 1,
        "media_type": JSON if name.endswith(".json") else CSV,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "location": None if inline else f"{job_id}/1-abc/{name}",
        "content": content if inline else None,
        "created_at": NOW,
    }


def insert_job_and_artifacts(engine: Engine, job_id: str, *, inline: bool = False) -> None:
    """A succeeded job with its three artifacts (files, or bytes in the rows)."""
    insert_job(engine, job_id)
    documents = {"result.json": b"{}", "trades.csv": b"a,b\n", "equity.csv": b"c,d\n"}
    with engine.begin() as connection:
        connection.execute(
            sa.insert(artifacts),
            [artifact_row(job_id, name, body, inline=inline) for name, body in documents.items()],
        )


def insert_legacy_result(engine: Engine, job_id: str, owner: str = "local") -> dict[str, Any]:
    """A succeeded job and its ``results`` row, as revision 0002 stored them."""
    insert_job(engine, job_id, owner)
    document = '{"name":"삼성전자","equity":[1.5e300]}'.encode()
    values = {
        "job_id": job_id,
        "owner": owner,
        "attempt": 2,
        "created_at": NOW,
        "document": document,
        "trades_csv": b"entry_time,exit_time\r\n2024-01-02,2024-01-03\r\n",
        "equity_csv": bytes(range(256)),  # any bytes survive, not only text
        "document_sha256": hashlib.sha256(document).hexdigest(),
    }
    with engine.begin() as connection:
        connection.execute(sa.insert(legacy_results).values(**values))
    return values


def legacy_result_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        found = connection.execute(sa.select(legacy_results)).all()
    return {row.job_id: {**row._mapping} for row in found}


def artifact_rows(engine: Engine) -> list[dict[str, Any]]:
    query = sa.select(artifacts).order_by(artifacts.c.job_id, artifacts.c.name)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def insert_user_and_token(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(users).values(
                id="u" * 32, username="alice", password_hash="x", role="user", created_at=NOW
            )
        )
        connection.execute(
            sa.insert(api_tokens).values(
                id="t" * 32,
                user_id="u" * 32,
                name="laptop",
                token_hash="h" * 64,
                prefix="pt_abc",
                created_at=NOW,
            )
        )
        stored = connection.execute(sa.select(users.c.disabled, users.c.role)).one()
    assert tuple(stored) == (False, "user")


def stored_job(engine: Engine, job_id: str) -> dict[str, Any]:
    """The job's row in the columns its revision has (older ones lack newer columns)."""
    present = {column["name"] for column in sa.inspect(engine).get_columns("jobs")}
    columns = [column for column in jobs.columns if column.name in present]
    with engine.connect() as connection:
        found = connection.execute(sa.select(*columns).where(jobs.c.id == job_id)).one()
    return dict(found._mapping)


def assert_tables_match_schema(engine: Engine) -> None:
    """Tables, columns, keys and indexes in the database are those of schema.py."""
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) >= TABLES
    for table in metadata.tables.values():
        columns = {column["name"]: column for column in inspector.get_columns(table.name)}
        assert list(columns) == [column.name for column in table.columns]
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, column.name
            if column.autoincrement is True:
                continue  # PostgreSQL's serial default (a sequence) is not declared
            assert (columns[column.name]["default"] is None) == (column.server_default is None), (
                column.name
            )
        primary = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert primary == [column.name for column in table.primary_key.columns]
        declared_indexes = {
            index.name: [column.name for column in index.columns] for index in table.indexes
        }
        found_indexes = {
            index["name"]: index["column_names"]
            for index in inspector.get_indexes(table.name)
            if not index.get("unique")
        }
        assert found_indexes == declared_indexes
        declared_uniques = sorted(
            [column.name for column in constraint.columns]
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint)
        )
        found_uniques = [
            unique["column_names"] for unique in inspector.get_unique_constraints(table.name)
        ]
        assert sorted(found_uniques) == sorted(declared_uniques), table.name
        declared_foreign = sorted(
            (key.parent.name, key.column.table.name, key.column.name, key.ondelete)
            for key in table.foreign_keys
        )
        found_foreign = sorted(
            (
                foreign["constrained_columns"][0],
                foreign["referred_table"],
                foreign["referred_columns"][0],
                foreign["options"].get("ondelete"),
            )
            for foreign in inspector.get_foreign_keys(table.name)
        )
        assert found_foreign == declared_foreign, table.name
    uniques = inspector.get_unique_constraints("jobs")
    assert [unique["column_names"] for unique in uniques] == [["owner", "idempotency_key"]]
    (foreign,) = inspector.get_foreign_keys("artifacts")
    assert (foreign["constrained_columns"], foreign["referred_table"]) == (["job_id"], "jobs")
    assert foreign["referred_columns"] == ["id"]
    assert foreign["options"].get("ondelete") == "CASCADE"


def test_revision_bookkeeping_agrees(engine: Engine) -> None:
    assert migrate.current_revision(engine) is None
    assert migrate.head_revision(engine) == HEAD
    revisions = migrate.history(engine)
    assert [(revision.id, revision.message) for revision in revisions] == HISTORY
    assert revisions[-1].down is None
    assert revisions[0].id == migrate.head_revision(engine)
    # The chain is linked: every revision's predecessor is the next one listed.
    for newer, older in itertools.pairwise(revisions):
        assert newer.down == older.id

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine) == HEAD
    migrate.upgrade(engine)  # at head already: nothing to do
    assert migrate.current_revision(engine) == HEAD


def test_upgrade_downgrade_upgrade_round_trip(engine: Engine) -> None:
    assert not TABLES & table_names(engine)
    migrate.upgrade(engine)
    assert_tables_match_schema(engine)

    insert_job_and_artifacts(engine, "a" * 32)
    stored = stored_job(engine, "a" * 32)
    # Server defaults of the migration apply to rows that leave them out.
    assert (stored["kind"], stored["progress"], stored["stage"]) == ("backtest", 0.0, "queued")
    assert (stored["attempt"], stored["lost_attempts"], stored["cancel_requested"]) == (0, 0, False)
    assert stored["created_at"] == NOW
    assert stored["summary"] == {"total_return": 0.1}
    # The foreign key cascades: deleting a job deletes its artifacts.
    with engine.begin() as connection:
        connection.execute(sa.delete(jobs).where(jobs.c.id == "a" * 32))
        assert connection.execute(sa.select(sa.func.count()).select_from(artifacts)).scalar() == 0
    insert_job_and_artifacts(engine, "b" * 32, inline=True)
    before = artifact_rows(engine)
    insert_user_and_token(engine)

    # Down to 0001: no accounts, the jobs kept, the inline artifacts back in ``results``;
    # up again: the accounts return and the artifacts are as they were.
    migrate.downgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    assert not (ACCOUNT_TABLES | {"artifacts"}) & table_names(engine)
    assert stored_job(engine, "b" * 32)["state"] == "succeeded"
    assert legacy_result_rows(engine)["b" * 32]["document"] == b"{}"
    migrate.upgrade(engine)
    assert_tables_match_schema(engine)
    assert "results" not in table_names(engine)
    assert artifact_rows(engine) == before
    insert_user_and_token(engine)

    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert not TABLES & table_names(engine)

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD
    assert_tables_match_schema(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(jobs)).scalar() == 0
    insert_job_and_artifacts(engine, "b" * 32)  # the old row is gone, the id is free again
    assert stored_job(engine, "b" * 32)["state"] == "succeeded"


def test_stored_results_move_to_artifacts_and_back(engine: Engine) -> None:
    """0002 -> 0003 moves every result into inline artifacts, unchanged; 0003 -> 0002 back."""
    migrate.upgrade(engine, "0002")
    legacy = insert_legacy_result(engine, "a" * 32)
    other = insert_legacy_result(engine, "b" * 32, owner="u" * 32)
    insert_job(engine, "q" * 32)  # a job without a result

    migrate.upgrade(engine, "0003")
    assert "results" not in table_names(engine)
    moved = artifact_rows(engine)
    assert [(row["job_id"], row["name"]) for row in moved] == [
        (job_id, name)
        for job_id in ("a" * 32, "b" * 32)
        for name in ("equity.csv", "result.json", "trades.csv")
    ]
    for stored in (legacy, other):
        rows = {row["name"]: row for row in moved if row["job_id"] == stored["job_id"]}
        for name, column, media_type in [
            ("result.json", "document", JSON),
            ("trades.csv", "trades_csv", CSV),
            ("equity.csv", "equity_csv", CSV),
        ]:
            row = rows[name]
            assert bytes(row["content"]) == stored[column]
            assert row["sha256"] == hashlib.sha256(stored[column]).hexdigest()
            assert (row["media_type"], row["size"], row["location"]) == (
                media_type,
                len(stored[column]),
                None,
            )
            assert (row["attempt"], row["created_at"]) == (2, NOW)
    # The repository (which reads the head's columns) serves the moved bytes (no artifact
    # folder needed for inline ones).
    migrate.upgrade(engine)
    served = JobResults(engine).artifact("a" * 32, "equity.csv", "local")
    assert served.content == legacy["equity_csv"]
    assert served.info.sha256 == hashlib.sha256(legacy["equity_csv"]).hexdigest()

    # Written after the upgrade: a job whose artifacts are files has no place in ``results``.
    insert_job(engine, "f" * 32)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(artifacts), [artifact_row("f" * 32, "result.json", b"{}", inline=False)]
        )
    migrate.downgrade(engine, "0002")
    assert "artifacts" not in table_names(engine)
    assert legacy_result_rows(engine) == {"a" * 32: legacy, "b" * 32: other}
    assert stored_job(engine, "f" * 32)["state"] == "succeeded"  # the job stays

    migrate.upgrade(engine, "0003")
    assert artifact_rows(engine) == moved


def test_migrations_and_schema_py_agree(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_concurrent_upgrades_of_one_database(engine: Engine) -> None:
    """Two migrators at once (servers starting together): one applies, one finds head.

    Threads released together make the overlap certain; separate processes behave
    the same (the lock is the database's, not the process's).
    """
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            migrate.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert migrate.current_revision(engine) == HEAD
    assert_tables_match_schema(engine)


def privatetrade_db(database_url: str, data_dir: Path, *args: str) -> str:
    env = {**os.environ, "PRIVATETRADE_DATABASE_URL": database_url}
    env["PRIVATETRADE_DATA_DIR"] = str(data_dir)
    completed = subprocess.run(
        [sys.executable, "-m", "privatetrade", "db", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_cli_db_commands(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert privatetrade_db(database_url, data_dir, "current") == f"base (head: {HEAD})\n"
    assert privatetrade_db(database_url, data_dir, "history") == "".join(
        f"{revision}  {message}  (after {older})\n"
        for (revision, message), older in zip(
            HISTORY, [revision for revision, _ in HISTORY[1:]] + ["base"], strict=True
        )
    )
    assert privatetrade_db(database_url, data_dir, "upgrade") == f"database at {HEAD}\n"
    assert privatetrade_db(database_url, data_dir, "current") == f"{HEAD} (head: {HEAD})\n"

    engine = create_db_engine(database_url, pool_size=1)
    try:
        assert_tables_match_schema(engine)
        insert_job_and_artifacts(engine, "c" * 32)
    finally:
        engine.dispose()

    assert privatetrade_db(database_url, data_dir, "downgrade", "base") == "database at base\n"
    assert privatetrade_db(database_url, data_dir, "current") == f"base (head: {HEAD})\n"
    engine = create_db_engine(database_url, pool_size=1)
    try:
        assert not TABLES & table_names(engine)
    finally:
        engine.dispose()
