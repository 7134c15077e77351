"""Running-peak drawdown (numba): one pass, no temporaries."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def drawdown_ratio_nb(equity, initial_cash):  # type: ignore[no-untyped-def]
    """Return ``equity[t] / max(initial_cash, equity[0..t])`` for every bar."""
    out = np.empty(equity.shape[0])
    peak = initial_cash
    for t in range(equity.shape[0]):
        value = equity[t]
        if value > peak:
            peak = value
        out[t] = value / peak
    return out
