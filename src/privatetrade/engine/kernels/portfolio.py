"""Bar-by-bar simulation of one account trading many symbols over a window of bars (numba).

Prices and per-bar costs are ``(T, N)`` matrices (bar ``t``, symbol ``j``); a symbol
without a bar at ``t`` (``present[t, j]`` False) neither trades nor moves at ``t`` and
its holding is valued at its last close. The account's cash and record counts live in
a one-element ``PORTFOLIO_STATE_DTYPE`` array, each symbol's position in one
``STATE_DTYPE`` record, so a run over ``[0, n)`` equals runs over ``[0, k)`` and
``[k, n)`` with the same state arrays.

Two kernels:

- :func:`portfolio_signals_window_nb`: every symbol runs the single engine's per-position
  events (``kernels/simulate.py``) on its own bars, with the account's cash copied into
  its record and back out around each event. Per bar: pending exits at the open (all
  symbols), pending entries in priority order while positions are free, stops,
  decisions at the close, same-close fills (exits, then entries), end-of-data and
  delisting close-outs. One symbol with one position and ``all_in`` sizing gives the
  single engine's numbers exactly.
- :func:`portfolio_allocation_window_nb`: target weights rebalanced on given fill bars
  (sells first, then buys in universe order, clamped to the cash left); every sale is
  an "exit trade" at the holding's average cost.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from privatetrade.engine.kernels.fills import (
    affordable_quantity_nb,
    commission_nb,
    fill_price_nb,
)
from privatetrade.engine.kernels.simulate import (
    blocked_nb,
    check_stops_nb,
    close_out_nb,
    decide_bar_nb,
    decide_time_exit_nb,
    fill_close_entry_nb,
    fill_close_exit_nb,
    fill_pending_entry_nb,
    fill_pending_exit_nb,
    mark_time_exit_nb,
    record_fill_nb,
)
from privatetrade.engine.records import ExitReason, FillTiming, SizingMode

_BUY = 1
_SELL = -1
_LONG = 1
_NONE = int(ExitReason.NONE)
_END = int(ExitReason.END_OF_DATA)
_REBALANCE = int(ExitReason.REBALANCE)
_NEXT_OPEN = int(FillTiming.NEXT_OPEN)
_ALL_IN = int(SizingMode.ALL_IN)
_FIXED_AMOUNT = int(SizingMode.FIXED_AMOUNT)

# Position sizes of the signals rule (``rule`` tuple of portfolio_signals_window_nb).
# ``SIZE_EQUAL`` and ``SIZE_FRACTION`` (the sizes read from the equity) come first.
SIZE_EQUAL = 0
SIZE_FRACTION = 1
SIZE_ALL_IN = 2
SIZE_AMOUNT = 3

# Fields of the per-bar tuple of simulate.py: (t, open, high, low, close, tax rate, buy
# blocked, sell blocked, tick table row).
_OPEN, _HIGH, _LOW, _CLOSE, _TAX = 1, 2, 3, 4, 5


@njit(cache=True, inline="always", error_model="numpy")
def _bar_at_nb(t, j, prices, costs):  # type: ignore[no-untyped-def]
    """Return symbol ``j``'s per-bar scalar tuple at bar ``t`` (simulate.py's layout)."""
    open_, high, low, close = prices
    tax_rate, buy_blocked, sell_blocked, tick_row = costs
    if tax_rate.shape[0] == 0:  # no symbol has taxes, limits or ticks
        return (t, open_[t, j], high[t, j], low[t, j], close[t, j], 0.0, False, False, 0)
    return (
        t, open_[t, j], high[t, j], low[t, j], close[t, j],
        tax_rate[t, j], buy_blocked[t, j], sell_blocked[t, j], tick_row[t, j],
    )  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy")
def _lend_nb(account, state):  # type: ignore[no-untyped-def]
    """Copy the account's cash and record counts into a symbol's record."""
    state.cash = account.cash
    state.n_fills = account.n_fills
    state.n_trades = account.n_trades


@njit(cache=True, inline="always", error_model="numpy")
def _take_back_nb(account, state, j, fill_symbol, trade_symbol):  # type: ignore[no-untyped-def]
    """Copy cash and counts back into the account; tag the new records with ``j``."""
    for k in range(account.n_fills, min(state.n_fills, fill_symbol.shape[0])):
        fill_symbol[k] = j
    for k in range(account.n_trades, min(state.n_trades, trade_symbol.shape[0])):
        trade_symbol[k] = j
    account.cash = state.cash
    account.n_fills = state.n_fills
    account.n_trades = state.n_trades


@njit(cache=True, error_model="numpy")
def _equity_at_nb(t, reference, present, states, last_close, cash):  # type: ignore[no-untyped-def]
    """Return cash plus every holding at ``reference[t]`` (its last close without a bar)."""
    equity = cash
    for j in range(states.shape[0]):
        quantity = states[j].position
        if quantity != 0.0:
            price = reference[t, j] if present[t, j] else last_close[j]
            equity += quantity * price
    return equity


@njit(cache=True, error_model="numpy")
def _record_bar_nb(t, present, states, last_close, cash, cash_out, equity_out, position_out):  # type: ignore[no-untyped-def]
    """Write cash, equity (holdings at their last close) and positions at bar ``t``."""
    value = 0.0
    for j in range(states.shape[0]):
        quantity = states[j].position
        position_out[t, j] = quantity
        if quantity != 0.0:
            value += quantity * last_close[j]
    cash_out[t] = cash
    equity_out[t] = cash + value


@njit(cache=True, error_model="numpy")
def _size_entry_nb(cfg, size_mode, size_value, equity, max_positions):  # type: ignore[no-untyped-def]
    """Set the sizing of the symbol's config for one entry of the signals rule."""
    if size_mode == SIZE_ALL_IN:
        cfg.sizing_mode = _ALL_IN
        cfg.sizing_value = 0.0
    else:
        cfg.sizing_mode = _FIXED_AMOUNT
        if size_mode == SIZE_EQUAL:
            cfg.sizing_value = max(equity, 0.0) / max_positions
        elif size_mode == SIZE_FRACTION:
            cfg.sizing_value = max(equity, 0.0) * size_value
        else:
            cfg.sizing_value = size_value


