"""Drive the portfolio kernels over windows of bars: progress, cancellation, buffers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privatetrade.engine.kernels.portfolio import (
    SIZE_ALL_IN,
    SIZE_AMOUNT,
    SIZE_EQUAL,
    SIZE_FRACTION,
    portfolio_allocation_window_nb,
    portfolio_signals_window_nb,
)
from privatetrade.engine.records import (
    FILL_DTYPE,
    PORTFOLIO_STATE_DTYPE,
    TRADE_DTYPE,
    new_state,
)
from privatetrade.engine.simulation import CancelToken, ProgressCallback
from privatetrade.errors import CancelledError

__all__ = [
    "AllocationOrders",
    "PortfolioMarket",
    "PortfolioOutput",
    "PortfolioState",
    "SignalOrders",
    "simulate_allocation",
    "simulate_signals",
]

FloatMatrix = npt.NDArray[np.float64]
BoolMatrix = npt.NDArray[np.bool_]

POSITION_SIZES = {
    "equal": SIZE_EQUAL,
    "all_in": SIZE_ALL_IN,
    "fraction": SIZE_FRACTION,
    "amount": SIZE_AMOUNT,
}
_EMPTY = np.empty((0, 0))


@dataclass(frozen=True, slots=True)
class PortfolioMarket:
    """What the kernels read about the symbols: prices, bars present, costs, configs.

    Attributes:
        open: ``(T, N)`` opening prices (NaN where a symbol has no bar).
        high: ``(T, N)`` highest prices.
        low: ``(T, N)`` lowest prices.
        close: ``(T, N)`` closing prices.
        present: ``(T, N)`` whether symbol ``j`` has a bar at ``t``.
        costs: ``(tax_rate, buy_blocked, sell_blocked, tick_row)`` ``(T, N)`` matrices,
            all ``(0, 0)`` when no symbol has taxes, limits or ticks.
        configs: ``CONFIG_DTYPE`` rows, one per symbol.
        last_bar: ``(N,)`` each symbol's last bar (``-1`` without a bar).
    """

    open: FloatMatrix
    high: FloatMatrix
    low: FloatMatrix
    close: FloatMatrix
    present: BoolMatrix
    costs: tuple[FloatMatrix, BoolMatrix, BoolMatrix, npt.NDArray[np.int64]]
    configs: npt.NDArray[np.void]
    last_bar: npt.NDArray[np.int64]

    @property
    def prices(self) -> tuple[FloatMatrix, FloatMatrix, FloatMatrix, FloatMatrix]:
        """Return ``(open, high, low, close)``."""
        return (self.open, self.high, self.low, self.close)

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(T, N)``."""
        return (int(self.present.shape[0]), int(self.present.shape[1]))


@dataclass(frozen=True, slots=True)
class SignalOrders:
    """The signals rule's inputs: per-symbol signals on the calendar and its sizing.

    Attributes:
        entries: ``(T, N)`` long entries (False where a symbol has no bar).
        exits: ``(T, N)`` exits.
        entry_offset: ``(T, N)`` stop-entry offsets (NaN: market), or None.
        scores: ``(T, N)`` entry priority (higher first), or None for universe order.
        max_positions: Most positions open at once.
        position_size: ``equal``, ``all_in``, ``fraction`` or ``amount``.
        position_value: The fraction or amount, 0 otherwise.
        hold_delisted: Keep a position whose symbol's data ends (else sell it).
    """

    entries: BoolMatrix
    exits: BoolMatrix
    entry_offset: FloatMatrix | None
    scores: FloatMatrix | None
    max_positions: int
    position_size: str
    position_value: float
    hold_delisted: bool


@dataclass(frozen=True, slots=True)
class AllocationOrders:
    """An allocation rule's inputs: rebalance fill bars and target weights.

    Attributes:
        fill_bars: ``(R,)`` strictly increasing bars where the rebalances fill.
        weights: ``(R, N)`` target weights.
        band: No trade within this distance of the target weight.
        hold_delisted: Keep a holding whose symbol's data ends (else sell it).
    """

    fill_bars: npt.NDArray[np.int64]
    weights: FloatMatrix
    band: float
    hold_delisted: bool


@dataclass(slots=True)
class PortfolioState:
    """Everything a portfolio run needs to continue with the next window of bars."""

    account: npt.NDArray[np.void]
    symbols: npt.NDArray[np.void]
    last_close: FloatMatrix
    priority: FloatMatrix

    @classmethod
    def fresh(cls, initial_cash: float, n_symbols: int) -> PortfolioState:
        """Return the state before the first bar: all cash, nothing held."""
        account = np.zeros(1, dtype=PORTFOLIO_STATE_DTYPE)
        account["cash"] = initial_cash
        symbols = np.repeat(new_state(0.0), n_symbols)
        return cls(account, symbols, np.full(n_symbols, np.nan), np.zeros(n_symbols))


@dataclass(frozen=True, slots=True)
class PortfolioOutput:
    """Raw arrays written by a portfolio kernel.

    Attributes:
        cash: ``(T,)`` cash at each bar's close.
        equity: ``(T,)`` cash plus holdings at their last close.
        position: ``(T, N)`` shares held at each bar's close.
        fills: ``FILL_DTYPE`` records in execution order.
        fill_symbol: Symbol index of each fill.
        trades: ``TRADE_DTYPE`` records in closing order.
        trade_symbol: Symbol index of each trade.
        rebalance_traded: ``(R,)`` traded value of each rebalance (allocation rules).
        rebalance_equity: ``(R,)`` equity each rebalance was sized on.
        state: The state after the last bar.
    """

    cash: FloatMatrix
    equity: FloatMatrix
    position: FloatMatrix
    fills: npt.NDArray[np.void]
    fill_symbol: npt.NDArray[np.int64]
    trades: npt.NDArray[np.void]
    trade_symbol: npt.NDArray[np.int64]
    rebalance_traded: FloatMatrix
    rebalance_equity: FloatMatrix
    state: PortfolioState


