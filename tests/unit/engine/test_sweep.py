"""Sweeps must give the same numbers as one full backtest per combination."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import privatetrade as pt
from builders import make_bars
from metric_rows import assert_row_matches
from privatetrade.data.sample import load_sample_bars
from privatetrade.engine.api import make_settings
from privatetrade.engine.sweep import SWEEP_METRICS
from privatetrade.errors import ParameterError


@pytest.fixture(scope="module")
def msft() -> pd.DataFrame:
    return load_sample_bars("MSFT").iloc[-1500:]


def _assert_rows_match_backtests(
    bars: pd.DataFrame, result: pt.SweepResult, **options: object
) -> None:
    for params, row in zip(result.params, result.values, strict=True):
        metrics = pt.run_backtest(bars, result.strategy, params, **options).metrics  # type: ignore[arg-type]
        assert_row_matches(row.tolist(), metrics)


@pytest.mark.parametrize("strategy", ["sma_cross", "ema_cross"])
def test_moving_average_fast_path_equals_full_backtests(msft: pd.DataFrame, strategy: str) -> None:
    grid = {"fast": [3, 5, 12, 20], "slow": [10, 20, 40]}
    result = pt.sweep(msft, strategy, grid, costs="krx")
    # fast < slow drops (12, 10), (20, 10) and (20, 20).
    assert len(result) == 9
    assert result.skipped == 3
    _assert_rows_match_backtests(msft, result, costs="krx")


def test_generic_path_equals_full_backtests(msft: pd.DataFrame) -> None:
    grid = {"period": [7, 14], "lower": [20, 30], "upper": [70]}
    result = pt.sweep(msft, "rsi_reversion", grid, costs="us")
    assert len(result) == 4
    _assert_rows_match_backtests(msft, result, costs="us")


def test_sweep_with_stops_equals_full_backtests(msft: pd.DataFrame) -> None:
    settings = pt.SimulationSettings(stops=pt.Stops(stop_loss=0.04, trailing_stop=0.1))
    result = pt.sweep(msft, "sma_cross", {"fast": [5, 10], "slow": [30]}, settings=settings)
    _assert_rows_match_backtests(msft, result, settings=settings)


@pytest.mark.parametrize(
    ("strategy", "grid", "directions"),
    [
        ("sma_cross", {"fast": [5, 10], "slow": [20, 30]}, {"long", "short"}),
        # rsi_reversion raises no short signals.
        ("rsi_reversion", {"period": [7, 14], "lower": [30], "upper": [70]}, {"long"}),
    ],
)
def test_sweep_with_entry_bar_stops_equals_full_backtests(
    msft: pd.DataFrame, strategy: str, grid: dict[str, list[int]], directions: set[str]
) -> None:
    # Tight levels put many stops and targets inside their entry bar (checked there
    # since engine 1.1.0); shorts mirror them.
    settings = pt.SimulationSettings(
        stops=pt.Stops(stop_loss=0.015, take_profit=0.02, trailing_stop=0.03), allow_short=True
    )
    result = pt.sweep(msft, strategy, grid, settings=settings)
    _assert_rows_match_backtests(msft, result, settings=settings)
    first = pt.run_backtest(msft, strategy, result.params[0], settings=settings)
    same_bar = [t for t in first.trade_records() if t["entry_time"] == t["exit_time"]]
    assert {t["exit_reason"] for t in same_bar} >= {"stop_loss", "take_profit"}
    assert {t["direction"] for t in same_bar} == directions


@pytest.mark.parametrize(
    ("strategy", "grid"),
    [
        ("sma_cross", {"fast": [3, 10], "slow": [20, 50]}),
        ("ema_cross", {"fast": [5, 12], "slow": [26]}),
        ("macd_cross", {"fast": [8, 12], "slow": [26], "signal": [5, 9]}),
        ("bollinger_reversion", {"period": [10, 20], "k": [1.5, 2.0]}),
        ("donchian_breakout", {"entry_period": [10, 20], "exit_period": [5]}),
        ("momentum", {"lookback": [10, 40]}),
        ("volatility_breakout", {"k": [0.3, 0.6]}),
        ("buy_and_hold", {}),
    ],
)
@pytest.mark.parametrize(
    "options",
    [
        {"costs": "krx"},
        {"costs": "us", "stops": {"stop_loss": 0.03, "take_profit": 0.06}},
        {"costs": "krx", "allow_short": True, "stops": {"trailing_stop": 0.05}},
        {"allow_short": True, "fill_at": "close", "sizing": {"mode": "fraction", "value": 0.5}},
    ],
    ids=["krx", "us-stops", "krx-short-trailing", "short-close-fraction"],
)
def test_every_column_equals_the_full_backtest(
    msft: pd.DataFrame, strategy: str, grid: dict[str, list[float]], options: dict[str, object]
) -> None:
    settings = make_settings(**options)
    result = pt.sweep(msft, strategy, grid, settings=settings)
    assert result.values.shape == (len(result), len(SWEEP_METRICS))
    _assert_rows_match_backtests(msft, result, settings=settings)


def test_trade_columns_are_counted_by_hand(msft: pd.DataFrame) -> None:
    result = pt.sweep(msft, "rsi_reversion", {"period": [7]}, costs="krx")
    row = dict(zip(SWEEP_METRICS, result.values[0].tolist(), strict=True))
    trades = pt.run_backtest(msft, "rsi_reversion", {"period": 7}, costs="krx").output.trades
    pnl = trades["net_pnl"]
    assert row["trade_count"] == len(pnl) > 3
    assert row["win_rate"] == pytest.approx((pnl > 0).sum() / len(pnl), rel=1e-15)
    assert row["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    drawdown = row["max_drawdown"]
    assert row["return_over_drawdown"] == pytest.approx(row["total_return"] / -drawdown)


def test_undefined_columns_are_nan_without_trades() -> None:
    # Flat prices: the averages never cross, no trade, equity never moves.
    result = pt.sweep(make_bars([100.0] * 60), "sma_cross", {"fast": [3], "slow": [5]})
    row = dict(zip(SWEEP_METRICS, result.values[0].tolist(), strict=True))
    assert row["trade_count"] == 0
    assert row["total_return"] == 0.0
    assert row["max_drawdown"] == 0.0
    assert row["cagr"] == 0.0
    for name in ("sharpe", "sortino", "calmar", "profit_factor", "win_rate"):
        assert math.isnan(row[name]), name
    assert math.isnan(row["return_over_drawdown"])


def test_best_and_frame(msft: pd.DataFrame) -> None:
    result = pt.sweep(msft, "sma_cross", {"fast": [5, 10, 15], "slow": [30, 50]})
    best = result.best("total_return")
    assert best["metrics"]["total_return"] == max(result.column("total_return"))
    frame = result.to_frame()
    assert list(frame.columns) == ["fast", "slow", *SWEEP_METRICS]
    assert len(frame) == 6


def test_unknown_grid_parameter_is_rejected(msft: pd.DataFrame) -> None:
    with pytest.raises(ParameterError) as info:
        pt.sweep(msft, "sma_cross", {"fastest": [1]})
    assert info.value.field == "fastest"


def test_grid_without_valid_combination_is_rejected(msft: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="no valid"):
        pt.sweep(msft, "sma_cross", {"fast": [50], "slow": [20]})


def test_best_drawdown_is_the_shallowest(msft: pd.DataFrame) -> None:
    result = pt.sweep(msft, "sma_cross", {"fast": [5, 10, 15], "slow": [30, 50]})
    best = result.best("max_drawdown")
    # Drawdowns are negative: the best one is the closest to zero.
    assert best["metrics"]["max_drawdown"] == max(result.column("max_drawdown"))


@pytest.mark.parametrize(
    ("strategy", "grid"),
    [
        ("sma_cross", {"fast": [0, 1, 5, 10, 30, "7", True, 2.0], "slow": [2, 10, 30, 1001]}),
        ("rsi_reversion", {"lower": [10, 50.5, 90], "upper": [40, 70, -1]}),
        ("macd_cross", {"fast": [3, 12, 26], "slow": [12, 26], "signal": [0, 9]}),
        ("bollinger_reversion", {"period": [1, 20], "k": [0.0, 2.0, float("nan")]}),
    ],
)
def test_value_by_value_validation_equals_whole_model_validation(
    strategy: str, grid: dict[str, list[object]]
) -> None:
    from privatetrade.engine.sweep import _valid_by_values, _valid_one_by_one

    model = pt.default_registry().get(strategy).Params
    assert _valid_by_values(model, grid) == _valid_one_by_one(model, grid)
