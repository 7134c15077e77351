"""Cross-check against backtesting.py 0.6.6: SMA(10)/SMA(30) cross with stop-loss and target.

Convention (ours, docs/engine.md §3.6): long only, signal at the close, market fill at the
next open, all-in whole shares ``floor(cash / P)``, zero costs, cash 10,000,000, a position
still open after the last bar closed at its close. Stop ``P·(1 − sl)`` and target
``P·(1 + tp)`` of the entry fill price ``P``, checked on the entry bar too (whose open is the
fill): open beyond the stop → exit at the open; open beyond the target → exit at the open;
``low ≤ stop`` → exit at the stop; ``high ≥ target`` → exit at the target.

How backtesting.py is made to trade the same way (read from its 0.6.6 source):

- Signals: computed here exactly (``math.fsum`` windows) with our rule, a tie at ``t − 1``
  followed by ``fast > slow`` being a cross, and fed to the strategy as arrays. Its own
  ``lib.crossover`` needs a strict ``<`` at ``t − 1`` and would miss such crosses (IBM's
  sample has one exact tie of the two averages), so it is not used. With no
  ``Strategy.I`` indicators ``next()`` runs from bar 1.
- A market order placed in ``next()`` of bar ``t`` fills at ``open[t + 1]``. Sizing and the
  bracket levels are in absolute units and prices there, so the harness looks one bar ahead
  (test-only look-ahead): size ``floor(equity / open[t + 1])``, SL ``open[t + 1]·(1 − sl)``,
  TP ``open[t + 1]·(1 + tp)``. Its order validation compares SL and TP with the *current
  close*, which a gap at the next open can put outside our (valid) levels, so the levels
  are written onto the order after it is created (``Order._replace``).
- Entry bar: ``_process_orders`` runs again on the bar a market order with SL/TP filled
  (backtesting.py issue #119), with that bar's open equal to the fill, as in our engine.
- SL orders are queued before TP orders, and the first one to fill closes the trade and
  cancels the other: the stop wins when both are inside a bar's range. A stop fills at
  ``min(open, stop)``, the TP sell limit when ``high >= limit`` (not strict) at
  ``max(open, limit)``.
- ``position.close()`` queues its order first, so a signal exit fills at the next open
  before the SL/TP orders (ours: pending exits fill before protective checks).
- Orders are only placed while a next bar exists: ours discards orders pending after the
  last bar, while ``finalize_trades`` re-runs the broker on the last bar, which would fill
  them.

Named causes of the differences that remain (every other difference fails the test):

- ``OPEN_BEYOND_TARGET_STOP_IN_RANGE``: a bar after the entry opens at or above the target
  and then trades down to the stop. Ours takes the target at the open (gap rule);
  backtesting.py processes its SL order first and fills it at the stop.
- ``FINALIZE_AT_LAST_OPEN``: ``finalize_trades=True`` closes a still open trade with a
  market order processed on the last bar again, which fills at that bar's *open*; ours
  closes at the last close.
- ``CASH_AFTER_EARLIER_DIFFERENCE``: after an exit-price difference the two accounts hold
  different cash, so later all-in quantities differ; each side's quantity is checked to
  be ``floor(own cash / P)``.

The sample runs contain no bar of the first kind; the tests on doctored bars show that such
a bar is classified as named, that a high exactly at the target takes profit in both
engines, and that both stop out when the stop and the target lie inside the entry bar.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting import backtesting as backtesting_module

import privatetrade as pt
from privatetrade.data.sample import load_sample_bars

CASH = 10_000_000
FAST, SLOW = 10, 30
SYMBOLS = ("GOOG", "MSFT", "AAPL", "IBM")
STOP_TARGET_PAIRS = ((0.05, 0.10), (0.02, 0.04))
CASES = [(symbol, sl, tp) for symbol in SYMBOLS for sl, tp in STOP_TARGET_PAIRS]
PRICE_TOLERANCE = 1e-6

MATCH = "match"
OPEN_BEYOND_TARGET_STOP_IN_RANGE = "open_beyond_target_stop_in_range"
FINALIZE_AT_LAST_OPEN = "finalize_at_last_open"
CASH_AFTER_EARLIER_DIFFERENCE = "cash_after_earlier_difference"
EXIT_CAUSES = {OPEN_BEYOND_TARGET_STOP_IN_RANGE, FINALIZE_AT_LAST_OPEN}
EXPLAINED = {MATCH, CASH_AFTER_EARLIER_DIFFERENCE} | EXIT_CAUSES

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Trade:
    """One round trip, by bar position."""

    entry_bar: int
    exit_bar: int
    entry_price: float
    exit_price: float
    quantity: int
    reason: str


@dataclass
class Comparison:
    """Both engines' trades of one case and the cause found for each entry bar."""

    ours: list[Trade]
    theirs: list[Trade]
    causes: dict[int, str] = field(default_factory=dict)

    def count(self) -> Counter[str]:
        return Counter(self.causes.values())


