"""Bar-by-bar simulation of one position over a window of bars (numba).

The kernel is resumable: everything it needs to continue lives in a one-element
``STATE_DTYPE`` array, so a run over ``[0, n)`` equals runs over ``[0, k)`` and
``[k, n)`` with the same state array. Per bar ``t`` the order of events is:

1. pending orders decided at ``t-1`` fill at ``t``'s open (exit first, then entry);
2. stop-loss / take-profit / trailing stop of the open position, including one entered
   at ``t``'s open or intrabar (then only the part of the bar after the fill counts);
3. excursions (MAE/MFE, trailing anchor) updated with ``t``'s range;
4. the decisions of bar ``t`` (signals at its close) become pending orders, or fill
   at ``t``'s close in same-close mode;
5. cash, position and equity are recorded at ``t``'s close.

Prices are adjusted for slippage, rounded to the tick grid (buys up, sells down,
limit orders toward their limit) and clamped into the bar's ``[low, high]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from privatetrade.engine.kernels.fills import (
    commission_nb,
    entry_quantity_nb,
    fill_price_nb,
    limit_price_nb,
)
from privatetrade.engine.records import (
    Direction,
    ExitReason,
    FillTiming,
)

_BUY = 1
_SELL = -1
_LONG = int(Direction.LONG)
_SHORT = int(Direction.SHORT)
_SIGNAL = int(ExitReason.SIGNAL)
_STOP_LOSS = int(ExitReason.STOP_LOSS)
_TAKE_PROFIT = int(ExitReason.TAKE_PROFIT)
_TRAILING = int(ExitReason.TRAILING_STOP)
_END = int(ExitReason.END_OF_DATA)
_TIME = int(ExitReason.TIME)
_NONE = int(ExitReason.NONE)
_NEXT_OPEN = int(FillTiming.NEXT_OPEN)

# Fields of the per-bar tuple handed to the event functions (scalars only, so a call
# costs no reference counting): (t, open, high, low, close, tax rate, buy blocked,
# sell blocked, tick table row).
_T, _OPEN, _HIGH, _LOW, _CLOSE, _TAX, _BUY_BLOCKED, _SELL_BLOCKED, _ROW = range(9)


@njit(cache=True, inline="always", error_model="numpy")
def record_fill_nb(fills, state, t, side, quantity, price, commission, tax, slippage, reason):  # type: ignore[no-untyped-def]
    """Append one fill record when a record buffer is present."""
    k = state.n_fills
    if k < fills.shape[0]:
        fill = fills[k]
        fill.bar = t
        fill.side = side
        fill.quantity = quantity
        fill.price = price
        fill.commission = commission
        fill.tax = tax
        fill.slippage = slippage
        fill.reason = reason
    state.n_fills = k + 1


@njit(cache=True, inline="always", error_model="numpy")
def open_position_nb(state, fills, bar, direction, price, base, cfg):  # type: ignore[no-untyped-def]
    """Enter a position at ``price`` if one lot is affordable; return whether it filled."""
    t = bar[_T]
    side = _BUY if direction == _LONG else _SELL
    equity = state.cash
    quantity = entry_quantity_nb(price, side, state.cash, equity, cfg, bar[_TAX])
    if quantity <= 0.0:
        return False
    value = quantity * price
    commission = commission_nb(value, quantity, side, cfg)
    tax = value * bar[_TAX] if side == _SELL else 0.0
    state.cash -= side * value + commission + tax
    state.position = direction * quantity
    state.entry_bar = t
    state.entry_price = price
    state.entry_reference = base
    state.entry_commission = commission
    state.entry_tax = tax
    state.extreme_high = price
    state.extreme_low = price
    record_fill_nb(
        fills, state, t, side, quantity, price, commission, tax, abs(price - base) * quantity, _NONE
    )
    return True


@njit(cache=True, inline="always", error_model="numpy")
def close_position_nb(state, fills, trades, bar, price, base, reason, cfg):  # type: ignore[no-untyped-def]
    """Close the whole position at ``price`` and record the trade."""
    t = bar[_T]
    direction = _LONG if state.position > 0.0 else _SHORT
    side = -direction
    quantity = abs(state.position)
    value = quantity * price
    commission = commission_nb(value, quantity, side, cfg)
    tax = value * bar[_TAX] if side == _SELL else 0.0
    if side == _SELL:
        # A sale never costs more than it brings in (a minimum commission on a
        # nearly worthless position is capped at the proceeds).
        commission = min(commission, value - tax)
    state.cash += direction * value - commission - tax
    state.position = 0.0
    record_fill_nb(
        fills,
        state,
        t,
        side,
        quantity,
        price,
        commission,
        tax,
        abs(price - base) * quantity,
        reason,
    )
    state.extreme_high = max(state.extreme_high, price)
    state.extreme_low = min(state.extreme_low, price)
    entry_price = state.entry_price
    gross_pnl = direction * (price - entry_price) * quantity
    total_commission = state.entry_commission + commission
    total_tax = state.entry_tax + tax
    net_pnl = gross_pnl - total_commission - total_tax
    # Trade statistics without trade records (sweeps keep none).
    if net_pnl > 0.0:
        state.won_pnl += net_pnl
        state.n_wins += 1
    elif net_pnl < 0.0:
        state.lost_pnl += net_pnl
    k = state.n_trades
    if k < trades.shape[0]:
        trade = trades[k]
        trade.direction = direction
        trade.entry_bar = state.entry_bar
        trade.exit_bar = t
        trade.quantity = quantity
        trade.entry_price = entry_price
        trade.exit_price = price
        trade.gross_pnl = gross_pnl
        trade.commission = total_commission
        trade.tax = total_tax
        trade.net_pnl = net_pnl
        trade.return_pct = net_pnl / (entry_price * quantity + state.entry_commission)
        trade.exit_reason = reason
        if direction == _LONG:
            trade.mae = state.extreme_low / entry_price - 1.0
            trade.mfe = state.extreme_high / entry_price - 1.0
        else:
            trade.mae = 1.0 - state.extreme_high / entry_price
            trade.mfe = 1.0 - state.extreme_low / entry_price
    state.n_trades = k + 1
    state.entry_bar = -1


@njit(cache=True, error_model="numpy")
def blocked_nb(side, bar):  # type: ignore[no-untyped-def]
    """Return whether a limit-locked bar keeps an order of ``side`` from filling."""
    return bar[_SELL_BLOCKED] if side == _SELL else bar[_BUY_BLOCKED]


@njit(cache=True, inline="always", error_model="numpy")
def _fill_pending_nb(state, fills, trades, bar, cfg):  # type: ignore[no-untyped-def]
    """Fill the orders decided at ``t-1`` at bar ``t``'s open (exit first, then entry)."""
    fill_pending_exit_nb(state, fills, trades, bar, cfg)
    fill_pending_entry_nb(state, fills, bar, cfg)


