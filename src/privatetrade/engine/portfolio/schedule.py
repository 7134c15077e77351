"""When an allocation rule rebalances: the signal bars of a schedule.

A period is a local calendar day, ISO week (Monday to Sunday), month or calendar
quarter of the exchange's wall clock. Its first session is the first bar in it, its
last session the last bar in it (with intraday bars: the period's first or last bar).
Only the bars of the portfolio calendar count, so a holiday simply moves the first
session of a week to the Tuesday, the last of a month to the 30th, and so on.

Two rules make the schedule usable from the first bar and causal:

* The first eligible bar (``first``) is always a signal bar, so the book is invested
  from the start instead of waiting for the first period boundary.
* A bar is the *last* session of its period only when the next bar lies in a new
  period. The data's last bar is therefore never a ``last`` signal bar: nothing says
  its period is over (the month may go on after the data stop). Truncating the data
  after bar ``s`` keeps every signal bar before ``s``; ``s`` itself can drop out only
  as a ``last`` signal bar that has just become the data's last bar.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from privatetrade.errors import InputError

__all__ = ["period_keys", "signal_bars"]

IntArray = npt.NDArray[np.int64]
Rebalance = Literal["daily", "weekly", "monthly", "quarterly"]

NS_PER_DAY = 86_400 * 10**9
_EPOCH_WEEKDAY_SHIFT = 3
"""1970-01-01 was a Thursday: ``(day + 3) // 7`` counts Monday-to-Sunday weeks."""


def period_keys(local_time_ns: IntArray, rebalance: Rebalance) -> IntArray:
    """Return a number per bar that is equal exactly within one period.

    Args:
        local_time_ns: Bar times as exchange wall-clock nanoseconds, ascending.
        rebalance: ``daily``, ``weekly`` (ISO week), ``monthly`` or ``quarterly``.

    Returns:
        int64 keys, non-decreasing when the times are.

    Raises:
        InputError: For an unknown ``rebalance``.
    """
    days = np.asarray(local_time_ns, dtype=np.int64) // NS_PER_DAY  # floor, also before 1970
    if rebalance == "daily":
        return days
    if rebalance == "weekly":
        return (days + _EPOCH_WEEKDAY_SHIFT) // 7
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    if rebalance == "monthly":
        return months
    if rebalance == "quarterly":
        return months // 3  # month 0 is January 1970: quarters start in Jan, Apr, Jul, Oct
    raise InputError(
        f"rebalance must be daily, weekly, monthly or quarterly, got {rebalance!r}",
        field="rebalance",
    )


def signal_bars(
    local_time_ns: IntArray,
    rebalance: Rebalance,
    rebalance_on: Literal["first", "last"],
    first: int,
) -> IntArray:
    """Return the indices of the rebalance signal bars at or after ``first``.

    Args:
        local_time_ns: Bar times of the portfolio calendar as exchange wall-clock
            nanoseconds, ascending.
        rebalance: The period: ``daily``, ``weekly``, ``monthly`` or ``quarterly``.
        rebalance_on: ``first`` or ``last`` session of each period.
        first: The first eligible bar (after ``start`` and the warm-up); it is a
            signal bar itself. Negative values count as 0.

    Returns:
        Ascending, unique int64 bar indices, all ``>= first``; empty when
        ``first`` is past the data.

    Raises:
        InputError: For an unknown ``rebalance`` or ``rebalance_on``.

    Example:
        >>> days = np.array(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"],
        ...                 dtype="datetime64[ns]").view(np.int64)
        >>> signal_bars(days, "monthly", "last", 0).tolist()
        [0, 1]
        >>> signal_bars(days, "monthly", "first", 0).tolist()
        [0, 2]
    """
    keys = period_keys(local_time_ns, rebalance)
    count = keys.shape[0]
    start = max(int(first), 0)
    if start >= count:
        return np.empty(0, dtype=np.int64)
    new_period = keys[1:] != keys[:-1]  # True at i: bar i+1 opens a new period
    if rebalance_on == "first":
        boundary = np.flatnonzero(new_period) + 1
    elif rebalance_on == "last":
        boundary = np.flatnonzero(new_period)  # the data's last bar is never included
    else:
        raise InputError(
            f"rebalance_on must be 'first' or 'last', got {rebalance_on!r}", field="rebalance_on"
        )
    later = boundary[boundary > start].astype(np.int64)
    return np.concatenate((np.array([start], dtype=np.int64), later))
