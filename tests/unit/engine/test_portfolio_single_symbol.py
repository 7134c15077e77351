"""A one-symbol portfolio (signals rule, one position, all-in) is the single backtest.

Every sample symbol, several strategies and settings (stops, stop entries, same-close
fills, KRX tax and ticks, slippage in ticks, lots with a minimum commission, history
bars before ``start``): fills, trades, cash, position and equity equal bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from portfolio_builders import assert_records_equal
from privatetrade.data.sample import SAMPLE_SYMBOLS, load_sample_bars
from privatetrade.engine.costs import CostModel
from privatetrade.engine.settings import SimulationSettings, Stops

CASES: dict[str, dict[str, Any]] = {
    "sma_cross_us": {
        "strategy": "sma_cross",
        "params": {"fast": 10, "slow": 30},
        "settings": SimulationSettings(initial_cash=100_000.0, costs=CostModel.us()),
    },
    "rsi_stops_krx_close": {
        "strategy": "rsi_reversion",
        "params": {},
        "settings": SimulationSettings(
            costs=CostModel.krx("KOSPI"),
            stops=Stops(stop_loss=0.05, take_profit=0.1),
            fill_at="close",
        ),
    },
    "breakout_stop_entries_trailing": {
        "strategy": "volatility_breakout",
        "params": {"k": 0.5},
        "settings": SimulationSettings(
            initial_cash=100_000.0,
            costs=CostModel.us(slippage=2.0, slippage_unit="ticks"),
            stops=Stops(trailing_stop=0.08),
        ),
    },
    "donchian_open_at_end": {
        "strategy": "donchian_breakout",
        "params": {"entry_period": 20, "exit_period": 10},
        "settings": SimulationSettings(close_at_end=False),
    },
    "macd_kosdaq_start": {
        "strategy": "macd_cross",
        "params": {},
        "settings": SimulationSettings(costs=CostModel.krx("KOSDAQ", slippage=5.0)),
        "start": 120,
    },
    "rsi_time_exit": {
        "strategy": "rsi_reversion",
        "params": {"period": 10, "lower": 40, "upper": 80},
        "settings": SimulationSettings(stops=Stops(stop_loss=0.05, max_bars_held=7)),
    },
    "sma_time_exit_close": {
        "strategy": "sma_cross",
        "params": {"fast": 5, "slow": 20},
        "settings": SimulationSettings(stops=Stops(max_bars_held=4), fill_at="close"),
    },
    "bollinger_lots": {
        "strategy": "bollinger_reversion",
        "params": {"period": 20, "k": 1.5},
        "settings": SimulationSettings(
            initial_cash=50_000.0,
            costs=CostModel(lot_size=10, commission_rate=0.001, min_commission=1.0),
        ),
    },
}


@pytest.fixture(scope="module")
def samples() -> dict[str, pd.DataFrame]:
    return {symbol: load_sample_bars(symbol) for symbol in SAMPLE_SYMBOLS}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_one_symbol_portfolio_equals_run_backtest(
    samples: dict[str, pd.DataFrame], symbol: str, case: str
) -> None:
    spec = CASES[case]
    frame = samples[symbol]
    single = pt.run_backtest(
        frame, spec["strategy"], spec["params"], settings=spec["settings"], start=spec.get("start")
    )
    book = pt.run_portfolio(
        {symbol: frame},
        {
            "rule": "signals",
            "strategy": spec["strategy"],
            "params": spec["params"],
            "max_positions": 1,
            "position_size": "all_in",
        },
        settings=spec["settings"],
        start=spec.get("start"),
    )
    assert single.output.trades.shape[0] > 0  # the case trades
    assert_records_equal(book.output.fills, single.output.fills)
    assert_records_equal(book.output.trades, single.output.trades)
    assert np.array_equal(book.output.cash, single.output.cash)
    assert np.array_equal(book.output.equity, single.output.equity)
    assert np.array_equal(book.output.position[:, 0], single.output.position)
    assert book.output.fill_symbol.tolist() == [0] * single.output.fills.shape[0]
    assert book.final_equity == single.final_equity


def test_one_symbol_documents_list_the_same_trades_and_fills(
    samples: dict[str, pd.DataFrame],
) -> None:
    spec = CASES["rsi_stops_krx_close"]
    frame = samples["IBM"]
    single = pt.run_backtest(frame, spec["strategy"], settings=spec["settings"])
    book = pt.run_portfolio(
        {"IBM": frame},
        {"rule": "signals", "strategy": spec["strategy"], "max_positions": 1,
         "position_size": "all_in"},
        settings=spec["settings"],
    )  # fmt: skip
    document = book.to_dict()
    assert document["trades"] == [{"symbol": "IBM", **row} for row in single.trade_records()]
    assert document["fills"] == [{"symbol": "IBM", **row} for row in single.fill_records()]
    assert document["equity"]["equity"] == single.to_dict()["equity"]["equity"]
    assert document["metrics"]["total_return"] == single.metrics.total_return
    assert document["metrics"]["sharpe"] == single.metrics.sharpe
