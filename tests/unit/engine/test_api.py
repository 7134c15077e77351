"""The library API: run_backtest on frames and arrays, errors, the result document."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.sample import load_sample_bars
from privatetrade.errors import (
    CancelledError,
    ConfigurationError,
    DataError,
    ParameterError,
    StrategyError,
)


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return load_sample_bars("GOOG")


def test_public_api_is_sorted_and_resolves() -> None:
    # isort-style order (constants, classes, functions), as ruff's RUF022 keeps it.
    def isort_key(name: str) -> tuple[bool, bool, str]:
        return (not name.isupper(), not name[:1].isupper(), name)

    assert pt.__all__ == sorted(pt.__all__, key=isort_key)
    assert len(set(pt.__all__)) == len(pt.__all__)
    for name in pt.__all__:
        assert getattr(pt, name) is not None


def test_frame_and_arrays_give_identical_results(goog: pd.DataFrame) -> None:
    from_frame = pt.run_backtest(goog, "sma_cross", {"fast": 10, "slow": 30}, costs="us")
    arrays = {
        "time": goog.index.tz_convert("UTC").tz_localize(None).to_numpy(),
        **{name: goog[name].to_numpy() for name in ("open", "high", "low", "close", "volume")},
    }
    from_arrays = pt.run_backtest(
        arrays, "sma_cross", {"fast": 10, "slow": 30}, costs="us", tz="America/New_York"
    )
    assert from_frame.to_json() == from_arrays.to_json()


def test_result_document_round_trips_through_json(goog: pd.DataFrame) -> None:
    result = pt.run_backtest(goog, "sma_cross", costs="us", benchmark=goog["close"] * 2)
    text = result.to_json()
    document = json.loads(text)
    assert json.dumps(document, ensure_ascii=False, allow_nan=False) == text
    assert document["schema_version"] == "1.1"
    assert document["spec"]["strategy"] == "sma_cross"
    assert "rules" not in document["spec"]  # only a rule strategy's result names its rule
    assert document["spec"]["params"] == {"fast": 10, "slow": 30}
    assert document["data"]["bar_count"] == len(goog)
    assert document["data"]["first_bar"] == "2004-08-19T00:00:00-04:00"
    assert len(document["data"]["sha256"]) == 64
    assert len(document["equity"]["equity"]) == len(goog)
    assert len(document["trades"]) == document["metrics"]["trade_count"] > 0
    assert len(document["fills"]) == 2 * len(document["trades"])
    # Twice the price moves like the price: beta 1 against itself.
    assert document["metrics"]["benchmark_return"] == pytest.approx(
        goog["close"].iloc[-1] / goog["close"].iloc[0] - 1
    )


def test_same_inputs_give_byte_identical_documents(goog: pd.DataFrame) -> None:
    first = pt.run_backtest(goog, "rsi_reversion", costs="us").to_json()
    second = pt.run_backtest(goog.copy(), "rsi_reversion", costs="us").to_json()
    assert first == second


def test_equity_identity_and_fills_inside_bars(goog: pd.DataFrame) -> None:
    result = pt.run_backtest(goog, "donchian_breakout", costs="us", stops={"stop_loss": 0.05})
    out = result.output
    np.testing.assert_allclose(out.equity, out.cash + out.position * goog["close"].to_numpy())
    bars = result.prepared.bars
    for fill in out.fills:
        assert bars.low[fill["bar"]] <= fill["price"] <= bars.high[fill["bar"]]


def test_csv_exports_have_headers_and_rows(goog: pd.DataFrame) -> None:
    result = pt.run_backtest(goog, "sma_cross")
    trades = result.trades_csv().splitlines()
    assert trades[0].startswith("entry_time,exit_time,direction,quantity")
    assert len(trades) == 1 + result.metrics.trade_count
    equity = result.equity_csv().splitlines()
    assert equity[0] == "time,equity,cash,position,close,drawdown"
    assert len(equity) == 1 + len(goog)


def test_frames_are_built_on_request(goog: pd.DataFrame) -> None:
    result = pt.run_backtest(goog, "sma_cross")
    equity = result.equity_frame()
    assert list(equity.columns) == ["equity", "cash", "position", "close", "drawdown"]
    assert equity.index.tz is not None
    assert len(result.trades_frame()) == result.metrics.trade_count


def test_unknown_strategy_lists_known_names(goog: pd.DataFrame) -> None:
    with pytest.raises(StrategyError, match="sma_cross"):
        pt.run_backtest(goog, "no_such_strategy")


def test_bad_parameter_names_the_field(goog: pd.DataFrame) -> None:
    with pytest.raises(ParameterError) as info:
        pt.run_backtest(goog, "sma_cross", {"fast": 30, "slow": 10})
    assert info.value.field in {"fast", "slow"}


def test_bad_setting_names_the_field(goog: pd.DataFrame) -> None:
    with pytest.raises(ConfigurationError) as info:
        pt.run_backtest(goog, "sma_cross", stops={"stop_loss": 1.5})
    assert info.value.field == "stops.stop_loss"
    with pytest.raises(ConfigurationError) as info:
        pt.run_backtest(goog, "sma_cross", costs="nasdaq")  # type: ignore[arg-type]
    assert info.value.field == "costs"


def test_bad_bars_name_the_first_bad_row(goog: pd.DataFrame) -> None:
    broken = goog.copy()
    broken.iloc[100, broken.columns.get_loc("high")] = 1.0
    day = goog.index[100].date().isoformat()
    with pytest.raises(DataError, match=rf"row 100 \({day}T.*high is below max"):
        pt.run_backtest(broken, "sma_cross")


def test_benchmark_of_wrong_length_is_rejected(goog: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="benchmark"):
        pt.run_backtest(goog, "sma_cross", benchmark=np.ones(10))


def test_progress_reaches_one_and_cancel_stops(goog: pd.DataFrame) -> None:
    seen: list[float] = []
    pt.run_backtest(goog, "sma_cross", progress=seen.append, window=500)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) == 5
    token = threading.Event()

    def cancel_after_first(fraction: float) -> None:
        token.set()

    with pytest.raises(CancelledError):
        pt.run_backtest(goog, "sma_cross", progress=cancel_after_first, cancel=token, window=500)


def test_warnings_flag_few_trades(goog: pd.DataFrame) -> None:
    result = pt.run_backtest(goog, "buy_and_hold")
    assert result.metrics.trade_count == 1
    assert any("trade" in warning for warning in result.warnings)


def test_buy_and_hold_tracks_the_stock(goog: pd.DataFrame) -> None:
    result = pt.run_backtest(goog, "buy_and_hold", cash=1_000_000)
    trade = result.trade_records()[0]
    close = goog["close"].to_numpy()
    # Signal at the first close, fill at the second open, all in, held to the last close.
    shares = np.floor(1_000_000 / goog["open"].iloc[1])
    assert trade["quantity"] == shares
    assert trade["exit_price"] == close[-1]
    assert result.final_equity == pytest.approx(
        1_000_000 - shares * goog["open"].iloc[1] + shares * close[-1]
    )


def test_failing_strategy_is_reported_as_strategy_error(goog: pd.DataFrame) -> None:
    class Broken(pt.Strategy[pt.StrategyParams]):
        name = "broken"
        title = "Broken"
        description = "Raises."
        Params = pt.StrategyParams

        def signals(self, bars: pt.Bars) -> pt.Signals:
            raise ZeroDivisionError("oops")

    with pytest.raises(StrategyError, match=r"broken.*ZeroDivisionError: oops"):
        pt.run_backtest(goog, Broken)


def test_metrics_document_records_the_annualization(goog: pd.DataFrame) -> None:
    document = pt.run_backtest(goog, "sma_cross").to_dict()
    assert document["metrics"]["periods_per_year"] == 252.0
    start = document["metrics"]["max_drawdown_start"]
    assert document["metrics"]["max_drawdown_start_time"] == document["equity"]["time"][start]
