"""The synthetic KOSPI-style index DEMOIDX: built from the demo stocks, marked as an index."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.calendar import krx_sessions
from privatetrade.data.quality import quality_report
from privatetrade.data.symbols import Market, SymbolKind
from privatetrade.data.synthetic import (
    SYNTHETIC_CODES,
    SYNTHETIC_END,
    SYNTHETIC_START,
    synthetic_bars,
    synthetic_profiles,
)
from privatetrade.data.synthetic_index import (
    SYNTHETIC_INDEX_BASE,
    SYNTHETIC_INDEX_CODE,
    synthetic_index_bars,
    synthetic_index_symbol,
)
from privatetrade.engine.bars import prepare_bars


@pytest.fixture(scope="module")
def stocks() -> dict[str, pd.DataFrame]:
    return {code: synthetic_bars(code) for code in SYNTHETIC_CODES}


@pytest.fixture(scope="module")
def index(stocks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return synthetic_index_bars(stocks)


def weighted(stocks: dict[str, pd.DataFrame], column: str) -> np.ndarray:
    """Shares-weighted sum of one column over the stocks, in won."""
    return sum(
        profile.shares * stocks[profile.code][column].to_numpy() for profile in synthetic_profiles()
    )


def test_the_index_says_it_is_a_synthetic_index() -> None:
    symbol = synthetic_index_symbol()
    assert symbol.code == SYNTHETIC_INDEX_CODE == "DEMOIDX"
    assert not re.fullmatch(r"\d{6}", symbol.code)
    assert "합성" in symbol.name
    assert symbol.name_en is not None
    assert "Synthetic" in symbol.name_en
    assert (symbol.kind, symbol.is_index, symbol.synthetic) == (SymbolKind.INDEX, True, True)
    assert (symbol.market, symbol.currency, symbol.tick_table, symbol.source) == (
        Market.KOSPI,
        "KRW",
        "none",
        "synthetic",
    )


def test_open_and_close_are_the_cap_weighted_stocks(
    stocks: dict[str, pd.DataFrame], index: pd.DataFrame
) -> None:
    divisor = weighted(stocks, "close")[0] / SYNTHETIC_INDEX_BASE
    for column in ("open", "close"):
        expected = weighted(stocks, column) / divisor
        np.testing.assert_allclose(index[column].to_numpy(), expected, atol=0.005 + 1e-9)
    assert index["close"].iloc[0] == SYNTHETIC_INDEX_BASE
    volume = sum(frame["volume"].to_numpy() for frame in stocks.values())
    np.testing.assert_array_equal(index["volume"].to_numpy(), volume)


def test_high_and_low_bracket_the_day_within_the_stocks_bounds(
    stocks: dict[str, pd.DataFrame], index: pd.DataFrame
) -> None:
    divisor = weighted(stocks, "close")[0] / SYNTHETIC_INDEX_BASE
    o, h, low, c = (index[name].to_numpy() for name in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all()
    assert (low <= np.minimum(o, c)).all()
    # the index can never be higher than all its stocks at their highs (lower: lows)
    assert (h <= weighted(stocks, "high") / divisor + 0.005).all()
    assert (low >= weighted(stocks, "low") / divisor - 0.005).all()
    assert np.mean(h > np.maximum(o, c)) > 0.95  # a real intraday range on most days
    points = index[["open", "high", "low", "close"]].to_numpy()
    np.testing.assert_allclose(points, np.round(points, 2), atol=1e-9)  # hundredths


def test_it_moves_with_its_stocks_more_calmly_than_they_do(
    stocks: dict[str, pd.DataFrame], index: pd.DataFrame
) -> None:
    returns = np.diff(np.log(index["close"].to_numpy()))
    for code, frame in stocks.items():
        own = np.diff(np.log(frame["close"].to_numpy()))
        assert np.corrcoef(returns, own)[0, 1] > 0.2, code
    average = np.mean([np.std(np.diff(np.log(f["close"].to_numpy()))) for f in stocks.values()])
    assert np.std(returns) < average  # diversification


def test_same_sessions_valid_bars_deterministic(
    stocks: dict[str, pd.DataFrame], index: pd.DataFrame
) -> None:
    assert list(pd.DatetimeIndex(index.index).date) == krx_sessions(SYNTHETIC_START, SYNTHETIC_END)
    assert str(pd.DatetimeIndex(index.index).tz) == "Asia/Seoul"
    assert list(index.columns) == ["open", "high", "low", "close", "volume"]
    assert len(prepare_bars(index)) == len(index)
    again = synthetic_index_bars()  # generates the stocks itself
    assert again.to_numpy().tobytes() == index.to_numpy().tobytes()


def test_index_points_are_not_judged_by_the_stock_tick_grid(index: pd.DataFrame) -> None:
    as_stock = quality_report(index, Market.KOSPI)
    as_index = quality_report(index, Market.KOSPI, index=True)
    # Index points have two decimals, so the stock grid flags nearly every day ...
    assert as_stock.off_grid.count > len(index) // 2
    # ... which an index report leaves out, with the session checks intact.
    assert as_index.off_grid.count == 0
    assert as_index.limit_up_locked.count == as_index.limit_down_locked.count == 0
    assert as_index.detected_splits.count == 0
    assert as_index.missing_sessions.count == as_stock.missing_sessions.count == 0
    assert as_index.ok
