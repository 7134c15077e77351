"""Several symbols' bars on one calendar: the union of their bar times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from privatetrade.engine.bars import BarsInput, PreparedBars, prepare_bars
from privatetrade.engine.portfolio.rules import MAX_PORTFOLIO_SYMBOLS
from privatetrade.engine.strategies.base import Bars
from privatetrade.errors import DataError

__all__ = ["MAX_PORTFOLIO_BARS", "MAX_PORTFOLIO_CELLS", "AlignedBars", "align_bars"]

FloatMatrix = npt.NDArray[np.float64]

MAX_PORTFOLIO_BARS: Final = 2_000_000
"""Most bars on a portfolio's calendar (the single engine's default limit per backtest)."""
MAX_PORTFOLIO_CELLS: Final = 10_000_000
"""Most (bar, symbol) cells: 2,000 symbols x 5,000 daily bars (about 20 years).

A cell costs about 100 bytes over the run (prices, costs, signals, holdings), so this
keeps one portfolio run near a gigabyte of memory at most.
"""


@dataclass(frozen=True, slots=True)
class AlignedBars:
    """OHLCV of ``N`` symbols on ``T`` bars (the union of their bar times), oldest first.

    Attributes:
        symbols: The symbols' codes, in universe order (column ``j`` is ``symbols[j]``).
        time: Bar timestamps, int64 nanoseconds since the epoch (UTC), shape ``(T,)``.
        local_time_ns: The same instants as exchange wall-clock nanoseconds, ``(T,)``.
        tz: The exchange time zone.
        open: Opening prices ``(T, N)``; NaN where the symbol has no bar.
        high: Highest prices ``(T, N)``; NaN where the symbol has no bar.
        low: Lowest prices ``(T, N)``; NaN where the symbol has no bar.
        close: Closing prices ``(T, N)``; NaN where the symbol has no bar.
        volume: Volumes ``(T, N)``; NaN where the symbol has no bar.
        present: Whether the symbol has a bar at ``t``, ``(T, N)``.
        first_bar: Index of each symbol's first bar, ``(N,)``.
        last_bar: Index of each symbol's last bar, ``(N,)``.
    """

    symbols: tuple[str, ...]
    time: npt.NDArray[np.int64]
    local_time_ns: npt.NDArray[np.int64]
    tz: str
    open: FloatMatrix
    high: FloatMatrix
    low: FloatMatrix
    close: FloatMatrix
    volume: FloatMatrix
    present: npt.NDArray[np.bool_]
    first_bar: npt.NDArray[np.int64]
    last_bar: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def rows(self, column: int) -> npt.NDArray[np.int64]:
        """Return the calendar indices of symbol ``column``'s bars, oldest first."""
        return np.flatnonzero(self.present[:, column])

    def tail(self, start: int) -> AlignedBars:
        """Return the bars from calendar bar ``start`` on (a symbol without any: -1 bounds)."""
        if start == 0:
            return self
        present = self.present[start:]
        has_bars = present.any(axis=0)
        last = present.shape[0] - 1 - np.argmax(present[::-1], axis=0)
        return AlignedBars(
            symbols=self.symbols,
            time=self.time[start:],
            local_time_ns=self.local_time_ns[start:],
            tz=self.tz,
            open=self.open[start:],
            high=self.high[start:],
            low=self.low[start:],
            close=self.close[start:],
            volume=self.volume[start:],
            present=present,
            first_bar=np.where(has_bars, np.argmax(present, axis=0), -1).astype(np.int64),
            last_bar=np.where(has_bars, last, -1).astype(np.int64),
        )

    def symbol_bars(self, column: int) -> PreparedBars:
        """Return symbol ``column``'s own bars (only the times it has a bar), as given."""
        rows = self.rows(column)
        bars = Bars(
            np.ascontiguousarray(self.time[rows]),
            np.ascontiguousarray(self.open[rows, column]),
            np.ascontiguousarray(self.high[rows, column]),
            np.ascontiguousarray(self.low[rows, column]),
            np.ascontiguousarray(self.close[rows, column]),
            np.ascontiguousarray(self.volume[rows, column]),
        )
        return PreparedBars(bars, np.ascontiguousarray(self.local_time_ns[rows]), self.tz)


