"""A data directory and database for job-system tests (real worker processes, real SQLite)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from polling import poll as poll_until
from privatetrade.db.jobs import JobRepository
from privatetrade.domain.jobs import Job
from privatetrade.domain.specs import BacktestSpec

T = TypeVar("T")
LONG_BARS = 400_000  # a run of a few seconds
SHORT_SPEC = BacktestSpec.model_validate(
    {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
)
LONG_SPEC = BacktestSpec.model_validate(
    {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
)


def write_long_symbol(data_dir: Path, bars: int) -> None:
    """Store ``LONG``: a random walk of ``bars`` UTC minute bars."""
    import numpy as np
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0003,
            "low": np.minimum(open_, close) * 0.9997,
            "close": close,
            "volume": np.full(bars, 1_000.0),
        },
        index=pd.date_range("2020-01-01", periods=bars, freq="min", tz="UTC", name="time"),
    )
    symbol = SymbolInfo(
        code="LONG",
        name="Long synthetic",
        market=Market.NYSE,
        currency="USD",
        tick_table="none",
        source="test",
        synthetic=True,
    )
    MarketData(data_dir).save_bars(symbol, frame)


@dataclass
class Workspace:
    """A data directory and a migrated SQLite database of one test."""

    data_dir: Path
    database_url: str
    repository: JobRepository

    def new_job(self, *, long: bool = False) -> str:
        """Queue a backtest of AAPL (about a second) or of ``LONG`` (seconds)."""
        spec = LONG_SPEC if long else SHORT_SPEC
        job, created = self.repository.create(uuid.uuid4().hex, "local", spec)
        assert created
        return job.id

    def job(self, job_id: str) -> Job:
        job = self.repository.get(job_id)
        assert job is not None
        return job

    @staticmethod
    def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Call ``check`` until it returns something other than None (or time runs out)."""
        return poll_until(check, timeout, what, interval=0.02)