def exact_sma(values: FloatArray, window: int) -> FloatArray:
    out = np.full(values.shape[0], np.nan)
    for t in range(window - 1, values.shape[0]):
        out[t] = math.fsum(values[t - window + 1 : t + 1]) / window
    return out


def cross_signals(close: FloatArray) -> tuple[BoolArray, BoolArray]:
    """Return our sma_cross entries and exits (NaN comparisons are False: no signal)."""
    fast, slow = exact_sma(close, FAST), exact_sma(close, SLOW)
    up = np.zeros(close.shape[0], dtype=np.bool_)
    down = np.zeros(close.shape[0], dtype=np.bool_)
    up[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
    down[1:] = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
    return up, down


class PrecomputedCross(Strategy):
    """Trade given signals all-in with brackets relative to the next open (see module doc)."""

    entries: Any = None
    exits: Any = None
    opens: Any = None
    stop_loss = 0.0
    take_profit = 0.0

    def init(self) -> None:
        self.signal_exit_bars: set[int] = set()
        self.open_at_end_entry_bars: set[int] = set()

    def next(self) -> None:
        t = len(self.data) - 1
        last = len(self.opens) - 1
        if t == last:
            self.open_at_end_entry_bars = {trade.entry_bar for trade in self.trades}
        elif self.position and self.exits[t]:
            self.position.close()
            self.signal_exit_bars.add(t + 1)
        elif not self.position and self.entries[t]:
            fill = float(self.opens[t + 1])  # test-harness look-ahead: the entry's fill price
            order = self.buy(size=math.floor(self.equity / fill))
            order._replace(
                sl_price=fill * (1 - self.stop_loss), tp_price=fill * (1 + self.take_profit)
            )


def theirs_trades(bars: pd.DataFrame, sl: float, tp: float) -> list[Trade]:
    data = bars[["open", "high", "low", "close", "volume"]].rename(columns=str.capitalize)
    entries, exits = cross_signals(bars["close"].to_numpy())
    backtest = Backtest(
        data,
        PrecomputedCross,
        cash=CASH,
        commission=0.0,
        trade_on_close=False,
        exclusive_orders=False,
        finalize_trades=True,
    )
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        # Any warning (a cancelled order, trades left open, ...) means the harness diverged.
        warnings.simplefilter("error")
        patch.setattr(backtesting_module, "_tqdm", lambda iterable, **_: iterable)
        stats = backtest.run(
            entries=entries,
            exits=exits,
            opens=bars["open"].to_numpy(),
            stop_loss=sl,
            take_profit=tp,
        )
    strategy = stats["_strategy"]
    return [
        Trade(
            entry_bar=int(row.EntryBar),
            exit_bar=int(row.ExitBar),
            entry_price=float(row.EntryPrice),
            exit_price=float(row.ExitPrice),
            quantity=int(row.Size),
            reason=their_reason(row, strategy),
        )
        for row in stats["_trades"].itertuples()
    ]


def their_reason(row: Any, strategy: PrecomputedCross) -> str:
    """Return which of backtesting.py's orders closed a trade, in our reason names."""
    if int(row.ExitBar) in strategy.signal_exit_bars:
        return "signal"
    if int(row.EntryBar) in strategy.open_at_end_entry_bars:
        return "end_of_data"
    if row.ExitPrice <= row.SL:
        return "stop_loss"
    if row.ExitPrice >= row.TP:
        return "take_profit"
    return "unknown"


def our_trades(bars: pd.DataFrame, sl: float, tp: float) -> list[Trade]:
    result = pt.run_backtest(
        bars,
        "sma_cross",
        {"fast": FAST, "slow": SLOW},
        cash=CASH,
        costs=pt.CostModel(),  # custom preset, every field at its zero default
        stops={"stop_loss": sl, "take_profit": tp},
    )
    bar_of = {time: i for i, time in enumerate(bars.index)}
    return [
        Trade(
            entry_bar=bar_of[pd.Timestamp(record["entry_time"])],
            exit_bar=bar_of[pd.Timestamp(record["exit_time"])],
            entry_price=record["entry_price"],
            exit_price=record["exit_price"],
            quantity=int(record["quantity"]),
            reason=record["exit_reason"],
        )
        for record in result.trade_records()
    ]


def all_in_quantities(trades: list[Trade]) -> Iterator[tuple[Trade, int]]:
    """Yield each trade with ``floor(cash / entry price)`` of the cash its account had."""
    cash = float(CASH)
    for trade in trades:
        yield trade, math.floor(cash / trade.entry_price)
        cash += trade.quantity * (trade.exit_price - trade.entry_price)


def exit_cause(mine: Trade, theirs: Trade, bars: pd.DataFrame, sl: float, tp: float) -> str:
    """Return the named cause of an exit difference, ``MATCH`` or an unexplained label."""
    same_price = math.isclose(mine.exit_price, theirs.exit_price, abs_tol=PRICE_TOLERANCE)
    if (mine.exit_bar, mine.reason) == (theirs.exit_bar, theirs.reason) and same_price:
        return MATCH
    bar = bars.iloc[mine.exit_bar]
    stop, target = mine.entry_price * (1 - sl), mine.entry_price * (1 + tp)
    if (
        mine.exit_bar == theirs.exit_bar > mine.entry_bar
        and (mine.reason, theirs.reason) == ("take_profit", "stop_loss")
        and bar["open"] >= target
        and bar["low"] <= stop
        and mine.exit_price == bar["open"]
        and math.isclose(theirs.exit_price, stop, abs_tol=PRICE_TOLERANCE)
    ):
        return OPEN_BEYOND_TARGET_STOP_IN_RANGE
    last = bars.iloc[-1]
    if (
        mine.exit_bar == theirs.exit_bar == len(bars) - 1
        and mine.reason == theirs.reason == "end_of_data"
        and mine.exit_price == last["close"]
        and theirs.exit_price == last["open"]
    ):
        return FINALIZE_AT_LAST_OPEN
    return "unexplained exit"


def pair_cause(
    mine: tuple[Trade, int], theirs: tuple[Trade, int], bars: pd.DataFrame, sl: float, tp: float
) -> str:
    """Return the cause of any difference between two trades entered on the same bar.

    Each trade comes with the all-in quantity its own account's cash allowed.
    """
    (ours, our_all_in), (their, their_all_in) = mine, theirs
    if not math.isclose(ours.entry_price, their.entry_price, abs_tol=PRICE_TOLERANCE):
        return "unexplained entry price"
    if (ours.quantity, their.quantity) != (our_all_in, their_all_in):
        return "unexplained sizing (not floor(cash / price))"
    cause = exit_cause(ours, their, bars, sl, tp)
    if cause == MATCH and ours.quantity != their.quantity:
        return CASH_AFTER_EARLIER_DIFFERENCE
    return cause


def compare(bars: pd.DataFrame, sl: float, tp: float) -> Comparison:
    """Run both engines on ``bars`` and name the cause of every difference, by entry bar."""
    comparison = Comparison(our_trades(bars, sl, tp), theirs_trades(bars, sl, tp))
    ours = {trade.entry_bar: (trade, q) for trade, q in all_in_quantities(comparison.ours)}
    theirs = {trade.entry_bar: (trade, q) for trade, q in all_in_quantities(comparison.theirs)}
    earlier_exit_difference = False
    for entry_bar in sorted(ours.keys() | theirs.keys()):
        if entry_bar not in ours or entry_bar not in theirs:
            cause = "unexplained: entered by one engine only"
        else:
            cause = pair_cause(ours[entry_bar], theirs[entry_bar], bars, sl, tp)
        if cause == CASH_AFTER_EARLIER_DIFFERENCE and not earlier_exit_difference:
            cause = "unexplained quantity"
        earlier_exit_difference = earlier_exit_difference or cause in EXIT_CAUSES
        comparison.causes[entry_bar] = cause
    return comparison


@pytest.fixture(scope="module")
def comparisons() -> dict[tuple[str, float, float], Comparison]:
    return {(symbol, sl, tp): compare(load_sample_bars(symbol), sl, tp) for symbol, sl, tp in CASES}


def describe(comparison: Comparison) -> str:
    ours = {t.entry_bar: t for t in comparison.ours}
    theirs = {t.entry_bar: t for t in comparison.theirs}
    return "\n".join(
        f"{cause}: ours {ours.get(bar)} / backtesting.py {theirs.get(bar)}"
        for bar, cause in comparison.causes.items()
        if cause != MATCH
    )


@pytest.mark.parametrize(("symbol", "sl", "tp"), CASES)
def test_trades_match_backtesting_py_or_differ_for_a_named_cause(
    comparisons: dict[tuple[str, float, float], Comparison], symbol: str, sl: float, tp: float
) -> None:
    comparison = comparisons[(symbol, sl, tp)]
    counts = comparison.count()
    assert len(comparison.ours) >= 20
    assert set(counts) <= EXPLAINED, describe(comparison)
    # A bar opening at the target that then falls to the stop needs an open-to-low fall of
    # (tp + sl) / (1 + tp), 5.8% to 13.6% here, inside one trade: a rare data event (none
    # in these runs), so more than one per run means a systematic difference. Finalize can
    # differ only on the last trade. Trades sized from cash that differs because of an
    # earlier difference count as mismatches too: at least 90% must match exactly.
    assert counts[OPEN_BEYOND_TARGET_STOP_IN_RANGE] <= 1, describe(comparison)
    assert counts[FINALIZE_AT_LAST_OPEN] <= 1
    assert counts[MATCH] >= 0.9 * len(comparison.ours), describe(comparison)


def test_runs_exercise_stops_and_targets_on_the_entry_bar(
    comparisons: dict[tuple[str, float, float], Comparison],
) -> None:
    entry_bar_exits: Counter[str] = Counter()
    for comparison in comparisons.values():
        for trade in comparison.ours:
            if trade.exit_bar == trade.entry_bar and comparison.causes[trade.entry_bar] == MATCH:
                entry_bar_exits[trade.reason] += 1
    assert entry_bar_exits["stop_loss"] >= 1
    assert entry_bar_exits["take_profit"] >= 1


def first_long_trade(bars: pd.DataFrame, sl: float, tp: float) -> Trade:
    """Return our first trade that stays open at least three bars after its entry."""
    return next(t for t in our_trades(bars, sl, tp) if t.exit_bar >= t.entry_bar + 3)


def with_bar(bars: pd.DataFrame, position: int, **prices: float) -> pd.DataFrame:
    """Return a copy of ``bars`` with prices of one bar replaced (keep the close: same signals)."""
    doctored = bars.copy()
    for column, price in prices.items():
        doctored.iloc[position, doctored.columns.get_loc(column)] = price
    return doctored


def test_a_bar_opening_beyond_the_target_and_falling_through_the_stop_is_the_named_cause() -> None:
    sl, tp = 0.05, 0.10
    bars = load_sample_bars("GOOG")
    trade = first_long_trade(bars, sl, tp)
    stop, target = trade.entry_price * (1 - sl), trade.entry_price * (1 + tp)
    bar = bars.iloc[trade.entry_bar + 1]
    doctored = with_bar(
        bars,
        trade.entry_bar + 1,
        open=target * 1.01,
        high=max(target * 1.01, bar["high"]),
        low=min(stop * 0.99, bar["low"]),
    )

    comparison = compare(doctored, sl, tp)

    assert comparison.causes[trade.entry_bar] == OPEN_BEYOND_TARGET_STOP_IN_RANGE
    later = {cause for bar_, cause in comparison.causes.items() if bar_ > trade.entry_bar}
    assert later == {CASH_AFTER_EARLIER_DIFFERENCE}


def test_a_high_exactly_at_the_target_takes_profit_in_both_engines() -> None:
    sl, tp = 0.05, 0.10
    bars = load_sample_bars("GOOG")
    trade = first_long_trade(bars, sl, tp)
    target = trade.entry_price * (1 + tp)  # the same float both engines compute
    doctored = with_bar(bars, trade.entry_bar + 1, high=target)

    comparison = compare(doctored, sl, tp)

    ours = {t.entry_bar: t for t in comparison.ours}[trade.entry_bar]
    assert (ours.exit_bar, ours.reason, ours.exit_price) == (
        trade.entry_bar + 1,
        "take_profit",
        target,
    )
    assert set(comparison.count()) == {MATCH}


def test_stop_and_target_both_inside_the_entry_bar_stop_out_in_both_engines() -> None:
    sl, tp = 0.05, 0.10
    bars = load_sample_bars("GOOG")
    trade = first_long_trade(bars, sl, tp)
    stop, target = trade.entry_price * (1 - sl), trade.entry_price * (1 + tp)
    doctored = with_bar(bars, trade.entry_bar, high=target * 1.01, low=stop * 0.99)

    comparison = compare(doctored, sl, tp)

    ours = {t.entry_bar: t for t in comparison.ours}[trade.entry_bar]
    assert (ours.exit_bar, ours.reason) == (trade.entry_bar, "stop_loss")
    assert ours.exit_price == pytest.approx(stop, abs=PRICE_TOLERANCE)
    assert set(comparison.count()) == {MATCH}
