"""A database made by the previous release keeps working: every download, byte for byte.

``tests/fixtures/previous_release`` holds a SQLite database written by the release
before job kinds and artifacts (schema revision 0002: results in fixed columns) and the
files its API served. The server migrates it on start (0003 moves the results into
artifacts) and must serve the same bytes at the same URLs; on PostgreSQL the same rows
are loaded into a database at revision 0002 first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from server import ServerProcess

from databases import postgres_database

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "previous_release"
MANIFEST = json.loads((FIXTURE / "manifest.json").read_text())
# The run section names the serving release, which is the one thing allowed to differ.
APP_VERSION = re.compile(rb'("run":\{.*?"app_version":)"[^"]*"')
TABLES = ("users", "api_tokens", "sessions", "login_links", "login_failures", "jobs", "results")


def downloads() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (job["id"], name, entry)
        for job in MANIFEST["jobs"]
        for name, entry in sorted(job["files"].items())
    ]


def without_run_version(content: bytes) -> bytes:
    return APP_VERSION.sub(rb'\1"*"', content, count=1)


def copy_rows_to_postgres(source: Path, url: str) -> None:
    """Load the fixture's rows into a PostgreSQL database at revision 0002."""
    from privatetrade.db import migrate
    from privatetrade.db.engine import create_db_engine

    engine = create_db_engine(url)
    migrate.upgrade(engine, "0002")
    metadata = sa.MetaData()
    metadata.reflect(engine, only=list(TABLES))
    lite = sqlite3.connect(source)
    lite.row_factory = sqlite3.Row
    with engine.begin() as connection:
        for name in TABLES:
            table = metadata.tables[name]
            rows = [dict(row) for row in lite.execute(f"SELECT * FROM {name}")]
            if rows:
                connection.execute(table.insert(), [convert(table, row) for row in rows])
    lite.close()
    engine.dispose()


def convert(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """SQLite's stored values as PostgreSQL's column types want them."""
    values = {}
    for key, value in row.items():
        kind = table.c[key].type
        if value is not None and isinstance(kind, sa.Boolean):
            value = bool(value)
        elif isinstance(value, str) and isinstance(kind, sa.DateTime):
            value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        elif isinstance(value, str) and isinstance(kind, sa.JSON):
            value = json.loads(value)
        values[key] = value
    return values


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_server(
    request: pytest.FixtureRequest, tmp_path: Path, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "data"
    shutil.copytree(sample_data_dir, data_dir)
    if request.param == "sqlite":
        shutil.copy(FIXTURE / "privatetrade.db", data_dir / "privatetrade.db")
        process = ServerProcess(data_dir).start()
        try:
            yield process
        finally:
            process.stop()
        return
    with postgres_database() as url:
        copy_rows_to_postgres(FIXTURE / "privatetrade.db", url)
        process = ServerProcess(data_dir, database_url=url).start()
        try:
            yield process
        finally:
            process.stop()


def test_every_download_of_the_previous_release_is_served_byte_for_byte(
    migrated_server: ServerProcess,
) -> None:
    with migrated_server.client() as client:
        for job_id, name, entry in downloads():
            response = client.get(entry["url"])
            assert response.status_code == 200, (entry["url"], response.text)
            before = (FIXTURE / f"{job_id}-{name}").read_bytes()
            if name == "result.json":
                assert without_run_version(response.content) == without_run_version(before)
                assert response.headers["etag"] == entry["etag"]
            else:
                assert response.content == before, entry["url"]
            assert response.headers["content-disposition"] == entry["content_disposition"]
        listed = client.get("/api/backtests", params={"limit": 200}).json()
        states = {item["id"]: item["state"] for item in listed["items"]}
        assert {job["id"] for job in MANIFEST["jobs"]} <= set(states)
        assert list(states.values()).count("cancelled") == 1
        # The migrated database takes new work as usual.
        from server import submit, wait_for

        job = submit(client, {"symbol": "AAPL", "end": "2005-12-31"})
        assert wait_for(client, job["id"])["state"] == "succeeded"
        assert client.get(f"/api/backtest/result/{job['id']}").status_code == 200
