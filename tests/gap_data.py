"""A stored symbol whose opens gap through stops: ``GAPPY``, daily bars in New York.

A seeded random walk of business days whose open jumps 12 % below the previous close
every 37th bar, so a stop-loss of a few percent is sometimes hit at a gapped open (the
fill far below the stop) and sometimes touched inside a bar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GAPPY = "GAPPY"
GAP_EVERY = 37
GAP_BODY = {
    "symbol": GAPPY,
    "strategy": "sma_cross",
    "params": {"fast": 2, "slow": 5},
    "stops": {"stop_loss": 0.03},
}


def write_gap_symbol(data_dir: Path, *, bars: int = 400, seed: int = 11) -> None:
    """Store ``GAPPY`` (raw prices, USD, no tick grid) in ``data_dir``."""
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    rng = np.random.default_rng(seed)
    gap_bar = np.arange(bars) % GAP_EVERY == GAP_EVERY - 1
    jump = np.where(gap_bar, np.log(0.88), rng.normal(0.0, 0.003, bars))
    log_close = np.log(100.0) + np.cumsum(jump + rng.normal(0.002, 0.015, bars))
    open_ = np.exp(np.concatenate(([np.log(100.0)], log_close[:-1])) + jump)
    close = np.exp(log_close)
    spread = np.abs(rng.normal(0.0, 0.006, bars))
    frame = pd.DataFrame(
        {
            "open": np.round(open_, 4),
            "high": np.round(np.maximum(open_, close) * (1 + spread), 4),
            "low": np.round(np.minimum(open_, close) * (1 - spread), 4),
            "close": np.round(close, 4),
            "volume": rng.integers(10_000, 90_000, bars).astype(float),
        },
        index=pd.bdate_range("2021-01-04", periods=bars, tz="America/New_York", name="time"),
    )
    symbol = SymbolInfo(
        code=GAPPY,
        name="Gappy synthetic",
        market=Market.NYSE,
        currency="USD",
        tick_table="none",
        source="test",
        synthetic=True,
    )
    MarketData(data_dir).save_bars(symbol, frame)
