"""Portfolio backtests planned on the catalog: universe, rule, costs per market, benchmark."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from privatetrade.data.market_data import MarketData
from privatetrade.domain.portfolio import PortfolioSpec
from privatetrade.engine.costs import resolve_costs
from privatetrade.errors import InputError
from privatetrade.plans.portfolio import execute_portfolio, load_bars, plan_portfolio


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> MarketData:
    data = MarketData(tmp_path_factory.mktemp("portfolio-plans") / "data")
    data.ensure_samples()
    return data


def spec(**fields: Any) -> PortfolioSpec:
    return PortfolioSpec.model_validate({"symbols": ["DEMO01", "DEMO02"], **fields})


def test_auto_costs_follow_each_symbols_market(market_data: MarketData) -> None:
    plan = plan_portfolio(spec(), market_data)
    assert plan.symbol_costs is not None
    assert plan.symbol_costs["DEMO01"] == resolve_costs("krx", "KOSPI")
    assert plan.symbol_costs["DEMO02"] == resolve_costs("krx", "KOSDAQ")
    assert plan.settings.initial_cash == 10_000_000.0
    one_market = plan_portfolio(spec(symbols=["DEMO01", "DEMO03"]), market_data)
    assert one_market.symbol_costs is None  # one model serves both
    assert one_market.settings.costs == resolve_costs("krx", "KOSPI")
    us = plan_portfolio(spec(symbols=["AAPL", "IBM"], capital=50_000), market_data)
    assert us.settings.costs == resolve_costs("us")
    assert us.settings.initial_cash == 50_000


def test_codes_and_weights_take_the_catalogs_spelling(market_data: MarketData) -> None:
    rule = {"rule": "fixed_weights", "weights": {"demo01": 0.4, "DEMO02": 0.5}}
    plan = plan_portfolio(spec(symbols=["demo01", "demo02"], rule=rule), market_data)
    assert plan.spec.symbols == ["DEMO01", "DEMO02"]
    assert plan.spec.rule.weights == {"DEMO01": 0.4, "DEMO02": 0.5}
    market = plan_portfolio(spec(symbols=None, market="KOSDAQ"), market_data)
    assert market.universe.codes == ["DEMO02", "DEMO04", "DEMO06"]
    assert market.spec.symbols is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"symbols": ["DEMO01", "GOOG"]}, "symbols"),
        ({"symbols": ["FB"], "end": "2011-12-31"}, "symbols"),
        ({"rule": {"rule": "fixed_weights", "weights": {"DEMO03": 0.5}}}, "rule.weights"),
        ({"rule": {"rule": "signals", "strategy": "nope"}}, "rule.strategy"),
        (
            {"rule": {"rule": "top_n_signal", "top": 1, "strategy": "sma_cross",
                      "params": {"fast": 50, "slow": 10}}},
            "rule.params",
        ),
        ({"benchmark": "NOPE99"}, "benchmark"),
    ],
)  # fmt: skip
def test_a_bad_portfolio_names_the_field(
    market_data: MarketData, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as caught:
        plan_portfolio(spec(**fields), market_data)
    assert (caught.value.field or "").startswith(field)


def test_the_plan_runs_on_the_bars_of_the_period(market_data: MarketData) -> None:
    plan = plan_portfolio(
        spec(start="2020-01-01", end="2021-12-31", benchmark="DEMOIDX"), market_data
    )
    bars, benchmark = load_bars(plan, market_data)
    assert list(bars) == ["DEMO01", "DEMO02"]
    for code, prepared in bars.items():
        days = prepared.local_time_ns.astype("datetime64[ns]").astype("datetime64[D]")
        expected = market_data.bars(code, dt.date(2020, 1, 1), dt.date(2021, 12, 31))
        assert str(days[0]) == str(expected.index[0].date()) >= "2020-01-01"
        assert str(days[-1]) == str(expected.index[-1].date()) <= "2021-12-31"
        assert prepared.tz == "Asia/Seoul"
        assert np.array_equal(prepared.bars.close, expected["close"].to_numpy())
    assert benchmark is not None
    result = execute_portfolio(plan, bars, benchmark)
    document = result.to_dict()
    assert document["spec"]["symbols"] == ["DEMO01", "DEMO02"]
    assert document["spec"]["benchmark"] == "DEMOIDX"
    assert set(document["spec"]["settings"]["costs"]) == {"DEMO01", "DEMO02"}
    assert document["data"]["symbols"][0]["source"] == "synthetic"
    assert result.metrics.trade_count > 0