@njit(cache=True, inline="always", error_model="numpy")
def fill_pending_exit_nb(state, fills, trades, bar, cfg):  # type: ignore[no-untyped-def]
    """Fill an exit decided at ``t-1`` at bar ``t``'s open, unless the bar is locked."""
    open_ = bar[_OPEN]
    if state.pending_exit:
        if state.position == 0.0:
            state.pending_exit = False
            state.pending_reason = 0
        else:
            side = _SELL if state.position > 0.0 else _BUY
            if not blocked_nb(side, bar):
                price = fill_price_nb(open_, side, bar, cfg)
                reason = state.pending_reason if state.pending_reason != 0 else _SIGNAL
                close_position_nb(state, fills, trades, bar, price, open_, reason, cfg)
                state.pending_exit = False
                state.pending_reason = 0


@njit(cache=True, inline="always", error_model="numpy")
def fill_pending_entry_nb(state, fills, bar, cfg):  # type: ignore[no-untyped-def]
    """Fill an entry decided at ``t-1`` at bar ``t``'s open (or intrabar for a stop entry).

    Nothing happens while a position is open or an exit is pending. A market entry on a
    locked bar stays pending; a stop entry there, or one whose level is not reached, is
    dropped; so is an entry that cannot afford one lot.
    """
    if state.pending_entry == 0 or state.position != 0.0 or state.pending_exit:
        return
    open_ = bar[_OPEN]
    direction = state.pending_entry
    side = _BUY if direction == _LONG else _SELL
    stop_entry = not np.isnan(state.pending_offset)
    if blocked_nb(side, bar):
        if stop_entry:
            state.pending_entry = 0
        return
    base = open_
    if stop_entry:
        level = open_ + side * state.pending_offset
        state.pending_entry = 0
        if (side == _BUY and bar[_HIGH] < level) or (side == _SELL and bar[_LOW] > level):
            return
        base = max(open_, level) if side == _BUY else min(open_, level)
    price = fill_price_nb(base, side, bar, cfg)
    # An entry that cannot afford one lot is dropped, not retried.
    if open_position_nb(state, fills, bar, direction, price, base, cfg):
        state.entry_at_close = False
    state.pending_entry = 0