@njit(cache=True, error_model="numpy")
def _entry_order_nb(candidates, keys, count):  # type: ignore[no-untyped-def]
    """Return the first ``count`` candidates by descending key, ties in universe order."""
    order = np.argsort(-keys[:count], kind="mergesort")
    return candidates[:count][order]


@njit(cache=True, error_model="numpy")
def _fill_entries_nb(  # type: ignore[no-untyped-def]
    t, at_open, prices, present, costs, configs, rule, account, states, last_close, priority,
    candidates, keys, fills, fill_symbol, trades, trade_symbol,
):  # fmt: skip
    """Fill the pending entries of bar ``t`` in priority order while positions are free."""
    max_positions, size_mode, size_value, _ = rule
    n_symbols = states.shape[0]
    count = 0
    open_positions = 0
    for j in range(n_symbols):
        state = states[j]
        if state.position != 0.0:
            open_positions += 1
        elif present[t, j] and state.pending_entry != 0:
            # At the close a stop entry waits for the next open.
            eligible = not state.pending_exit if at_open else np.isnan(state.pending_offset)
            if eligible:
                candidates[count] = j
                keys[count] = priority[j]
                count += 1
    if count == 0:
        return
    equity = 0.0
    if size_mode <= SIZE_FRACTION:
        reference = prices[0] if at_open else prices[3]
        equity = _equity_at_nb(t, reference, present, states, last_close, account.cash)
    for j in _entry_order_nb(candidates, keys, count):
        state = states[j]
        if open_positions >= max_positions:
            state.pending_entry = 0  # no free position: dropped, like an unaffordable entry
            continue
        cfg = configs[j]
        _size_entry_nb(cfg, size_mode, size_value, equity, max_positions)
        bar = _bar_at_nb(t, j, prices, costs)
        _lend_nb(account, state)
        if at_open:
            fill_pending_entry_nb(state, fills, bar, cfg)
        else:
            fill_close_entry_nb(state, fills, bar, cfg)
        _take_back_nb(account, state, j, fill_symbol, trade_symbol)
        if state.position != 0.0:
            open_positions += 1


