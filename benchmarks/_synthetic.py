"""Deterministic synthetic bars for the benchmarks (a log random walk, valid OHLC)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MINUTE_NS = 60 * 1_000_000_000
DAY_NS = 86_400 * 1_000_000_000


def random_walk_bars(
    n: int, *, seed: int = 7, step_ns: int = DAY_NS, volatility: float = 0.01
) -> dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
    """Return ``n`` bars as engine arrays: time (UTC ns) and OHLCV."""
    rng = np.random.default_rng(seed)
    close = 50_000.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, n)))
    open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, volatility / 4, n))
    spread = np.abs(rng.normal(0.0, volatility / 2, n))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    time = 1_262_304_000 * 1_000_000_000 + np.arange(n, dtype=np.int64) * step_ns
    volume = rng.integers(1_000, 100_000, n).astype(np.float64)
    return {"time": time, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