@njit(cache=True, error_model="numpy")
def check_stops_nb(state, fills, trades, bar, cfg):  # type: ignore[no-untyped-def]
    """Exit on stop-loss, trailing stop or take-profit touched during the bar."""
    direction = _LONG if state.position > 0.0 else _SHORT
    side = -direction
    if blocked_nb(side, bar):
        return
    entry = state.entry_price
    stop = np.nan
    reason = _STOP_LOSS
    if cfg.stop_loss > 0.0:
        stop = entry * (1.0 - direction * cfg.stop_loss)
    if cfg.trailing_stop > 0.0:
        anchor = state.extreme_high if direction == _LONG else state.extreme_low
        trail = anchor * (1.0 - direction * cfg.trailing_stop)
        if np.isnan(stop) or direction * (trail - stop) > 0.0:
            stop = trail
            reason = _TRAILING
    target = np.nan
    if cfg.take_profit > 0.0:
        target = entry * (1.0 + direction * cfg.take_profit)
    # On the entry bar only the part of the bar after the fill counts: it starts at the
    # entry's reference price (the open, or a stop entry's level) instead of the open.
    open_ = state.entry_reference if state.entry_bar == bar[_T] else bar[_OPEN]
    worst = bar[_LOW] if direction == _LONG else bar[_HIGH]
    best = bar[_HIGH] if direction == _LONG else bar[_LOW]
    if not np.isnan(stop) and direction * (open_ - stop) <= 0.0:
        price = fill_price_nb(open_, side, bar, cfg)
        close_position_nb(state, fills, trades, bar, price, open_, reason, cfg)
    elif not np.isnan(target) and direction * (open_ - target) >= 0.0:
        price = fill_price_nb(open_, side, bar, cfg)
        close_position_nb(state, fills, trades, bar, price, open_, _TAKE_PROFIT, cfg)
    elif not np.isnan(stop) and direction * (worst - stop) <= 0.0:
        price = fill_price_nb(stop, side, bar, cfg)
        close_position_nb(state, fills, trades, bar, price, stop, reason, cfg)
    elif not np.isnan(target) and direction * (best - target) >= 0.0:
        price = limit_price_nb(target, side, bar, cfg)
        # A limit fill has no slippage: its reference price is the fill itself.
        close_position_nb(state, fills, trades, bar, price, price, _TAKE_PROFIT, cfg)


@njit(cache=True, inline="always", error_model="numpy")
def _bar_nb(t, prices, costs):  # type: ignore[no-untyped-def]
    """Return the per-bar scalar tuple of bar ``t`` (see ``_T`` ... ``_ROW``)."""
    open_, high, low, close = prices
    tax_rate, buy_blocked, sell_blocked, tick_row = costs
    if tax_rate.shape[0] == 0:  # a frictionless market passes empty cost arrays
        return (t, open_[t], high[t], low[t], close[t], 0.0, False, False, 0)
    return (
        t, open_[t], high[t], low[t], close[t],
        tax_rate[t], buy_blocked[t], sell_blocked[t], tick_row[t],
    )  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy")
