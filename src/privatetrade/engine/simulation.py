"""Drive the simulation kernel over windows of bars: progress, cancellation, buffers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from privatetrade.engine.bars import PreparedBars
from privatetrade.engine.costs import CostArrays, cost_arrays, tick_tables
from privatetrade.engine.kernels.simulate import simulate_window_nb
from privatetrade.engine.records import (
    CONFIG_DTYPE,
    FILL_DTYPE,
    TRADE_DTYPE,
    FillTiming,
    SizingMode,
    SlippageMode,
    new_state,
)
from privatetrade.engine.settings import SimulationSettings
from privatetrade.engine.strategies.base import Signals
from privatetrade.errors import CancelledError

__all__ = ["CancelToken", "ProgressCallback", "SimulationOutput", "build_config", "simulate"]

ProgressCallback = Callable[[float], None]

_SIZING = {
    "all_in": SizingMode.ALL_IN,
    "fraction": SizingMode.FRACTION,
    "amount": SizingMode.FIXED_AMOUNT,
    "shares": SizingMode.FIXED_SHARES,
}


class CancelToken(Protocol):
    """Anything with ``is_set()``: ``threading.Event``, ``multiprocessing.Event``, ..."""

    def is_set(self) -> bool:
        """Return True once the run should stop."""
        ...


@dataclass(frozen=True, slots=True)
class SimulationOutput:
    """Raw arrays written by the simulation kernel."""

    cash: npt.NDArray[np.float64]
    position: npt.NDArray[np.float64]
    equity: npt.NDArray[np.float64]
    fills: npt.NDArray[np.void]
    trades: npt.NDArray[np.void]
    state: npt.NDArray[np.void]


def build_config(settings: SimulationSettings) -> npt.NDArray[np.void]:
    """Return the kernel's one-element ``CONFIG_DTYPE`` array for ``settings``."""
    costs = settings.costs
    stops = settings.stops
    config = np.zeros(1, dtype=CONFIG_DTYPE)
    row = config[0]
    row["fill_timing"] = (
        FillTiming.NEXT_OPEN if settings.fill_at == "next_open" else FillTiming.SAME_CLOSE
    )
    row["allow_short"] = settings.allow_short
    row["close_at_end"] = settings.close_at_end
    row["sizing_mode"] = _SIZING[settings.sizing.mode]
    row["sizing_value"] = settings.sizing.value or 0.0
    row["lot_size"] = float(costs.lot_size)
    row["commission_rate"] = costs.commission_rate
    row["min_commission"] = costs.min_commission
    row["sell_fee_rate"] = costs.sell_fee_rate
    row["sell_fee_per_share"] = costs.sell_fee_per_share
    row["sell_fee_per_share_max"] = costs.sell_fee_per_share_max
    row["slippage_mode"] = (
        SlippageMode.TICKS if costs.slippage_unit == "ticks" else SlippageMode.BPS
    )
    row["slippage"] = costs.slippage
    row["stop_loss"] = stops.stop_loss or 0.0
    row["take_profit"] = stops.take_profit or 0.0
    row["trailing_stop"] = stops.trailing_stop or 0.0
    row["max_bars_held"] = stops.max_bars_held or 0
    row["tick_bounds"], row["tick_sizes"] = tick_tables(costs)
    return config


def signal_arrays(
    signals: Signals, n: int
) -> tuple[
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    npt.NDArray[np.float64],
]:
    """Return the kernel's signal tuple, filling absent optional arrays."""
    never = np.zeros(n, dtype=np.bool_)
    offset = signals.entry_offset
    return (
        signals.entries,
        signals.exits,
        never if signals.short_entries is None else signals.short_entries,
        never if signals.short_exits is None else signals.short_exits,
        np.empty(0) if offset is None else offset,
    )


def simulate(
    prepared: PreparedBars,
    signals: Signals,
    settings: SimulationSettings,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    window: int | None = None,
    costs: CostArrays | None = None,
) -> SimulationOutput:
    """Run the kernel over all bars, in windows when progress or cancel is asked for.

    Args:
        prepared: Validated bars.
        signals: The strategy's decisions (validated lengths and dtypes).
        settings: Capital, costs, sizing, stops, fill timing.
        progress: Called with the fraction of bars done after each window.
        cancel: Checked after each window; when set the run raises CancelledError.
        window: Bars per kernel call (default: all at once, or about 1% of the bars
            when ``progress`` or ``cancel`` is given).
        costs: Per-bar cost arrays of these bars (default: computed from them; given
            when the bars are a slice of longer ones, whose first bar has a predecessor).

    Raises:
        CancelledError: When ``cancel`` was set.
    """
    bars = prepared.bars
    n = len(bars)
    if costs is None:
        costs = cost_arrays(settings.costs, prepared.local_time_ns, bars.high, bars.low, bars.close)
    inputs = (
        (bars.open, bars.high, bars.low, bars.close),
        signal_arrays(signals, n),
        costs.as_tuple(),
        build_config(settings),
    )
    if window is None:
        window = n if progress is None and cancel is None else max(2_000, n // 100)
    capacity = _record_capacity(signals, settings.allow_short)
    while True:
        output = _run_windows(inputs, n, settings.initial_cash, capacity, window, progress, cancel)
        state = output.state[0]
        if state["n_fills"] <= capacity and state["n_trades"] <= capacity:
            return output
        capacity = int(max(state["n_fills"], state["n_trades"])) + 8


def _record_capacity(signals: Signals, allow_short: bool) -> int:
    """Return an upper bound of fills (and so of trades) the signals can cause.

    Every position is opened by one entry signal (one signal opens at most one
    position) and closed by one fill, so fills <= 2 * entry signals (+ slack).
    """
    entries = int(np.count_nonzero(signals.entries))
    if allow_short and signals.short_entries is not None:
        entries += int(np.count_nonzero(signals.short_entries))
    return 2 * entries + 8


def _run_windows(
    inputs: tuple[object, object, object, npt.NDArray[np.void]],
    n: int,
    initial_cash: float,
    capacity: int,
    window: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> SimulationOutput:
    prices, signal_tuple, cost_tuple, config = inputs
    state = new_state(initial_cash)
    fills = np.empty(capacity, dtype=FILL_DTYPE)
    trades = np.empty(capacity, dtype=TRADE_DTYPE)
    cash = np.empty(n)
    position = np.empty(n)
    equity = np.empty(n)
    for start in range(0, n, window):
        stop = min(n, start + window)
        simulate_window_nb(
            start, stop, prices, signal_tuple, cost_tuple, config, state,
            fills, trades, cash, position, equity,
        )  # fmt: skip
        if progress is not None:
            progress(stop / n)
        if cancel is not None and cancel.is_set() and stop < n:
            raise CancelledError(f"backtest cancelled after {stop} of {n} bars")
    n_fills = min(int(state[0]["n_fills"]), capacity)
    n_trades = min(int(state[0]["n_trades"]), capacity)
    return SimulationOutput(cash, position, equity, fills[:n_fills], trades[:n_trades], state)
