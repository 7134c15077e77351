"""The run plan: a spec and the catalog resolved once into everything the engine runs.

On the offline sample data (US stocks in USD, synthetic KRX stocks in KRW); nothing
runs a server. Every entry point (API, worker, CLI, smoke) goes through these functions,
so what is pinned here holds on each of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.market_data import MarketData
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.costs import CostModel, resolve_costs
from privatetrade.engine.result import DataInfo
from privatetrade.engine.settings import SimulationSettings, Sizing, Stops
from privatetrade.errors import ConfigurationError, InputError, ParameterError
from privatetrade.plans.backtest import (
    CostOverrides,
    Instrument,
    default_capital,
    execute_plan,
    plan_backtest,
    plan_on_bars,
    preset_costs,
    resolve_settings,
)

USD = Instrument("USD")
KOSPI = Instrument("KRW", "KOSPI")


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> MarketData:
    data = MarketData(tmp_path_factory.mktemp("plans") / "data")
    data.ensure_samples()
    return data


def spec(**fields: Any) -> BacktestSpec:
    body = {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
    return BacktestSpec.model_validate({**body, **fields})


# ---------------------------------------------------------------------- capital


@pytest.mark.parametrize(
    ("currency", "capital"),
    [("KRW", 10_000_000.0), ("USD", 100_000.0), ("usd", 100_000.0), ("JPY", 10_000_000.0)],
)
def test_default_capital_by_currency(currency: str, capital: float) -> None:
    assert default_capital(currency) == capital
    assert resolve_settings(spec(), Instrument(currency)).initial_cash == capital
    assert resolve_settings(spec(capital=5_000), Instrument(currency)).initial_cash == 5_000


@pytest.mark.parametrize(("symbol", "capital"), [("AAPL", 100_000.0), ("DEMO01", 10_000_000.0)])
@pytest.mark.parametrize("costs", ["auto", "krx", "us", "zero"])
def test_a_stored_symbols_default_capital_does_not_depend_on_the_costs(
    market_data: MarketData, symbol: str, capital: float, costs: str
) -> None:
    """Before the run plan, the CLI keyed the default by cost preset, the API by currency."""
    plan = plan_backtest(spec(symbol=symbol, costs=costs), market_data)
    assert plan.settings.initial_cash == capital


# ---------------------------------------------------------------------- costs


@pytest.mark.parametrize(
    ("symbol", "instrument", "preset"),
    [
        ("AAPL", USD, "us"),
        ("DEMO01", KOSPI, "krx"),
        ("DEMO02", Instrument("KRW", "KOSDAQ"), "krx"),
    ],
)
def test_auto_costs_are_the_symbols_market(
    market_data: MarketData, symbol: str, instrument: Instrument, preset: str
) -> None:
    info = market_data.symbol(symbol)
    assert Instrument.of(info) == instrument
    costs = plan_backtest(spec(symbol=symbol), market_data).settings.costs
    assert costs == resolve_costs(preset, instrument.krx_market)
    assert (costs.preset, costs.market) == (preset, instrument.krx_market)


def test_krx_costs_differ_by_market() -> None:
    """KOSPI and KOSDAQ are taxed differently: the market must reach the cost model."""
    kospi = resolve_settings(spec(), KOSPI).costs
    kosdaq = resolve_settings(spec(), Instrument("KRW", "KOSDAQ")).costs
    assert kospi != kosdaq
    assert kospi == resolve_costs("krx", "KOSPI")


@pytest.mark.parametrize(
    ("costs", "instrument", "expected"),
    [
        ("zero", KOSPI, CostModel.zero()),
        ("us", KOSPI, resolve_costs("us")),
        ("krx", USD, resolve_costs("krx", "KOSPI")),  # a KRX preset needs a market: KOSPI
        ("krx", Instrument("KRW", "KONEX"), resolve_costs("krx", "KONEX")),
        (CostModel(commission_rate=0.001), USD, CostModel(commission_rate=0.001)),
    ],
)
def test_chosen_costs_override_the_market(
    costs: Any, instrument: Instrument, expected: CostModel
) -> None:
    assert resolve_settings(spec(costs=costs), instrument).costs == expected


# ---------------------------------------------------------------------- settings


def test_overrides_change_only_their_numbers_of_the_preset() -> None:
    kosdaq = Instrument("KRW", "KOSDAQ")
    preset = preset_costs("auto", kosdaq)
    assert preset == CostModel.krx("KOSDAQ")
    overrides = CostOverrides(
        commission_rate=0.0005, min_commission=100.0, slippage=2.0, slippage_unit="ticks",
        sell_tax_rate=0.0025,
    )  # fmt: skip
    changed = overrides.apply(preset)
    assert changed.commission_rate == 0.0005
    assert changed.min_commission == 100.0
    assert (changed.slippage, changed.slippage_unit) == (2.0, "ticks")
    assert changed.tax_rate_on(dt.date(1990, 1, 1)) == changed.tax_rate_on(dt.date(2030, 1, 1))
    assert changed.tax_rate_on(dt.date(2030, 1, 1)) == 0.0025
    untouched = {"preset", "market", "tick_table", "price_limit", "lot_size", "sell_fee_rate"}
    assert changed.model_dump(include=untouched) == preset.model_dump(include=untouched)
    assert CostOverrides().apply(preset) is preset
    assert CostOverrides(commission_rate=0.001).apply(CostModel.us()).tick_table == "us"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (CostOverrides(commission_rate=0.5), "costs.commission_rate"),
        (CostOverrides(min_commission=-1.0), "costs.min_commission"),
        (CostOverrides(slippage=float("nan")), "costs.slippage"),
        (CostOverrides(sell_tax_rate=0.2), "costs.sell_tax_rate"),
    ],
)
def test_overrides_out_of_bounds_name_their_field(overrides: CostOverrides, field: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        overrides.apply(CostModel.krx())
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert "CostModel" not in str(raised.value)


def test_a_cost_model_in_the_spec_is_used_as_given(market_data: MarketData) -> None:
    model = CostOverrides(commission_rate=0.001).apply(preset_costs("auto", KOSPI))
    plan = plan_backtest(spec(symbol="DEMO01", costs=model.model_dump(mode="json")), market_data)
    assert plan.settings.costs == model


@pytest.mark.parametrize(
    ("costs", "message"),
    [
        ("kr", "unknown cost preset 'kr'; use auto, krx, us, zero or a cost model object"),
        (5, "use a cost preset (auto, krx, us, zero) or a cost model object"),
    ],
)
def test_an_unknown_cost_choice_is_named_without_class_names(costs: Any, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        spec(costs=costs)
    assert raised.value.errors()[0]["msg"] == f"Value error, {message}"


def test_every_trading_choice_of_the_spec_reaches_the_settings() -> None:
    chosen = spec(
        capital=250_000,
        costs="us",
        sizing={"mode": "fraction", "value": 0.5},
        stops={"stop_loss": 0.05, "take_profit": 0.2, "trailing_stop": 0.1},
        fill_at="close",
        allow_short=True,
        close_at_end=False,
        risk_free_rate=0.03,
    )
    assert resolve_settings(chosen, USD) == SimulationSettings(
        initial_cash=250_000,
        costs=resolve_costs("us"),
        sizing=Sizing(mode="fraction", value=0.5),
        stops=Stops(stop_loss=0.05, take_profit=0.2, trailing_stop=0.1),
        fill_at="close",
        allow_short=True,
        close_at_end=False,
        risk_free_rate=0.03,
    )


def test_risk_free_rate_reaches_the_metrics(market_data: MarketData) -> None:
    """The bug this plan fixed: the worker dropped the rate, so every Sharpe used 0."""
    without = plan_backtest(spec(), market_data)
    with_rate = plan_backtest(spec(risk_free_rate=0.05), market_data)
    assert (without.settings.risk_free_rate, with_rate.settings.risk_free_rate) == (0.0, 0.05)
    plain, rated = execute_plan(without).metrics, execute_plan(with_rate).metrics
    assert rated.total_return == plain.total_return  # the same trades ...
    assert plain.sharpe is not None
    assert rated.sharpe is not None
    assert rated.sharpe < plain.sharpe  # ... judged against a 5% rate


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"risk_free_rate": 5.0}, "risk_free_rate"),
        ({"capital": -1.0}, "capital"),
        ({"fill_at": "midday"}, "fill_at"),
    ],
)
def test_settings_errors_name_the_spec_field(update: dict[str, Any], field: str) -> None:
    unchecked = spec().model_copy(update=update)  # as if the spec had not been validated
    with pytest.raises(ConfigurationError) as raised:
        resolve_settings(unchecked, USD)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


# ---------------------------------------------------------------------- stored symbols


def test_plan_normalizes_codes_and_selects_the_bars(market_data: MarketData) -> None:
    asked = spec(symbol="aapl", benchmark="msft", start="2010-01-01", end="2010-12-31")
    plan = plan_backtest(asked, market_data)
    assert plan.spec == asked.model_copy(update={"symbol": "AAPL", "benchmark": "MSFT"})
    assert plan.bar_count == 252
    assert plan.bars.index[0].date() == dt.date(2010, 1, 4)
    assert plan.bars.index[-1].date() == dt.date(2010, 12, 31)
    assert plan.benchmark is not None
    assert len(plan.benchmark) == 252
    assert plan.data_info == DataInfo(symbol="AAPL", source="sample", adjusted=True)
    assert plan.strategy.name == "sma_cross"


@pytest.mark.parametrize(
    ("update", "field", "error"),
    [
        ({"symbol": "NOSUCH"}, "symbol", InputError),
        ({"benchmark": "NOSUCH"}, "benchmark", InputError),
        ({"strategy": "no_such_strategy"}, "strategy", InputError),
        ({"params": {"fast": 30, "slow": 10}}, "params.fast", ParameterError),
        ({"params": {"speed": 3}}, "params.speed", ParameterError),
        ({"params": {"fast": "x"}}, "params.fast", ParameterError),
        ({"start": "2030-01-01"}, "start", InputError),
        ({"end": "1990-01-01"}, "end", InputError),
        ({"start": "2013-03-02", "end": "2013-03-05"}, "start", InputError),
    ],
)
def test_plan_errors_name_the_spec_field(
    market_data: MarketData, update: dict[str, Any], field: str, error: type[InputError]
) -> None:
    with pytest.raises(error) as raised:
        plan_backtest(spec(**update), market_data)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            {"symbol": "GOOG", "start": "2020-01-01"},
            "no bars of GOOG between 2020-01-01 and the last bar; stored: 2004-08-19 to 2013-03-01",
        ),
        (
            {"symbol": "DEMO01", "end": "2000-01-01"},
            "no bars of DEMO01 between the first bar and 2000-01-01; "
            "stored: 2016-01-04 to 2025-12-30",
        ),
        (
            {"symbol": "goog", "start": "2013-03-02", "end": "2013-03-05"},
            "no bars of GOOG between 2013-03-02 and 2013-03-05; stored: 2004-08-19 to 2013-03-01",
        ),
    ],
)
def test_an_empty_range_names_the_stored_range(
    market_data: MarketData, update: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError) as raised:
        plan_backtest(spec(**update), market_data)
    assert str(raised.value) == message


def test_too_many_bars_blame_the_start(market_data: MarketData) -> None:
    with pytest.raises(InputError, match=r"3,270 bars .* the limit is 3,000") as raised:
        plan_backtest(spec(), market_data, max_bars=3_000)
    assert raised.value.field == "start"
    assert plan_backtest(spec(), market_data, max_bars=3_270).bar_count == 3_270


# ---------------------------------------------------------------------- bars the caller brings


def seoul_bars(days: int = 9) -> pd.DataFrame:
    """Daily bars stamped 00:30 in Seoul: the UTC date is the day before the local one."""
    local = pd.date_range("2024-01-02 00:30", periods=days, freq="D", tz="Asia/Seoul")
    close = 100.0 + 10.0 * np.sin(np.arange(days) / 3.0)  # rises and falls: SMAs cross
    frame = {"open": close, "high": close + 1, "low": close - 1, "close": close}
    return pd.DataFrame({**frame, "volume": 1_000.0}, index=local.rename("time"))


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        (None, None, "2024-01-02", "2024-01-10"),
        ("2024-01-04", None, "2024-01-04", "2024-01-10"),
        (None, "2024-01-05", "2024-01-02", "2024-01-05"),
        ("2024-01-04", "2024-01-04", "2024-01-04", "2024-01-04"),
        ("2023-12-01", "2030-01-01", "2024-01-02", "2024-01-10"),
    ],
)
def test_plan_on_bars_selects_local_dates_inclusively(
    start: str | None, end: str | None, first: str, last: str
) -> None:
    info = DataInfo(symbol="prices.csv", source="csv", adjusted=None)
    plan = plan_on_bars(spec(symbol="prices", start=start, end=end), seoul_bars(), KOSPI, info)
    local_dates = [stamp.date().isoformat() for stamp in plan.bars.index]
    assert (local_dates[0], local_dates[-1]) == (first, last)
    assert len(local_dates) == (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1
    assert plan.spec.symbol == "prices"  # a label, not looked up
    assert plan.benchmark is None
    assert plan.data_info == info
    assert plan.settings == resolve_settings(plan.spec, KOSPI)


def test_plan_on_bars_without_bars_in_the_range_blames_the_start() -> None:
    info = DataInfo(symbol="prices.csv", source="csv", adjusted=None)
    empty = spec(start="2025-01-01")
    with pytest.raises(InputError) as raised:
        plan_on_bars(empty, seoul_bars(), KOSPI, info)
    assert raised.value.field == "start"
    assert str(raised.value) == (
        "no bars of prices.csv between 2025-01-01 and the last bar; "
        "stored: 2024-01-02 to 2024-01-10"
    )
    with pytest.raises(ParameterError) as bad_params:
        plan_on_bars(spec(params={"fast": 0}), seoul_bars(), KOSPI, info)
    assert bad_params.value.field == "params.fast"


def test_a_plan_on_bars_runs_with_its_settings() -> None:
    info = DataInfo(symbol="prices.csv", source="csv", adjusted=None)
    plan = plan_on_bars(spec(params={"fast": 2, "slow": 3}), seoul_bars(30), KOSPI, info)
    stages: list[str] = []
    result = execute_plan(plan, stage=lambda stage, _fraction: stages.append(stage))
    assert len(result.prepared) == 30
    assert result.metrics.trade_count >= 1
    assert result.settings == plan.settings
    assert result.settings.initial_cash == 10_000_000.0
    assert set(stages) == {"simulating"}
