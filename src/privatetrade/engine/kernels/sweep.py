"""Parameter sweeps (numba, parallel): many backtests of one strategy, metrics only.

Each combination runs through the same ``simulate_window_nb`` as a single
backtest, with record buffers of size zero, so a sweep's numbers equal the
full engine's. Combinations are spread over threads with ``prange``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from privatetrade.engine.kernels.simulate import simulate_window_nb

# Columns of the sweep output.
FINAL_EQUITY = 0
TOTAL_RETURN = 1
SHARPE = 2
MAX_DRAWDOWN = 3
TRADE_COUNT = 4
N_COLUMNS = 5


@njit(cache=True)
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


@njit(cache=True)
def _cross_signals_nb(fast, slow, entries, exits):  # type: ignore[no-untyped-def]
    """Golden cross -> entry, dead cross -> exit (both values must exist at t and t-1)."""
    entries[0] = False
    exits[0] = False
    for t in range(1, fast.shape[0]):
        f0 = fast[t - 1]
        s0 = slow[t - 1]
        f1 = fast[t]
        s1 = slow[t]
        valid = not (np.isnan(f0) or np.isnan(s0) or np.isnan(f1) or np.isnan(s1))
        entries[t] = valid and f1 > s1 and f0 <= s0
        exits[t] = valid and f1 < s1 and f0 >= s0


@njit(cache=True, parallel=True)
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
        cash = np.empty(n)
        position = np.empty(n)
        equity = np.empty(n)
        for k in range(chunk, n_combos, n_chunks):
            _cross_signals_nb(averages[fast_rows[k]], averages[slow_rows[k]], entries, exits)
            state = template_state.copy()
            signals = (entries, exits, exits, entries, offsets)
            simulate_window_nb(
                0, n, prices, signals, costs, config, state,
                empty_fills, empty_trades, cash, position, equity,
            )  # fmt: skip
            summarize_equity_nb(
                equity, initial_cash, periods_per_year, risk_free_per_period, out[k]
            )
            out[k, TRADE_COUNT] = state[0].n_trades
