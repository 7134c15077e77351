"""A synthetic KOSPI-style market index of the six demo stocks: the demo's benchmark.

``DEMOIDX`` (합성 KOSPI 데모지수, "Synthetic KOSPI-style Demo Index") is a
capitalization-weighted price index of DEMO01 … DEMO06, like KOSPI: each stock
counts with its fixed number of shares (:attr:`SyntheticProfile.shares`; the demo
stocks have no corporate actions, so the divisor never changes), and the index
closes at 2,000.00 points on the first session, 2016-01-04.

- open and close are the capitalization-weighted opens and closes of the stocks
  (KRX opens every stock in one opening auction);
- high and low are the extremes of a Brownian bridge from the index's open to its
  close (:func:`~privatetrade.data.synthetic.bridge_extremes`), with the intraday
  volatility of the weighted stocks under the synthetic model (their shared market
  factor and their own noise), kept within what the stocks allow: never above the
  index of the stocks' highs, never below the index of their lows;
- volume is the stocks' total volume; prices are index points with two decimals.

An index is a benchmark, not something to trade: its catalog entry has
``kind = index`` and no tick table. Deterministic like the stocks (fixed seeds, the
same arithmetic), byte-identical on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from privatetrade.data.symbols import Market, SymbolInfo, SymbolKind
from privatetrade.data.synthetic import (
    INTRADAY_SHARE,
    MARKET_SIGMA,
    SYNTHETIC_CODES,
    SYNTHETIC_SOURCE,
    SyntheticProfile,
    bridge_extremes,
    market_factor,
    synthetic_bars,
    synthetic_frame,
    synthetic_profiles,
    synthetic_sessions,
    uniforms,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SYNTHETIC_INDEX_BASE",
    "SYNTHETIC_INDEX_CODE",
    "synthetic_index_bars",
    "synthetic_index_symbol",
]

SYNTHETIC_INDEX_CODE = "DEMOIDX"
"""Code of the synthetic index (never a real KRX code: those start with a digit)."""
SYNTHETIC_INDEX_BASE = 2000.0
"""The index's close on its first session, in points."""

_INDEX_SEED = 160_199
_DRAWS_PER_DAY = 2


def synthetic_index_symbol() -> SymbolInfo:
    """Return the catalog entry of the synthetic index (``kind = index``, synthetic)."""
    return SymbolInfo(
        code=SYNTHETIC_INDEX_CODE,
        name="합성 KOSPI 데모지수",
        name_en="Synthetic KOSPI-style Demo Index",
        market=Market.KOSPI,
        currency="KRW",
        lot_size=1,
        tick_table="none",
        status="listed",
        source=SYNTHETIC_SOURCE,
        synthetic=True,
        kind=SymbolKind.INDEX,
    )


def synthetic_index_bars(stocks: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Return the daily bars of the synthetic index.

    Args:
        stocks: The demo stocks' bars by code, as :func:`synthetic_bars` returns
            them (generated when None; pass them to avoid generating them twice).

    Returns:
        Float columns open, high, low, close, volume in index points, on the same
        sessions as the stocks (midnight Asia/Seoul).
    """
    frames = dict(stocks) if stocks is not None else {}
    for code in SYNTHETIC_CODES:
        if code not in frames:
            frames[code] = synthetic_bars(code)
    days = synthetic_sessions()
    profiles = synthetic_profiles()
    columns = {
        name: [frames[p.code][name].to_numpy(dtype=np.float64).tolist() for p in profiles]
        for name in ("open", "high", "low", "close", "volume")
    }
    return synthetic_frame(days, _index_columns(profiles, columns, len(days)))


def _points(value: float) -> float:
    """Round to the hundredth of a point (the published precision of KRX indices)."""
    return math.floor(value * 100.0 + 0.5) / 100.0


def _weighted(shares: list[int], prices: list[list[float]], i: int, divisor: float) -> float:
    total = 0.0
    for count, series in zip(shares, prices, strict=True):
        total += count * series[i]
    return total / divisor


def _spread_fraction(profiles: tuple[SyntheticProfile, ...], caps: list[float]) -> float:
    """Daily standard deviation of the cap-weighted stocks' return (scale 1)."""
    total = sum(caps)
    beta = 0.0
    own = 0.0
    for profile, cap in zip(profiles, caps, strict=True):
        weight = cap / total
        common = profile.beta * MARKET_SIGMA
        beta += weight * profile.beta
        own += weight * weight * (profile.sigma * profile.sigma - common * common)
    market = beta * MARKET_SIGMA
    return math.sqrt(market * market + own)


def _index_columns(
    profiles: tuple[SyntheticProfile, ...], stocks: dict[str, list[list[float]]], n: int
) -> dict[str, list[float]]:
    shares = [profile.shares for profile in profiles]
    closes = stocks["close"]
    divisor = _weighted(shares, closes, 0, 1.0) / SYNTHETIC_INDEX_BASE
    draws = uniforms(
        np.random.default_rng(_INDEX_SEED).bit_generator.random_raw(n * _DRAWS_PER_DAY).tolist()
    )
    scales = market_factor(n).scale
    columns: dict[str, list[float]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
    for i in range(n):
        open_ = _points(_weighted(shares, stocks["open"], i, divisor))
        close = _points(_weighted(shares, closes, i, divisor))
        ceiling = _points(_weighted(shares, stocks["high"], i, divisor))
        floor = _points(_weighted(shares, stocks["low"], i, divisor))
        base = [count * series[max(i - 1, 0)] for count, series in zip(shares, closes, strict=True)]
        spread = open_ * _spread_fraction(profiles, base) * INTRADAY_SHARE * scales[i]
        top, bottom = bridge_extremes(open_, close, spread, draws[2 * i], draws[2 * i + 1])
        columns["open"].append(open_)
        columns["close"].append(close)
        columns["high"].append(min(max(_points(top), open_, close), ceiling))
        columns["low"].append(max(min(_points(bottom), open_, close), floor))
        columns["volume"].append(sum(series[i] for series in stocks["volume"]))
    return columns
