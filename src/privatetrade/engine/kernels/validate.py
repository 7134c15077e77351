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
def first_invalid_bar_nb(time, open_, high, low, close, volume):  # type: ignore[no-untyped-def]
    """Return ``(row, code)`` of the first invalid bar, or ``(-1, OK)``."""
    for i in range(close.shape[0]):
        o = open_[i]
        h = high[i]
        lo = low[i]
        c = close[i]
        if not (np.isfinite(o) and np.isfinite(h) and np.isfinite(lo) and np.isfinite(c)):
            return i, NOT_FINITE
        if not np.isfinite(volume[i]):
            return i, NOT_FINITE
        if o <= 0.0 or h <= 0.0 or lo <= 0.0 or c <= 0.0:
            return i, NOT_POSITIVE
        if h < max(o, c):
            return i, HIGH_BELOW_BODY
        if lo > min(o, c):
            return i, LOW_ABOVE_BODY
        if volume[i] < 0.0:
            return i, NEGATIVE_VOLUME
        if i > 0:
            if time[i] == time[i - 1]:
                return i, DUPLICATE_TIME
            if time[i] < time[i - 1]:
                return i, UNSORTED_TIME
    return -1, OK
