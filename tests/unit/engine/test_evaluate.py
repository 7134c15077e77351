"""evaluate(): metrics of explicit parameter sets, history bars (start) and return blocks.

Also run_backtest(start=...), which must give the numbers evaluate gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from builders import make_bars
from metric_rows import assert_row_matches
from privatetrade.data.sample import load_sample_bars
from privatetrade.engine.api import make_settings
from privatetrade.engine.bars import prepare_bars
from privatetrade.engine.metrics import Metrics, compute_metrics, infer_periods_per_year
from privatetrade.engine.simulation import SimulationOutput, simulate
from privatetrade.engine.strategies.base import Bars, Signals, Strategy, StrategyParams
from privatetrade.engine.strategies.registry import compute_signals
from privatetrade.engine.sweep import SWEEP_METRICS, block_edges, evaluate
from privatetrade.errors import ParameterError

START = 700

SETTINGS = {
    "krx": {"costs": "krx"},
    "krx-short-stops": {
        "costs": "krx",
        "allow_short": True,
        "stops": {"stop_loss": 0.03, "take_profit": 0.05, "trailing_stop": 0.04},
    },
    "us-close": {"costs": "us", "fill_at": "close"},
}

CASES = [
    ("sma_cross", {"fast": 5, "slow": 20}),  # the parallel moving-average path
    ("ema_cross", {"fast": 8, "slow": 30}),
    ("rsi_reversion", {"period": 7}),  # the generic path
    ("volatility_breakout", {"k": 0.4}),  # stop entries
    ("buy_and_hold", {}),  # its only signal (bar 0) is history
]


@pytest.fixture(scope="module")
def msft() -> pd.DataFrame:
    return load_sample_bars("MSFT").iloc[-1500:]


def backtest_from(
    frame: pd.DataFrame,
    strategy: str,
    params: dict[str, Any],
    start: int,
    settings: pt.SimulationSettings,
) -> tuple[Metrics, SimulationOutput]:
    """Backtest ``frame[start:]`` with the signals the strategy computed on all of ``frame``."""
    instance = pt.default_registry().build(strategy, params)
    signals = compute_signals(instance, prepare_bars(frame).bars)
    tail = prepare_bars(frame.iloc[start:])

    def cut(values: Any) -> Any:
        return None if values is None else values[start:]

    kept = Signals(
        cut(signals.entries),
        cut(signals.exits),
        cut(signals.short_entries),
        cut(signals.short_exits),
        cut(signals.entry_offset),
    )
    output = simulate(tail, kept, settings)
    metrics = compute_metrics(
        tail.local_time_ns,
        output.equity,
        output.position,
        tail.bars.close,
        output.fills,
        output.trades,
        initial_cash=settings.initial_cash,
        periods_per_year=infer_periods_per_year(tail.bars.time),
        risk_free_rate=settings.risk_free_rate,
    )
    return metrics, output


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize(("strategy", "params"), CASES)
def test_start_equals_a_backtest_of_the_later_bars_with_full_signals(
    msft: pd.DataFrame, strategy: str, params: dict[str, Any], setting: str
) -> None:
    settings = make_settings(**SETTINGS[setting])
    expected, _ = backtest_from(msft, strategy, params, START, settings)
    result = evaluate(msft, strategy, [params], start=START, settings=settings)
    assert_row_matches(result.values[0].tolist(), expected)
    backtest = pt.run_backtest(msft, strategy, params, start=START, settings=settings)
    assert backtest.metrics == expected
    assert_row_matches(result.values[0].tolist(), backtest.metrics)


def test_run_backtest_from_start_covers_the_later_bars(msft: pd.DataFrame) -> None:
    params = {"fast": 5, "slow": 20}
    _, expected = backtest_from(msft, "sma_cross", params, START, make_settings(costs="krx"))
    result = pt.run_backtest(msft, "sma_cross", params, costs="krx", start=START)
    np.testing.assert_array_equal(result.output.equity, expected.equity)
    np.testing.assert_array_equal(result.output.trades, expected.trades)
    assert len(result.prepared) == len(msft) - START
    assert result.times[0] == msft.index[START].isoformat()
    # The averages were warm at START: a cross at START + 1 trades at once, unlike a
    # backtest of the later bars alone, whose 20-bar average starts there.
    alone = pt.run_backtest(msft.iloc[START:], "sma_cross", params, costs="krx")
    assert alone.metrics != result.metrics


def test_start_none_or_zero_changes_nothing(msft: pd.DataFrame) -> None:
    options: dict[str, Any] = {"costs": "krx", "allow_short": True}
    plain = pt.run_backtest(msft, "macd_cross", None, **options).to_json()
    assert pt.run_backtest(msft, "macd_cross", None, start=None, **options).to_json() == plain
    assert pt.run_backtest(msft, "macd_cross", None, start=0, **options).to_json() == plain
    rows = pt.sweep(msft, "sma_cross", {"fast": [5, 10], "slow": [30]}).values
    same = pt.sweep(msft, "sma_cross", {"fast": [5, 10], "slow": [30]}, start=0).values
    np.testing.assert_array_equal(rows, same)


def _rescaled_before(frame: pd.DataFrame, stop: int, factor: float) -> pd.DataFrame:
    changed = frame.copy()
    columns = ["open", "high", "low", "close"]
    changed.iloc[:stop, [changed.columns.get_loc(c) for c in columns]] *= factor
    return changed


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_bars_before_start_matter_only_through_the_indicators(
    msft: pd.DataFrame, setting: str
) -> None:
    settings = make_settings(**SETTINGS[setting])

    def rows(frame: pd.DataFrame, strategy: str, params: dict[str, Any]) -> pt.SweepResult:
        return evaluate(frame, strategy, [params], start=START, blocks=4, settings=settings)

    changed = _rescaled_before(msft, START, 1.7)
    # volatility_breakout decides on each bar's own range: no look-back, no difference.
    params = {"k": 0.3}
    base = rows(msft, "volatility_breakout", params)
    other = rows(changed, "volatility_breakout", params)
    assert base.values[0, SWEEP_METRICS.index("trade_count")] > 10
    np.testing.assert_array_equal(other.values, base.values)
    np.testing.assert_array_equal(other.block_stats, base.block_stats)
    # Changing evaluated bars too does change it (the check can fail) ...
    moved = rows(_rescaled_before(msft, START + 20, 1.7), "volatility_breakout", params)
    assert not np.array_equal(moved.values, base.values)
    # ... and a moving average looks back over the history bars.
    looks_back = {"fast": 5, "slow": 60}
    averaged = rows(msft, "sma_cross", looks_back).values
    assert not np.array_equal(rows(changed, "sma_cross", looks_back).values, averaged)


class EntryAt(StrategyParams):
    """The bar whose close decides the only entry."""

    bar: int = 2


class FixedEntry(Strategy[EntryAt]):
    """One long entry decided at the close of bar ``bar``, no exit."""

    name = "fixed_entry"
    title = "Fixed entry"
    description = "Buy once."
    Params = EntryAt

    def signals(self, bars: Bars) -> Signals:
        entries = np.zeros(len(bars), dtype=np.bool_)
        entries[self.params.bar] = True
        return Signals(entries, np.zeros(len(bars), dtype=np.bool_))


def test_a_signal_before_start_places_no_order() -> None:
    bars = make_bars([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    column = {name: i for i, name in enumerate(SWEEP_METRICS)}
    # Decided at bar 2's close, filled at bar 3's open (13): 769,230 shares, 10 left in
    # cash; closed out at the last close (15).
    bought = evaluate(bars, FixedEntry, [{"bar": 2}], start=2).values[0]
    assert bought[column["trade_count"]] == 1
    assert bought[column["final_equity"]] == 10.0 + 769_230 * 15.0
    # From bar 3 on the decision is history: nothing is pending at bar 3's open.
    idle = evaluate(bars, FixedEntry, [{"bar": 2}], start=3).values[0]
    assert idle[column["trade_count"]] == 0
    assert idle[column["final_equity"]] == 10_000_000.0
    result = pt.run_backtest(bars, FixedEntry, {"bar": 2}, start=3)
    assert result.metrics.trade_count == 0
    assert result.metrics.final_equity == 10_000_000.0


def test_evaluate_keeps_the_order_given_and_fills_defaults(msft: pd.DataFrame) -> None:
    result = evaluate(msft, "sma_cross", [{"fast": 20, "slow": 50}, {"fast": 5}], costs="krx")
    assert result.params == [{"fast": 20, "slow": 50}, {"fast": 5, "slow": 30}]
    assert result.skipped == 0
    assert result.block_stats is None
    assert result.block_lengths is None
    for params, row in zip(result.params, result.values, strict=True):
        metrics = pt.run_backtest(msft, "sma_cross", params, costs="krx").metrics
        assert_row_matches(row.tolist(), metrics)


@pytest.mark.parametrize(
    ("strategy", "grid"),
    [
        ("ema_cross", {"fast": [5, 12], "slow": [26, 40]}),
        ("bollinger_reversion", {"period": [10, 20], "k": [1.5, 2.5]}),
    ],
)
def test_sweep_rows_are_evaluate_rows(
    msft: pd.DataFrame, strategy: str, grid: dict[str, list[float]]
) -> None:
    swept = pt.sweep(msft, strategy, grid, costs="us", blocks=6, start=300)
    again = evaluate(msft, strategy, swept.params[::-1], costs="us", blocks=6, start=300)
    np.testing.assert_array_equal(again.values, swept.values[::-1])
    assert swept.block_stats is not None
    assert again.block_stats is not None
    np.testing.assert_array_equal(again.block_stats, swept.block_stats[::-1])


def test_evaluate_of_no_parameter_sets_is_empty(msft: pd.DataFrame) -> None:
    result = evaluate(msft, "sma_cross", [], blocks=2)
    assert len(result) == 0
    assert result.values.shape == (0, len(SWEEP_METRICS))
    assert result.block_stats is not None
    assert result.block_stats.shape == (0, 2, 2)


@pytest.mark.parametrize(
    ("strategy", "params"),
    [("sma_cross", {"fast": 5, "slow": 20}), ("momentum", {"lookback": 10})],
)
@pytest.mark.parametrize("start", [0, START])
def test_block_stats_sum_the_returns_of_each_block(
    msft: pd.DataFrame, strategy: str, params: dict[str, Any], start: int
) -> None:
    result = evaluate(msft, strategy, [params], costs="krx", blocks=4, start=start)
    equity = pt.run_backtest(msft, strategy, params, costs="krx", start=start).output.equity
    returns = np.diff(equity, prepend=10_000_000.0) / np.concatenate(([1e7], equity[:-1]))
    m = len(msft) - start  # 1500 or 800 bars
    assert result.block_lengths is not None
    assert result.block_lengths.tolist() == [m // 4] * 4
    assert result.block_stats is not None
    stats = result.block_stats[0]
    assert stats.shape == (4, 2)
    for j, part in enumerate(np.split(returns, 4)):
        assert stats[j, 0] == pytest.approx(part.sum(), rel=1e-9, abs=1e-15)
        assert stats[j, 1] == pytest.approx((part * part).sum(), rel=1e-9)
    assert stats[:, 1].min() > 0.0  # every block holds moves


def test_block_edges_cut_the_evaluated_bars() -> None:
    # m = 801 evaluated bars in 4 blocks: j * 801 // 4 = 0, 200, 400, 600, 801.
    assert block_edges(1000, 4, start=199).tolist() == [199, 399, 599, 799, 1000]
    assert np.diff(block_edges(10, 2)).tolist() == [5, 5]
    result = evaluate(make_bars([10.0, 11.0, 10.5] * 3), "buy_and_hold", [{}], blocks=2, start=2)
    assert result.block_lengths is not None
    assert result.block_lengths.tolist() == [3, 4]


@pytest.mark.parametrize("blocks", [1, 3, 66, -2, True, 2.0, "4"])
def test_invalid_blocks_are_rejected(msft: pd.DataFrame, blocks: Any) -> None:
    with pytest.raises(ParameterError) as info:
        evaluate(msft, "sma_cross", [{}], blocks=blocks)
    assert info.value.field == "blocks"


def test_more_blocks_than_evaluated_bars_are_rejected(msft: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="5 evaluated bars") as info:
        pt.sweep(msft, "sma_cross", {"fast": [5]}, blocks=8, start=len(msft) - 5)
    assert info.value.field == "blocks"


@pytest.mark.parametrize("start", [-1, 1500, True, 1.5, "3"])
def test_invalid_start_is_rejected(msft: pd.DataFrame, start: Any) -> None:
    with pytest.raises(ParameterError) as info:
        evaluate(msft, "rsi_reversion", [{}], start=start)
    assert info.value.field == "start"
    with pytest.raises(ParameterError) as info:
        pt.run_backtest(msft, "rsi_reversion", start=start)
    assert info.value.field == "start"


def test_unknown_parameter_is_rejected(msft: pd.DataFrame) -> None:
    with pytest.raises(ParameterError) as info:
        evaluate(msft, "sma_cross", [{"fast": 5}, {"fastest": 3}])
    assert info.value.field == "fastest"