def _load_nb(state):  # type: ignore[no-untyped-def]
    """Return the state fields the hot path keeps in locals."""
    pending = state.pending_exit or state.pending_entry != 0
    return (
        state.position, state.cash, pending, state.extreme_high, state.extreme_low,
    )  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy")
def _store_extremes_nb(state, extreme_high, extreme_low):  # type: ignore[no-untyped-def]
    """Write the hot path's excursion extremes back into the state."""
    state.extreme_high = extreme_high
    state.extreme_low = extreme_low


@njit(cache=True, error_model="numpy")
def _close_of_bar_nb(state, fills, trades, bar, cfg, next_open, n):  # type: ignore[no-untyped-def]
    """At the bar's close: same-close fills, then the end-of-data close-out."""
    if not next_open and (state.pending_exit or state.pending_entry != 0):
        _fill_at_close_nb(state, fills, trades, bar, cfg)
    if bar[_T] == n - 1 and cfg.close_at_end and state.position != 0.0:
        close_out_nb(state, fills, trades, bar, cfg)


@njit(cache=True, error_model="numpy")
def close_out_nb(state, fills, trades, bar, cfg):  # type: ignore[no-untyped-def]
    """Close the open position at the bar's close, locks ignored (reason end of data)."""
    side = _SELL if state.position > 0.0 else _BUY
    price = fill_price_nb(bar[_CLOSE], side, bar, cfg)
    close_position_nb(state, fills, trades, bar, price, bar[_CLOSE], _END, cfg)


@njit(cache=True, error_model="numpy")
def decide_nb(  # type: ignore[no-untyped-def]
    position, pending_exit, pending_entry, entry, exit_, short_entry, short_exit, stop_entry
):
    """Return ``(pending_exit, pending_entry)`` after the signals of one bar.

    Signals are read against the position at the close: a long position looks at
    ``exit_`` (and at ``short_entry`` to reverse), a short one at ``short_exit``
    (and ``entry``), a flat one at the entries. So "exit" on a flat book and
    "entry" on a long one mean nothing, and a strategy may raise both every bar.
    A long and a short entry together on a flat book cancel out; an entry opposite
    to a signal that closes it is a reversal (exit first, then entry). A pending
    entry that has not filled yet is dropped by an exit signal of its side.
    ``short_entry``/``short_exit`` must already be False when shorting is off.
    """
    if position > 0.0:
        if exit_ or short_entry:
            pending_exit = True
        if short_entry and not short_exit:
            pending_entry = _SHORT
        elif exit_ and entry and stop_entry:
            pending_entry = _LONG
    elif position < 0.0:
        if short_exit or entry:
            pending_exit = True
        if entry and not exit_:
            pending_entry = _LONG
    elif entry and not short_entry:
        pending_entry = _LONG
    elif short_entry and not entry:
        pending_entry = _SHORT
    elif (pending_entry == _LONG and exit_) or (pending_entry == _SHORT and short_exit):
        pending_entry = 0
    return pending_exit, pending_entry


@njit(cache=True, inline="always", error_model="numpy")
def time_exit_due_nb(state, t, cfg):  # type: ignore[no-untyped-def]
    """Return whether the open position has been held ``max_bars_held`` bars at ``t``'s close.

    A position entered at a bar's open or intrabar holds that bar as its first; one
    entered at a bar's close starts counting with the next bar.
    """
    held = t - state.entry_bar + (0 if state.entry_at_close else 1)
    return held >= cfg.max_bars_held


@njit(cache=True, inline="always", error_model="numpy")
def decide_time_exit_nb(state, position, t, cfg, entry, exit_, short_entry, short_exit):  # type: ignore[no-untyped-def]
    """Return ``(exit_, short_exit, time_only)`` with a due time exit added to the signals.

    ``time_only`` is True when the time exit closes a position the bar's own signals
    would keep (its exit is then recorded with reason ``time``).
    """
    if cfg.max_bars_held <= 0 or position == 0.0 or not time_exit_due_nb(state, t, cfg):
        return exit_, short_exit, False
    if position > 0.0:
        return True, short_exit, not (exit_ or short_entry)
    return exit_, True, not (short_exit or entry)


