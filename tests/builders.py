"""Shared builders for engine tests: small hand-made bars and explicit signals.

Test modules import the builders directly (``from builders import make_bars``); they
are plain functions, not fixtures, so a scenario reads as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from privatetrade.engine.bars import PreparedBars, prepare_bars
from privatetrade.engine.strategies.base import Signals

# Bars are stamped 06:00 UTC: 15:00 in Seoul and 01:00/02:00 in New York, so the
# exchange-local calendar day equals the day the test names.
_STAMP_HOUR_UTC = 6


def daily_times(n: int, start: str = "2024-01-02") -> np.ndarray:
    """Return ``n`` int64 UTC-nanosecond stamps one calendar day apart from ``start``."""
    first = np.datetime64(start, "D") + np.timedelta64(_STAMP_HOUR_UTC, "h")
    return (first + np.arange(n) * np.timedelta64(1, "D")).astype("datetime64[ns]").view(np.int64)


def dates_times(dates: Sequence[str]) -> np.ndarray:
    """Return int64 UTC-nanosecond stamps for explicit ISO dates."""
    days = np.array(dates, dtype="datetime64[D]") + np.timedelta64(_STAMP_HOUR_UTC, "h")
    return days.astype("datetime64[ns]").view(np.int64)


def make_bars(
    closes: Sequence[float],
    opens: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    *,
    start: str = "2024-01-02",
    dates: Sequence[str] | None = None,
    tz: str = "Asia/Seoul",
    volume: Sequence[float] | None = None,
) -> PreparedBars:
    """Return validated daily bars; missing opens equal closes, highs/lows hug the body.

    Args:
        closes: Closing prices.
        opens: Opening prices (default: the closes).
        highs: Highs (default: ``max(open, close)``).
        lows: Lows (default: ``min(open, close)``).
        start: Date of the first bar; bars are one calendar day apart.
        dates: Explicit ISO dates instead of ``start`` (one per bar).
        tz: Exchange time zone.
        volume: Volumes (default: 1,000 each).
    """
    close = np.asarray(closes, dtype=np.float64)
    n = close.shape[0]
    open_ = close.copy() if opens is None else np.asarray(opens, dtype=np.float64)
    high = np.maximum(open_, close) if highs is None else np.asarray(highs, dtype=np.float64)
    low = np.minimum(open_, close) if lows is None else np.asarray(lows, dtype=np.float64)
    time = daily_times(n, start) if dates is None else dates_times(dates)
    return prepare_bars(
        {
            "time": time,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.full(n, 1_000.0) if volume is None else np.asarray(volume, float),
        },
        tz=tz,
    )


def _flags(n: int, at: Iterable[int] | None) -> np.ndarray:
    flags = np.zeros(n, dtype=np.bool_)
    for i in at or ():
        flags[i] = True
    return flags


def signals_at(
    n: int,
    entries: Iterable[int] = (),
    exits: Iterable[int] = (),
    *,
    short_entries: Iterable[int] | None = None,
    short_exits: Iterable[int] | None = None,
    offsets: Mapping[int, float] | None = None,
) -> Signals:
    """Return Signals over ``n`` bars, True at the given bar indices.

    Args:
        n: Number of bars.
        entries: Bars whose close decides a long entry.
        exits: Bars whose close decides a long exit.
        short_entries: Bars deciding a short entry (None: no short arrays).
        short_exits: Bars deciding a short exit.
        offsets: ``{bar: offset}`` for stop-entry orders; other bars are NaN (market).
    """
    entry_offset = None
    if offsets is not None:
        entry_offset = np.full(n, np.nan)
        for bar, offset in offsets.items():
            entry_offset[bar] = offset
    with_short = short_entries is not None or short_exits is not None
    return Signals(
        _flags(n, entries),
        _flags(n, exits),
        _flags(n, short_entries) if with_short else None,
        _flags(n, short_exits) if with_short else None,
        entry_offset,
    )
