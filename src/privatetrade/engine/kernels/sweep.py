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

# Columns of the sweep output (``privatetrade.engine.sweep.SWEEP_METRICS``).
FINAL_EQUITY = 0
TOTAL_RETURN = 1
SHARPE = 2
MAX_DRAWDOWN = 3
TRADE_COUNT = 4
CAGR = 5
SORTINO = 6
CALMAR = 7
PROFIT_FACTOR = 8
WIN_RATE = 9
RETURN_OVER_DRAWDOWN = 10
N_COLUMNS = 11

# A per-period deviation at or below this is noise, not risk (as in ``metrics``).
_ZERO_TOL = 1e-12


@njit(cache=True, error_model="numpy")
def _finite_or_nan(value):  # type: ignore[no-untyped-def]
    return value if np.isfinite(value) else np.nan


@njit(cache=True, error_model="numpy")
def summarize_nb(  # type: ignore[no-untyped-def]
    equity,
    start,
    state_array,
    initial_cash,
    periods_per_year,
    risk_free_per_period,
    years,
    block_edges,
    out,
    block_out,
):
    """Write the ``N_COLUMNS`` metrics of one simulated run into ``out``.

    Definitions match ``privatetrade.engine.metrics`` over the bars ``[start, n)``:
    returns against the previous close (the first against the initial cash), sample
    standard deviation, downside deviation against the risk-free rate, drawdown
    against the running peak including the initial cash; trade statistics come from
    the state's P&L accumulators. Undefined values (``None`` there) are NaN. One
    pass over the equity; divisions only where equity moved.

    Args:
        equity: Equity at each bar's close (read for ``[start, n)``).
        start: First evaluated bar.
        state_array: The run's final one-element ``STATE_DTYPE`` array.
        initial_cash: Starting capital.
        periods_per_year: Annualization factor.
        risk_free_per_period: Risk-free return per bar.
        years: Calendar years of the evaluated bars (for CAGR).
        block_edges: ``blocks + 1`` bar indices; block ``j`` is ``[edges[j], edges[j+1])``.
            Empty for no blocks.
        out: ``N_COLUMNS`` float64 output.
        block_out: ``(blocks, 2)`` output: sum and sum of squares of each block's returns.
    """
    n = equity.shape[0]
    m = n - start
    rf = risk_free_per_period
    previous = initial_cash
    peak = initial_cash
    worst = 0.0
    floor = peak
    total = 0.0
    squares = 0.0
    downside = 0.0
    moved = 0
    n_blocks = block_out.shape[0]
    block_out[:] = 0.0
    block = 0
    next_edge = block_edges[1] if n_blocks > 0 else n
    for t in range(start, n):
        value = equity[t]
        if value != previous:
            r = value / previous - 1.0
            total += r
            squares += r * r
            below = min(r, rf) - rf
            downside += below * below
            moved += 1
            if n_blocks > 0:
                while t >= next_edge:
                    block += 1
                    next_edge = block_edges[block + 1]
                block_out[block, 0] += r
                block_out[block, 1] += r * r
            previous = value
            if value > peak:
                peak = value
                floor = peak * (1.0 + worst)
            elif value < floor:
                worst = value / peak - 1.0
                floor = value
    # Bars where equity did not move have r = 0: below the risk-free rate when it is > 0.
    still = min(0.0, rf) - rf
    downside += still * still * (m - moved)
    final = equity[n - 1]
    total_return = final / initial_cash - 1.0
    out[FINAL_EQUITY] = final
    out[TOTAL_RETURN] = total_return
    out[MAX_DRAWDOWN] = worst
    scale = np.sqrt(periods_per_year)
    excess = (total / m - rf) * scale
    out[SHARPE] = np.nan
    out[SORTINO] = np.nan
    if worst > -1.0:  # equity never reached zero: returns are meaningful
        deviation = np.sqrt(downside / m)
        if deviation > _ZERO_TOL:
            out[SORTINO] = _finite_or_nan(excess / deviation)
        if m > 1:
            std = np.sqrt(max((squares - total * total / m) / (m - 1), 0.0))
            if std > _ZERO_TOL:
                out[SHARPE] = _finite_or_nan(excess / std)
    cagr = np.nan
    if years > 0.0 and final > 0.0:
        cagr = _finite_or_nan((final / initial_cash) ** (1.0 / years) - 1.0)
    out[CAGR] = cagr
    out[CALMAR] = _finite_or_nan(cagr / -worst) if worst != 0.0 else np.nan
    out[RETURN_OVER_DRAWDOWN] = _finite_or_nan(total_return / -worst) if worst != 0.0 else np.nan
    _trade_columns_nb(state_array[0], out)


@njit(cache=True, error_model="numpy")
def _trade_columns_nb(state, out):  # type: ignore[no-untyped-def]
    """Write trade count, win rate and profit factor from the state's accumulators."""
    count = state.n_trades
    out[TRADE_COUNT] = count
    out[WIN_RATE] = state.n_wins / count if count > 0 else np.nan
    lost = state.lost_pnl
    out[PROFIT_FACTOR] = _finite_or_nan(state.won_pnl / -lost) if lost < 0.0 else np.nan


