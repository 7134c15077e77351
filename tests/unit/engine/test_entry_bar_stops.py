"""Protective exits on the entry bar (docs/engine.md §3.6), computed by hand.

An entry at a bar's open is followed by the whole bar, so its stop-loss, take-profit
and trailing stop are checked on that bar already. A stop entry filled intrabar is
followed only by the part of the bar after the fill: the range beyond the entry level
on the position's side necessarily comes after the fill (the price had to cross the
level first), the range on the other side is assumed to come after it too (the
conservative path). An entry at a close is first checked on the next bar.
Unless a test says otherwise, costs are zero, sizing is ``all_in`` and cash is 1,000.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import privatetrade as pt
from builders import make_bars, signals_at
from privatetrade.engine.bars import PreparedBars
from privatetrade.engine.costs import CostModel
from privatetrade.engine.records import ExitReason, Side
from privatetrade.engine.settings import SimulationSettings, Sizing, Stops
from privatetrade.engine.simulation import SimulationOutput, simulate
from privatetrade.engine.strategies.base import Signals

REL = 1e-12
BUY, SELL = int(Side.BUY), int(Side.SELL)
STOP_LOSS = int(ExitReason.STOP_LOSS)
TAKE_PROFIT = int(ExitReason.TAKE_PROFIT)
TRAILING = int(ExitReason.TRAILING_STOP)
END = int(ExitReason.END_OF_DATA)


def run(
    bars: PreparedBars,
    signals: Signals,
    stops: Stops,
    *,
    costs: CostModel | None = None,
    window: int | None = None,
    **options: Any,
) -> SimulationOutput:
    settings = SimulationSettings(
        initial_cash=1_000.0,
        costs=CostModel.zero() if costs is None else costs,
        sizing=Sizing(),
        stops=stops,
        **options,
    )
    return simulate(bars, signals, settings, window=window)


def fills_of(out: SimulationOutput) -> list[tuple[int, int, float, float]]:
    return [
        (int(f["bar"]), int(f["side"]), float(f["quantity"]), round(float(f["price"]), 9))
        for f in out.fills
    ]


def entry_bar(o: float, h: float, lo: float, c: float, *later: tuple[float, ...]) -> PreparedBars:
    """Bar 0 decides the entry, bar 1 = (o, h, lo, c) is the entry bar, then ``later``."""
    rows = [(100.0, 100.0, 100.0, 100.0), (o, h, lo, c), *later]
    return make_bars(
        [r[3] for r in rows],
        opens=[r[0] for r in rows],
        highs=[r[1] for r in rows],
        lows=[r[2] for r in rows],
    )


# ------------------------------------------------------------ the reproduction


def test_buy_and_hold_is_stopped_out_on_the_entry_bar() -> None:
    # The issue's reproduction through the public API: bought at bar 1's open 100,
    # bar 1 trades down to 90 and closes at 101, later bars never go below 99. The stop
    # 100 * 0.95 = 95 is inside bar 1's range -> sold at 95 on bar 1.
    index = pd.date_range("2024-01-02", periods=5, freq="B", tz="America/New_York")
    bars = pd.DataFrame(
        {
            "open": [100, 100, 101, 102, 103],
            "high": [100, 102, 103, 104, 105],
            "low": [100, 90, 99, 100, 101],
            "close": [100, 101, 102, 103, 104],
            "volume": [1_000] * 5,
        },
        index=index,
    )
    result = pt.run_backtest(bars, "buy_and_hold", cash=1_000, stops={"stop_loss": 0.05})
    (trade,) = result.trade_records()
    assert trade["entry_time"][:10] == trade["exit_time"][:10] == "2024-01-03"
    assert (trade["entry_price"], trade["exit_price"]) == (100.0, 95.0)
    assert trade["exit_reason"] == "stop_loss"
    assert result.final_equity == pytest.approx(950.0, rel=REL)  # 10 shares, 50 lost


def test_short_is_stopped_out_on_the_entry_bar() -> None:
    # Short 10 @ 100 at bar 1's open; bar 1 trades up to 110 and closes at 99: the stop
    # 100 * 1.05 = 105 is inside the range -> bought back at 105 on bar 1.
    bars = entry_bar(100, 110, 98, 99, (99, 100, 98, 99))
    out = run(bars, signals_at(3, short_entries=[0]), Stops(stop_loss=0.05), allow_short=True)
    assert fills_of(out) == [(1, SELL, 10.0, 100.0), (1, BUY, 10.0, 105.0)]
    (trade,) = out.trades
    assert trade["exit_reason"] == STOP_LOSS
    assert trade["gross_pnl"] == pytest.approx(-50.0, rel=REL)
    assert out.position.tolist() == [0, 0, 0]


def test_take_profit_on_the_entry_bar() -> None:
    # Target 100 * 1.1 = 110 <= bar 1's high 112 -> limit fill at 110 on bar 1.
    out = run(entry_bar(100, 112, 99, 111), signals_at(2, entries=[0]), Stops(take_profit=0.1))
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (1, SELL, 10.0, 110.0)]
    assert out.trades["exit_reason"].tolist() == [TAKE_PROFIT]
    # Shorts mirror: target 100 * 0.9 = 90 >= low 88.
    short = run(
        entry_bar(100, 101, 88, 89),
        signals_at(2, short_entries=[0]),
        Stops(take_profit=0.1),
        allow_short=True,
    )
    assert fills_of(short) == [(1, SELL, 10.0, 100.0), (1, BUY, 10.0, 90.0)]
    assert short.trades["exit_reason"].tolist() == [TAKE_PROFIT]


def test_both_levels_inside_the_entry_bar_the_stop_wins() -> None:
    # Stop 95 and target 110 both inside 94..112: which came first is unknown -> stop.
    stops = Stops(stop_loss=0.05, take_profit=0.1)
    out = run(entry_bar(100, 112, 94, 111), signals_at(2, entries=[0]), stops)
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (1, SELL, 10.0, 95.0)]
    assert out.trades["exit_reason"].tolist() == [STOP_LOSS]


def test_entry_bar_inside_both_levels_then_a_gap_through_the_stop() -> None:
    # Bar 1 (99..103) touches neither 95 nor 110; bar 2 opens at 90, below the stop:
    # a gap on a later bar fills at that bar's open, not at the stop level.
    stops = Stops(stop_loss=0.05, take_profit=0.1)
    bars = entry_bar(100, 103, 99, 102, (90, 92, 88, 91), (91, 91, 91, 91))
    out = run(bars, signals_at(4, entries=[0]), stops)
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (2, SELL, 10.0, 90.0)]
    assert out.trades["exit_reason"].tolist() == [STOP_LOSS]
    # The mirror for a short: bar 2 opens at 110, above the 105 stop.
    short = run(
        entry_bar(100, 101, 97, 98, (110, 112, 109, 111), (111, 111, 111, 111)),
        signals_at(4, short_entries=[0]),
        stops,
        allow_short=True,
    )
    assert fills_of(short) == [(1, SELL, 10.0, 100.0), (2, BUY, 10.0, 110.0)]


def test_trailing_stop_on_the_entry_bar_is_anchored_at_the_entry_price() -> None:
    # Bar 1: 98..110. Within the bar the high may come after the low, so on bar 1 the
    # trail is anchored at the entry 100 -> 90, not touched by the low 98. From bar 2
    # the anchor includes bar 1's high: 110 * 0.9 = 99, touched by bar 2's low 98.5.
    bars = entry_bar(100, 110, 98, 105, (101, 102, 98.5, 100), (100, 100, 100, 100))
    out = run(bars, signals_at(4, entries=[0]), Stops(trailing_stop=0.1))
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (2, SELL, 10.0, 99.0)]
    assert out.trades["exit_reason"].tolist() == [TRAILING]
    # When the entry bar falls 10 % below the entry, the trail anchored there exits.
    fell = run(entry_bar(100, 101, 89, 95), signals_at(2, entries=[0]), Stops(trailing_stop=0.1))
    assert fills_of(fell) == [(1, BUY, 10.0, 100.0), (1, SELL, 10.0, 90.0)]
    assert fell.trades["exit_reason"].tolist() == [TRAILING]


def test_short_trailing_stop_anchored_on_the_entry_bar_low() -> None:
    # Short @ 100; bar 1 trades 90..101: on bar 1 the trail is 110 (anchored at 100);
    # on bar 2 it is 90 * 1.1 = 99, reached by bar 2's high 99.5.
    bars = entry_bar(100, 101, 90, 92, (93, 99.5, 92, 97), (97, 97, 97, 97))
    out = run(bars, signals_at(4, short_entries=[0]), Stops(trailing_stop=0.1), allow_short=True)
    assert fills_of(out) == [(1, SELL, 10.0, 100.0), (2, BUY, 10.0, 99.0)]
    assert out.trades["exit_reason"].tolist() == [TRAILING]


def test_entry_at_the_close_is_first_checked_on_the_next_bar() -> None:
    # Bought at bar 0's close 100: bar 0's own low 90 came before the fill, so the
    # first checked bar is bar 1, whose low 94 reaches the 95 stop.
    bars = make_bars([100, 96, 96], opens=[100, 99, 96], highs=[101, 99, 96], lows=[90, 94, 96])
    out = run(bars, signals_at(3, entries=[0]), Stops(stop_loss=0.05), fill_at="close")
    assert fills_of(out)[:2] == [(0, BUY, 10.0, 100.0), (1, SELL, 10.0, 95.0)]


def test_slippage_beyond_the_stop_exits_at_the_open_of_the_entry_bar() -> None:
    # 1 % slippage: bought at 100 * 1.01 = 101 with a 0.5 % stop at 100.495, above the
    # open 100 the market traded at: the stop is already through, as on a gap -> sold
    # at the open with slippage, 100 * 0.99 = 99.
    costs = CostModel(slippage=100.0)  # basis points
    out = run(
        entry_bar(100, 101, 99, 100),
        signals_at(2, entries=[0]),
        Stops(stop_loss=0.005),
        costs=costs,
    )
    assert fills_of(out) == [(1, BUY, 9.0, 101.0), (1, SELL, 9.0, 99.0)]
    assert out.trades["exit_reason"].tolist() == [STOP_LOSS]


# ----------------------------------------------------------- intrabar stop entries


def test_stop_entry_is_stopped_out_when_the_low_may_follow_the_fill() -> None:
    # Level 100 + 2 = 102, filled intrabar: 9 shares (floor(1,000 / 102)).
    # Stop 102 * 0.95 = 96.9; bar 1's low 95 may have come after the fill -> stop.
    bars = entry_bar(100, 104, 95, 103)
    out = run(bars, signals_at(2, entries=[0], offsets={0: 2.0}), Stops(stop_loss=0.05))
    assert fills_of(out) == [(1, BUY, 9.0, 102.0), (1, SELL, 9.0, 96.9)]
    assert out.trades["exit_reason"].tolist() == [STOP_LOSS]


def test_stop_entry_takes_profit_above_its_level_on_the_entry_bar() -> None:
    # Everything above the level 102 happened after the fill (the price had to cross
    # 102 first), so the target 102 * 1.05 = 107.1 <= high 108 is a real fill.
    bars = entry_bar(100, 108, 99.5, 107)
    out = run(bars, signals_at(2, entries=[0], offsets={0: 2.0}), Stops(take_profit=0.05))
    assert fills_of(out) == [(1, BUY, 9.0, 102.0), (1, SELL, 9.0, 107.1)]
    assert out.trades["exit_reason"].tolist() == [TAKE_PROFIT]


def test_stop_entry_never_exits_at_a_price_from_before_the_fill() -> None:
    # Level 102; stop 102 * 0.99 = 100.98 is above the open 100. On a later bar an open
    # beyond the stop is a gap (exit at the open); here the open came before the fill,
    # so the exit is at the stop level 100.98, reached after the fill on the way to
    # the low 99 -- never at the open 100.
    bars = entry_bar(100, 103, 99, 101)
    out = run(bars, signals_at(2, entries=[0], offsets={0: 2.0}), Stops(stop_loss=0.01))
    assert fills_of(out) == [(1, BUY, 9.0, 102.0), (1, SELL, 9.0, 100.98)]


def test_stop_entry_without_reaching_either_level_is_held() -> None:
    # Level 102, stop 96.9, target 107.1; bar 1 trades 97..106: neither.
    stops = Stops(stop_loss=0.05, take_profit=0.05)
    bars = entry_bar(100, 106, 97, 105, (105, 105, 105, 105))
    out = run(bars, signals_at(3, entries=[0], offsets={0: 2.0}), stops)
    assert fills_of(out) == [(1, BUY, 9.0, 102.0), (2, SELL, 9.0, 105.0)]
    assert out.trades["exit_reason"].tolist() == [END]


def test_stop_entry_gapping_through_its_level_is_an_entry_at_the_open() -> None:
    # Level 100 - 1 = 99 is below the open 100: filled at the open, and the whole bar
    # follows; the stop 95 is reached by the low 94.
    bars = entry_bar(100, 101, 94, 96)
    out = run(bars, signals_at(2, entries=[0], offsets={0: -1.0}), Stops(stop_loss=0.05))
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (1, SELL, 10.0, 95.0)]


def test_windows_resume_an_entry_bar_check() -> None:
    # The entry reference lives in the state: running bar by bar gives the same fills.
    bars = entry_bar(100, 104, 95, 103, (103, 104, 102, 103))
    signals = signals_at(3, entries=[0], offsets={0: 2.0})
    whole = run(bars, signals, Stops(stop_loss=0.05))
    windowed = run(bars, signals, Stops(stop_loss=0.05), window=1)
    assert fills_of(windowed) == fills_of(whole) == [(1, BUY, 9.0, 102.0), (1, SELL, 9.0, 96.9)]
