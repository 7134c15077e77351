"""Fixtures for end-to-end tests against the real server process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from server import ServerProcess, postgres_database


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the offline sample data installed once per session."""
    from privatetrade.data.market_data import MarketData

    path = tmp_path_factory.mktemp("sample-data") / "data"
    MarketData(path).ensure_samples()
    return path


@pytest.fixture
def data_dir(tmp_path: Path, sample_data_dir: Path) -> Path:
    """A private copy of the sample data directory for one test."""
    target = tmp_path / "data"
    shutil.copytree(sample_data_dir, target)
    return target


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the data directory) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def server(data_dir: Path, database_url: str | None) -> Iterator[ServerProcess]:
    """A running server on SQLite and on PostgreSQL (parametrized)."""
    process = ServerProcess(data_dir, database_url=database_url).start()
    try:
        yield process
    finally:
        process.stop()
