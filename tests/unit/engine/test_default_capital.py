"""One default capital: the library follows the CLI's and the API's rule by currency.

The run plan defaults by the symbol's currency (10,000,000 KRW, 100,000 USD); the
library knows the currency only through its costs: ``us`` means USD, ``krx`` KRW,
and zero or custom costs fall back to 10,000,000.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.sample import load_sample_bars
from privatetrade.engine.api import make_settings
from privatetrade.engine.settings import DEFAULT_CAPITAL, costs_currency, default_capital
from privatetrade.plans import backtest as plans


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return load_sample_bars("GOOG").iloc[:300]


@pytest.mark.parametrize(
    ("costs", "capital"),
    [
        ("us", 100_000.0),
        (pt.CostModel.us(slippage=2.0), 100_000.0),
        ("krx", 10_000_000.0),
        (pt.CostModel.krx("KOSDAQ"), 10_000_000.0),
        ("zero", 10_000_000.0),
        (None, 10_000_000.0),
        (pt.CostModel(commission_rate=0.001), 10_000_000.0),
    ],
)
def test_run_backtest_defaults_the_cash_by_the_costs_currency(
    goog: pd.DataFrame, costs: Any, capital: float
) -> None:
    result = pt.run_backtest(goog, "buy_and_hold", costs=costs)
    assert result.settings.initial_cash == capital
    assert result.to_dict()["spec"]["settings"]["initial_cash"] == capital


def test_given_cash_always_wins(goog: pd.DataFrame) -> None:
    assert (
        pt.run_backtest(goog, "buy_and_hold", costs="us", cash=5_000).settings.initial_cash == 5_000
    )
    chosen = pt.SimulationSettings(initial_cash=7_000, costs=pt.CostModel.us())
    assert pt.run_backtest(goog, "buy_and_hold", settings=chosen).settings.initial_cash == 7_000
    assert make_settings(chosen, costs="krx").initial_cash == 7_000


def test_settings_without_cash_take_the_rule_of_their_costs() -> None:
    unset = pt.SimulationSettings(costs=pt.CostModel.us())
    assert make_settings(unset).initial_cash == 100_000.0
    assert make_settings(unset, costs="krx").initial_cash == 10_000_000.0
    assert make_settings(pt.SimulationSettings(), costs="us").initial_cash == 100_000.0


def test_sweep_uses_the_same_rule(goog: pd.DataFrame) -> None:
    grid = {"fast": [5, 10], "slow": [20, 30]}
    table = pt.sweep(goog, "sma_cross", grid, costs="us").to_frame()
    single = pt.run_backtest(goog, "sma_cross", {"fast": 5, "slow": 20}, costs="us")
    assert single.settings.initial_cash == 100_000.0
    first = table[(table["fast"] == 5) & (table["slow"] == 20)].iloc[0]
    assert first["final_equity"] == pytest.approx(single.metrics.final_equity, rel=1e-12)


def test_the_plan_and_the_library_share_one_rule() -> None:
    assert plans.default_capital is default_capital
    assert plans.DEFAULT_CAPITAL is DEFAULT_CAPITAL
    assert default_capital(costs_currency(pt.CostModel.us())) == default_capital("USD")
    assert default_capital(costs_currency(pt.CostModel.krx())) == default_capital("KRW")
    assert default_capital(None) == default_capital("JPY") == 10_000_000.0
