"""run_portfolio's ``start``: the calendar bars before it are history only.

Invariants, for both rule families (``start = k``):

* the result covers calendar bars ``k..`` (equity, data range); no fill happens before
  bar ``k``, and with next-open fills none at bar ``k`` either (a decision made before
  ``k`` never becomes an order), so equity at ``k`` is the initial cash;
* an allocation rule with enough history (``k >= lookback``) has its first signal bar at
  ``k`` itself, and every rebalance's weights equal ``target_weights`` computed on the
  whole calendar at the same bars;
* the result does not depend on history beyond what the rule reads: the same run on
  the bars cut to ``h`` bars before ``k`` (``h`` at least the warm-up) has the same
  fills, cash, positions and equity (volatility weights equal to 1e-12 relative: they
  come from prefix sums, whose last bits depend on the first bar).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import privatetrade as pt
from builders import daily_times
from privatetrade.engine.api import default_registry
from privatetrade.engine.portfolio.align import align_bars
from privatetrade.engine.portfolio.api import rule_warmup
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.portfolio.targets import long_state, target_weights
from privatetrade.engine.strategies.registry import compute_signals

Book = dict[str, dict[str, np.ndarray]]
CASH = 1_000_000.0
START = 140


def walk(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n))
    return {
        "time": daily_times(n),
        "open": open_,
        "high": np.maximum(open_, close) * 1.01,
        "low": np.minimum(open_, close) * 0.99,
        "close": close,
        "volume": np.ones(n),
    }


def rows_of(bars: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[keep] for name, values in bars.items()}


@pytest.fixture(scope="module")
def universe() -> Book:
    """Five symbols over 260 days: one listed late (bar 100), one missing every 7th bar."""
    n = 260
    book = {code: walk(n, seed) for seed, code in enumerate(("AAA", "BBB", "CCC"))}
    book["LATE"] = rows_of(walk(n, 7), np.arange(n) >= 100)
    book["GAPS"] = rows_of(walk(n, 8), np.arange(n) % 7 != 3)
    return book


def from_time(book: Book, first_time: int) -> Book:
    """Every symbol's bars at or after ``first_time``."""
    return {code: rows_of(bars, bars["time"] >= first_time) for code, bars in book.items()}


def equal_runs(left: Any, right: Any) -> None:
    assert np.array_equal(left.aligned.time, right.aligned.time)
    assert np.array_equal(left.output.equity, right.output.equity)
    assert np.array_equal(left.output.cash, right.output.cash)
    assert np.array_equal(left.output.position, right.output.position)
    assert left.to_dict()["fills"] == right.to_dict()["fills"]
    assert np.array_equal(left.rebalances.signal_bars, right.rebalances.signal_bars)
    assert np.array_equal(left.rebalances.fill_bars, right.rebalances.fill_bars)
    # Volatility comes from prefix sums of returns: a later first bar moves the last bits.
    assert np.allclose(left.rebalances.weights, right.rebalances.weights, rtol=1e-12, atol=0)


ALLOCATION_RULES = [
    {"rule": "top_n_momentum", "top": 2, "lookback": 60},
    {"rule": "top_n_low_volatility", "top": 2, "lookback": 40, "rebalance": "weekly"},
    {"rule": "inverse_volatility", "lookback": 30},
    {"rule": "equal_weight", "absolute_momentum": True, "lookback": 20},
    {"rule": "equal_weight", "rebalance": "quarterly"},
    {
        "rule": "top_n_signal", "top": 2, "lookback": 20, "strategy": "sma_cross",
        "params": {"fast": 5, "slow": 30},
    },
]  # fmt: skip


