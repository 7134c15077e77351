"""The stop-loss, trailing-stop and take-profit levels of closed trades, after the fact.

The simulation checks protective exits bar by bar (docs/engine.md §3.6) and records
only the fill. This module recomputes the levels it checked from the trade's entry
fill and the bars, with the same rules, so a chart can draw them and a trade that was
stopped out at an open far beyond its stop (a gap through the stop) can be told from
one filled at the stop.

Rules (long; a short mirrors them): ``P`` is the entry fill price; the fixed stop is
``P * (1 - stop_loss)``, the target ``P * (1 + take_profit)``; the trailing stop checked
on bar ``t`` is ``anchor * (1 - trailing_stop)`` where the anchor is the highest of
``P`` and the highs of the bars from the entry bar (the bar after it for an entry at a
close) up to ``t - 1``. The effective stop is the tighter of the fixed and the trailing
one. A stop exit on a bar after the entry bar whose open was already at or beyond that
stop filled at the open: a gap through the stop.

Example:
    >>> import numpy as np
    >>> from privatetrade.engine.settings import Stops
    >>> trade = TradeSpan(entry_bar=0, exit_bar=2, direction=1, entry_price=100.0,
    ...                   exit_reason=ExitReason.STOP_LOSS, at_close=False)
    >>> levels = trade_levels(np.array([100.0, 99.0, 80.0]), np.array([101.0, 100.0, 81.0]),
    ...                       np.array([99.0, 97.0, 79.0]), [trade], Stops(stop_loss=0.05))
    >>> levels[0].exit_stop, levels[0].gap
    (95.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privatetrade.engine.records import ExitReason
from privatetrade.engine.settings import Stops

__all__ = ["TradeLevels", "TradeSpan", "trade_levels"]

FloatArray = npt.NDArray[np.float64]
_STOP_EXITS = (ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP)


@dataclass(frozen=True, slots=True)
class TradeSpan:
    """What the level rules need to know about one closed trade.

    Attributes:
        entry_bar: Index of the entry fill's bar.
        exit_bar: Index of the exit fill's bar.
        direction: ``1`` long, ``-1`` short.
        entry_price: The entry fill price ``P``.
        exit_reason: Why the trade closed.
        at_close: True when the entry filled at a bar's close (``fill_at="close"``,
            not a stop entry): the entry bar's range came before the fill.
    """

    entry_bar: int
    exit_bar: int
    direction: int
    entry_price: float
    exit_reason: ExitReason
    at_close: bool


@dataclass(frozen=True, slots=True)
class TradeLevels:
    """The protective levels of one trade.

    Attributes:
        stop_loss: The fixed stop, or None without a stop-loss.
        take_profit: The target, or None without a take-profit.
        trailing: The trailing stop checked on each bar from the entry bar to the exit
            bar (inclusive), or None without a trailing stop.
        exit_stop: For a stop-loss or trailing-stop exit, the effective stop on the exit
            bar; None for other exits.
        gap: True when a stop exit filled at the exit bar's open because the bar opened
            at or beyond the stop (a gap through the stop).
        exit_open: The exit bar's open.
    """

    stop_loss: float | None
    take_profit: float | None
    trailing: FloatArray | None
    exit_stop: float | None
    gap: bool
    exit_open: float


def trade_levels(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    trades: Sequence[TradeSpan],
    stops: Stops,
) -> list[TradeLevels]:
    """Return the levels of each trade, in the order given.

    Args:
        open_: Opening prices of the bars the run used.
        high: Highest prices.
        low: Lowest prices.
        trades: The closed trades, their bar fields indexing the arrays.
        stops: The run's stop settings.
    """
    return [_levels(open_, high, low, trade, stops) for trade in trades]


def _levels(
    open_: FloatArray, high: FloatArray, low: FloatArray, trade: TradeSpan, stops: Stops
) -> TradeLevels:
    d = trade.direction
    price = trade.entry_price
    fixed = None if stops.stop_loss is None else price * (1.0 - d * stops.stop_loss)
    target = None if stops.take_profit is None else price * (1.0 + d * stops.take_profit)
    trailing = None
    if stops.trailing_stop is not None:
        trailing = _anchors(high if d > 0 else low, trade) * (1.0 - d * stops.trailing_stop)
    exit_stop = None
    gap = False
    exit_open = float(open_[trade.exit_bar])
    if trade.exit_reason in _STOP_EXITS:
        candidates = [
            level
            for level in (fixed, None if trailing is None else trailing[-1])
            if level is not None
        ]
        if candidates:
            exit_stop = float(max(candidates) if d > 0 else min(candidates))
            later_bar = trade.exit_bar > trade.entry_bar
            gap = later_bar and d * (exit_open - exit_stop) <= 0.0
    return TradeLevels(fixed, target, trailing, exit_stop, gap, exit_open)


def _anchors(extremes: FloatArray, trade: TradeSpan) -> FloatArray:
    """The trailing anchor checked on each bar of the trade (highs for a long, lows for a short)."""
    d = trade.direction
    span = trade.exit_bar - trade.entry_bar
    seen = np.array(extremes[trade.entry_bar : trade.exit_bar], dtype=np.float64)
    if trade.at_close and span > 0:
        seen[0] = trade.entry_price  # the entry bar's range came before the fill
    anchors = np.empty(span + 1)
    anchors[0] = trade.entry_price
    if span > 0:
        running = np.maximum.accumulate(seen) if d > 0 else np.minimum.accumulate(seen)
        anchors[1:] = (
            np.maximum(running, trade.entry_price)
            if d > 0
            else np.minimum(running, trade.entry_price)
        )
    return anchors
