"""Invariants of portfolio runs on random universes, rules, costs and missing bars.

Hypothesis draws the shape of a scenario (symbols, bars, which bars are missing, where a
symbol's data starts and ends, costs, fill timing, the rule); the bars come from seeded
numpy random walks. Every run is checked against an independent replay of its fills:
cash and positions after each bar, equity at the last closes, no negative cash, whole
lots, no fill without a bar, P&L that adds up. Chunked runs equal unchunked ones, and a
one-symbol signals portfolio equals the single backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privatetrade as pt
from builders import daily_times
from portfolio_builders import assert_records_equal
from privatetrade.engine.costs import CostModel
from privatetrade.engine.portfolio.result import PortfolioResult
from privatetrade.engine.records import Side
from privatetrade.engine.settings import SimulationSettings, Stops

FloatArray = npt.NDArray[np.float64]
EXAMPLES = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

STRATEGIES: dict[str, dict[str, Any]] = {
    "sma_cross": {"fast": 2, "slow": 5},
    "rsi_reversion": {"period": 3, "lower": 40, "upper": 60},
    "volatility_breakout": {"k": 0.3},
    "bollinger_reversion": {"period": 5, "k": 0.5},
}
ALLOCATIONS: list[dict[str, Any]] = [
    {"rule": "equal_weight", "rebalance": "daily"},
    {"rule": "equal_weight", "rebalance": "weekly", "rebalance_on": "first", "band": 0.05},
    {"rule": "inverse_volatility", "lookback": 5, "rebalance": "weekly"},
    {"rule": "top_n_momentum", "top": 1, "lookback": 3, "rebalance": "daily"},
    {"rule": "top_n_momentum", "top": 2, "lookback": 4, "weighting": "inverse_volatility",
     "absolute_momentum": True, "rebalance": "weekly"},
    {"rule": "top_n_signal", "top": 2, "lookback": 3, "strategy": "sma_cross",
     "params": {"fast": 2, "slow": 4}, "rebalance": "daily"},
]  # fmt: skip
COSTS = {
    "zero": CostModel.zero(),
    "krx": CostModel.krx("KOSDAQ", slippage=5.0),
    "us_lots": CostModel.us(
        regulatory_fees=True, commission_rate=0.001, min_commission=1.0, lot_size=10
    ),
}
FIRST_DAYS = ("2022-12-20", "2023-01-16", "2024-12-16")


@dataclass(frozen=True)
class Universe:
    """Seeded random bars of a few symbols with missing bars, late starts and early ends."""

    seed: int
    symbols: int
    bars: int
    missing: float
    cut: bool
    costs: str
    first_day: str
    lock_chance: float

    def frames(self) -> dict[str, dict[str, npt.NDArray[Any]]]:
        rng = np.random.default_rng([self.seed, 17])
        time = daily_times(self.bars, self.first_day)
        out = {}
        for j in range(self.symbols):
            ohlc = _walk(rng, self.bars, self.costs, self.lock_chance)
            keep = rng.random(self.bars) >= self.missing
            if self.cut and j > 0:  # a later start or an earlier end (delisted)
                lo, hi = sorted(rng.integers(0, self.bars, 2).tolist())
                keep[: lo // 2] = False
                keep[hi + 1 + (self.bars - hi) // 2 :] = False
            keep[rng.integers(0, self.bars)] = True  # at least one bar
            out[f"S{j}"] = {"time": time[keep], **{k: v[keep] for k, v in ohlc.items()}}
        return out


def _walk(
    rng: np.random.Generator, n: int, costs: str, lock_chance: float
) -> dict[str, FloatArray]:
    scale, decimals = (5_000.0, 0) if costs == "krx" else (50.0, 2)
    close = scale * np.exp(np.cumsum(rng.normal(0.0, 0.03, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.01, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.01, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, n)))
    locked = (rng.random(n) < lock_chance) & (np.arange(n) > 0)
    for t in np.flatnonzero(locked):  # a one-price bar at +-30% of the previous close
        price = close[t - 1] * (1.3 if rng.random() < 0.5 else 0.7)
        open_[t] = high[t] = low[t] = close[t] = price
    rounded = {k: np.round(v, decimals) for k, v in (("open", open_), ("close", close))}
    high = np.maximum(np.round(high, decimals), np.maximum(rounded["open"], rounded["close"]))
    low = np.minimum(np.round(low, decimals), np.minimum(rounded["open"], rounded["close"]))
    low = np.maximum(low, 10.0**-decimals)
    return {**rounded, "high": high, "low": low, "volume": np.ones(n)}


universes = st.builds(
    Universe,
    seed=st.integers(0, 2**32 - 1),
    symbols=st.integers(1, 4),
    bars=st.integers(4, 70),
    missing=st.sampled_from([0.0, 0.1, 0.3]),
    cut=st.booleans(),
    costs=st.sampled_from(sorted(COSTS)),
    first_day=st.sampled_from(FIRST_DAYS),
    lock_chance=st.sampled_from([0.0, 0.05]),
)


@st.composite
def signal_rules(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(STRATEGIES)))
    size = draw(st.sampled_from(["equal", "all_in", "fraction", "amount"]))
    rule: dict[str, Any] = {
        "rule": "signals",
        "strategy": name,
        "params": STRATEGIES[name],
        "max_positions": draw(st.integers(1, 3)),
        "position_size": size,
        "entry_priority": draw(st.sampled_from(["order", "momentum", "low_volatility"])),
        "delisted": draw(st.sampled_from(["hold", "liquidate"])),
    }
    if rule["entry_priority"] != "order":
        rule["lookback"] = draw(st.integers(2, 6))
    if size == "fraction":
        rule["position_value"] = draw(st.sampled_from([0.2, 0.5, 1.0]))
    elif size == "amount":
        rule["position_value"] = draw(st.sampled_from([300.0, 5_000.0, 2_000_000.0]))
    return rule


@st.composite
def allocation_rules(draw: st.DrawFn) -> dict[str, Any]:
    rule = dict(draw(st.sampled_from(ALLOCATIONS)))
    rule["delisted"] = draw(st.sampled_from(["hold", "liquidate"]))
    return rule


run_options = st.fixed_dictionaries(
    {
        "fill_at": st.sampled_from(["next_open", "close"]),
        "close_at_end": st.booleans(),
        "cash": st.sampled_from([3_000.0, 100_000.0, 10_000_000.0]),
    }
)
stops = st.sampled_from(
    [Stops(), Stops(stop_loss=0.03), Stops(take_profit=0.05, trailing_stop=0.04)]
)


def _run(
    universe: Universe, rule: dict[str, Any], options: dict[str, Any], **extra: Any
) -> PortfolioResult:
    return pt.run_portfolio(
        universe.frames(), rule, costs=COSTS[universe.costs], tz="Asia/Seoul", **options, **extra
    )


# ------------------------------------------------------------------- invariants


def check_accounting(result: PortfolioResult, lot: float) -> None:
    """Replay the fills and compare with the kernel's cash, positions and equity."""
    out = result.output
    aligned = result.aligned
    n_bars, n_symbols = aligned.close.shape
    initial = result.settings.initial_cash
    cash = initial
    held = np.zeros(n_symbols)
    last_close = np.full(n_symbols, np.nan)
    fills, symbol = out.fills, out.fill_symbol
    assert np.all(np.diff(fills["bar"]) >= 0)  # execution order is bar order
    k = 0
    for t in range(n_bars):
        while k < fills.shape[0] and fills["bar"][k] == t:
            fill, j = fills[k], int(symbol[k])
            assert aligned.present[t, j]  # no fill without a bar
            assert aligned.low[t, j] <= fill["price"] <= aligned.high[t, j]
            value = fill["quantity"] * fill["price"]
            if fill["side"] == Side.BUY:
                cash -= value + fill["commission"]
                held[j] += fill["quantity"]
            else:
                cash += value - fill["commission"] - fill["tax"]
                held[j] -= fill["quantity"]
            k += 1
        last_close = np.where(aligned.present[t], aligned.close[t], last_close)
        assert np.array_equal(out.position[t], held)
        assert out.cash[t] == np.float64(cash) or abs(out.cash[t] - cash) <= 1e-9 * initial
        assert out.cash[t] >= -1e-6
        marked = cash + float(np.where(held != 0.0, held * np.nan_to_num(last_close), 0.0).sum())
        assert abs(out.equity[t] - marked) <= 1e-6 * max(abs(marked), initial)
    assert k == fills.shape[0]
    assert np.all(out.position >= 0.0)
    assert np.all(np.mod(out.position, lot) == 0.0)  # whole lots
    assert np.all(np.mod(fills["quantity"], lot) == 0.0)
    assert np.all(fills["quantity"] > 0.0)
    final = float(out.equity[-1])
    contribution = sum(row["pnl"] for row in result.contribution_records())
    assert abs(contribution - (final - initial)) <= 1e-6 * max(final, initial)
    if not out.position[-1].any():  # all closed: the trades hold the whole P&L
        total = float(out.trades["net_pnl"].sum())
        assert abs(total - (final - initial)) <= 1e-6 * max(final, initial)


