"""A portfolio asked from ``start`` reads the warm-up history its rule needs before it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

import privatetrade as pt
from privatetrade.data.calendar import CALENDAR_START, CalendarName, session_days
from privatetrade.data.market_data import MarketData
from privatetrade.domain.portfolio import PortfolioSpec
from privatetrade.engine.bars import PreparedBars, prepare_bars
from privatetrade.engine.portfolio.align import align_bars
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.portfolio.targets import target_weights
from privatetrade.plans.portfolio import execute_portfolio, load_bars, plan_portfolio
from privatetrade.plans.portfolio_history import (
    calendar_start,
    cut_history,
    history_sessions,
    history_start,
    history_warning,
    strategy_warmup,
)

KOSPI = ["DEMO01", "DEMO03", "DEMO05"]
START = dt.date(2018, 1, 2)
MOMENTUM = {"rule": "top_n_momentum", "top": 2, "lookback": 60}


@pytest.mark.parametrize(
    ("rule", "sessions"),
    [
        ({"rule": "equal_weight"}, 0),
        ({"rule": "fixed_weights", "weights": {"A": 0.5}}, 0),
        ({"rule": "equal_weight", "absolute_momentum": True, "lookback": 20}, 21),
        ({"rule": "inverse_volatility", "lookback": 30}, 31),
        (MOMENTUM, 61),
        ({"rule": "top_n_low_volatility", "top": 1, "lookback": 252}, 253),
        ({"rule": "top_n_signal", "top": 1, "strategy": "sma_cross",
          "params": {"fast": 5, "slow": 100}, "lookback": 60}, 101),
        ({"rule": "top_n_signal", "top": 1, "strategy": "buy_and_hold"}, 61),
        ({"rule": "signals", "strategy": "sma_cross", "params": {"fast": 5, "slow": 40}}, 41),
        ({"rule": "signals", "strategy": "sma_cross", "params": {"fast": 5, "slow": 40},
          "entry_priority": "momentum", "lookback": 120}, 121),
        ({"rule": "signals", "strategy": "macd_cross",
          "params": {"fast": 12, "slow": 26, "signal": 9}}, 35),
        # Buy and hold decides on its first bar: history would move its entry before start.
        ({"rule": "signals", "strategy": "buy_and_hold", "entry_priority": "momentum"}, 0),
    ],
)  # fmt: skip
def test_history_sessions_are_the_bars_the_first_decision_reads(
    rule: dict[str, Any], sessions: int
) -> None:
    parsed = PortfolioRule.model_validate(rule)
    assert history_sessions(parsed, strategy_warmup(parsed)) == sessions


@pytest.mark.parametrize("calendar", [CalendarName.XKRX, CalendarName.XNYS])
@pytest.mark.parametrize("sessions", [1, 2, 21, 61, 121, 253, 1261, 2521])
def test_history_start_reaches_back_far_enough_from_any_day(
    calendar: CalendarName, sessions: int
) -> None:
    """From every day of 2001..2030, the calendar days read hold ``sessions`` sessions."""
    held = session_days(calendar, CALENDAR_START, dt.date(2030, 12, 31))
    days = np.arange(np.datetime64("2001-01-01"), np.datetime64("2031-01-01"))
    days = days[days - np.timedelta64(5_000, "D") >= np.datetime64(CALENDAR_START)]
    if sessions > 1_000:
        days = days[days >= np.datetime64("2015-01-01")]
    first = np.array(
        [history_start(day, sessions) for day in days.astype(object)], dtype="datetime64[D]"
    )
    between = np.searchsorted(held, days) - np.searchsorted(held, first)
    assert between.min() >= sessions
    assert between.max() <= 1.6 * sessions + 30  # generous, not wasteful


def arrays(dates: list[str], close: list[float]) -> PreparedBars:
    times = np.array(dates, dtype="datetime64[D]").astype("datetime64[ns]").view(np.int64)
    values = np.array(close, dtype=np.float64)
    bars = {"time": times - 9 * 3_600 * 10**9, "open": values, "high": values, "low": values,
            "close": values, "volume": np.ones(len(dates))}  # fmt: skip
    return prepare_bars(bars, tz="Asia/Seoul")  # midnight in Seoul


def test_cut_history_keeps_the_last_calendar_bars_before_start() -> None:
    days = [f"2024-01-{day:02d}" for day in (2, 3, 4, 5, 8, 9, 10, 11)]
    bars = {
        "A": arrays(days, [1.0, 2, 3, 4, 5, 6, 7, 8]),
        "B": arrays([days[i] for i in (0, 1, 3, 5, 6)], [1.0, 2, 3, 4, 5]),  # no bar on the 4th
    }
    start = dt.date(2024, 1, 9)
    assert calendar_start(bars, start) == 5
    assert calendar_start(bars, None) == 0
    cut = cut_history(bars, start, 3)
    assert calendar_start(cut, start) == 3  # the 4th, 5th and 8th
    assert cut["A"].bars.close.tolist() == [3.0, 4, 5, 6, 7, 8]
    assert cut["B"].bars.close.tolist() == [3.0, 4, 5]  # its bars from the 4th on
    assert cut["B"].local_time_ns.shape == (3,)
    assert cut_history(bars, start, 5) == bars  # all there is
    assert cut_history(bars, start, 9) == bars
    assert calendar_start(cut_history(bars, start, 0), start) == 0


def test_the_warning_says_how_much_history_there_was() -> None:
    assert history_warning(20, 61, dt.date(2016, 2, 1)) == (
        "stored prices give 20 of the 61 bars of history the rule reads before 2016-02-01: "
        "its first trades may come up to 41 bars late"
    )


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> MarketData:
    data = MarketData(tmp_path_factory.mktemp("portfolio-history") / "data")
    data.ensure_samples()
    return data


def spec(**fields: Any) -> PortfolioSpec:
    return PortfolioSpec.model_validate({"symbols": KOSPI, **fields})


def stored(market_data: MarketData) -> dict[str, PreparedBars]:
    """Every stored bar of the symbols, as the plan reads them."""
    plan = plan_portfolio(spec(rule=MOMENTUM), market_data)
    return load_bars(plan, market_data)[0]


def test_the_plan_needs_history_only_with_a_start(market_data: MarketData) -> None:
    assert plan_portfolio(spec(rule=MOMENTUM), market_data).history == 0
    plan = plan_portfolio(spec(rule=MOMENTUM, start=START), market_data)
    assert plan.history == 61
    assert plan.load_start is not None
    assert plan.load_start < START - dt.timedelta(days=61)
    assert plan_portfolio(spec(start=START), market_data).history == 0  # equal weight


def test_a_momentum_portfolio_is_invested_from_its_start(market_data: MarketData) -> None:
    plan = plan_portfolio(spec(rule=MOMENTUM, start=START, benchmark="DEMOIDX"), market_data)
    bars, benchmark = load_bars(plan, market_data)
    assert calendar_start(bars, START) == 61
    for code, prepared in bars.items():  # from start on: the stored bars of the period
        days = prepared.local_time_ns.astype("datetime64[ns]").astype("datetime64[D]")
        expected = market_data.bars(code, START, None)["close"].to_numpy()
        assert np.array_equal(prepared.bars.close[days >= np.datetime64(START)], expected)
    assert benchmark is not None
    assert benchmark.index[0].date() < START
    result = execute_portfolio(plan, bars, benchmark)
    document = result.to_dict()
    assert document["data"]["first"].startswith("2018-01-02")
    assert document["data"]["history_bars"] == 61
    assert document["warnings"] == []
    # The first rebalance is signalled at start's close and fills at the next open.
    assert document["rebalances"][0]["signal_time"].startswith("2018-01-02")
    assert document["fills"][0]["time"].startswith("2018-01-03")
    assert result.output.equity[0] == plan.settings.initial_cash
    assert document["equity"]["exposure"][1] > 0.9
    # Its weights are the ones computed on every stored bar at the same session.
    whole = align_bars(stored(market_data))
    at_start = int(np.searchsorted(whole.time, result.aligned.time[0]))
    expected = target_weights(whole, plan.spec.rule, np.array([at_start]))
    assert np.array_equal(result.rebalances.weights[0], expected[0])
    # And the run equals the engine's on every stored bar from the same start.
    engine = pt.run_portfolio(
        stored(market_data),
        plan.spec.rule,
        settings=plan.settings,
        costs=plan.symbol_costs,
        start=at_start,
    )
    assert np.array_equal(result.output.equity, engine.output.equity)
    assert document["fills"] == engine.to_dict()["fills"]


def test_a_signals_portfolio_warms_its_strategy_up(market_data: MarketData) -> None:
    rule = {"rule": "signals", "strategy": "sma_cross", "params": {"fast": 5, "slow": 40},
            "max_positions": 2, "entry_priority": "momentum", "lookback": 20}  # fmt: skip
    plan = plan_portfolio(spec(rule=rule, start=START), market_data)
    assert plan.history == 41
    bars, benchmark = load_bars(plan, market_data)
    assert calendar_start(bars, START) == 41
    result = execute_portfolio(plan, bars, benchmark)
    whole = stored(market_data)
    at_start = int(np.searchsorted(align_bars(whole).time, result.aligned.time[0]))
    engine = pt.run_portfolio(
        whole, plan.spec.rule, settings=plan.settings, costs=plan.symbol_costs, start=at_start
    )
    assert result.output.fills.shape[0] > 0
    assert np.array_equal(result.output.equity, engine.output.equity)
    assert result.to_dict()["fills"] == engine.to_dict()["fills"]


def test_too_little_stored_history_runs_with_a_warning(market_data: MarketData) -> None:
    start = dt.date(2016, 2, 1)  # the samples start on 2016-01-04
    plan = plan_portfolio(spec(rule=MOMENTUM, start=start), market_data)
    bars, benchmark = load_bars(plan, market_data)
    result = execute_portfolio(plan, bars, benchmark)
    have = calendar_start(bars, start)
    assert 0 < have < 61
    assert result.history_bars == have
    assert result.warnings[0] == history_warning(have, 61, start)
    assert result.rebalances.signal_bars[0] == 60 - have  # the lookback's 60th bar
    assert result.to_dict()["data"]["first"].startswith("2016-02-01")