@pytest.mark.parametrize("rule", ALLOCATION_RULES, ids=lambda rule: str(rule["rule"]))
@pytest.mark.parametrize("fill_at", ["next_open", "close"])
@pytest.mark.parametrize("rebalance_on", ["first", "last"])
def test_an_allocation_rule_trades_from_start_with_the_whole_calendars_weights(
    universe: Book, rule: dict[str, Any], fill_at: str, rebalance_on: str
) -> None:
    parsed = PortfolioRule.model_validate({**rule, "rebalance_on": rebalance_on})
    result = pt.run_portfolio(
        universe, parsed, tz="UTC", cash=CASH, fill_at=fill_at, costs="krx", start=START
    )
    full = align_bars(universe, tz="UTC")
    assert np.array_equal(result.aligned.time, full.time[START:])
    assert result.history_bars == START
    assert result.to_dict()["data"]["history_bars"] == START
    fills = result.output.fills
    assert fills.shape[0] > 0
    assert fills["bar"].min() >= (1 if fill_at == "next_open" else 0)
    if fill_at == "next_open":  # no order decided before start fills at its open
        assert result.output.equity[0] == result.output.cash[0] == CASH
    signal_bars = result.rebalances.signal_bars
    assert signal_bars[0] == 0  # start itself: the history covers the warm-up
    long = None
    if parsed.strategy is not None:
        strategy = default_registry().build(parsed.strategy, parsed.params)
        entries = np.zeros(full.close.shape, dtype=np.bool_)
        exits = np.zeros(full.close.shape, dtype=np.bool_)
        for j in range(len(full.symbols)):
            signals = compute_signals(strategy, full.symbol_bars(j).bars)
            entries[full.rows(j), j] = signals.entries
            exits[full.rows(j), j] = signals.exits
        long = long_state(entries, exits)
    expected = target_weights(full, parsed, signal_bars + START, long)
    assert np.array_equal(result.rebalances.weights, expected)
    assert expected[0].sum() > 0.0  # invested at the first rebalance


@pytest.mark.parametrize("rule", ALLOCATION_RULES[:4], ids=lambda rule: str(rule["rule"]))
def test_history_beyond_the_lookback_changes_nothing(universe: Book, rule: dict[str, Any]) -> None:
    parsed = PortfolioRule.model_validate(rule)
    history = rule_warmup(parsed) + 1
    calendar = align_bars(universe, tz="UTC").time
    full = pt.run_portfolio(universe, parsed, tz="UTC", cash=CASH, costs="krx", start=START)
    cut = from_time(universe, int(calendar[START - history]))
    short = pt.run_portfolio(cut, parsed, tz="UTC", cash=CASH, costs="krx", start=history)
    equal_runs(full, short)


def test_without_enough_history_the_first_signal_waits_for_the_lookback(
    universe: Book,
) -> None:
    rule = {"rule": "top_n_momentum", "top": 2, "lookback": 60}
    calendar = align_bars(universe, tz="UTC").time
    cut = from_time(universe, int(calendar[START - 20]))
    result = pt.run_portfolio(cut, rule, tz="UTC", cash=CASH, start=20)
    assert result.rebalances.signal_bars[0] == 40  # bar 60 of the cut calendar
    assert result.output.fills["bar"].min() == 41


SIGNALS = {
    "rule": "signals", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20},
    "max_positions": 2, "entry_priority": "momentum", "lookback": 30,
}  # fmt: skip


def test_a_signal_decided_before_start_places_no_order(universe: Book) -> None:
    whole = pt.run_portfolio(universe, SIGNALS, tz="UTC", cash=CASH)
    buys = whole.output.fills[whole.output.fills["quantity"] > 0]["bar"]
    # A start on a bar where the whole run fills an entry decided the bar before.
    start = int(buys[buys >= 60][0])
    result = pt.run_portfolio(universe, SIGNALS, tz="UTC", cash=CASH, start=start)
    assert result.output.fills.shape[0] > 0
    assert result.output.fills["bar"].min() >= 1
    assert result.output.equity[0] == CASH
    assert not (result.output.position[0] != 0.0).any()


def test_signals_history_beyond_the_warmup_changes_nothing(universe: Book) -> None:
    calendar = align_bars(universe, tz="UTC").time
    history = max(20, 30) + 1  # the strategy's warm-up (slow) and the priority's lookback
    full = pt.run_portfolio(universe, SIGNALS, tz="UTC", cash=CASH, costs="krx", start=START)
    cut = from_time(universe, int(calendar[START - history]))
    short = pt.run_portfolio(cut, SIGNALS, tz="UTC", cash=CASH, costs="krx", start=history)
    assert full.output.fills.shape[0] > 0
    equal_runs(full, short)