def align_bars(bars_by_symbol: Mapping[str, BarsInput], tz: str | None = None) -> AlignedBars:
    """Validate each symbol's bars and put them on one calendar (the union of their times).

    Args:
        bars_by_symbol: Symbol code -> bars (a DataFrame with a timezone-aware index,
            a mapping of arrays with ``tz``, or :class:`PreparedBars`), in universe order.
        tz: Time zone of array bars (DataFrames carry their own).

    Returns:
        The aligned bars; a symbol's cells are NaN (``present`` False) where it has no bar.

    Raises:
        DataError: No symbol, more than 2,000 symbols, bad bars (the message starts with
            the symbol), symbols in different time zones, or more than
            ``MAX_PORTFOLIO_BARS`` calendar bars or ``MAX_PORTFOLIO_CELLS`` cells.
    """
    count = len(bars_by_symbol)
    if count == 0:
        raise DataError("a portfolio needs at least one symbol")
    if count > MAX_PORTFOLIO_SYMBOLS:
        raise DataError(f"{count:,} symbols; a portfolio holds at most {MAX_PORTFOLIO_SYMBOLS:,}")
    symbols = tuple(str(symbol) for symbol in bars_by_symbol)
    if len(set(symbols)) != count:
        raise DataError("symbols must be distinct")
    prepared = [_prepare(symbol, bars_by_symbol[symbol], tz) for symbol in bars_by_symbol]
    _check_one_zone(symbols, prepared)
    time = np.unique(np.concatenate([p.bars.time for p in prepared]))
    total = int(time.shape[0])
    if total > MAX_PORTFOLIO_BARS:
        raise DataError(
            f"{total:,} bars on the portfolio calendar; the limit is {MAX_PORTFOLIO_BARS:,}"
        )
    if total * count > MAX_PORTFOLIO_CELLS:
        raise DataError(
            f"{count:,} symbols x {total:,} bars is {total * count:,} cells; the limit is "
            f"{MAX_PORTFOLIO_CELLS:,} (fewer symbols or a shorter period)"
        )
    return _scatter(symbols, prepared, time)


def _prepare(symbol: object, data: BarsInput, tz: str | None) -> PreparedBars:
    try:
        return prepare_bars(data, tz=tz)
    except DataError as exc:
        raise DataError(f"{symbol}: {exc}", row=exc.row) from exc


def _check_one_zone(symbols: tuple[str, ...], prepared: list[PreparedBars]) -> None:
    zone = prepared[0].tz
    for symbol, bars in zip(symbols, prepared, strict=True):
        if bars.tz != zone:
            raise DataError(
                f"{symbol}: bars in time zone {bars.tz}, but {symbols[0]}'s are in {zone}; "
                "a portfolio trades on one exchange calendar"
            )


def _scatter(
    symbols: tuple[str, ...], prepared: list[PreparedBars], time: npt.NDArray[np.int64]
) -> AlignedBars:
    total, count = int(time.shape[0]), len(symbols)
    matrices = [np.full((total, count), np.nan) for _ in range(5)]
    present = np.zeros((total, count), dtype=np.bool_)
    local = np.empty(total, dtype=np.int64)
    first_bar = np.empty(count, dtype=np.int64)
    last_bar = np.empty(count, dtype=np.int64)
    for j, bars in enumerate(prepared):
        rows = np.searchsorted(time, bars.bars.time)
        own = bars.bars
        for matrix, values in zip(
            matrices, (own.open, own.high, own.low, own.close, own.volume), strict=True
        ):
            matrix[rows, j] = values
        present[rows, j] = True
        local[rows] = bars.local_time_ns
        first_bar[j], last_bar[j] = rows[0], rows[-1]
    open_, high, low, close, volume = matrices
    return AlignedBars(
        symbols=symbols,
        time=time,
        local_time_ns=local,
        tz=prepared[0].tz,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        present=present,
        first_bar=first_bar,
        last_bar=last_bar,
    )
