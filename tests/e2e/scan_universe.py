"""A data directory with many symbols of minute bars: a scan of them runs for seconds.

The bars of ``SLOW000`` are written once and its Parquet folder copied for the other
codes (identical bars under other names), so the fixture costs about a second.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

SLOW_PREFIX = "SLOW"
SLOW_BARS = 150_000


def slow_codes(count: int) -> list[str]:
    """The codes of the slow universe, in order."""
    return [f"{SLOW_PREFIX}{index:03d}" for index in range(count)]


def add_slow_universe(data_dir: Path, count: int, bars: int = SLOW_BARS, seed: int = 11) -> None:
    """Store ``count`` NYSE symbols (USD) of ``bars`` minute bars each in ``data_dir``."""
    import numpy as np
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.0003, bars)) * close
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.integers(100, 10_000, bars).astype(float),
        },
        index=pd.date_range("2021-01-04", periods=bars, freq="min", tz="UTC", name="time"),
    )
    codes = slow_codes(count)
    data = MarketData(data_dir)
    first = SymbolInfo(
        code=codes[0], name="Slow synthetic 0", market=Market.NYSE, currency="USD",
        tick_table="none", source="test", synthetic=True,
    )  # fmt: skip
    stored = data.save_bars(first, frame)
    folder = data.store.path(codes[0]).parent
    others = []
    for index, code in enumerate(codes[1:], start=1):
        shutil.copytree(folder, folder.parent / code)
        others.append(dataclasses.replace(stored, code=code, name=f"Slow synthetic {index}"))
    data.catalog.upsert(others)
