"""Several symbols' bars on one calendar: the union of their bar times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["AlignedBars"]

FloatMatrix = npt.NDArray[np.float64]


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
