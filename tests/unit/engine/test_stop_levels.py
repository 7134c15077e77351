"""Stop levels recomputed after the fact agree with what the simulation did, fill by fill.

Zero costs and no tick grid, so every stop exit fills exactly at its level (the low
touched it) or at the open (the bar opened beyond it: a gap through the stop), and no
bar before the exit touched a level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import privatetrade as pt
from privatetrade.engine.costs import CostModel
from privatetrade.engine.records import ExitReason
from privatetrade.engine.settings import Stops
from privatetrade.engine.stop_levels import TradeLevels, TradeSpan, trade_levels

STOP_EXITS = (ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP)


def gappy_bars(seed: int, count: int = 800) -> dict[str, Any]:
    """A random walk whose opens jump away from the previous close now and then."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, count)))
    jumps = np.where(
        rng.random(count) < 0.08, rng.normal(0.0, 0.08, count), rng.normal(0.0, 0.004, count)
    )
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(jumps)
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.01, count)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, count)))
    day = 86_400 * 10**9
    return {
        "time": np.int64(1_577_836_800) * 10**9 + np.arange(count, dtype=np.int64) * day,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": np.full(count, 1000.0),
    }


def spans(result: Any, at_close: bool) -> list[TradeSpan]:
    return [
        TradeSpan(
            entry_bar=int(trade["entry_bar"]),
            exit_bar=int(trade["exit_bar"]),
            direction=int(trade["direction"]),
            entry_price=float(trade["entry_price"]),
            exit_reason=ExitReason(int(trade["exit_reason"])),
            at_close=at_close,
        )
        for trade in result.output.trades
    ]


def effective_stop(levels: TradeLevels, offset: int, direction: int) -> float | None:
    candidates = [
        levels.stop_loss,
        None if levels.trailing is None else float(levels.trailing[offset]),
    ]
    found = [level for level in candidates if level is not None]
    if not found:
        return None
    return max(found) if direction > 0 else min(found)


CASES = [
    ("sma_cross", {"fast": 3, "slow": 12}, {"stop_loss": 0.04}, "next_open", False),
    (
        "sma_cross",
        {"fast": 3, "slow": 12},
        {"trailing_stop": 0.05, "take_profit": 0.15},
        "next_open",
        True,
    ),
    (
        "sma_cross",
        {"fast": 4, "slow": 15},
        {"stop_loss": 0.03, "trailing_stop": 0.06},
        "close",
        True,
    ),
    ("rsi_reversion", {"period": 6}, {"stop_loss": 0.05, "take_profit": 0.08}, "close", False),
    (
        "volatility_breakout",
        {"k": 0.3},
        {"stop_loss": 0.02, "trailing_stop": 0.03},
        "next_open",
        False,
    ),
]


