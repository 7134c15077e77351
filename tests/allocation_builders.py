"""Builders of portfolio calendars (AlignedBars) for the allocation tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from privatetrade.engine.portfolio.align import AlignedBars

SEOUL_OFFSET_NS = 9 * 3_600 * 10**9


def local_days(dates: Sequence[str]) -> np.ndarray:
    """Midnight wall-clock nanoseconds of ISO dates."""
    return np.array(dates, dtype="datetime64[D]").astype("datetime64[ns]").view(np.int64)


def aligned_from_closes(
    dates: Sequence[str] | np.ndarray, closes: Mapping[str, Sequence[float | None]]
) -> AlignedBars:
    """A calendar of daily bars (Asia/Seoul) where open = high = low = close.

    ``None`` or NaN in a symbol's closes means the symbol has no bar that day.
    """
    local = local_days(list(dates)) if not isinstance(dates, np.ndarray) else dates
    close = np.array(
        [[np.nan if v is None else float(v) for v in column] for column in closes.values()],
        dtype=np.float64,
    ).T.copy()
    present = np.isfinite(close)
    rows = np.arange(close.shape[0])
    first = np.array([rows[p].min() if p.any() else 0 for p in present.T], dtype=np.int64)
    last = np.array([rows[p].max() if p.any() else -1 for p in present.T], dtype=np.int64)
    return AlignedBars(
        symbols=tuple(closes),
        time=local - SEOUL_OFFSET_NS,
        local_time_ns=local,
        tz="Asia/Seoul",
        open=close.copy(),
        high=close.copy(),
        low=close.copy(),
        close=close,
        volume=np.where(present, 1_000.0, np.nan),
        present=present,
        first_bar=first,
        last_bar=last,
    )


def truncated(aligned: AlignedBars, stop: int) -> AlignedBars:
    """The same calendar cut after bar ``stop - 1`` (as if later bars did not exist yet)."""
    closes = {symbol: aligned.close[:stop, j].tolist() for j, symbol in enumerate(aligned.symbols)}
    return aligned_from_closes(aligned.local_time_ns[:stop], closes)


def random_aligned(rng: np.random.Generator, bars: int, symbols: int) -> AlignedBars:
    """Random walks on business days from 2019-12-23 with gaps, late starts and delistings.

    Some prices repeat (flat stretches, equal momentum across symbols) so that ties
    and zero volatilities occur.
    """
    days = np.busday_offset("2019-12-23", np.arange(bars), roll="forward")
    local = days.astype("datetime64[ns]").view(np.int64)
    closes: dict[str, list[float | None]] = {}
    for j in range(symbols):
        steps = rng.choice([-0.02, 0.0, 0.01, 0.03], size=bars)
        prices = 100.0 * np.cumprod(1.0 + steps)
        if rng.random() < 0.2:
            prices[:] = 50.0  # never moves: zero volatility, zero momentum
        column: list[float | None] = [round(float(p), 2) for p in prices]
        start = int(rng.integers(0, max(bars // 2, 1))) if rng.random() < 0.4 else 0
        end = int(rng.integers(bars // 2, bars + 1)) if rng.random() < 0.3 else bars
        for t in range(bars):
            if t < start or t >= end or rng.random() < 0.1:
                column[t] = None
        closes[f"S{j:02d}"] = column
    return aligned_from_closes(local, closes)
