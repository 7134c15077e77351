"""The analysis of a result: indicators, trade levels, drawdown periods and yearly returns.

Runs through the run plan on stored data (the offline samples plus ``GAPPY``), so the
analysis reads the very bars the run read; nothing runs a server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gap_data import GAP_BODY, GAPPY, write_gap_symbol
from privatetrade.data.market_data import MarketData
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.bars import prepare_bars
from privatetrade.engine.kernels.indicators import sma_nb
from privatetrade.plans.backtest import execute_plan, plan_backtest
from privatetrade.plans.result_analysis import MAX_DRAWDOWN_PERIODS, analyse_result


@pytest.fixture
def market_data(tmp_path: Path) -> MarketData:
    data = MarketData(tmp_path / "data")
    data.ensure_samples()
    write_gap_symbol(tmp_path / "data")
    return data


def run(data: MarketData, **body: Any) -> tuple[BacktestSpec, dict[str, Any]]:
    plan = plan_backtest(BacktestSpec.model_validate(body), data)
    return plan.spec, json.loads(execute_plan(plan).to_json())


def test_sma_cross_lines_are_the_engines_averages_of_the_run_bars(market_data: MarketData) -> None:
    spec, document = run(
        market_data,
        symbol="AAPL",
        strategy="sma_cross",
        params={"fast": 5, "slow": 20},
        benchmark="MSFT",
    )
    analysis = analyse_result(spec, document, market_data).to_dict()
    assert analysis["bars_note"] is None
    close = prepare_bars(market_data.bars("AAPL", None, None, adjusted=True)).bars.close
    lines = {line["name"]: line for line in analysis["indicators"]["lines"]}
    assert set(lines) == {"sma_fast", "sma_slow"}
    for name, window in (("sma_fast", 5), ("sma_slow", 20)):
        expected = [None if np.isnan(v) else v for v in sma_nb(close, window).tolist()]
        assert lines[name]["values"] == expected
        assert lines[name]["pane"] == "price"
    assert len(analysis["trades"]) == len(document["trades"])
    assert analysis["bar_count"] == document["data"]["bar_count"]
    json.dumps(analysis, allow_nan=False)  # JSON without NaN


def test_drawdown_periods_and_yearly_returns(market_data: MarketData) -> None:
    spec, document = run(
        market_data,
        symbol="AAPL",
        strategy="sma_cross",
        params={"fast": 5, "slow": 20},
        benchmark="MSFT",
    )
    analysis = analyse_result(spec, document, market_data).to_dict()
    metrics = document["metrics"]
    deepest = analysis["drawdowns"][0]
    assert deepest["depth"] == metrics["max_drawdown"]
    assert deepest["start"] == metrics["max_drawdown_start_time"]
    assert deepest["trough"] == metrics["max_drawdown_end_time"]
    assert deepest["recovery"] == metrics["max_drawdown_recovery_time"]
    assert deepest["bars"] == metrics["max_drawdown_duration_bars"]
    assert deepest["days"] == metrics["max_drawdown_duration_days"]
    depths = [period["depth"] for period in analysis["drawdowns"]]
    assert depths == sorted(depths)
    assert len(depths) == min(MAX_DRAWDOWN_PERIODS, analysis["drawdown_count"])
    assert analysis["drawdown_count"] > MAX_DRAWDOWN_PERIODS

    yearly = analysis["yearly"]
    assert [(row["period"], row["return"]) for row in yearly] == [
        (row["period"], row["return"]) for row in document["yearly_returns"]
    ]
    times = pd.to_datetime([t[:10] for t in document["equity"]["time"]])
    held = pd.Series(document["buy_and_hold"], index=times)
    year_end = held.groupby(held.index.year).last()
    assert yearly[0]["buy_and_hold"] == pytest.approx(
        year_end.iloc[0] / held.iloc[0] - 1, rel=1e-12
    )
    assert yearly[3]["buy_and_hold"] == pytest.approx(
        year_end.iloc[3] / year_end.iloc[2] - 1, rel=1e-12
    )
    bench = pd.Series(document["benchmark"], index=times)
    bench_end = bench.groupby(bench.index.year).last()
    assert yearly[2]["benchmark"] == pytest.approx(
        bench_end.iloc[2] / bench_end.iloc[1] - 1, rel=1e-12
    )


def test_gaps_through_stops_are_marked_on_their_trades(market_data: MarketData) -> None:
    spec, document = run(market_data, **GAP_BODY)
    analysis = analyse_result(spec, document, market_data).to_dict()
    stop = GAP_BODY["stops"]["stop_loss"]
    gapped = far = 0
    for trade, levels in zip(document["trades"], analysis["trades"], strict=True):
        assert levels["stop_loss"] == pytest.approx(trade["entry_price"] * (1 - stop), rel=1e-12)
        if levels["gap"]:
            gapped += 1
            assert trade["exit_reason"] == "stop_loss"
            assert levels["exit_open"] < levels["exit_stop"]
            assert trade["exit_price"] == pytest.approx(
                levels["exit_open"], abs=0.01
            )  # at the open
            far += trade["exit_price"] < levels["exit_stop"] * 0.95
        elif trade["exit_reason"] == "stop_loss":
            assert trade["exit_price"] == pytest.approx(levels["exit_stop"], abs=0.01)  # US tick
    assert gapped >= 2
    assert far >= 2  # the 12 % gaps fill far below the stop
    assert gapped < sum(trade["exit_reason"] == "stop_loss" for trade in document["trades"])


def test_changed_or_missing_bars_leave_out_only_the_bar_parts(
    market_data: MarketData, tmp_path: Path
) -> None:
    spec, document = run(market_data, **GAP_BODY)
    symbol = market_data.symbol(GAPPY)
    frame = market_data.bars(GAPPY, None, None, adjusted=False)
    frame.loc[frame.index[5], "volume"] += 1.0
    market_data.save_bars(symbol, frame)
    changed = analyse_result(spec, document, market_data)
    assert changed.bars_note == "data_changed"
    assert changed.indicators is None
    assert changed.trades is None
    assert changed.drawdowns
    assert changed.yearly

    market_data.delete(GAPPY)
    missing = analyse_result(spec, document, market_data)
    assert missing.bars_note == "data_missing"
    assert missing.drawdowns == changed.drawdowns
