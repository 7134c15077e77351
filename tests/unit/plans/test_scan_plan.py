"""Universe scans planned on the catalog: which symbols, which settings, which errors.

On the offline sample data (US stocks in USD, synthetic KRX stocks in KRW, the
synthetic index DEMOIDX) plus a symbol stored with adjusted prices only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.domain.scan import ScanSpec
from privatetrade.domain.universe import MARKETS
from privatetrade.errors import InputError
from privatetrade.plans.backtest import Instrument, resolve_settings
from privatetrade.plans.scan import plan_scan
from privatetrade.research.scan import run_scan

ONLY_ADJUSTED = "ADJONLY"


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> MarketData:
    data = MarketData(tmp_path_factory.mktemp("scan-plans") / "data")
    data.ensure_samples()
    days = pd.bdate_range("2012-01-02", periods=300, tz="America/New_York", name="time")
    close = 50.0 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, len(days))))
    frame = pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e5},
        index=days,
    )
    symbol = SymbolInfo(
        code=ONLY_ADJUSTED, name="Adjusted only", market=Market.NYSE, currency="USD",
        tick_table="us", source="test",
    )  # fmt: skip
    data.save_bars(symbol, frame, kind=PriceKind.ADJUSTED)
    return data


def scan_spec(**fields: Any) -> ScanSpec:
    return ScanSpec.model_validate({"params": {"fast": 5, "slow": 20}, **fields})


def test_the_spec_knows_every_market_of_the_catalog() -> None:
    assert set(MARKETS) == {market.value for market in Market}


def test_listed_symbols_keep_their_order_and_the_catalogs_spelling(
    market_data: MarketData,
) -> None:
    plan = plan_scan(scan_spec(symbols=["demo02", "DEMO01", "demo05"]), market_data)
    assert plan.spec.symbols == ["DEMO02", "DEMO01", "DEMO05"]
    assert [symbol.code for symbol in plan.problem.symbols] == ["DEMO02", "DEMO01", "DEMO05"]
    assert plan.universe.currency == "KRW"


def test_a_market_is_its_stocks_with_prices_over_the_period(market_data: MarketData) -> None:
    kosdaq = plan_scan(scan_spec(market="kosdaq"), market_data)
    assert [s.code for s in kosdaq.problem.symbols] == ["DEMO02", "DEMO04", "DEMO06"]
    assert kosdaq.spec.market == "KOSDAQ"
    assert kosdaq.spec.symbols is None
    kospi = plan_scan(scan_spec(market="KOSPI"), market_data)
    assert "DEMOIDX" not in [s.code for s in kospi.problem.symbols]  # an index is no stock
    before_facebook = plan_scan(scan_spec(market="NASDAQ", end="2011-12-31"), market_data)
    assert [s.code for s in before_facebook.problem.symbols] == ["AAPL", "GOOG", "MSFT"]
    with_facebook = plan_scan(scan_spec(market="NASDAQ", start="2012-06-01"), market_data)
    assert "FB" in [s.code for s in with_facebook.problem.symbols]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"symbols": ["DEMO01", "AAPL"]}, "symbols", "one quote currency"),
        ({"symbols": ["DEMO01", "NOPE99"]}, "symbols", "NOPE99"),
        ({"symbols": ["DEMOIDX"]}, "symbols", "index"),
        ({"market": "KONEX"}, "market", "no KONEX stock"),
        ({"market": "NASDAQ", "start": "2020-01-01"}, "market", "2020-01-01"),
        ({"symbols": ["DEMO01"], "params": {"fast": 0}}, "params.fast", "fast"),
        ({"symbols": ["DEMO01"], "strategy": "nope"}, "strategy", "nope"),
    ],
)
def test_a_bad_universe_or_strategy_names_the_field(
    market_data: MarketData, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        plan_scan(scan_spec(**fields), market_data)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_the_symbol_limit_is_checked_for_lists_and_markets(market_data: MarketData) -> None:
    with pytest.raises(InputError, match="the limit is 2") as listed:
        plan_scan(scan_spec(symbols=["DEMO01", "DEMO03", "DEMO05"]), market_data, max_symbols=2)
    assert listed.value.field == "symbols"
    with pytest.raises(InputError, match="the limit is 2") as market:
        plan_scan(scan_spec(market="KOSDAQ"), market_data, max_symbols=2)
    assert market.value.field == "market"
    assert len(plan_scan(scan_spec(market="KOSDAQ"), market_data, max_symbols=3).universe) == 3


def test_each_symbol_gets_the_settings_of_its_own_full_backtest(
    market_data: MarketData,
) -> None:
    """KOSPI and KOSDAQ differ in sell tax and tick table: auto costs follow each symbol."""
    plan = plan_scan(scan_spec(symbols=["DEMO01", "DEMO02"], capital=5e6), market_data)
    by_code = {s.code: plan.problem.settings[s.settings] for s in plan.problem.symbols}
    for code in ("DEMO01", "DEMO02"):
        symbol = market_data.symbol(code)
        expected = resolve_settings(plan.spec.backtest_spec(code), Instrument.of(symbol))
        assert by_code[code] == expected
    assert by_code["DEMO01"].costs != by_code["DEMO02"].costs
    assert by_code["DEMO01"].initial_cash == 5e6


def test_symbols_without_usable_bars_are_rows_with_an_error(market_data: MarketData) -> None:
    raw = plan_scan(scan_spec(symbols=["AAPL", ONLY_ADJUSTED], adjusted=False), market_data)
    rows = {row["symbol"]: row for row in run_scan(raw.problem).rows}
    assert rows["AAPL"]["error"] is None
    assert rows["AAPL"]["trades"] > 0
    assert "no raw prices stored" in rows[ONLY_ADJUSTED]["error"]
    assert rows[ONLY_ADJUSTED]["sharpe"] is None

    early = plan_scan(scan_spec(symbols=["AAPL", "FB"], end="2011-12-31"), market_data)
    rows = {row["symbol"]: row for row in run_scan(early.problem).rows}
    assert rows["AAPL"]["error"] is None
    assert "no bars of FB" in rows["FB"]["error"]
    assert "2012-05-18" in rows["FB"]["error"]  # says what is stored

    one_day = plan_scan(
        scan_spec(symbols=["DEMO01"], start="2016-01-04", end="2016-01-04"), market_data
    )
    (row,) = run_scan(one_day.problem).rows
    assert row["bars"] == 1
    assert "at least two" in row["error"]


def test_a_row_links_to_the_full_backtest_of_its_symbol(market_data: MarketData) -> None:
    spec = scan_spec(market="KOSDAQ", start="2018-01-01", costs="krx", sort="cagr")
    backtest = spec.backtest_spec("DEMO02", benchmark="DEMOIDX")
    assert backtest.symbol == "DEMO02"
    assert backtest.benchmark == "DEMOIDX"
    assert backtest.start == dt.date(2018, 1, 1)
    assert backtest.costs == "krx"
    assert backtest.params == {"fast": 5, "slow": 20}


def test_a_universe_spec_refuses_both_or_neither_and_repeats() -> None:
    from pydantic import ValidationError

    for fields in ({}, {"symbols": ["A"], "market": "KOSPI"}, {"symbols": ["A", "a"]}):
        with pytest.raises(ValidationError) as caught:
            ScanSpec.model_validate(fields)
        assert caught.value.errors()[0]["loc"] == ("symbols",)
    with pytest.raises(ValidationError):
        ScanSpec.model_validate({"symbols": [f"S{i}" for i in range(2_001)]})