@EXAMPLES
@given(universe=universes, rule=signal_rules(), options=run_options, stop=stops)
def test_signals_rule_keeps_the_accounts(
    universe: Universe, rule: dict[str, Any], options: dict[str, Any], stop: Stops
) -> None:
    result = _run(universe, rule, options, settings=SimulationSettings(stops=stop))
    check_accounting(result, COSTS[universe.costs].lot_size)
    open_positions = np.count_nonzero(result.output.position != 0.0, axis=1)
    assert open_positions.max(initial=0) <= rule["max_positions"]
    result.to_json()  # the document serializes (no NaN)


@EXAMPLES
@given(universe=universes, rule=allocation_rules(), options=run_options)
def test_allocation_rules_keep_the_accounts(
    universe: Universe, rule: dict[str, Any], options: dict[str, Any]
) -> None:
    result = _run(universe, rule, options)
    check_accounting(result, COSTS[universe.costs].lot_size)
    fills_at = set(result.rebalances.fill_bars.tolist())
    other = result.output.fills["reason"] != 5  # end-of-data and delisting sales aside
    assert set(result.output.fills["bar"][other].tolist()) <= fills_at
    result.to_json()


# -------------------------------------------------------------- chunked == whole


def assert_same_output(chunked: PortfolioResult, whole: PortfolioResult) -> None:
    a, b = chunked.output, whole.output
    assert_records_equal(a.fills, b.fills)
    assert_records_equal(a.trades, b.trades)
    for name in ("cash", "equity", "position", "fill_symbol", "trade_symbol",
                 "rebalance_traded", "rebalance_equity"):  # fmt: skip
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@EXAMPLES
@given(
    universe=universes,
    rule=st.one_of(signal_rules(), allocation_rules()),
    options=run_options,
    window=st.integers(1, 9),
)
def test_chunked_run_equals_unchunked_run(
    universe: Universe, rule: dict[str, Any], options: dict[str, Any], window: int
) -> None:
    whole = _run(universe, rule, options)
    chunked = _run(universe, rule, options, window=window)
    assert_same_output(chunked, whole)
    assert chunked.to_json() == whole.to_json()