@njit(cache=True, error_model="numpy")
def portfolio_signals_window_nb(  # type: ignore[no-untyped-def]
    start, stop, prices, present, signals, scores, costs, configs, rule, last_bar,
    account_array, states, last_close, priority, fills, fill_symbol, trades, trade_symbol,
    cash_out, equity_out, position_out,
):  # fmt: skip
    """Simulate bars ``[start, stop)`` of the signals rule, continuing from the state arrays.

    Args:
        start: First bar of the window; must equal ``account_array[0].next_bar``.
        stop: One past the last bar of the window.
        prices: Tuple ``(open, high, low, close)`` of ``(T, N)`` float64 matrices.
        present: ``(T, N)`` bool: whether symbol ``j`` has a bar at ``t``.
        signals: Tuple ``(entries, exits, entry_offset)``: ``(T, N)`` bool, bool and
            float64 (``entry_offset`` may be ``(0, 0)``: no stop entries); False where
            the symbol has no bar.
        scores: ``(T, N)`` entry priority at each decision bar (higher first; NaN
            last), or ``(0, 0)`` for universe order.
        costs: Tuple ``(tax_rate, buy_blocked, sell_blocked, tick_row)`` of ``(T, N)``
            matrices, all ``(0, 0)`` when no symbol has taxes, limits or ticks.
        configs: ``CONFIG_DTYPE`` array, one row per symbol (its costs; sizing is set
            here before each entry, so pass a copy).
        rule: Tuple ``(max_positions, size_mode, size_value, hold_delisted)``; size
            modes ``SIZE_EQUAL`` (equity / max_positions), ``SIZE_ALL_IN`` (all cash),
            ``SIZE_FRACTION`` (``size_value`` of equity), ``SIZE_AMOUNT`` (money).
        last_bar: ``(N,)`` int64, each symbol's last bar; a position still open there
            before the last bar of all is sold at its close unless ``hold_delisted``.
        account_array: One-element ``PORTFOLIO_STATE_DTYPE`` array, updated in place.
        states: ``STATE_DTYPE`` array, one record per symbol, updated in place.
        last_close: ``(N,)`` each symbol's last close so far (NaN before its first bar).
        priority: ``(N,)`` the score of each symbol's pending entry.
        fills: ``FILL_DTYPE`` buffer (records beyond its size are counted, not written).
        fill_symbol: int64 buffer of the fills' symbol indices, same size.
        trades: ``TRADE_DTYPE`` buffer (same rule).
        trade_symbol: int64 buffer of the trades' symbol indices, same size.
        cash_out: ``(T,)`` cash at each bar's close, written for ``[start, stop)``.
        equity_out: ``(T,)`` cash plus holdings at their last close.
        position_out: ``(T, N)`` shares held at each bar's close.
    """
    entries, exits, entry_offset = signals
    close = prices[3]
    account = account_array[0]
    n_bars, n_symbols = present.shape
    cfg0 = configs[0]
    next_open = cfg0.fill_timing == _NEXT_OPEN
    has_stops = cfg0.stop_loss > 0.0 or cfg0.take_profit > 0.0 or cfg0.trailing_stop > 0.0
    has_time_exit = cfg0.max_bars_held > 0
    has_offsets = entry_offset.shape[0] > 0
    has_scores = scores.shape[0] > 0
    hold_delisted = rule[3]
    candidates = np.empty(n_symbols, dtype=np.int64)
    keys = np.empty(n_symbols)
    for t in range(start, stop):
        # 1. Exits decided before, at the open.
        for j in range(n_symbols):
            state = states[j]
            if present[t, j] and state.pending_exit:
                _lend_nb(account, state)
                fill_pending_exit_nb(
                    state, fills, trades, _bar_at_nb(t, j, prices, costs), configs[j]
                )
                _take_back_nb(account, state, j, fill_symbol, trade_symbol)
        # 2. Entries decided before, in priority order while positions are free.
        _fill_entries_nb(
            t, True, prices, present, costs, configs, rule, account, states, last_close,
            priority, candidates, keys, fills, fill_symbol, trades, trade_symbol,
        )  # fmt: skip
        # 3. Stops; 4. excursions and last closes; 5. decisions at the close.
        for j in range(n_symbols):
            if not present[t, j]:
                continue
            state = states[j]
            if has_stops and state.position != 0.0:
                _lend_nb(account, state)
                check_stops_nb(state, fills, trades, _bar_at_nb(t, j, prices, costs), configs[j])
                _take_back_nb(account, state, j, fill_symbol, trade_symbol)
            if state.position != 0.0:
                state.extreme_high = max(state.extreme_high, prices[1][t, j])
                state.extreme_low = min(state.extreme_low, prices[2][t, j])
            last_close[j] = close[t, j]
            exit_ = exits[t, j]
            time_only = False
            if has_time_exit:
                exit_, _, time_only = decide_time_exit_nb(
                    state, state.position, t, configs[j], entries[t, j], exit_, False, False
                )
            if entries[t, j] or exit_:
                offset = entry_offset[t, j] if has_offsets else np.nan
                was_pending_exit = state.pending_exit
                decide_bar_nb(state, state.position, entries[t, j], exit_, False, False, offset)
                mark_time_exit_nb(state, time_only, was_pending_exit)
                if entries[t, j] and state.pending_entry == _LONG:
                    priority[j] = scores[t, j] if has_scores else 0.0
                    if np.isnan(priority[j]):
                        priority[j] = -np.inf
        # 6. Same-close fills: exits, then entries in priority order.
        if not next_open:
            for j in range(n_symbols):
                state = states[j]
                if present[t, j] and state.pending_exit:
                    _lend_nb(account, state)
                    fill_close_exit_nb(
                        state, fills, trades, _bar_at_nb(t, j, prices, costs), configs[j]
                    )
                    _take_back_nb(account, state, j, fill_symbol, trade_symbol)
            _fill_entries_nb(
                t, False, prices, present, costs, configs, rule, account, states, last_close,
                priority, candidates, keys, fills, fill_symbol, trades, trade_symbol,
            )  # fmt: skip
        # 7. End of data, and symbols whose data ends here (delisted).
        for j in range(n_symbols):
            state = states[j]
            if not present[t, j] or state.position == 0.0:
                continue
            at_end = t == n_bars - 1
            if (at_end and cfg0.close_at_end) or (
                not at_end and t == last_bar[j] and not hold_delisted
            ):
                _lend_nb(account, state)
                close_out_nb(state, fills, trades, _bar_at_nb(t, j, prices, costs), configs[j])
                _take_back_nb(account, state, j, fill_symbol, trade_symbol)
        _record_bar_nb(
            t, present, states, last_close, account.cash, cash_out, equity_out, position_out
        )
    account.next_bar = stop


