"""Stops.max_bars_held: the time exit, hand-computed on tiny bar series."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from builders import make_bars, signals_at
from privatetrade.engine.bars import PreparedBars
from privatetrade.engine.costs import CostModel
from privatetrade.engine.records import ExitReason, Side
from privatetrade.engine.settings import SimulationSettings, Stops
from privatetrade.engine.simulation import SimulationOutput, simulate
from privatetrade.engine.strategies.base import Signals

TIME = int(ExitReason.TIME)
SIGNAL = int(ExitReason.SIGNAL)
STOP_LOSS = int(ExitReason.STOP_LOSS)
BUY, SELL = int(Side.BUY), int(Side.SELL)

CLOSES = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0]
OPENS = [100.0, 100.5, 101.5, 102.5, 103.5, 104.5, 105.5, 106.5]


def _run(
    bars: PreparedBars, signals: Signals, stops: Stops | None = None, **options: Any
) -> SimulationOutput:
    settings = SimulationSettings(
        initial_cash=1_000.0, costs=CostModel.zero(), stops=stops or Stops(), **options
    )
    return simulate(bars, signals, settings)


def _fills(out: SimulationOutput) -> list[tuple[int, int, float, int]]:
    return [(int(f["bar"]), int(f["side"]), float(f["price"]), int(f["reason"])) for f in out.fills]


def test_a_position_entered_at_the_open_leaves_after_its_nth_bar() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    out = _run(bars, signals_at(8, entries=[0]), Stops(max_bars_held=2))
    # Entry decided at bar 0 -> bought at bar 1's open (100.5): bars 1 and 2 held; the exit
    # is decided at bar 2's close and filled at bar 3's open (102.5), reason time.
    assert _fills(out) == [(1, BUY, 100.5, 0), (3, SELL, 102.5, TIME)]
    shares = 1_000.0 // 100.5
    assert out.equity[-1] == pytest.approx(1_000.0 + shares * (102.5 - 100.5))
    trade = out.trades[0]
    assert (int(trade["entry_bar"]), int(trade["exit_bar"])) == (1, 3)
    assert int(trade["exit_reason"]) == TIME


def test_a_position_entered_at_the_close_counts_from_the_next_bar() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    out = _run(bars, signals_at(8, entries=[1]), Stops(max_bars_held=3), fill_at="close")
    # Bought at bar 1's close (101); bars 2, 3, 4 held; sold at bar 4's close (104).
    assert _fills(out) == [(1, BUY, 101.0, 0), (4, SELL, 104.0, TIME)]


def test_a_level_entry_reenters_after_the_time_exit() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    always = signals_at(8, entries=range(8))
    out = _run(bars, always, Stops(max_bars_held=1))
    # Held one bar each: in at 1, out at 2; the entry decided at bar 2 -> in at 3, out at 4 ...
    assert _fills(out) == [
        (1, BUY, 100.5, 0),
        (2, SELL, 101.5, TIME),
        (3, BUY, 102.5, 0),
        (4, SELL, 103.5, TIME),
        (5, BUY, 104.5, 0),
        (6, SELL, 105.5, TIME),
        (7, BUY, 106.5, 0),
        (7, SELL, 107.0, int(ExitReason.END_OF_DATA)),
    ]


def test_a_signal_exit_on_the_same_bar_keeps_its_reason() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    out = _run(bars, signals_at(8, entries=[0], exits=[2]), Stops(max_bars_held=2))
    assert _fills(out)[-1] == (3, SELL, 102.5, SIGNAL)


def test_an_earlier_signal_exit_or_stop_comes_first() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    out = _run(bars, signals_at(8, entries=[0], exits=[1]), Stops(max_bars_held=5))
    assert _fills(out)[-1] == (2, SELL, 101.5, SIGNAL)
    falling = make_bars([100, 99, 90, 89, 88, 87], opens=[100, 100, 95, 89, 88, 87])
    out = _run(falling, signals_at(6, entries=[0]), Stops(stop_loss=0.05, max_bars_held=4))
    assert _fills(out)[-1][3] == STOP_LOSS


def test_a_short_position_leaves_after_its_nth_bar_too() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    signals = signals_at(8, short_entries=[0], short_exits=[])
    out = _run(bars, signals, Stops(max_bars_held=3), allow_short=True)
    assert _fills(out) == [(1, SELL, 100.5, 0), (4, BUY, 103.5, TIME)]
    assert int(out.trades[0]["direction"]) == -1


def test_no_time_exit_changes_nothing() -> None:
    bars = make_bars(CLOSES, opens=OPENS)
    signals = signals_at(8, entries=[0, 4], exits=[2, 6])
    plain = _run(bars, signals)
    far = _run(bars, signals, Stops(max_bars_held=10_000))
    assert _fills(plain) == _fills(far)
    assert np.array_equal(plain.equity, far.equity)


@pytest.mark.parametrize("value", [0, 10_001, 2.5, True, "3"])
def test_max_bars_held_is_a_whole_number_from_1_to_10000(value: object) -> None:
    with pytest.raises(ValidationError):
        Stops(max_bars_held=value)  # type: ignore[arg-type]


def test_settings_without_a_time_exit_serialize_as_before() -> None:
    assert Stops(stop_loss=0.05).model_dump() == {
        "stop_loss": 0.05,
        "take_profit": None,
        "trailing_stop": None,
    }
    assert Stops(max_bars_held=3).model_dump()["max_bars_held"] == 3
    assert Stops.model_validate(Stops(max_bars_held=3).model_dump()) == Stops(max_bars_held=3)
