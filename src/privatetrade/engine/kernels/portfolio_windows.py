"""Ranking windows of the portfolio allocation rules (numba): one pass over the bars.

Both kernels read the bars in time order and write each output row from the rows at or
before it only, so a result at bar ``s`` does not change when later bars are cut off.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def window_sums_nb(close, present, checkpoints):  # type: ignore[no-untyped-def]
    """Return forward-filled closes and prefix sums of simple returns at checkpoint bars.

    Each symbol's close is carried forward over bars where it has none; its return at
    bar ``t`` is ``filled[t] / filled[t - 1] - 1`` (0 where it has no bar, none before
    its first bar). The prefix sums add the returns of bars ``1..k`` in time order.

    Args:
        close: Closing prices ``(T, N)``.
        present: Whether the symbol has a (finite) bar at ``t``, ``(T, N)``.
        checkpoints: Ascending, unique bar indices ``(K,)`` in ``0..T-1``.

    Returns:
        ``(filled, sums, squares)``, each ``(K, N)``: the forward-filled close (NaN
        before the symbol's first bar), the sum of returns and the sum of squared
        returns up to and including each checkpoint bar.
    """
    symbols = close.shape[1]
    count = checkpoints.shape[0]
    filled_out = np.empty((count, symbols))
    sums_out = np.empty((count, symbols))
    squares_out = np.empty((count, symbols))
    filled = np.full(symbols, np.nan)
    sums = np.zeros(symbols)
    squares = np.zeros(symbols)
    if count == 0:
        return filled_out, sums_out, squares_out
    k = 0
    for t in range(checkpoints[count - 1] + 1):
        for j in range(symbols):
            if present[t, j]:
                value = close[t, j]
                previous = filled[j]
                if previous == previous:  # not NaN: the symbol had a bar before
                    change = value / previous - 1.0
                    sums[j] += change
                    squares[j] += change * change
                filled[j] = value
        if t == checkpoints[k]:
            filled_out[k, :] = filled
            sums_out[k, :] = sums
            squares_out[k, :] = squares
            k += 1
    return filled_out, sums_out, squares_out


@njit(cache=True)
def long_state_nb(entries, exits):  # type: ignore[no-untyped-def]
    """Return whether each strategy is long after each bar's signals, ``(T, N)``.

    Flat goes long at an entry, long goes flat at an exit; an entry and an exit on one
    bar flip the state. Flat before the first signal.
    """
    rows, symbols = entries.shape
    out = np.empty((rows, symbols), dtype=np.bool_)
    state = np.zeros(symbols, dtype=np.bool_)
    for t in range(rows):
        for j in range(symbols):
            if state[j]:
                if exits[t, j]:
                    state[j] = False
            elif entries[t, j]:
                state[j] = True
            out[t, j] = state[j]
    return out
