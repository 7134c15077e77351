"""The simulation checks its cancel token often enough: well under 0.2 s per window.

A worker's token reads the job row at most every 0.2 s, and the dispatcher kills a
worker that has not stopped 0.75 s after a cancel, so the kernel must return to the
token much more often than that, even on the largest run allowed (2,000,000 bars).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.errors import CancelledError

BARS = 2_000_000
MAX_BARS_BETWEEN_CHECKS = 20_000  # a window of 1 % of the bars: ~5 ms of simulation


@pytest.fixture(scope="module")
def minute_bars() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, BARS)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0003,
            "low": np.minimum(open_, close) * 0.9997,
            "close": close,
            "volume": np.full(BARS, 1_000.0),
        },
        index=pd.date_range("2020-01-01", periods=BARS, freq="min", tz="UTC", name="time"),
    )


class RecordingToken:
    """A cancel token that notes when it is asked, and says stop after ``stop_after`` asks."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.asked: list[float] = []
        self.stop_after = stop_after

    def is_set(self) -> bool:
        self.asked.append(time.perf_counter())
        return self.stop_after is not None and len(self.asked) >= self.stop_after


def test_the_token_is_checked_every_percent_of_the_largest_run(
    minute_bars: pd.DataFrame,
) -> None:
    # At most 20,000 bars between two checks; how long a window takes is measured by
    # benchmarks/bench_engine.py (a few milliseconds), not asserted here.
    token = RecordingToken()
    pt.run_backtest(minute_bars, "sma_cross", {"fast": 10, "slow": 30}, cancel=token)
    assert len(token.asked) >= 100
    assert BARS / len(token.asked) <= MAX_BARS_BETWEEN_CHECKS


def test_a_token_set_mid_run_stops_it_at_the_next_window(minute_bars: pd.DataFrame) -> None:
    token = RecordingToken(stop_after=10)
    with pytest.raises(CancelledError, match="cancelled after"):
        pt.run_backtest(minute_bars, "sma_cross", {"fast": 10, "slow": 30}, cancel=token)
    assert len(token.asked) == 10