@njit(cache=True, inline="always", error_model="numpy")
def mark_time_exit_nb(state, time_only, was_pending_exit):  # type: ignore[no-untyped-def]
    """Record reason ``time`` on an exit the time limit alone made pending."""
    if time_only and state.pending_exit and not was_pending_exit:
        state.pending_reason = _TIME


@njit(cache=True, inline="always", error_model="numpy")
def decide_bar_nb(state, position, entry, exit_, short_entry, short_exit, offset):  # type: ignore[no-untyped-def]
    """Turn one bar's signals into the state's pending orders (see ``decide_nb``).

    ``offset`` is the bar's stop-entry offset (NaN for a market order); it is kept
    when a long entry becomes pending.
    """
    was_entry = state.pending_entry
    state.pending_exit, state.pending_entry = decide_nb(
        position,
        state.pending_exit,
        state.pending_entry,
        entry,
        exit_,
        short_entry,
        short_exit,
        not np.isnan(offset),
    )
    if state.pending_entry != was_entry:
        state.pending_offset = offset if state.pending_entry == _LONG else np.nan


@njit(cache=True, error_model="numpy")
def _fill_at_close_nb(state, fills, trades, bar, cfg):  # type: ignore[no-untyped-def]
    """Same-close mode: fill market orders decided at the bar at its close."""
    fill_close_exit_nb(state, fills, trades, bar, cfg)
    fill_close_entry_nb(state, fills, bar, cfg)


@njit(cache=True, inline="always", error_model="numpy")
def fill_close_exit_nb(state, fills, trades, bar, cfg):  # type: ignore[no-untyped-def]
    """Same-close mode: fill a pending exit at the bar's close, unless locked."""
    close = bar[_CLOSE]
    if state.pending_exit and state.position != 0.0:
        side = _SELL if state.position > 0.0 else _BUY
        if not blocked_nb(side, bar):
            price = fill_price_nb(close, side, bar, cfg)
            reason = state.pending_reason if state.pending_reason != 0 else _SIGNAL
            close_position_nb(state, fills, trades, bar, price, close, reason, cfg)
            state.pending_exit = False
            state.pending_reason = 0


@njit(cache=True, inline="always", error_model="numpy")
def fill_close_entry_nb(state, fills, bar, cfg):  # type: ignore[no-untyped-def]
    """Same-close mode: fill a pending market entry at the bar's close, unless locked."""
    if state.pending_entry == 0 or state.position != 0.0 or not np.isnan(state.pending_offset):
        return
    close = bar[_CLOSE]
    side = _BUY if state.pending_entry == _LONG else _SELL
    if blocked_nb(side, bar):
        return
    price = fill_price_nb(close, side, bar, cfg)
    if open_position_nb(state, fills, bar, state.pending_entry, price, close, cfg):
        state.entry_at_close = True
    state.pending_entry = 0