# ----------------------------------------------------- one symbol == the single engine


@EXAMPLES
@given(
    universe=universes,
    strategy=st.sampled_from(sorted(STRATEGIES)),
    options=run_options,
    stop=stops,
    start=st.integers(0, 20),
)
def test_one_symbol_portfolio_equals_the_single_backtest(
    universe: Universe, strategy: str, options: dict[str, Any], stop: Stops, start: int
) -> None:
    frames = universe.frames()
    frame = frames["S0"]
    start = min(start, frame["close"].shape[0] - 1)
    costs = COSTS[universe.costs]
    base = SimulationSettings(stops=stop, costs=costs)
    single = pt.run_backtest(
        frame, strategy, STRATEGIES[strategy], settings=base, tz="Asia/Seoul", start=start,
        **options,
    )  # fmt: skip
    rule = {"rule": "signals", "strategy": strategy, "params": STRATEGIES[strategy],
            "max_positions": 1, "position_size": "all_in"}  # fmt: skip
    book = pt.run_portfolio(
        {"S0": frame}, rule, settings=base, tz="Asia/Seoul", start=start, **options
    )
    assert_records_equal(book.output.fills, single.output.fills)
    assert_records_equal(book.output.trades, single.output.trades)
    assert np.array_equal(book.output.cash, single.output.cash)
    assert np.array_equal(book.output.equity, single.output.equity)
    assert np.array_equal(book.output.position[:, 0], single.output.position)