# ------------------------------------------------------------------ allocation rules


@njit(cache=True, error_model="numpy")
def _buy_nb(t, j, quantity, price, base, cfg, account, state, fills, fill_symbol):  # type: ignore[no-untyped-def]
    """Buy ``quantity`` of symbol ``j`` at ``price``: average cost, entry commission."""
    value = quantity * price
    commission = commission_nb(value, quantity, _BUY, cfg)
    account.cash -= value + commission
    held = state.position
    if held == 0.0:
        state.entry_bar = t
        state.entry_price = price
        state.entry_commission = commission
        state.extreme_high = price
        state.extreme_low = price
    else:
        state.entry_price = (state.entry_price * held + value) / (held + quantity)
        state.entry_commission += commission
    state.position = held + quantity
    k = account.n_fills
    if k < fill_symbol.shape[0]:
        fill_symbol[k] = j
    record_fill_nb(
        fills,
        account,
        t,
        _BUY,
        quantity,
        price,
        commission,
        0.0,
        abs(price - base) * quantity,
        _NONE,
    )
    return value


@njit(cache=True, error_model="numpy")
def _sell_nb(  # type: ignore[no-untyped-def]
    t, j, quantity, price, base, tax_rate, reason, cfg, account, state,
    fills, fill_symbol, trades, trade_symbol,
):  # fmt: skip
    """Sell ``quantity`` of symbol ``j``: an exit trade at the holding's average cost."""
    held = state.position
    value = quantity * price
    tax = value * tax_rate
    commission = min(commission_nb(value, quantity, _SELL, cfg), value - tax)
    account.cash += value - commission - tax
    k = account.n_fills
    if k < fill_symbol.shape[0]:
        fill_symbol[k] = j
    record_fill_nb(
        fills, account, t, _SELL, quantity, price, commission, tax, abs(price - base) * quantity,
        reason,
    )  # fmt: skip
    state.extreme_high = max(state.extreme_high, price)
    state.extreme_low = min(state.extreme_low, price)
    entry_price = state.entry_price
    # The entry commission is spread over the holding's shares.
    entry_commission = state.entry_commission * (quantity / held)
    gross_pnl = (price - entry_price) * quantity
    net_pnl = gross_pnl - entry_commission - commission - tax
    if net_pnl > 0.0:
        state.won_pnl += net_pnl
        state.n_wins += 1
    elif net_pnl < 0.0:
        state.lost_pnl += net_pnl
    k = account.n_trades
    if k < trades.shape[0]:
        trade_symbol[k] = j
        trade = trades[k]
        trade.direction = _LONG
        trade.entry_bar = state.entry_bar
        trade.exit_bar = t
        trade.quantity = quantity
        trade.entry_price = entry_price
        trade.exit_price = price
        trade.gross_pnl = gross_pnl
        trade.commission = entry_commission + commission
        trade.tax = tax
        trade.net_pnl = net_pnl
        trade.return_pct = net_pnl / (entry_price * quantity + entry_commission)
        trade.exit_reason = reason
        trade.mae = state.extreme_low / entry_price - 1.0
        trade.mfe = state.extreme_high / entry_price - 1.0
    account.n_trades = k + 1
    state.position = held - quantity
    if state.position == 0.0:
        state.entry_bar = -1
        state.entry_commission = 0.0
    else:
        state.entry_commission -= entry_commission
    return value


