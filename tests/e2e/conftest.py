"""Fixtures for end-to-end tests against the real server process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from server import ServerProcess

from databases import postgres_database


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


@pytest.fixture(scope="module")
def module_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """One SQLite server on a private copy of the sample data, shared by a test module."""
    data_dir = tmp_path_factory.mktemp("module-server") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    process = ServerProcess(data_dir).start()
    try:
        yield process
    finally:
        process.stop()


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


LONG_SYMBOL = "LONG"
LONG_BARS = 400_000


def write_long_symbol(data_dir: Path, bars: int = LONG_BARS, seed: int = 20240601) -> None:
    """Store ``LONG``: a random walk of ``bars`` UTC minute bars (a backtest takes seconds)."""
    import numpy as np
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.0003, bars)) * close
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.integers(100, 10_000, bars).astype(float),
        },
        index=pd.date_range("2020-01-01", periods=bars, freq="min", tz="UTC", name="time"),
    )
    symbol = SymbolInfo(
        code=LONG_SYMBOL,
        name="Long synthetic",
        market=Market.NYSE,
        currency="USD",
        tick_table="none",
        source="test",
        synthetic=True,
    )
    MarketData(data_dir).save_bars(symbol, frame)


@pytest.fixture(scope="session")
def long_data_dir(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Path:
    """The sample data plus ``LONG`` (400,000 minute bars): a job that runs for seconds.

    Shared by the whole session: copy it (``long_data_dir_copy``) before a server writes
    to it.
    """
    path = tmp_path_factory.mktemp("long-data") / "data"
    shutil.copytree(sample_data_dir, path)
    write_long_symbol(path)
    return path


@pytest.fixture
def long_data_dir_copy(tmp_path: Path, long_data_dir: Path) -> Path:
    """A private copy of ``long_data_dir`` for one test."""
    target = tmp_path / "long-data"
    shutil.copytree(long_data_dir, target)
    return target


HUGE_BARS = 1_000_000


@pytest.fixture(scope="session")
def huge_data_dir(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Path:
    """The sample data plus ``LONG`` with 1,000,000 minute bars.

    A run of it spends seconds serializing its result (a step that checks no cancel
    token). Copy it (``huge_data_dir_copy``) before a server writes to it.
    """
    path = tmp_path_factory.mktemp("huge-data") / "data"
    shutil.copytree(sample_data_dir, path)
    write_long_symbol(path, bars=HUGE_BARS)
    return path


@pytest.fixture
def huge_data_dir_copy(tmp_path: Path, huge_data_dir: Path) -> Path:
    """A private copy of ``huge_data_dir`` for one test."""
    target = tmp_path / "huge-data"
    shutil.copytree(huge_data_dir, target)
    return target
