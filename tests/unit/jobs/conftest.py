"""Fixtures for job-system tests with real worker processes and a real SQLite database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from job_workspace import LONG_BARS, Workspace, write_long_symbol

from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository
from privatetrade.db.migrate import upgrade


@pytest.fixture(scope="session")
def jobs_data_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from privatetrade.data.market_data import MarketData

    path = tmp_path_factory.mktemp("jobs-data") / "data"
    MarketData(path).ensure_samples()
    write_long_symbol(path, LONG_BARS)
    return path


@pytest.fixture
def workspace(tmp_path: Path, jobs_data_template: Path) -> Iterator[Workspace]:
    data_dir = tmp_path / "data"
    shutil.copytree(jobs_data_template, data_dir)
    url = f"sqlite+pysqlite:///{tmp_path / 'jobs.db'}"
    engine = create_db_engine(url, pool_size=2)
    upgrade(engine)
    try:
        yield Workspace(data_dir, url, JobRepository(engine))
    finally:
        engine.dispose()
