"""Validation of OHLCV arrays (numba): find the first bad row and why."""

from __future__ import annotations

import numpy as np
from numba import njit

OK = 0
NOT_FINITE = 1
NOT_POSITIVE = 2
HIGH_BELOW_BODY = 3
LOW_ABOVE_BODY = 4
DUPLICATE_TIME = 5
UNSORTED_TIME = 6
NEGATIVE_VOLUME = 7


@njit(cache=True)
def _reason_nb(time, open_, high, low, close, volume, i):  # type: ignore[no-untyped-def]
    """Return why bar ``i`` failed the fast check (the first rule it breaks)."""
    o = open_[i]
    h = high[i]
    lo = low[i]
    c = close[i]
    if not (np.isfinite(o) and np.isfinite(h) and np.isfinite(lo) and np.isfinite(c)):
        return NOT_FINITE
    if not np.isfinite(volume[i]):
        return NOT_FINITE
    if o <= 0.0 or h <= 0.0 or lo <= 0.0 or c <= 0.0:
        return NOT_POSITIVE
    if h < max(o, c):
        return HIGH_BELOW_BODY
    if lo > min(o, c):
        return LOW_ABOVE_BODY
    if volume[i] < 0.0:
        return NEGATIVE_VOLUME
    if time[i] == time[i - 1]:
        return DUPLICATE_TIME
    return UNSORTED_TIME


@njit(cache=True)
def first_invalid_bar_nb(time, open_, high, low, close, volume):  # type: ignore[no-untyped-def]
    """Return ``(row, code)`` of the first invalid bar, or ``(-1, OK)``."""
    previous = np.iinfo(np.int64).min
    for i in range(close.shape[0]):
        o = open_[i]
        h = high[i]
        lo = low[i]
        c = close[i]
        v = volume[i]
        # Comparisons with NaN are false, so one conjunction also rejects NaN; the
        # exact reason is worked out only for the failing row.
        good = (
            lo > 0.0 and h < np.inf and v >= 0.0 and v < np.inf
            and h >= o and h >= c and lo <= o and lo <= c and time[i] > previous
        )  # fmt: skip
        if not good:
            return i, _reason_nb(time, open_, high, low, close, volume, i)
        previous = time[i]
    return -1, OK