@njit(cache=True, error_model="numpy")
def backtest_summary_nb(  # type: ignore[no-untyped-def]
    start,
    prices,
    signals,
    costs,
    config,
    template_state,
    empty_fills,
    empty_trades,
    periods_per_year,
    risk_free_per_period,
    years,
    block_edges,
    equity,
    row,
    out,
    block_out,
):
    """Backtest one combination's signals and write its metrics into ``out[row]``.

    The generic sweep path calls this once per combination (one call: a numba call
    from Python costs microseconds). Arguments as for ``ma_cross_sweep_nb``, with
    ``signals`` as for ``simulate_window_nb`` and ``equity`` a scratch array of the
    bars' length.
    """
    state = template_state.copy()
    no_series = np.empty(0)
    simulate_window_nb(
        start, equity.shape[0], prices, signals, costs, config, state,
        empty_fills, empty_trades, no_series, no_series, equity,
    )  # fmt: skip
    summarize_nb(
        equity, start, state, template_state[0].cash, periods_per_year,
        risk_free_per_period, years, block_edges, out[row], block_out[row],
    )  # fmt: skip


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
    start,
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
    years,
    block_edges,
    n_chunks,
    out,
    block_out,
):
    """Backtest every (fast, slow) moving-average pair; write metrics rows into ``out``.

    Args:
        start: First traded and evaluated bar; signals before it are ignored.
        prices: ``(open, high, low, close)``.
        averages: 2-D array, one moving average per row.
        fast_rows: Row of ``averages`` holding each combination's fast average.
        slow_rows: Row of ``averages`` holding each combination's slow average.
        costs: Per-bar cost arrays, as for ``simulate_window_nb``.
        config: One-element ``CONFIG_DTYPE`` array.
        template_state: Fresh one-element ``STATE_DTYPE`` array with ``next_bar = start``
            (copied per combination).
        empty_fills: Zero-length ``FILL_DTYPE`` array (records are counted, not kept).
        empty_trades: Zero-length ``TRADE_DTYPE`` array.
        periods_per_year: Annualization factor of the Sharpe ratio.
        risk_free_per_period: Risk-free return per bar.
        years: Calendar years of the evaluated bars (for CAGR).
        block_edges: Block boundaries, as for ``summarize_nb``.
        n_chunks: Number of work units spread over the threads.
        out: ``(n_combinations, N_COLUMNS)`` float64 output.
        block_out: ``(n_combinations, blocks, 2)`` float64 output.
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
                start, n, prices, signals, costs, config, state,
                empty_fills, empty_trades, no_series, no_series, equity,
            )  # fmt: skip
            summarize_nb(
                equity, start, state, initial_cash, periods_per_year, risk_free_per_period,
                years, block_edges, out[k], block_out[k],
            )  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def signal_table_sweep_nb(  # type: ignore[no-untyped-def]
    start,
    prices,
    entries,
    exits,
    short_entries,
    short_exits,
    costs,
    configs,
    config_rows,
    template_state,
    empty_fills,
    empty_trades,
    periods_per_year,
    risk_free_per_period,
    years,
    block_edges,
    n_chunks,
    out,
    block_out,
):
    """Backtest one row of precomputed signals per combination; write metrics into ``out``.

    The sweep of strategies whose signals are computed outside numba (rule strategies):
    each row of the signal tables is one combination, simulated by the same
    ``simulate_window_nb`` as a single backtest, rows spread over threads.

    Args:
        start: First traded and evaluated bar.
        prices: ``(open, high, low, close)``.
        entries: ``(m, n)`` bool table, one row per combination.
        exits: ``(m, n)`` bool table.
        short_entries: ``(m, n)`` bool table, or ``(0, n)`` for no short signals.
        short_exits: Same shape as ``short_entries``.
        costs: Per-bar cost arrays, as for ``simulate_window_nb``.
        configs: ``CONFIG_DTYPE`` array of the distinct settings.
        config_rows: ``(m,)`` row of ``configs`` each combination runs with.
        template_state: Fresh one-element ``STATE_DTYPE`` array (copied per combination).
        empty_fills: Zero-length ``FILL_DTYPE`` array.
        empty_trades: Zero-length ``TRADE_DTYPE`` array.
        periods_per_year: Annualization factor.
        risk_free_per_period: Risk-free return per bar.
        years: Calendar years of the evaluated bars.
        block_edges: Block boundaries, as for ``summarize_nb``.
        n_chunks: Number of work units spread over the threads.
        out: ``(m, N_COLUMNS)`` float64 output.
        block_out: ``(m, blocks, 2)`` float64 output.
    """
    n = prices[3].shape[0]
    m = entries.shape[0]
    has_short = short_entries.shape[0] > 0
    initial_cash = template_state[0].cash
    for chunk in prange(n_chunks):
        never = np.zeros(n, dtype=np.bool_)
        offsets = np.empty(0)
        no_series = np.empty(0)
        equity = np.empty(n)
        state = template_state.copy()
        for k in range(chunk, m, n_chunks):
            state[0] = template_state[0]
            if has_short:
                signals = (entries[k], exits[k], short_entries[k], short_exits[k], offsets)
            else:
                signals = (entries[k], exits[k], never, never, offsets)
            row = config_rows[k]
            simulate_window_nb(
                start, n, prices, signals, costs, configs[row : row + 1], state,
                empty_fills, empty_trades, no_series, no_series, equity,
            )  # fmt: skip
            summarize_nb(
                equity, start, state, initial_cash, periods_per_year, risk_free_per_period,
                years, block_edges, out[k], block_out[k],
            )  # fmt: skip