@dataclass(slots=True)
class _Buffers:
    fills: npt.NDArray[np.void]
    fill_symbol: npt.NDArray[np.int64]
    trades: npt.NDArray[np.void]
    trade_symbol: npt.NDArray[np.int64]
    cash: FloatMatrix
    equity: FloatMatrix
    position: FloatMatrix
    rebalance_traded: FloatMatrix
    rebalance_equity: FloatMatrix

    @classmethod
    def allocate(cls, n_bars: int, n_symbols: int, capacity: int, rebalances: int) -> _Buffers:
        return cls(
            np.empty(capacity, dtype=FILL_DTYPE),
            np.empty(capacity, dtype=np.int64),
            np.empty(capacity, dtype=TRADE_DTYPE),
            np.empty(capacity, dtype=np.int64),
            np.empty(n_bars),
            np.empty(n_bars),
            np.empty((n_bars, n_symbols)),
            np.zeros(rebalances),
            np.zeros(rebalances),
        )


_Window = Callable[[int, int, PortfolioState, _Buffers], None]


def simulate_signals(
    market: PortfolioMarket,
    orders: SignalOrders,
    initial_cash: float,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    window: int | None = None,
) -> PortfolioOutput:
    """Run the signals rule over all bars, in windows when progress or cancel is asked for.

    Raises:
        CancelledError: When ``cancel`` was set.
    """
    signals = (
        orders.entries,
        orders.exits,
        _EMPTY if orders.entry_offset is None else orders.entry_offset,
    )
    scores = _EMPTY if orders.scores is None else orders.scores
    rule = (
        np.int64(orders.max_positions),
        np.int64(POSITION_SIZES[orders.position_size]),
        float(orders.position_value),
        bool(orders.hold_delisted),
    )
    configs = market.configs.copy()  # the kernel sets each entry's sizing on its row

    def run(start: int, stop: int, state: PortfolioState, out: _Buffers) -> None:
        portfolio_signals_window_nb(
            start, stop, market.prices, market.present, signals, scores, market.costs,
            configs, rule, market.last_bar, state.account, state.symbols, state.last_close,
            state.priority, out.fills, out.fill_symbol, out.trades, out.trade_symbol,
            out.cash, out.equity, out.position,
        )  # fmt: skip

    # Every position is opened by one entry signal and closed by one fill.
    capacity = 2 * int(np.count_nonzero(orders.entries)) + 8
    return _simulate(market, run, initial_cash, capacity, 0, progress, cancel, window)


def simulate_allocation(
    market: PortfolioMarket,
    orders: AllocationOrders,
    initial_cash: float,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    window: int | None = None,
) -> PortfolioOutput:
    """Run an allocation rule over all bars, in windows when progress or cancel is asked for.

    Raises:
        CancelledError: When ``cancel`` was set.
    """
    fill_bars = np.ascontiguousarray(orders.fill_bars, dtype=np.int64)
    weights = np.ascontiguousarray(orders.weights, dtype=np.float64)

    def run(start: int, stop: int, state: PortfolioState, out: _Buffers) -> None:
        portfolio_allocation_window_nb(
            start, stop, market.prices, market.present, market.costs, market.configs,
            fill_bars, weights, float(orders.band), bool(orders.hold_delisted),
            market.last_bar, state.account, state.symbols, state.last_close,
            out.fills, out.fill_symbol, out.trades, out.trade_symbol,
            out.rebalance_traded, out.rebalance_equity, out.cash, out.equity, out.position,
        )  # fmt: skip

    # A rebalance trades the symbols it weighs and those the previous one did (the
    # estimate; a run that needs more records is repeated with the exact count).
    held = np.count_nonzero(weights > 0.0, axis=1)
    capacity = 2 * int(held.sum()) + 2 * market.shape[1] + 8
    return _simulate(
        market, run, initial_cash, capacity, int(fill_bars.shape[0]), progress, cancel, window
    )


def _simulate(
    market: PortfolioMarket,
    run: _Window,
    initial_cash: float,
    capacity: int,
    rebalances: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    window: int | None,
) -> PortfolioOutput:
    n_bars, n_symbols = market.shape
    if window is None:
        window = n_bars if progress is None and cancel is None else max(20, n_bars // 100)
    while True:
        state = PortfolioState.fresh(initial_cash, n_symbols)
        out = _Buffers.allocate(n_bars, n_symbols, capacity, rebalances)
        for start in range(0, n_bars, window):
            stop = min(n_bars, start + window)
            run(start, stop, state, out)
            if progress is not None:
                progress(stop / n_bars)
            if cancel is not None and cancel.is_set() and stop < n_bars:
                raise CancelledError(f"portfolio backtest cancelled after {stop} of {n_bars} bars")
        account = state.account[0]
        n_fills, n_trades = int(account["n_fills"]), int(account["n_trades"])
        if n_fills <= capacity and n_trades <= capacity:
            return PortfolioOutput(
                out.cash,
                out.equity,
                out.position,
                out.fills[:n_fills],
                out.fill_symbol[:n_fills],
                out.trades[:n_trades],
                out.trade_symbol[:n_trades],
                out.rebalance_traded,
                out.rebalance_equity,
                state,
            )
        capacity = max(n_fills, n_trades) + 8
