"""Builders for portfolio engine tests: several symbols' bars with missing bars, markets.

Plain functions (``from portfolio_builders import book``), so a scenario reads as data:
a price list per symbol with ``None`` where the symbol has no bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from builders import dates_times
from privatetrade.engine.costs import CostModel
from privatetrade.engine.portfolio.align import AlignedBars, align_bars
from privatetrade.engine.portfolio.api import portfolio_market
from privatetrade.engine.portfolio.simulation import PortfolioMarket
from privatetrade.engine.settings import SimulationSettings

Prices = Sequence[float | None]


def symbol_bars(
    dates: Sequence[str],
    close: Prices,
    open_: Prices | None = None,
    high: Prices | None = None,
    low: Prices | None = None,
) -> dict[str, npt.NDArray[np.generic]]:
    """Return one symbol's array bars on the dates where ``close`` is not None.

    Opens default to the closes; highs and lows hug the body unless given.
    """
    rows = [i for i, value in enumerate(close) if value is not None]

    def column(values: Prices | None, fallback: Prices) -> npt.NDArray[np.float64]:
        chosen = fallback if values is None else values
        return np.array([chosen[i] for i in rows], dtype=np.float64)

    c = column(close, close)
    o = column(open_, close)
    h = np.maximum(np.maximum(o, c), column(high, close)) if high is not None else np.maximum(o, c)
    lo = np.minimum(np.minimum(o, c), column(low, close)) if low is not None else np.minimum(o, c)
    return {
        "time": dates_times([dates[i] for i in rows]),
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": np.full(len(rows), 1_000.0),
    }


def book(
    dates: Sequence[str], symbols: Mapping[str, Mapping[str, Prices]]
) -> dict[str, dict[str, npt.NDArray[np.generic]]]:
    """Return ``{symbol: array bars}`` from per-symbol ``close`` (and optional ``open``,
    ``high``, ``low``) lists over ``dates``, ``None`` where the symbol has no bar."""
    return {
        code: symbol_bars(
            dates, prices["close"], prices.get("open"), prices.get("high"), prices.get("low")
        )
        for code, prices in symbols.items()
    }


def market_for(
    bars: Mapping[str, Mapping[str, npt.NDArray[np.generic]]],
    costs: CostModel | Mapping[str, CostModel] | None = None,
    *,
    fill_at: str = "next_open",
    close_at_end: bool = True,
    tz: str = "Asia/Seoul",
) -> tuple[AlignedBars, PortfolioMarket]:
    """Return the aligned bars and the kernel's market for them."""
    aligned = align_bars(bars, tz=tz)
    if isinstance(costs, Mapping):
        models = [costs[code] for code in aligned.symbols]
    else:
        models = [costs or CostModel.zero()] * len(aligned.symbols)
    settings = SimulationSettings(
        initial_cash=1.0, costs=models[0], fill_at=fill_at, close_at_end=close_at_end
    )
    return aligned, portfolio_market(aligned, settings, models)


def assert_records_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    """Assert two record arrays hold the same values field by field (NaN equals NaN)."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    for name in expected.dtype.names or ():
        a, b = actual[name], expected[name]
        equal_nan = np.issubdtype(b.dtype, np.floating)
        assert np.array_equal(a, b, equal_nan=equal_nan), name
