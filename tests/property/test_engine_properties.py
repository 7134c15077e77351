"""Invariants of the simulation kernel on random bars, signals, costs and stops.

Hypothesis draws the shape of a scenario (length, market, cost model, sizing, stops,
fill timing, signal densities) and a seed; the bars themselves come from a seeded
numpy random walk so that every draw is a valid OHLC series (on the KRX or US tick
grid when the scenario says so, with occasional one-price bars locked at the daily
limit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from builders import daily_times
from privatetrade.engine.bars import PreparedBars, prepare_bars
from privatetrade.engine.costs import CostModel, TaxStep, cost_arrays
from privatetrade.engine.settings import SimulationSettings, Sizing, Stops
from privatetrade.engine.simulation import SimulationOutput, simulate
from privatetrade.engine.strategies.base import Signals

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
EXAMPLES = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Tick table in force since 2023-01-25 (the random dates also cover the older one;
# prices on this grid are also on the old grids' multiples only sometimes, which is
# fine: the engine must round whatever it is given).
_KRX_BOUNDS = np.array([2_000, 5_000, 20_000, 50_000, 200_000, 500_000], dtype=np.float64)
_KRX_SIZES = np.array([1, 5, 10, 50, 100, 500, 1_000], dtype=np.float64)


# ----------------------------------------------------------------------- builders


def _tick(price: float, grid: str) -> float:
    if grid == "krx":
        return float(_KRX_SIZES[np.searchsorted(_KRX_BOUNDS, price, side="right")])
    if grid == "us":
        return 0.01 if price >= 1.0 else 0.0001
    return 0.0


def _snap(price: float, grid: str, how: str) -> float:
    tick = _tick(price, grid)
    if tick == 0.0:
        return price
    steps = {"up": np.ceil, "down": np.floor, "near": np.round}[how](price / tick)
    return max(float(steps) * tick, tick)


def random_ohlc(
    rng: np.random.Generator, n: int, grid: str, start_price: float, lock_chance: float
) -> dict[str, FloatArray]:
    """Return a log random walk as OHLCV arrays, on ``grid``, some bars limit-locked."""
    open_, high, low, close = (np.empty(n) for _ in range(4))
    previous = start_price
    for t in range(n):
        if t > 0 and rng.random() < lock_chance:
            # A one-price bar at the daily limit (+-30% of the previous close).
            if rng.random() < 0.5:
                price = _snap(previous * 1.3, grid, "down")
            else:
                price = _snap(previous * 0.7, grid, "up")
            open_[t] = high[t] = low[t] = close[t] = price
            previous = price
            continue
        o = _snap(previous * np.exp(rng.normal(0.0, 0.01)), grid, "near")
        c = _snap(o * np.exp(rng.normal(0.0, 0.025)), grid, "near")
        h = _snap(max(o, c) * np.exp(abs(rng.normal(0.0, 0.01))), grid, "up")
        lo = _snap(min(o, c) * np.exp(-abs(rng.normal(0.0, 0.01))), grid, "down")
        open_[t], close[t] = o, c
        high[t], low[t] = max(h, o, c), min(lo, o, c)
        previous = c
    return {"open": open_, "high": high, "low": low, "close": close, "volume": np.ones(n)}


def to_bars(ohlc: dict[str, FloatArray], start: str, tz: str) -> PreparedBars:
    n = ohlc["close"].shape[0]
    return prepare_bars({"time": daily_times(n, start), **ohlc}, tz=tz)


def random_signals(
    rng: np.random.Generator, n: int, densities: tuple[float, float, float, float, float]
) -> Signals:
    p_entry, p_exit, p_short_entry, p_short_exit, p_offset = densities
    offsets = np.where(rng.random(n) < p_offset, rng.uniform(-0.5, 3.0, n), np.nan)
    return Signals(
        rng.random(n) < p_entry,
        rng.random(n) < p_exit,
        rng.random(n) < p_short_entry,
        rng.random(n) < p_short_exit,
        offsets if p_offset > 0 else None,
    )


@dataclass(frozen=True)
class Scenario:
    seed: int
    n: int
    grid: str
    start: str
    tz: str
    start_price: float
    lock_chance: float
    densities: tuple[float, float, float, float, float]
    settings: SimulationSettings

    def ohlc(self, seed_offset: int = 0, n: int | None = None) -> dict[str, FloatArray]:
        rng = np.random.default_rng([self.seed, seed_offset, 0])
        return random_ohlc(rng, n or self.n, self.grid, self.start_price, self.lock_chance)

    def signals(self, seed_offset: int = 0, n: int | None = None) -> Signals:
        rng = np.random.default_rng([self.seed, seed_offset, 1])
        return random_signals(rng, n or self.n, self.densities)

    def bars(self) -> PreparedBars:
        return to_bars(self.ohlc(), self.start, self.tz)


fractions = st.floats(0.02, 0.7)


@st.composite
def cost_models(draw: st.DrawFn, grid: str) -> CostModel:
    slippage = draw(st.sampled_from([0.0, 0.0, 5.0, 25.0, 1.0, 2.0]))
    unit = draw(st.sampled_from(["bps", "ticks"]))
    if grid == "krx":
        return CostModel.krx(
            draw(st.sampled_from(["KOSPI", "KOSDAQ", "KONEX"])),
            slippage=slippage,
            slippage_unit=unit,
            min_commission=draw(st.sampled_from([0.0, 100.0])),
        )
    if grid == "us":
        return CostModel.us(
            regulatory_fees=draw(st.booleans()),
            commission_rate=draw(st.sampled_from([0.0, 0.0005])),
            slippage=slippage,
            slippage_unit=unit,
        )
    steps: tuple[TaxStep, ...] = ()
    if draw(st.booleans()):
        steps = (
            TaxStep(since=dt.date(2024, 1, 1), rate=draw(st.sampled_from([0.001, 0.003]))),
            TaxStep(since=dt.date(2025, 1, 1), rate=0.002),
        )
    return CostModel(
        commission_rate=draw(st.sampled_from([0.0, 0.00015, 0.001, 0.01])),
        min_commission=draw(st.sampled_from([0.0, 1.0])),
        sell_tax=steps,
        slippage=slippage,
        slippage_unit="bps",
        lot_size=draw(st.sampled_from([1, 1, 10])),
        price_limit=draw(st.sampled_from([None, 0.3])),
    )


@st.composite
def sizings(draw: st.DrawFn, initial_cash: float) -> Sizing:
    mode = draw(st.sampled_from(["all_in", "all_in", "fraction", "amount", "shares"]))
    if mode == "all_in":
        return Sizing()
    if mode == "fraction":
        return Sizing(mode="fraction", value=draw(st.floats(0.05, 1.0)))
    if mode == "amount":
        return Sizing(mode="amount", value=initial_cash * draw(st.floats(0.01, 2.0)))
    return Sizing(mode="shares", value=float(draw(st.integers(1, 5_000))))


@st.composite
def stop_settings(draw: st.DrawFn) -> Stops:
    def maybe(low: float, high: float) -> float | None:
        return draw(st.one_of(st.none(), st.floats(low, high)))

    return Stops(
        stop_loss=maybe(0.005, 0.3), take_profit=maybe(0.005, 0.5), trailing_stop=maybe(0.005, 0.3)
    )


@st.composite
def scenarios(
    draw: st.DrawFn, min_n: int = 2, max_n: int = 60, allow_short: bool | None = None
) -> Scenario:
    grid = draw(st.sampled_from(["krx", "us", "none"]))
    day = dt.date(2022, 6, 1) + dt.timedelta(days=draw(st.integers(0, 4 * 365)))
    start_price = {
        "krx": draw(st.sampled_from([1_500.0, 4_800.0, 19_000.0, 48_000.0, 180_000.0])),
        "us": draw(st.sampled_from([3.0, 45.0, 420.0])),
        "none": draw(st.floats(5.0, 500.0)),
    }[grid]
    initial_cash = 10_000_000.0 if grid == "krx" else draw(st.sampled_from([5_000.0, 1e5, 1e6]))
    densities = (
        draw(fractions),
        draw(fractions),
        draw(fractions),
        draw(fractions),
        draw(st.sampled_from([0.0, 0.0, 0.5])),
    )
    simulation = SimulationSettings(
        initial_cash=initial_cash,
        costs=draw(cost_models(grid)),
        sizing=draw(sizings(initial_cash)),
        stops=draw(stop_settings()),
        fill_at=draw(st.sampled_from(["next_open", "next_open", "close"])),
        allow_short=draw(st.booleans()) if allow_short is None else allow_short,
        close_at_end=draw(st.booleans()),
    )
    return Scenario(
        seed=draw(st.integers(0, 2**32 - 1)),
        n=draw(st.integers(min_n, max_n)),
        grid=grid,
        start=day.isoformat(),
        tz="America/New_York" if grid == "us" else "Asia/Seoul",
        start_price=start_price,
        lock_chance=draw(st.sampled_from([0.0, 0.05, 0.2])),
        densities=densities,
        settings=simulation,
    )


def record_fields_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Assert two record arrays are equal field by field (padding bytes ignored)."""
    assert a.shape == b.shape
    for name in a.dtype.names or ():
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def assert_outputs_equal(a: SimulationOutput, b: SimulationOutput, upto: int | None = None) -> None:
    cut = slice(None) if upto is None else slice(0, upto)
    np.testing.assert_array_equal(a.cash[cut], b.cash[cut])
    np.testing.assert_array_equal(a.position[cut], b.position[cut])
    np.testing.assert_array_equal(a.equity[cut], b.equity[cut])
    if upto is None:
        record_fields_equal(a.fills, b.fills)
        record_fields_equal(a.trades, b.trades)
    else:
        record_fields_equal(a.fills[a.fills["bar"] < upto], b.fills[b.fills["bar"] < upto])
        record_fields_equal(
            a.trades[a.trades["exit_bar"] < upto], b.trades[b.trades["exit_bar"] < upto]
        )


