"""Record layouts and status codes shared by the numba kernels and the Python side.

Kernels take and return plain numpy arrays. Structured dtypes here describe the
records they write (fills, trades) and the resumable simulation state, so the
Python side can read them by field name.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Side(IntEnum):
    """Side of a fill."""

    BUY = 1
    SELL = -1


class Direction(IntEnum):
    """Direction of a position or trade."""

    LONG = 1
    SHORT = -1


class ExitReason(IntEnum):
    """Why a trade was closed (``NONE`` for the entry fill of a trade)."""

    NONE = 0
    SIGNAL = 1
    STOP_LOSS = 2
    TAKE_PROFIT = 3
    TRAILING_STOP = 4
    END_OF_DATA = 5
    REBALANCE = 6
    TIME = 7


class SizingMode(IntEnum):
    """How many shares an entry buys or sells."""

    ALL_IN = 0
    FRACTION = 1
    FIXED_AMOUNT = 2
    FIXED_SHARES = 3


class FillTiming(IntEnum):
    """When a market order decided at bar ``t``'s close is filled."""

    NEXT_OPEN = 0
    SAME_CLOSE = 1


class SlippageMode(IntEnum):
    """Unit of the slippage setting."""

    BPS = 0
    TICKS = 1


EXIT_REASON_NAMES = {
    ExitReason.SIGNAL: "signal",
    ExitReason.STOP_LOSS: "stop_loss",
    ExitReason.TAKE_PROFIT: "take_profit",
    ExitReason.TRAILING_STOP: "trailing_stop",
    ExitReason.END_OF_DATA: "end_of_data",
    ExitReason.REBALANCE: "rebalance",
    ExitReason.TIME: "time",
}

FILL_DTYPE = np.dtype(
    [
        ("bar", np.int64),
        ("side", np.int8),
        ("quantity", np.float64),
        ("price", np.float64),
        ("commission", np.float64),
        ("tax", np.float64),
        ("slippage", np.float64),
        ("reason", np.int8),
    ],
    align=True,
)

TRADE_DTYPE = np.dtype(
    [
        ("direction", np.int8),
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("quantity", np.float64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("gross_pnl", np.float64),
        ("commission", np.float64),
        ("tax", np.float64),
        ("net_pnl", np.float64),
        ("return_pct", np.float64),
        ("exit_reason", np.int8),
        ("mae", np.float64),
        ("mfe", np.float64),
    ],
    align=True,
)

# Everything the simulation needs to continue from one window of bars to the next.
STATE_DTYPE = np.dtype(
    [
        ("next_bar", np.int64),
        ("cash", np.float64),
        ("position", np.float64),
        ("pending_exit", np.bool_),
        ("pending_entry", np.int8),
        ("pending_offset", np.float64),
        ("entry_bar", np.int64),
        ("entry_price", np.float64),
        ("entry_reference", np.float64),
        ("entry_commission", np.float64),
        ("entry_tax", np.float64),
        ("extreme_high", np.float64),
        ("extreme_low", np.float64),
        ("n_fills", np.int64),
        ("n_trades", np.int64),
        # Net P&L of the closed trades, kept even when no trade records are (sweeps):
        # sum over winners (net_pnl > 0), sum over losers (net_pnl < 0, so <= 0), winners.
        ("won_pnl", np.float64),
        ("lost_pnl", np.float64),
        ("n_wins", np.int64),
        # The open position was entered at a bar's close (counts bars held from the next).
        ("entry_at_close", np.bool_),
        # Exit reason of the pending exit when it is not a signal (a time exit), else 0.
        ("pending_reason", np.int8),
    ],
    align=True,
)


# The account of a portfolio run between two windows of bars (the symbols' positions live
# in one STATE_DTYPE record each; their cash and record counts are this record's).
PORTFOLIO_STATE_DTYPE = np.dtype(
    [
        ("next_bar", np.int64),
        ("cash", np.float64),
        ("n_fills", np.int64),
        ("n_trades", np.int64),
        # Index of the next rebalance to execute (allocation rules).
        ("next_rebalance", np.int64),
    ],
    align=True,
)


def new_state(initial_cash: float) -> np.ndarray:
    """Return a one-element state array for a fresh simulation."""
    state = np.zeros(1, dtype=STATE_DTYPE)
    state["cash"] = initial_cash
    state["entry_bar"] = -1
    state["pending_offset"] = np.nan
    return state


# Tick tables: up to two dated rows (e.g. KRX before/after 2023-01-25) of upper price
# bounds and tick sizes; unused cells repeat the last size under an infinite bound.
TICK_TABLE_ROWS = 2
TICK_TABLE_WIDTH = 8

# Settings of one simulation, passed to the kernels as a one-element array.
CONFIG_DTYPE = np.dtype(
    [
        ("fill_timing", np.int8),
        ("allow_short", np.bool_),
        ("close_at_end", np.bool_),
        ("sizing_mode", np.int8),
        ("sizing_value", np.float64),
        ("lot_size", np.float64),
        ("commission_rate", np.float64),
        ("min_commission", np.float64),
        ("sell_fee_rate", np.float64),
        ("sell_fee_per_share", np.float64),
        ("sell_fee_per_share_max", np.float64),
        ("slippage_mode", np.int8),
        ("slippage", np.float64),
        ("stop_loss", np.float64),
        ("take_profit", np.float64),
        ("trailing_stop", np.float64),
        # Time exit after this many bars held (0: none).
        ("max_bars_held", np.int64),
        ("tick_bounds", np.float64, (TICK_TABLE_ROWS, TICK_TABLE_WIDTH)),
        ("tick_sizes", np.float64, (TICK_TABLE_ROWS, TICK_TABLE_WIDTH)),
    ],
    align=True,
)