@pytest.mark.parametrize(("strategy", "params", "stops", "fill_at", "short"), CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_levels_explain_every_exit(
    strategy: str,
    params: dict[str, Any],
    stops: dict[str, float],
    fill_at: str,
    short: bool,
    seed: int,
) -> None:
    bars = gappy_bars(seed)
    result = pt.run_backtest(
        bars,
        strategy,
        params,
        costs=CostModel.zero(),
        stops=stops,
        fill_at=fill_at,
        allow_short=short,
        tz="UTC",
    )
    stop_entries = strategy == "volatility_breakout"
    trades = spans(result, at_close=fill_at == "close" and not stop_entries)
    found = trade_levels(bars["open"], bars["high"], bars["low"], trades, Stops(**stops))
    exits = dict.fromkeys(ExitReason, 0)
    gaps = 0
    for trade, record, levels in zip(trades, result.output.trades, found, strict=True):
        d = trade.direction
        exit_price = float(record["exit_price"])
        exits[trade.exit_reason] += 1
        assert levels.exit_open == bars["open"][trade.exit_bar]
        if trade.exit_reason in STOP_EXITS:
            stop = effective_stop(levels, trade.exit_bar - trade.entry_bar, d)
            assert levels.exit_stop == stop
            assert stop is not None
            if levels.gap:
                gaps += 1
                assert exit_price == bars["open"][trade.exit_bar]
                assert d * (exit_price - stop) <= 0.0
            else:
                assert exit_price == pytest.approx(stop, rel=1e-12)
            trailing_tighter = levels.trailing is not None and (
                levels.stop_loss is None or d * (levels.trailing[-1] - levels.stop_loss) > 0.0
            )
            assert (trade.exit_reason == ExitReason.TRAILING_STOP) == trailing_tighter
        else:
            assert levels.exit_stop is None
            assert not levels.gap
        if trade.exit_reason == ExitReason.TAKE_PROFIT:
            assert levels.take_profit is not None
            assert exit_price in (
                pytest.approx(levels.take_profit, rel=1e-12),
                bars["open"][trade.exit_bar],
            )
        # No bar before the exit bar reached a level (from the first bar the stops were checked).
        first = trade.entry_bar + (1 if trade.at_close else 0)
        for bar in range(first, trade.exit_bar):
            stop = effective_stop(levels, bar - trade.entry_bar, d)
            worst = bars["low"][bar] if d > 0 else bars["high"][bar]
            best = bars["high"][bar] if d > 0 else bars["low"][bar]
            if stop is not None:
                assert d * (worst - stop) > 0.0, (trade, bar)
            if levels.take_profit is not None:
                assert d * (best - levels.take_profit) < 0.0, (trade, bar)
    stopped = exits[ExitReason.STOP_LOSS] + exits[ExitReason.TRAILING_STOP]
    assert stopped >= 3
    if seed == 1 and strategy == "sma_cross":
        assert gaps >= 1  # the jumps make some stops gap


def test_a_gap_down_through_the_stop_is_told_from_a_touch() -> None:
    open_ = np.array([100.0, 100.0, 97.0, 80.0])
    high = np.array([101.0, 101.0, 98.0, 81.0])
    low = np.array([99.0, 99.0, 94.0, 79.0])
    touched = TradeSpan(1, 2, 1, 100.0, ExitReason.STOP_LOSS, at_close=False)
    gapped = TradeSpan(1, 3, 1, 100.0, ExitReason.STOP_LOSS, at_close=False)
    by_signal = TradeSpan(1, 3, 1, 100.0, ExitReason.SIGNAL, at_close=False)
    first, second, third = trade_levels(
        open_, high, low, [touched, gapped, by_signal], Stops(stop_loss=0.05)
    )
    assert (first.exit_stop, first.gap) == (95.0, False)
    assert (second.exit_stop, second.gap, second.exit_open) == (95.0, True, 80.0)
    assert (third.exit_stop, third.gap, third.stop_loss) == (None, False, 95.0)


def test_trailing_anchor_skips_the_entry_bar_of_an_entry_at_the_close() -> None:
    high = np.array([120.0, 110.0, 105.0])
    low = np.array([90.0, 95.0, 96.0])
    at_close = TradeSpan(0, 2, 1, 100.0, ExitReason.SIGNAL, at_close=True)
    at_open = TradeSpan(0, 2, 1, 100.0, ExitReason.SIGNAL, at_close=False)
    short = TradeSpan(0, 2, -1, 100.0, ExitReason.SIGNAL, at_close=False)
    closing, opening, shorting = trade_levels(
        high, high, low, [at_close, at_open, short], Stops(trailing_stop=0.1)
    )
    assert closing.trailing is not None
    assert opening.trailing is not None
    assert shorting.trailing is not None
    assert closing.trailing.tolist() == pytest.approx([90.0, 90.0, 99.0])
    assert opening.trailing.tolist() == pytest.approx([90.0, 108.0, 108.0])
    assert shorting.trailing.tolist() == pytest.approx([110.0, 99.0, 99.0])