# --------------------------------------------------------------------- invariants


@EXAMPLES
@given(scenarios())
def test_equity_is_cash_plus_position_times_close(scenario: Scenario) -> None:
    bars = scenario.bars()
    out = simulate(bars, scenario.signals(), scenario.settings)
    close = bars.bars.close
    np.testing.assert_allclose(out.equity, out.cash + out.position * close, rtol=1e-9, atol=0)


@EXAMPLES
@given(scenarios())
def test_cash_and_position_follow_from_the_fills(scenario: Scenario) -> None:
    bars = scenario.bars()
    out = simulate(bars, scenario.signals(), scenario.settings)
    fills = out.fills
    flow = -fills["side"] * fills["quantity"] * fills["price"] - fills["commission"] - fills["tax"]
    per_bar_cash = np.bincount(fills["bar"], weights=flow, minlength=scenario.n)
    per_bar_shares = np.bincount(
        fills["bar"], weights=fills["side"] * fills["quantity"], minlength=scenario.n
    )
    cash0 = scenario.settings.initial_cash
    np.testing.assert_allclose(out.cash, cash0 + np.cumsum(per_bar_cash), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(out.position, np.cumsum(per_bar_shares))
    lot = scenario.settings.costs.lot_size
    assert np.all(fills["quantity"] > 0)
    np.testing.assert_array_equal(fills["quantity"] % lot, 0)
    # Trades: gross, net and the total of realized P&L.
    trades = out.trades
    gross = (
        trades["direction"] * (trades["exit_price"] - trades["entry_price"]) * trades["quantity"]
    )
    np.testing.assert_allclose(trades["gross_pnl"], gross, rtol=1e-12, atol=1e-9)
    net = trades["gross_pnl"] - trades["commission"] - trades["tax"]
    np.testing.assert_allclose(trades["net_pnl"], net, rtol=1e-12, atol=1e-9)
    if out.position[-1] == 0:
        assert out.cash[-1] - cash0 == pytest.approx(trades["net_pnl"].sum(), rel=1e-9, abs=1e-6)


@EXAMPLES
@given(scenarios())
def test_every_fill_lies_within_its_bar(scenario: Scenario) -> None:
    bars = scenario.bars()
    out = simulate(bars, scenario.signals(), scenario.settings)
    at = out.fills["bar"]
    prices = out.fills["price"]
    assert np.all(prices >= bars.bars.low[at]), out.fills
    assert np.all(prices <= bars.bars.high[at]), out.fills


def _exit_blocked(bars: PreparedBars, settings: SimulationSettings, direction: int) -> BoolArray:
    """Return, per bar, whether a limit lock keeps a position of ``direction`` from exiting."""
    b = bars.bars
    arrays = cost_arrays(settings.costs, bars.local_time_ns, b.high, b.low, b.close)
    blocked = arrays.sell_blocked if direction > 0 else arrays.buy_blocked
    return blocked if blocked.shape[0] else np.zeros(len(b), dtype=np.bool_)


@EXAMPLES
@given(scenarios())
def test_no_position_outlives_an_entry_bar_that_reached_its_levels(scenario: Scenario) -> None:
    # Entries at the open or intrabar are followed by their whole entry bar (conservative
    # path, docs/engine.md §3.6): a fixed stop or target inside that range exits there.
    assume(scenario.settings.fill_at == "next_open")
    stops = scenario.settings.stops
    assume(stops.stop_loss is not None or stops.take_profit is not None)
    bars = scenario.bars()
    out = simulate(bars, scenario.signals(), scenario.settings)
    high, low = bars.bars.high, bars.bars.low
    margin = 1e-9
    for trade in out.trades:
        entry_bar, d, entry = int(trade["entry_bar"]), int(trade["direction"]), trade["entry_price"]
        if trade["exit_bar"] == entry_bar or _exit_blocked(bars, scenario.settings, d)[entry_bar]:
            continue
        worst, best = (low, high) if d > 0 else (high, low)
        if stops.stop_loss is not None:
            stop = entry * (1.0 - d * stops.stop_loss)
            assert d * (worst[entry_bar] - stop) > -margin * stop, trade
        if stops.take_profit is not None:
            target = entry * (1.0 + d * stops.take_profit)
            assert d * (best[entry_bar] - target) < margin * target, trade


@EXAMPLES
@given(scenarios(allow_short=False))
def test_cash_is_never_negative_without_shorting(scenario: Scenario) -> None:
    out = simulate(scenario.bars(), scenario.signals(), scenario.settings)
    assert out.cash.min() >= -1e-6, out.cash
    assert out.position.min() >= 0.0


@EXAMPLES
@given(scenarios(), st.data())
def test_chunked_run_equals_unchunked_run(scenario: Scenario, data: st.DataObject) -> None:
    bars = scenario.bars()
    signals = scenario.signals()
    window = data.draw(st.integers(1, scenario.n), label="window")
    whole = simulate(bars, signals, scenario.settings)
    chunked = simulate(bars, signals, scenario.settings, window=window)
    assert_outputs_equal(whole, chunked)


def _splice(a: dict[str, FloatArray], b: dict[str, FloatArray], k: int) -> dict[str, FloatArray]:
    return {name: np.concatenate([a[name][:k], b[name][k:]]) for name in a}


def _arrays(signals: Signals) -> tuple[Any, ...]:
    return (
        signals.entries,
        signals.exits,
        signals.short_entries,
        signals.short_exits,
        signals.entry_offset,
    )


def _splice_signals(a: Signals, b: Signals, k: int) -> Signals:
    def cut(x: Any, y: Any) -> Any:
        return None if x is None else np.concatenate([x[:k], y[k:]])

    return Signals(
        cut(a.entries, b.entries),
        cut(a.exits, b.exits),
        cut(a.short_entries, b.short_entries),
        cut(a.short_exits, b.short_exits),
        cut(a.entry_offset, b.entry_offset),
    )


@EXAMPLES
@given(scenarios(min_n=3), st.data())
def test_results_before_bar_k_ignore_everything_after_it(
    scenario: Scenario, data: st.DataObject
) -> None:
    # State at bar t's close depends on bars and signals up to t only. An order decided
    # at k-1 fills at k (or, with close_at_end, the last bar is closed out), so bars
    # [0, k) must match exactly when the future differs, as long as both runs go on
    # past k-1.
    n = scenario.n
    k = data.draw(st.integers(1, n - 1), label="k")
    m = data.draw(st.integers(k + 1, n + 20), label="other length")
    bars = scenario.bars()
    signals = scenario.signals()
    other_ohlc = _splice(scenario.ohlc(), scenario.ohlc(seed_offset=1, n=m), k)
    other_signals = _splice_signals(signals, scenario.signals(seed_offset=1, n=m), k)
    original = simulate(bars, signals, scenario.settings)
    changed = simulate(
        to_bars(other_ohlc, scenario.start, scenario.tz), other_signals, scenario.settings
    )
    assert_outputs_equal(original, changed, upto=k)
    # Cutting the data at k: identical up to k when nothing is closed out at the end.
    open_end = scenario.settings.model_copy(update={"close_at_end": False})
    prefix_ohlc = {name: values[:k] for name, values in scenario.ohlc().items()}
    prefix_signals = Signals(*(None if x is None else x[:k] for x in _arrays(signals)))
    full = simulate(bars, signals, open_end)
    prefix = simulate(to_bars(prefix_ohlc, scenario.start, scenario.tz), prefix_signals, open_end)
    assert_outputs_equal(full, prefix, upto=k)
    assert prefix.fills.shape[0] == np.count_nonzero(full.fills["bar"] < k)


# ------------------------------------------------------------- no edge without one


def _additive_walk(rng: np.random.Generator, n: int) -> dict[str, FloatArray]:
    """Return a driftless arithmetic random walk (a martingale) as OHLC bars."""
    open_, close = np.empty(n), np.empty(n)
    previous = 1_000.0
    for t in range(n):
        open_[t] = previous + rng.normal(0.0, 3.0)
        close[t] = open_[t] + rng.normal(0.0, 5.0)
        previous = close[t]
    high = np.maximum(open_, close) + np.abs(rng.normal(0.0, 2.0, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0.0, 2.0, n))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": np.ones(n)}


def test_random_trading_on_a_driftless_walk_earns_nothing_and_costs_lower_it() -> None:
    # Decisions independent of the future, filled at the next open, on a martingale:
    # each trade's expected gain is zero, so the mean total return over many runs must
    # be zero within its standard error. With commission and tax, strictly lower.
    rng = np.random.default_rng(20240601)
    runs, n = 300, 250
    free = SimulationSettings(initial_cash=1_000_000.0)
    costly = free.model_copy(
        update={
            "costs": CostModel(
                commission_rate=0.001,
                sell_tax=(TaxStep(since=dt.date(2000, 1, 1), rate=0.002),),
            )
        }
    )
    zero_cost, with_cost = np.empty(runs), np.empty(runs)
    for i in range(runs):
        bars = to_bars(_additive_walk(rng, n), "2024-01-02", "Asia/Seoul")
        signals = Signals(rng.random(n) < 0.08, rng.random(n) < 0.08)
        zero_cost[i] = simulate(bars, signals, free).equity[-1] / 1_000_000.0 - 1.0
        with_cost[i] = simulate(bars, signals, costly).equity[-1] / 1_000_000.0 - 1.0
    assert np.all(zero_cost != 0.0)  # every run traded
    standard_error = zero_cost.std(ddof=1) / np.sqrt(runs)
    assert abs(zero_cost.mean()) < 4.0 * standard_error
    difference = with_cost - zero_cost
    assert with_cost.mean() < zero_cost.mean()
    assert difference.mean() + 4.0 * difference.std(ddof=1) / np.sqrt(runs) < 0.0
