"""Adjusted prices by default: the spec's ``adjusted``, which series a run reads, its warnings.

On the offline sample data plus symbols stored here with only raw or only adjusted
prices; the library path (``plan_backtest`` + ``execute_plan``) that the API's worker
and the CLI share.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from privatetrade.data.market_data import MarketData
from privatetrade.data.sample import load_sample_bars
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.result import BacktestResult
from privatetrade.errors import DataError, InputError
from privatetrade.plans.backtest import PriceSeries, execute_plan, plan_backtest, price_series

SPLIT_DAY = dt.date(2005, 2, 28)  # AAPL's 2:1 split in the sample data
AROUND_SPLIT = {"start": "2005-01-03", "end": "2005-12-30"}  # bought at about $65 raw


def store_only(data: MarketData, code: str, kind: PriceKind, frame: pd.DataFrame) -> None:
    symbol = SymbolInfo(
        code=code, name=code, market=Market.NASDAQ, currency="USD", tick_table="us",
        source="import",
    )  # fmt: skip
    data.save_bars(symbol, frame[["open", "high", "low", "close", "volume"]], kind=kind)


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> MarketData:
    data = MarketData(tmp_path_factory.mktemp("prices") / "data")
    data.ensure_samples()
    aapl = load_sample_bars("AAPL")
    store_only(data, "RAWAAPL", PriceKind.RAW, aapl)  # AAPL as a raw import would store it
    store_only(data, "ADJONLY", PriceKind.ADJUSTED, aapl)
    return data


def spec(**fields: Any) -> BacktestSpec:
    return BacktestSpec.model_validate({"symbol": "AAPL", **fields})


def run(data: MarketData, **fields: Any) -> BacktestResult:
    return execute_plan(plan_backtest(spec(**fields), data))


def exits_on(result: BacktestResult, day: dt.date) -> list[dict[str, Any]]:
    return [t for t in result.trade_records() if t["exit_time"][:10] == day.isoformat()]


# ---------------------------------------------------------------------- the spec


# A spec as the jobs table stored it before adjusted prices were the default.
EARLIER_SPEC = (
    '{"adjusted":false,"allow_short":false,"benchmark":null,"capital":null,'
    '"close_at_end":true,"costs":"auto","end":"2005-12-30","fill_at":"next_open",'
    '"params":{},"risk_free_rate":0.0,"sizing":{"mode":"all_in","value":null},'
    '"start":"2005-01-03","stops":{"stop_loss":null,"take_profit":null,'
    '"trailing_stop":null},"strategy":"buy_and_hold","symbol":"AAPL"}'
)


def test_adjusted_prices_are_the_default() -> None:
    assert spec().adjusted is True
    assert '"adjusted":true' in spec().canonical_json()
    field = BacktestSpec.model_json_schema()["properties"]["adjusted"]
    assert (field["type"], field["default"]) == ("boolean", True)


def test_a_stored_spec_keeps_its_raw_prices(market_data: MarketData) -> None:
    earlier = BacktestSpec.from_json(EARLIER_SPEC)
    assert earlier.adjusted is False
    assert earlier.canonical_json() == EARLIER_SPEC  # served and fingerprinted as before
    plan = plan_backtest(earlier, market_data)
    assert plan.data_info.adjusted is False
    assert plan.bars["close"].iloc[0] == load_sample_bars("AAPL").loc["2005-01-03", "close"]


def test_a_choice_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ValidationError, match="adjusted"):
        spec(adjusted="sometimes")


# ---------------------------------------------------------------------- which series


@pytest.mark.parametrize(
    ("symbol", "adjusted", "series"),
    [
        ("AAPL", True, PriceSeries(adjusted=True)),
        ("AAPL", False, PriceSeries(adjusted=False)),
        ("DEMO01", True, PriceSeries(adjusted=True)),  # synthetic: raw = adjusted
        ("DEMO01", False, PriceSeries(adjusted=False)),
        ("RAWAAPL", True, PriceSeries(adjusted=False, fallback=True)),
        ("RAWAAPL", False, PriceSeries(adjusted=False)),
        ("ADJONLY", True, PriceSeries(adjusted=True)),
        ("ADJONLY", False, None),
    ],
)
def test_the_series_a_run_reads(
    market_data: MarketData, symbol: str, adjusted: bool, series: PriceSeries | None
) -> None:
    found = market_data.symbol(symbol)
    assert price_series(market_data, found, spec(symbol=symbol, adjusted=adjusted)) == series


def test_raw_prices_of_a_symbol_without_them_name_the_field(market_data: MarketData) -> None:
    with pytest.raises(
        InputError, match=r"no raw prices stored for ADJONLY \(stored: adjusted\)"
    ) as e:
        plan_backtest(spec(symbol="ADJONLY", adjusted=False), market_data)
    assert e.value.field == "adjusted"
    with pytest.raises(InputError) as bench:
        plan_backtest(spec(benchmark="ADJONLY", adjusted=False), market_data)
    assert bench.value.field == "benchmark"


def test_market_data_reads_adjusted_bars_by_default(market_data: MarketData) -> None:
    adjusted = market_data.bars("AAPL", dt.date(2005, 2, 25), dt.date(2005, 2, 28))
    raw = market_data.bars("AAPL", dt.date(2005, 2, 25), dt.date(2005, 2, 28), adjusted=False)
    source = load_sample_bars("AAPL").loc["2005-02-25":"2005-02-28"]
    assert adjusted["close"].tolist() == pytest.approx(source["adj_close"].tolist())
    assert raw["close"].tolist() == source["close"].tolist()
    assert market_data.bars("DEMO01").equals(market_data.bars("DEMO01", adjusted=False))
    with pytest.raises(DataError, match=r"no adjusted bars stored for RAWAAPL.*adjusted=False"):
        market_data.bars("RAWAAPL")


# ---------------------------------------------------------------------- the AAPL split case


def test_the_default_run_holds_aapl_through_its_split(market_data: MarketData) -> None:
    result = run(market_data, strategy="buy_and_hold", stops={"stop_loss": 0.2}, **AROUND_SPLIT)
    closes = load_sample_bars("AAPL").loc[AROUND_SPLIT["start"] : AROUND_SPLIT["end"]]
    expected = closes["adj_close"].iloc[-1] / closes["adj_close"].iloc[0] - 1
    assert result.metrics.buy_and_hold_return == pytest.approx(expected, rel=1e-9)
    assert result.data_info.adjusted is True
    assert exits_on(result, SPLIT_DAY) == []
    assert not [w for w in result.warnings if "split" in w]


def test_a_raw_run_books_the_split_and_says_so(market_data: MarketData) -> None:
    result = run(
        market_data,
        strategy="buy_and_hold",
        stops={"stop_loss": 0.2},
        adjusted=False,
        **AROUND_SPLIT,
    )
    closes = load_sample_bars("AAPL").loc[AROUND_SPLIT["start"] : AROUND_SPLIT["end"]]
    assert result.metrics.buy_and_hold_return == pytest.approx(
        closes["close"].iloc[-1] / closes["close"].iloc[0] - 1, rel=1e-9
    )
    assert [t["exit_reason"] for t in exits_on(result, SPLIT_DAY)] == ["stop_loss"]
    assert result.data_info.adjusted is False
    split = [w for w in result.warnings if "split" in w]
    assert len(split) == 1
    assert "2:1 split on 2005-02-28 in raw prices" in split[0]
    assert "use adjusted prices" in split[0]
    assert result.warnings[0] == split[0]  # data warnings come before the metrics' own
    assert result.to_dict()["warnings"] == result.warnings


def test_raw_prices_name_every_split_and_the_unexplained_jump(market_data: MarketData) -> None:
    warnings = run(market_data, adjusted=False).warnings  # 2000-03-01 .. 2013-03-01
    assert any("2000-06-21 (2:1), 2005-02-28 (2:1)" in w for w in warnings)
    jumps = [w for w in warnings if "jump beyond 50% in a day" in w]
    assert len(jumps) == 1
    assert "on 2000-09-29," in jumps[0]
    assert not [w for w in run(market_data).warnings if "split" in w or "jump" in w]


def test_a_range_without_the_split_has_no_split_warning(market_data: MarketData) -> None:
    warnings = run(market_data, adjusted=False, start="2006-01-01", end="2007-12-31").warnings
    assert not [w for w in warnings if "split" in w or "jump" in w]


def test_a_symbol_with_only_raw_prices_runs_on_them_and_says_so(market_data: MarketData) -> None:
    plan = plan_backtest(spec(symbol="RAWAAPL", **AROUND_SPLIT), market_data)
    assert plan.data_info.adjusted is False
    assert plan.notes == (
        "no adjusted prices are stored for RAWAAPL: this run used its raw prices, which are "
        "not adjusted for splits and dividends",
    )
    result = execute_plan(plan)
    assert result.warnings[0] == plan.notes[0]
    assert any("split on 2005-02-28" in w for w in result.warnings)
    same = run(market_data, adjusted=False, **AROUND_SPLIT)
    assert result.data_sha256 == same.data_sha256  # the very raw bars of AAPL


def test_a_benchmark_with_only_raw_prices_says_so(market_data: MarketData) -> None:
    plan = plan_backtest(spec(benchmark="RAWAAPL", start="2010-01-01"), market_data)
    assert plan.data_info.adjusted is True
    assert plan.notes == (
        "no adjusted prices are stored for the benchmark RAWAAPL: this run used its raw "
        "prices, which are not adjusted for splits and dividends",
    )
    assert plan.benchmark is not None
    assert (
        plan.benchmark.tolist()
        == market_data.bars("RAWAAPL", dt.date(2010, 1, 1), adjusted=False)["close"].tolist()
    )


def test_synthetic_symbols_run_adjusted_without_warnings(market_data: MarketData) -> None:
    result = run(market_data, symbol="DEMO01", start="2024-01-01")
    assert result.data_info.adjusted is True
    assert not [w for w in result.warnings if "prices" in w or "exchange was closed" in w]


# ---------------------------------------------------------------------- non-session bars


def test_a_bar_on_a_holiday_is_a_warning(market_data: MarketData, tmp_path: Path) -> None:
    """An imported KRX series with a bar on Chuseok (2024-09-16, the exchange closed)."""
    demo = market_data.bars("DEMO01", dt.date(2024, 9, 2), dt.date(2024, 9, 30))
    holiday = demo.loc[["2024-09-13"]].copy()
    holiday.index = pd.DatetimeIndex(["2024-09-16"]).tz_localize("Asia/Seoul")
    frame = pd.concat([demo, holiday]).sort_index()
    symbol = SymbolInfo(code="HOLI", name="holiday bar", market=Market.KOSPI, source="import")
    market_data.save_bars(symbol, frame)
    result = run(market_data, symbol="HOLI", strategy="buy_and_hold")
    closed = [w for w in result.warnings if "exchange was closed" in w]
    assert closed == [
        "1 bar on days the exchange was closed (XKRX calendar): 2024-09-16; check the data"
    ]
    clean = run(market_data, symbol="HOLI", strategy="buy_and_hold", end="2024-09-13")
    assert not [w for w in clean.warnings if "exchange was closed" in w]