@njit(cache=True, error_model="numpy")
def simulate_window_nb(  # type: ignore[no-untyped-def]
    start,
    stop,
    prices,
    signals,
    costs,
    config,
    state_array,
    fills,
    trades,
    cash_out,
    position_out,
    equity_out,
):
    """Simulate bars ``[start, stop)`` and continue from/into ``state_array``.

    Args:
        start: First bar of the window; must equal ``state_array[0].next_bar``.
        stop: One past the last bar of the window.
        prices: Tuple ``(open, high, low, close)`` of float64 arrays.
        signals: Tuple ``(entries, exits, short_entries, short_exits, entry_offset)``;
            ``entry_offset`` may be empty (no stop-entry orders).
        costs: Tuple ``(tax_rate, buy_blocked, sell_blocked, tick_row)``: per-bar sell
            tax rate, limit-locked flags and the row of the config's tick tables; all
            empty for a market without taxes, limits or ticks.
        config: One-element ``CONFIG_DTYPE`` array (settings and tick tables).
        state_array: One-element ``STATE_DTYPE`` array, updated in place.
        fills: ``FILL_DTYPE`` buffer (records beyond its size are counted, not written).
        trades: ``TRADE_DTYPE`` buffer (same rule).
        cash_out: Cash at each bar's close, written for ``[start, stop)``; may be empty
            (with ``position_out``) when only the equity is wanted, as in sweeps.
        position_out: Signed shares at each bar's close.
        equity_out: ``cash + position * close`` at each bar's close.
    """
    _, high, low, close = prices
    entries, exits, short_entries, short_exits, entry_offset = signals
    cfg = config[0]
    allow_short = cfg.allow_short
    state = state_array[0]
    n = close.shape[0]
    next_open = cfg.fill_timing == _NEXT_OPEN
    has_stops = cfg.stop_loss > 0.0 or cfg.take_profit > 0.0 or cfg.trailing_stop > 0.0
    has_time_exit = cfg.max_bars_held > 0
    watch_position = has_stops or has_time_exit
    has_offsets = entry_offset.shape[0] > 0
    full_series = cash_out.shape[0] > 0
    # The hot path works on local copies of the state; events (fills, stops) work on
    # the record, so the extremes go back before and everything comes back after one.
    position, cash, pending, extreme_high, extreme_low = _load_nb(state)
    t = start
    while t < stop:
        # Quiet stretches (no order pending, no stops to watch, no signal that could
        # act on the position) only need the series written: run through them here.
        if not pending and (position == 0.0 or not watch_position):
            if position == 0.0:
                while t < stop and not (entries[t] or (allow_short and short_entries[t])):
                    if full_series:
                        cash_out[t] = cash
                        position_out[t] = position
                    equity_out[t] = cash
                    t += 1
            else:
                last = min(stop, n - 1)  # the last bar may close the position out
                long = position > 0.0
                while t < last and not (
                    (exits[t] or (allow_short and short_entries[t]))
                    if long
                    else (entries[t] or (allow_short and short_exits[t]))
                ):
                    extreme_high = max(extreme_high, high[t])
                    extreme_low = min(extreme_low, low[t])
                    if full_series:
                        cash_out[t] = cash
                        position_out[t] = position
                    equity_out[t] = cash + position * close[t]
                    t += 1
            if t >= stop:
                break
        if pending:
            _store_extremes_nb(state, extreme_high, extreme_low)
            _fill_pending_nb(state, fills, trades, _bar_nb(t, prices, costs), cfg)
            position, cash, pending, extreme_high, extreme_low = _load_nb(state)
        if has_stops and position != 0.0:
            _store_extremes_nb(state, extreme_high, extreme_low)
            check_stops_nb(state, fills, trades, _bar_nb(t, prices, costs), cfg)
            position, cash, pending, extreme_high, extreme_low = _load_nb(state)
        if position != 0.0:
            extreme_high = max(extreme_high, high[t])
            extreme_low = min(extreme_low, low[t])
        short_entry = allow_short and short_entries[t]
        short_exit = allow_short and short_exits[t]
        exit_ = exits[t]
        time_only = False
        if has_time_exit:
            exit_, short_exit, time_only = decide_time_exit_nb(
                state, position, t, cfg, entries[t], exit_, short_entry, short_exit
            )
        if entries[t] or exit_ or short_entry or short_exit:
            offset = entry_offset[t] if has_offsets else np.nan
            was_pending_exit = state.pending_exit
            decide_bar_nb(state, position, entries[t], exit_, short_entry, short_exit, offset)
            mark_time_exit_nb(state, time_only, was_pending_exit)
            pending = state.pending_exit or state.pending_entry != 0
        if (not next_open and pending) or (t == n - 1 and cfg.close_at_end and position != 0.0):
            _store_extremes_nb(state, extreme_high, extreme_low)
            _close_of_bar_nb(state, fills, trades, _bar_nb(t, prices, costs), cfg, next_open, n)
            position, cash, pending, extreme_high, extreme_low = _load_nb(state)
        if full_series:
            cash_out[t] = cash
            position_out[t] = position
        equity_out[t] = cash + position * close[t]
        t += 1
    _store_extremes_nb(state, extreme_high, extreme_low)
    state.next_bar = stop
