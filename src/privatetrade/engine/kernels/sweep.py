"""Parameter sweeps (numba, parallel): many backtests of one strategy, metrics only.

Each combination runs through the same ``simulate_window_nb`` as a single
backtest, with record buffers of size zero, so a sweep's numbers equal the
full engine's. Combinations are spread over threads with ``prange``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from privatetrade.engine.kernels.indicators import ema_nb, sma_nb
from privatetrade.engine.kernels.simulate import simulate_window_nb

# Columns of the sweep output.
FINAL_EQUITY = 0
TOTAL_RETURN = 1
SHARPE = 2
MAX_DRAWDOWN = 3
TRADE_COUNT = 4
N_COLUMNS = 5


@njit(cache=True, error_model="numpy")
def summarize_equity_nb(equity, initial_cash, periods_per_year, risk_free_per_period, out):  # type: ignore[no-untyped-def]
    """Write final equity, total return, Sharpe and max drawdown of ``equity`` into ``out``.

    Definitions match ``privatetrade.engine.metrics``: returns against the previous
    close (the first against the initial cash), sample standard deviation, drawdown
    against the running peak including the initial cash. Sharpe is NaN when the
    returns have no variation. One pass; divisions only where equity moved.
    """
    n = equity.shape[0]
    previous = initial_cash
    peak = initial_cash
    worst = 0.0
    floor = peak
    total = 0.0
    squares = 0.0
    for t in range(n):
        value = equity[t]
        if value != previous:
            r = value / previous - 1.0
            total += r
            squares += r * r
            previous = value
            if value > peak:
                peak = value
                floor = peak * (1.0 + worst)
            elif value < floor:
                worst = value / peak - 1.0
                floor = value
    excess = total / n - risk_free_per_period
    out[FINAL_EQUITY] = equity[n - 1]
    out[TOTAL_RETURN] = equity[n - 1] / initial_cash - 1.0
    out[SHARPE] = np.nan
    if n > 1:
        variance = (squares - total * total / n) / (n - 1)
        if variance > 0.0:
            out[SHARPE] = excess / np.sqrt(variance) * np.sqrt(periods_per_year)
    out[MAX_DRAWDOWN] = worst


@njit(cache=True, parallel=True, error_model="numpy")
def moving_average_table_nb(close, windows, exponential):  # type: ignore[no-untyped-def]
    """Return one moving average of ``close`` per window (rows), computed in parallel."""
    out = np.empty((windows.shape[0], close.shape[0]))
    for row in prange(windows.shape[0]):
        out[row] = ema_nb(close, windows[row]) if exponential else sma_nb(close, windows[row])
    return out


@njit(cache=True, error_model="numpy")
def _cross_signals_nb(fast, slow, entries, exits):  # type: ignore[no-untyped-def]
    """Golden cross -> entry, dead cross -> exit (both values must exist at t and t-1).

    Averages of validated bars are NaN only during their warm-up, so after the first
    bar where both exist no further NaN checks are needed.
    """
    n = fast.shape[0]
    first = 0
    while first < n and (np.isnan(fast[first]) or np.isnan(slow[first])):
        first += 1
    entries[: first + 1] = False
    exits[: first + 1] = False
    above = fast[first] > slow[first] if first < n else False
    below = fast[first] < slow[first] if first < n else False
    for t in range(first + 1, n):
        now_above = fast[t] > slow[t]
        now_below = fast[t] < slow[t]
        entries[t] = now_above and not above
        exits[t] = now_below and not below
        above = now_above
        below = now_below


@njit(cache=True, parallel=True, error_model="numpy")
def ma_cross_sweep_nb(  # type: ignore[no-untyped-def]
    prices,
    averages,
    fast_rows,
    slow_rows,
    costs,
    config,
    template_state,
    empty_fills,
    empty_trades,
    periods_per_year,
    risk_free_per_period,
    n_chunks,
    out,
):
    """Backtest every (fast, slow) moving-average pair; write metrics rows into ``out``.

    Args:
        prices: ``(open, high, low, close)``.
        averages: 2-D array, one moving average per row.
        fast_rows: Row of ``averages`` holding each combination's fast average.
        slow_rows: Row of ``averages`` holding each combination's slow average.
        costs: Per-bar cost arrays, as for ``simulate_window_nb``.
        config: One-element ``CONFIG_DTYPE`` array.
        template_state: Fresh one-element ``STATE_DTYPE`` array (copied per combination).
        empty_fills: Zero-length ``FILL_DTYPE`` array (records are counted, not kept).
        empty_trades: Zero-length ``TRADE_DTYPE`` array.
        periods_per_year: Annualization factor of the Sharpe ratio.
        risk_free_per_period: Risk-free return per bar.
        n_chunks: Number of work units spread over the threads.
        out: ``(n_combinations, N_COLUMNS)`` float64 output.
    """
    n = prices[3].shape[0]
    n_combos = fast_rows.shape[0]
    initial_cash = template_state[0].cash
    for chunk in prange(n_chunks):
        entries = np.zeros(n, dtype=np.bool_)
        exits = np.zeros(n, dtype=np.bool_)
        offsets = np.empty(0)
        no_series = np.empty(0)
        equity = np.empty(n)
        state = template_state.copy()
        for k in range(chunk, n_combos, n_chunks):
            _cross_signals_nb(averages[fast_rows[k]], averages[slow_rows[k]], entries, exits)
            state[0] = template_state[0]
            signals = (entries, exits, exits, entries, offsets)
            simulate_window_nb(
                0, n, prices, signals, costs, config, state,
                empty_fills, empty_trades, no_series, no_series, equity,
            )  # fmt: skip
            summarize_equity_nb(
                equity, initial_cash, periods_per_year, risk_free_per_period, out[k]
            )
            out[k, TRADE_COUNT] = state[0].n_trades