@njit(cache=True, error_model="numpy")
def _rebalance_nb(  # type: ignore[no-untyped-def]
    t, weights, band, at_open, prices, present, costs, configs, account, states, last_close,
    targets, fills, fill_symbol, trades, trade_symbol,
):  # fmt: skip
    """Trade every symbol with a bar at ``t`` toward ``weights``; return (traded, equity).

    Equity ``E`` is cash plus the holdings at the reference price (the open, or the
    close in same-close mode; the last close without a bar). A symbol's target is the
    largest whole-lot quantity whose cost at its buy fill price, commission included,
    fits in ``weights[j] * E``; a symbol whose weight is within ``band`` of its target
    weight keeps its holding (except a target weight of 0, always sold). Sales come
    first, then buys in universe order, each clamped to the cash left.
    """
    reference = prices[0] if at_open else prices[3]
    equity = _equity_at_nb(t, reference, present, states, last_close, account.cash)
    n_symbols = states.shape[0]
    for j in range(n_symbols):
        held = states[j].position
        targets[j] = held
        if not present[t, j]:
            continue
        weight = weights[j]
        if weight <= 0.0 or equity <= 0.0:
            targets[j] = 0.0
            continue
        price = reference[t, j]
        if band > 0.0 and abs(held * price / equity - weight) <= band:
            continue
        bar = _bar_at_nb(t, j, prices, costs)
        buy_price = fill_price_nb(price, _BUY, bar, configs[j])
        targets[j] = affordable_quantity_nb(np.inf, buy_price, weight * equity, configs[j])
    traded = 0.0
    for j in range(n_symbols):
        state = states[j]
        if targets[j] >= state.position:
            continue
        bar = _bar_at_nb(t, j, prices, costs)
        if blocked_nb(_SELL, bar):
            continue
        base = reference[t, j]
        price = fill_price_nb(base, _SELL, bar, configs[j])
        quantity = state.position - targets[j]
        traded += _sell_nb(
            t, j, quantity, price, base, bar[_TAX], _REBALANCE, configs[j], account, state,
            fills, fill_symbol, trades, trade_symbol,
        )  # fmt: skip
    for j in range(n_symbols):
        state = states[j]
        if targets[j] <= state.position:
            continue
        bar = _bar_at_nb(t, j, prices, costs)
        if blocked_nb(_BUY, bar):
            continue
        base = reference[t, j]
        price = fill_price_nb(base, _BUY, bar, configs[j])
        quantity = affordable_quantity_nb(
            targets[j] - state.position, price, account.cash, configs[j]
        )
        if quantity > 0.0:
            traded += _buy_nb(
                t, j, quantity, price, base, configs[j], account, state, fills, fill_symbol
            )
    return traded, equity


@njit(cache=True, error_model="numpy")
def portfolio_allocation_window_nb(  # type: ignore[no-untyped-def]
    start, stop, prices, present, costs, configs, fill_bars, weights, band, hold_delisted,
    last_bar, account_array, states, last_close, fills, fill_symbol, trades, trade_symbol,
    rebalance_traded, rebalance_equity, cash_out, equity_out, position_out,
):  # fmt: skip
    """Simulate bars ``[start, stop)`` of an allocation rule, continuing from the state arrays.

    Per bar ``t``: the rebalance whose fill bar is ``t`` trades at the open
    (``next_open``); holdings' excursions and last closes are updated; in same-close
    mode the rebalance trades at the close; a holding whose symbol's data ends at ``t``
    (before the last bar of all) is sold at the close unless ``hold_delisted``; at the
    last bar every holding is sold at its close when ``close_at_end``.

    Args:
        start: First bar of the window; must equal ``account_array[0].next_bar``.
        stop: One past the last bar of the window.
        prices: Tuple ``(open, high, low, close)`` of ``(T, N)`` float64 matrices.
        present: ``(T, N)`` bool: whether symbol ``j`` has a bar at ``t``.
        costs: As in :func:`portfolio_signals_window_nb`.
        configs: ``CONFIG_DTYPE`` array, one row per symbol (fill timing and
            ``close_at_end`` are read from row 0).
        fill_bars: ``(R,)`` strictly increasing int64 bars where rebalance ``r`` fills.
        weights: ``(R, N)`` target weights, each row ``>= 0`` summing to at most 1.
        band: No trade where ``|weight - target weight| <= band`` (0: always trade).
        hold_delisted: Keep a holding whose data ends (valued at its last close).
        last_bar: ``(N,)`` int64, each symbol's last bar.
        account_array: One-element ``PORTFOLIO_STATE_DTYPE`` array, updated in place.
        states: ``STATE_DTYPE`` array, one record per symbol (position, average cost
            in ``entry_price``, remaining entry commission, excursions).
        last_close: ``(N,)`` each symbol's last close so far (NaN before its first bar).
        fills: ``FILL_DTYPE`` buffer (records beyond its size are counted, not written).
        fill_symbol: int64 buffer of the fills' symbol indices, same size.
        trades: ``TRADE_DTYPE`` buffer (same rule).
        trade_symbol: int64 buffer of the trades' symbol indices, same size.
        rebalance_traded: ``(R,)`` traded value of each rebalance, written.
        rebalance_equity: ``(R,)`` equity each rebalance was sized on, written.
        cash_out: ``(T,)`` cash at each bar's close, written for ``[start, stop)``.
        equity_out: ``(T,)`` cash plus holdings at their last close.
        position_out: ``(T, N)`` shares held at each bar's close.
    """
    account = account_array[0]
    n_bars, n_symbols = present.shape
    cfg0 = configs[0]
    next_open = cfg0.fill_timing == _NEXT_OPEN
    high, low, close = prices[1], prices[2], prices[3]
    targets = np.empty(n_symbols)
    for t in range(start, stop):
        r = account.next_rebalance
        rebalance = r < fill_bars.shape[0] and fill_bars[r] == t
        if rebalance and next_open:
            rebalance_traded[r], rebalance_equity[r] = _rebalance_nb(
                t, weights[r], band, True, prices, present, costs, configs, account, states,
                last_close, targets, fills, fill_symbol, trades, trade_symbol,
            )  # fmt: skip
        for j in range(n_symbols):
            if present[t, j]:
                state = states[j]
                if state.position != 0.0:
                    state.extreme_high = max(state.extreme_high, high[t, j])
                    state.extreme_low = min(state.extreme_low, low[t, j])
                last_close[j] = close[t, j]
        if rebalance and not next_open:
            rebalance_traded[r], rebalance_equity[r] = _rebalance_nb(
                t, weights[r], band, False, prices, present, costs, configs, account, states,
                last_close, targets, fills, fill_symbol, trades, trade_symbol,
            )  # fmt: skip
        if rebalance:
            account.next_rebalance = r + 1
        for j in range(n_symbols):
            state = states[j]
            if not present[t, j] or state.position == 0.0:
                continue
            at_end = t == n_bars - 1
            if (at_end and cfg0.close_at_end) or (
                not at_end and t == last_bar[j] and not hold_delisted
            ):
                bar = _bar_at_nb(t, j, prices, costs)
                price = fill_price_nb(close[t, j], _SELL, bar, configs[j])
                _sell_nb(
                    t, j, state.position, price, close[t, j], bar[_TAX], _END, configs[j],
                    account, state, fills, fill_symbol, trades, trade_symbol,
                )  # fmt: skip
        _record_bar_nb(
            t, present, states, last_close, account.cash, cash_out, equity_out, position_out
        )
    account.next_bar = stop
