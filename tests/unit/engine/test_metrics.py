"""Tests of privatetrade.engine.metrics against independent plain computations."""

from __future__ import annotations

import dataclasses
import doctest
import json
import math
import statistics
import subprocess
import sys
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privatetrade.engine import metrics as metrics_module
from privatetrade.engine.metrics import (
    Metrics,
    compute_metrics,
    drawdown_series,
    infer_periods_per_year,
    metric_warnings,
    period_returns,
)
from privatetrade.engine.records import FILL_DTYPE, TRADE_DTYPE
from privatetrade.errors import InputError

NS_PER_DAY = 86_400 * 10**9
REL, ABS = 1e-7, 1e-10
ZERO = 1e-12  # a per-period standard deviation at or below this counts as zero


# --------------------------------------------------------------------------- builders


def daily_times(n: int, start: str = "2024-01-02", step_days: int = 1) -> np.ndarray:
    first = np.datetime64(start, "ns")
    return (first + np.arange(n) * np.timedelta64(step_days, "D")).view(np.int64)


def make_trades(net_pnl: list[float], returns: list[float] | None = None) -> np.ndarray:
    trades = np.zeros(len(net_pnl), dtype=TRADE_DTYPE)
    trades["net_pnl"] = net_pnl
    trades["return_pct"] = returns if returns is not None else [p / 100 for p in net_pnl]
    trades["entry_bar"] = np.arange(len(net_pnl))
    trades["exit_bar"] = np.arange(len(net_pnl)) + 1
    return trades


def make_fills(rows: list[tuple[int, float, float, float, float, float]]) -> np.ndarray:
    """Build fills from (side, quantity, price, commission, tax, slippage) rows."""
    fills = np.zeros(len(rows), dtype=FILL_DTYPE)
    for i, (side, quantity, price, commission, tax, slippage) in enumerate(rows):
        fills[i] = (i, side, quantity, price, commission, tax, slippage, 0)
    return fills


def run(
    equity: list[float] | np.ndarray,
    *,
    initial_cash: float = 100.0,
    times: np.ndarray | None = None,
    position: list[float] | np.ndarray | None = None,
    close: list[float] | np.ndarray | None = None,
    fills: np.ndarray | None = None,
    trades: np.ndarray | None = None,
    **kwargs: Any,
) -> Metrics:
    eq = np.asarray(equity, dtype=np.float64)
    n = eq.shape[0]
    return compute_metrics(
        daily_times(n) if times is None else times,
        eq,
        np.zeros(n) if position is None else np.asarray(position, dtype=np.float64),
        np.full(n, 10.0) if close is None else np.asarray(close, dtype=np.float64),
        np.zeros(0, dtype=FILL_DTYPE) if fills is None else fills,
        np.zeros(0, dtype=TRADE_DTYPE) if trades is None else trades,
        initial_cash=initial_cash,
        **kwargs,
    )


# ------------------------------------------------------------------ reference model


def ref_drawdowns(equity: list[float], initial: float) -> dict[str, Any]:
    """Walk the curve bar by bar, recording each drawdown episode."""
    peak, peak_bar = initial, 0
    episodes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for i, value in enumerate(equity):
        if value >= peak:
            if current is not None:
                current["recovery"] = i
                episodes.append(current)
                current = None
            peak, peak_bar = value, i
        else:
            ratio = value / peak  # compared before subtracting 1, which can erase ties
            if current is None:
                current = {"start": peak_bar, "end": i, "ratio": ratio, "recovery": None}
            elif ratio < current["ratio"]:
                current["end"], current["ratio"] = i, ratio
    if current is not None:
        episodes.append(current)
    last = len(equity) - 1
    for ep in episodes:
        ep["duration"] = (ep["recovery"] if ep["recovery"] is not None else last) - ep["start"]
    if not episodes:
        return {
            "max_drawdown": 0.0,
            "max_drawdown_start": None,
            "max_drawdown_end": None,
            "max_drawdown_recovery": None,
            "max_drawdown_duration_bars": 0,
            "longest_drawdown_bars": 0,
        }
    deepest = min(episodes, key=lambda ep: ep["ratio"])  # first of equal depths
    return {
        "max_drawdown": deepest["ratio"] - 1,
        "max_drawdown_start": deepest["start"],
        "max_drawdown_end": deepest["end"],
        "max_drawdown_recovery": deepest["recovery"],
        "max_drawdown_duration_bars": deepest["duration"],
        "longest_drawdown_bars": max(ep["duration"] for ep in episodes),
    }


def longest_streak(flags: list[bool]) -> int:
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def ref_trades(pnl: list[float], returns: list[float]) -> dict[str, Any]:
    wins = [p > 0 for p in pnl]
    losses = [p < 0 for p in pnl]
    win_pnl = [p for p in pnl if p > 0]
    loss_pnl = [p for p in pnl if p < 0]
    win_ret = [r for r, w in zip(returns, wins, strict=True) if w]
    loss_ret = [r for r, lo in zip(returns, losses, strict=True) if lo]
    return {
        "trade_count": len(pnl),
        "win_rate": len(win_pnl) / len(pnl) if pnl else None,
        "profit_factor": sum(win_pnl) / abs(sum(loss_pnl)) if loss_pnl else None,
        "expectancy": statistics.fmean(pnl) if pnl else None,
        "average_win": statistics.fmean(win_ret) if win_ret else None,
        "average_loss": statistics.fmean(loss_ret) if loss_ret else None,
        "best_trade": max(returns) if returns else None,
        "worst_trade": min(returns) if returns else None,
        "max_consecutive_wins": longest_streak(wins),
        "max_consecutive_losses": longest_streak(losses),
    }


def ref_benchmark(r: list[float], bench: list[float], rf_p: float, ppy: float) -> dict[str, Any]:
    b = pd.Series(bench, dtype=float)
    rb = b / b.shift(1) - 1
    frame = pd.DataFrame({"r": r, "rb": rb}).iloc[1:].dropna()
    finite = b.dropna()
    out: dict[str, Any] = {
        "benchmark_bars": len(finite),
        "benchmark_return": finite.iloc[-1] / finite.iloc[0] - 1 if len(finite) >= 2 else None,
        "alpha": None,
        "beta": None,
        "information_ratio": None,
        "tracking_error": None,
    }
    if len(frame) >= 2:
        active = frame["r"] - frame["rb"]
        if frame["rb"].var() > ZERO**2:
            beta = frame["r"].cov(frame["rb"]) / frame["rb"].var()
            out["beta"] = beta
            out["alpha"] = ((frame["r"] - rf_p).mean() - beta * (frame["rb"] - rf_p).mean()) * ppy
        out["tracking_error"] = active.std() * math.sqrt(ppy)
        if active.std() > ZERO:
            out["information_ratio"] = active.mean() / active.std() * math.sqrt(ppy)
    return out


def reference_metrics(
    times: np.ndarray,
    equity: list[float],
    position: list[float],
    close: list[float],
    fills: np.ndarray,
    trades: np.ndarray,
    initial: float,
    bench: list[float] | None = None,
    ppy: float = 252.0,
    rf: float = 0.0,
) -> dict[str, Any]:
    """Every metric computed with plain Python loops and the standard library."""
    n = len(equity)
    previous = [initial, *equity[:-1]]
    r = [e / p - 1 for e, p in zip(equity, previous, strict=True)]
    rf_p = (1 + rf) ** (1 / ppy) - 1
    excess = [x - rf_p for x in r]
    final = equity[-1]
    first_day = int(times[0]) // NS_PER_DAY
    years = (int(times[-1]) // NS_PER_DAY - first_day) / 365.25
    cagr = None
    if years > 0 and final > 0:
        try:
            cagr = (final / initial) ** (1 / years) - 1
        except OverflowError:
            cagr = None
    std = statistics.stdev(r) if n >= 2 else None
    downside = math.sqrt(sum(min(0.0, x) ** 2 for x in excess) / n)
    dd = ref_drawdowns(equity, initial)
    traded = sum(abs(f["quantity"]) * f["price"] for f in fills)
    out: dict[str, Any] = {
        "total_return": final / initial - 1,
        "cagr": cagr,
        "volatility": std * math.sqrt(ppy) if std is not None else None,
        "sharpe": statistics.fmean(excess) / std * math.sqrt(ppy) if std and std > ZERO else None,
        "sortino": statistics.fmean(excess) / downside * math.sqrt(ppy)
        if downside > ZERO
        else None,
        "calmar": cagr / abs(dd["max_drawdown"])
        if cagr is not None and dd["max_drawdown"]
        else None,
        **dd,
        **ref_trades(
            [float(t["net_pnl"]) for t in trades], [float(t["return_pct"]) for t in trades]
        ),
        "exposure": sum(1 for p in position if p != 0) / n,
        "turnover": traded / statistics.fmean(equity),
        "total_commission": sum(float(f["commission"]) for f in fills),
        "total_tax": sum(float(f["tax"]) for f in fills),
        "total_slippage": sum(float(f["slippage"]) for f in fills),
        "final_equity": final,
        "buy_and_hold_return": close[-1] / close[0] - 1,
        "alpha": None,
        "beta": None,
        "information_ratio": None,
        "tracking_error": None,
        "benchmark_return": None,
        "benchmark_bars": None,
    }
    if bench is not None:
        out.update(ref_benchmark(r, bench, rf_p, ppy))
    # Undefined (overflowing, 0/0) values are reported as None.
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()}


def assert_matches(metrics: Metrics, expected: dict[str, Any]) -> None:
    actual = dataclasses.asdict(metrics)
    assert set(actual) == set(expected)
    for name, want in expected.items():
        got = actual[name]
        if want is None or isinstance(want, int):
            assert got == want, name
        else:
            assert got == pytest.approx(want, rel=REL, abs=ABS), name


def assert_json_clean(metrics: Metrics) -> None:
    values = dataclasses.asdict(metrics)
    json.dumps(values, allow_nan=False)
    for name, value in values.items():
        assert type(value) in (float, int, type(None)), name


# --------------------------------------------------------------- reference agreement


def random_case(seed: int, n: int, with_benchmark: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    close = list(np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, n))), 2))
    position = list(np.where(rng.random(n) < 0.5, 0.0, rng.choice([-5.0, 5.0, 10.0], n)))
    equity = list(np.round(1_000 + np.cumsum(rng.normal(0.5, 8, n)), 2))
    fills = make_fills(
        [
            (
                int(rng.choice([1, -1])),
                float(rng.integers(1, 20)),
                float(rng.uniform(50, 150)),
                float(rng.uniform(0, 1)),
                float(rng.uniform(0, 0.5)),
                float(rng.uniform(0, 0.3)),
            )
            for _ in range(int(rng.integers(0, 12)))
        ]
    )
    trades = make_trades(
        list(rng.choice([-3.0, -1.5, 0.0, 2.0, 4.5], int(rng.integers(0, 15)))),
    )
    bench = None
    if with_benchmark:
        bench = list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))
        bench[: int(rng.integers(0, 4))] = [math.nan] * 3
        bench = bench[:n]
    return {
        "times": daily_times(n, step_days=int(rng.integers(1, 4))),
        "equity": equity,
        "position": position,
        "close": close,
        "fills": fills,
        "trades": trades,
        "initial": 1_000.0,
        "bench": bench,
        "ppy": float(rng.choice([252.0, 52.0])),
        "rf": float(rng.choice([0.0, 0.03])),
    }


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("with_benchmark", [False, True])
def test_every_metric_matches_reference(seed: int, with_benchmark: bool) -> None:
    case = random_case(seed, 40 + 7 * seed, with_benchmark)
    metrics = compute_metrics(
        case["times"],
        np.array(case["equity"]),
        np.array(case["position"]),
        np.array(case["close"]),
        case["fills"],
        case["trades"],
        initial_cash=case["initial"],
        benchmark_close=None if case["bench"] is None else np.array(case["bench"]),
        periods_per_year=case["ppy"],
        risk_free_rate=case["rf"],
    )
    assert_matches(metrics, reference_metrics(**case))
    assert_json_clean(metrics)


# ------------------------------------------------------------------ hand-made cases


def test_drawdown_hand_computed() -> None:
    m = run([100.0, 110.0, 99.0, 120.0])
    assert m.max_drawdown == pytest.approx(-0.1)
    assert (m.max_drawdown_start, m.max_drawdown_end, m.max_drawdown_recovery) == (1, 2, 3)
    assert m.max_drawdown_duration_bars == 2
    assert m.longest_drawdown_bars == 2
    np.testing.assert_allclose(
        drawdown_series(np.array([100.0, 110.0, 99.0, 120.0]), 100.0), [0, 0, -0.1, 0], atol=1e-15
    )


def test_drawdown_never_recovered_runs_to_last_bar() -> None:
    m = run([100.0, 120.0, 90.0, 100.0, 60.0, 70.0])
    assert m.max_drawdown == pytest.approx(-0.5)
    assert (m.max_drawdown_start, m.max_drawdown_end, m.max_drawdown_recovery) == (1, 4, None)
    assert m.max_drawdown_duration_bars == 4
    assert m.longest_drawdown_bars == 4


def test_drawdown_from_initial_cash_starts_at_bar_zero() -> None:
    m = run([90.0, 80.0, 95.0, 101.0], initial_cash=100.0)
    assert m.max_drawdown == pytest.approx(-0.2)
    assert (m.max_drawdown_start, m.max_drawdown_end, m.max_drawdown_recovery) == (0, 1, 3)
    assert m.max_drawdown_duration_bars == 3


def test_longest_drawdown_differs_from_deepest() -> None:
    # Deep but short dip (bars 1-2), then a shallow, long one from bar 3 to 9.
    equity = [100.0, 50.0, 100.0, 101.0, 100.0, 99.0, 100.0, 100.5, 100.9, 102.0]
    m = run(equity)
    assert m.max_drawdown == pytest.approx(-0.5)
    assert (m.max_drawdown_start, m.max_drawdown_end, m.max_drawdown_recovery) == (0, 1, 2)
    assert m.max_drawdown_duration_bars == 2
    assert m.longest_drawdown_bars == 6


def test_peak_is_last_bar_at_the_high_before_the_trough() -> None:
    m = run([100.0, 110.0, 105.0, 110.0, 88.0, 111.0])
    assert (m.max_drawdown_start, m.max_drawdown_end, m.max_drawdown_recovery) == (3, 4, 5)
    assert m.longest_drawdown_bars == 2


def test_no_drawdown() -> None:
    m = run([100.0, 101.0, 103.0, 103.0])
    assert m.max_drawdown == 0.0
    assert (m.max_drawdown_start, m.max_drawdown_end, m.max_drawdown_recovery) == (None,) * 3
    assert (m.max_drawdown_duration_bars, m.longest_drawdown_bars) == (0, 0)
    assert m.calmar is None


def test_return_metrics_hand_computed() -> None:
    # r = [0.1, -0.1, 0.2]
    m = run([110.0, 99.0, 118.8], periods_per_year=4.0)
    r = [0.1, -0.1, 0.2]
    mean = sum(r) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    assert m.total_return == pytest.approx(0.188)
    assert m.volatility == pytest.approx(std * 2)
    assert m.sharpe == pytest.approx(mean / std * 2)
    assert m.sortino == pytest.approx(mean / math.sqrt(0.01 / 3) * 2)
    assert m.final_equity == 118.8


def test_risk_free_rate_lowers_sharpe_and_sortino() -> None:
    equity = [101.0, 100.0, 102.0, 104.0, 103.0]
    base = run(equity)
    with_rf = run(equity, risk_free_rate=0.05)
    rf_p = 1.05 ** (1 / 252) - 1
    assert base.sharpe is not None
    assert with_rf.sharpe == pytest.approx(
        base.sharpe
        - rf_p
        / statistics.stdev([e / p - 1 for e, p in zip(equity, [100.0, *equity[:-1]], strict=True)])
        * math.sqrt(252)
    )
    assert with_rf.sortino is not None
    assert base.sortino is not None
    assert with_rf.sortino < base.sortino
    assert with_rf.volatility == base.volatility


def test_cagr_uses_calendar_dates() -> None:
    times = np.array(["2020-01-01", "2020-07-01", "2021-01-01"], dtype="datetime64[ns]")
    m = run([100.0, 105.0, 121.0], times=times.view(np.int64))
    years = 366 / 365.25
    assert m.cagr == pytest.approx(1.21 ** (1 / years) - 1)
    assert m.calmar is None  # no drawdown


def test_cagr_counts_dates_not_hours() -> None:
    # Two bars two hours apart but on consecutive local dates: one day.
    times = np.array(["2024-03-04T23:00", "2024-03-05T01:00"], dtype="datetime64[ns]")
    m = run([100.0, 101.0], times=times.view(np.int64))
    assert m.cagr == pytest.approx(1.01**365.25 - 1)


def test_cagr_none_within_one_day_or_when_wiped_out() -> None:
    times = np.array(["2024-03-04T09:00", "2024-03-04T15:00"], dtype="datetime64[ns]")
    assert run([100.0, 101.0], times=times.view(np.int64)).cagr is None
    assert run([100.0, 50.0, 0.0]).cagr is None


def test_cagr_too_large_to_annualize_is_none() -> None:
    m = run([100.0, 700.0])  # +600 % in one day
    assert m.cagr is None
    assert m.calmar is None
    assert_json_clean(m)


def test_calmar_is_cagr_over_drawdown() -> None:
    times = np.array(["2020-01-01", "2020-06-01", "2021-01-01"], dtype="datetime64[ns]")
    m = run([100.0, 80.0, 120.0], times=times.view(np.int64))
    assert m.cagr is not None
    assert m.calmar == pytest.approx(m.cagr / 0.2)


def test_trade_metrics_hand_computed() -> None:
    pnl = [1.0, 2.0, -1.0, 0.0, -2.0, -3.0, -4.0, 5.0]
    returns = [0.01, 0.02, -0.01, 0.0, -0.02, -0.03, -0.04, 0.05]
    m = run([100.0, 101.0], trades=make_trades(pnl, returns))
    assert m.trade_count == 8
    assert m.win_rate == pytest.approx(3 / 8)
    assert m.profit_factor == pytest.approx(8 / 10)
    assert m.expectancy == pytest.approx(-2 / 8)
    assert m.average_win == pytest.approx(0.08 / 3)
    assert m.average_loss == pytest.approx(-0.1 / 4)
    assert (m.best_trade, m.worst_trade) == (0.05, -0.04)
    assert (m.max_consecutive_wins, m.max_consecutive_losses) == (2, 3)


def test_break_even_trade_ends_a_streak() -> None:
    m = run([100.0, 101.0], trades=make_trades([-1.0, -1.0, 0.0, -1.0, 3.0, 0.0, 3.0]))
    assert (m.max_consecutive_wins, m.max_consecutive_losses) == (1, 2)


def test_fill_totals_turnover_and_exposure() -> None:
    fills = make_fills([(1, 10, 10.0, 0.5, 0.0, 0.2), (-1, 10, 12.0, 0.6, 0.3, 0.1)])
    m = run([100.0, 120.0, 140.0, 140.0], position=[0, 10, -3, 0], fills=fills)
    assert m.total_commission == pytest.approx(1.1)
    assert m.total_tax == pytest.approx(0.3)
    assert m.total_slippage == pytest.approx(0.3)
    assert m.turnover == pytest.approx(220 / 125)
    assert m.exposure == pytest.approx(0.5)


def test_buy_and_hold_return() -> None:
    assert run([100.0, 100.0, 100.0], close=[20.0, 10.0, 25.0]).buy_and_hold_return == (
        pytest.approx(0.25)
    )


# --------------------------------------------------------------------- benchmark


def test_benchmark_identical_to_strategy() -> None:
    equity = np.array([100.0, 102.0, 101.0, 105.0, 104.0])
    m = run(equity, benchmark_close=equity * 3)
    assert m.beta == pytest.approx(1.0)
    assert m.alpha == pytest.approx(0.0, abs=1e-12)
    assert m.tracking_error == pytest.approx(0.0, abs=1e-12)
    assert m.information_ratio is None
    assert m.benchmark_return == pytest.approx(0.04)
    assert m.benchmark_bars == 5


def test_benchmark_beta_two_and_nan_start() -> None:
    rb = [0.01, -0.02, 0.03, 0.005, -0.01]
    bench = [math.nan, 50.0]
    equity = [100.0, 100.0]  # r_1 = 0 is not paired: rb_1 is undefined
    for x in rb:
        bench.append(bench[-1] * (1 + x))
        equity.append(equity[-1] * (1 + 2 * x + 0.001))
    m = run(equity, benchmark_close=np.array(bench), periods_per_year=252.0)
    assert m.beta == pytest.approx(2.0)
    assert m.alpha == pytest.approx(0.001 * 252)
    assert m.benchmark_bars == 6
    assert m.benchmark_return == pytest.approx(bench[-1] / 50.0 - 1)
    active = [x + 0.001 for x in rb]
    assert m.tracking_error == pytest.approx(statistics.stdev(active) * math.sqrt(252))
    assert m.information_ratio == pytest.approx(
        statistics.fmean(active) / statistics.stdev(active) * math.sqrt(252)
    )


def test_benchmark_with_gaps_and_trailing_nan() -> None:
    bench = np.array([np.nan, 10.0, 11.0, np.nan, 12.1, 13.2, np.nan])
    equity = np.array([100.0, 101.0, 103.0, 102.0, 104.0, 107.0, 106.0])
    m = run(equity, benchmark_close=bench)
    assert m.benchmark_bars == 4
    assert m.benchmark_return == pytest.approx(0.32)
    # Only bars 2 and 5 have a benchmark return (both neighbours priced).
    r = [103 / 101 - 1, 107 / 104 - 1]
    rb = [0.1, 13.2 / 12.1 - 1]
    assert m.beta == pytest.approx((r[1] - r[0]) / (rb[1] - rb[0]))
    assert_matches(
        m,
        reference_metrics(
            daily_times(7),
            list(equity),
            [0.0] * 7,
            [10.0] * 7,
            np.zeros(0, dtype=FILL_DTYPE),
            np.zeros(0, dtype=TRADE_DTYPE),
            100.0,
            list(bench),
        ),
    )


def test_benchmark_without_prices() -> None:
    m = run([100.0, 101.0, 102.0], benchmark_close=np.full(3, np.nan))
    assert m.benchmark_bars == 0
    assert (m.alpha, m.beta, m.information_ratio, m.tracking_error, m.benchmark_return) == (
        None,
    ) * 5


def test_no_benchmark_leaves_fields_none() -> None:
    m = run([100.0, 101.0, 102.0])
    assert (m.alpha, m.beta, m.benchmark_return, m.benchmark_bars) == (None,) * 4


def test_flat_benchmark_has_no_beta() -> None:
    m = run([100.0, 101.0, 99.0, 102.0], benchmark_close=np.full(4, 10.0))
    assert m.beta is None
    assert m.alpha is None
    assert m.tracking_error is not None
    assert m.benchmark_return == 0.0


# ------------------------------------------------------------- degenerate values


def test_flat_equity_without_trades_is_json_clean() -> None:
    m = run([100.0] * 5, benchmark_close=np.full(5, np.nan))
    assert m.volatility == 0.0
    assert m.sharpe is None
    assert m.sortino is None
    assert m.calmar is None
    assert m.win_rate is None
    assert m.profit_factor is None
    assert m.expectancy is None
    assert (m.average_win, m.average_loss, m.best_trade, m.worst_trade) == (None,) * 4
    assert (m.max_consecutive_wins, m.max_consecutive_losses, m.trade_count) == (0, 0, 0)
    assert m.turnover == 0.0
    assert_json_clean(m)


def test_only_winning_trades_have_no_profit_factor() -> None:
    m = run([100.0, 101.0], trades=make_trades([1.0, 2.0]))
    assert m.profit_factor is None
    assert m.average_loss is None
    assert m.win_rate == 1.0


def test_only_losing_trades_have_zero_profit_factor() -> None:
    m = run([100.0, 99.0], trades=make_trades([-1.0, -2.0]))
    assert m.profit_factor == 0.0
    assert m.average_win is None


def test_single_bar() -> None:
    m = run([101.0])
    assert m.volatility is None
    assert m.sharpe is None
    assert m.cagr is None
    assert m.sortino is None  # no downside
    assert m.total_return == pytest.approx(0.01)
    assert_json_clean(m)


def test_only_gains_have_no_sortino() -> None:
    m = run([101.0, 103.0, 104.0])
    assert m.sortino is None
    assert m.sharpe is not None


def test_wiped_out_equity_gives_no_return_metrics() -> None:
    m = run([50.0, 0.0, 0.0], benchmark_close=np.array([1.0, 2.0, 3.0]))
    assert m.max_drawdown == -1.0
    assert (m.volatility, m.sharpe, m.sortino, m.alpha, m.beta) == (None,) * 5
    assert m.benchmark_return == 2.0
    assert m.total_return == -1.0
    assert_json_clean(m)


def test_negative_equity_gives_no_return_metrics() -> None:
    # Returns through negative equity are finite but meaningless (-10 -> 20 is "-300 %").
    m = run([50.0, -10.0, 20.0, 30.0])
    assert m.max_drawdown == pytest.approx(-1.1)
    assert (m.volatility, m.sharpe, m.sortino) == (None,) * 3
    assert "zero or below" in metric_warnings(m, 100)[0]


def test_zero_first_close_has_no_buy_and_hold() -> None:
    assert run([100.0, 100.0], close=[0.0, 1.0]).buy_and_hold_return is None


def test_non_positive_mean_equity_has_no_turnover() -> None:
    fills = make_fills([(1, 1, 10.0, 0, 0, 0)])
    assert run([-10.0, -20.0], fills=fills).turnover is None


# ----------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"equity": np.array([100.0, np.nan])}, "equity"),
        ({"equity": np.array([100.0])}, "equity"),
        ({"position": np.zeros(3)}, "position"),
        ({"close": np.zeros((2, 1))}, "close"),
        ({"fills": np.zeros(1, dtype=TRADE_DTYPE)}, "fills"),
        ({"trades": np.zeros(1, dtype=FILL_DTYPE)}, "trades"),
        ({"initial_cash": 0.0}, "initial_cash"),
        ({"initial_cash": math.nan}, "initial_cash"),
        ({"benchmark_close": np.ones(3)}, "benchmark_close"),
        ({"periods_per_year": 0.0}, "periods_per_year"),
        ({"risk_free_rate": -1.0}, "risk_free_rate"),
        ({"local_time_ns": np.zeros(0, dtype=np.int64)}, "local_time_ns"),
    ],
)
def test_invalid_input_is_rejected(change: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "local_time_ns": daily_times(2),
        "equity": np.array([100.0, 101.0]),
        "position": np.zeros(2),
        "close": np.ones(2),
        "fills": np.zeros(0, dtype=FILL_DTYPE),
        "trades": np.zeros(0, dtype=TRADE_DTYPE),
        "initial_cash": 100.0,
    }
    args.update(change)
    with pytest.raises(InputError) as info:
        compute_metrics(**args)
    assert info.value.field == field


def test_drawdown_series_rejects_bad_initial_cash() -> None:
    with pytest.raises(InputError):
        drawdown_series(np.array([1.0]), -5.0)


# ---------------------------------------------------------------- period returns


def test_monthly_and_yearly_returns_across_year_boundary() -> None:
    times = np.array(
        ["2023-11-30", "2023-12-01", "2023-12-29", "2024-01-02", "2024-01-31", "2024-03-01"],
        dtype="datetime64[ns]",
    ).view(np.int64)
    equity = np.array([105.0, 100.0, 120.0, 90.0, 108.0, 81.0])
    monthly = period_returns(times, equity, 100.0, "month")
    assert [label for label, _ in monthly] == ["2023-11", "2023-12", "2024-01", "2024-03"]
    assert [value for _, value in monthly] == pytest.approx([0.05, 120 / 105 - 1, -0.1, -0.25])
    yearly = period_returns(times, equity, 100.0, "year")
    assert [label for label, _ in yearly] == ["2023", "2024"]
    assert [value for _, value in yearly] == pytest.approx([0.2, 81 / 120 - 1])


def test_period_returns_with_several_bars_per_day() -> None:
    times = np.array(
        ["2024-01-31T10:00", "2024-01-31T15:00", "2024-02-01T10:00", "2024-02-01T15:00"],
        dtype="datetime64[ns]",
    ).view(np.int64)
    result = period_returns(times, np.array([101.0, 102.0, 103.0, 104.0]), 100.0, "month")
    assert [label for label, _ in result] == ["2024-01", "2024-02"]
    assert [value for _, value in result] == pytest.approx([0.02, 104 / 102 - 1])


def test_period_returns_use_local_wall_clock_dates() -> None:
    # 2023-12-31 23:30 local is still December even though UTC+9 would be January.
    times = np.array(["2023-12-31T23:30", "2024-01-01T00:30"], dtype="datetime64[ns]")
    result = period_returns(times.view(np.int64), np.array([110.0, 121.0]), 100.0, "year")
    assert [label for label, _ in result] == ["2023", "2024"]
    assert [value for _, value in result] == pytest.approx([0.1, 0.1])


@pytest.mark.parametrize(
    ("period", "rule", "fmt"), [("month", "ME", "%Y-%m"), ("year", "YE", "%Y")]
)
def test_period_returns_match_pandas_resample(
    period: Literal["month", "year"], rule: str, fmt: str
) -> None:
    rng = np.random.default_rng(7)
    times = daily_times(900, start="2022-05-17")
    equity = 1_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 900)))
    last = pd.Series(equity, index=pd.to_datetime(times)).resample(rule).last().dropna()
    expected = last / last.shift(1, fill_value=1_000.0) - 1
    got = period_returns(times, equity, 1_000.0, period)
    assert [label for label, _ in got] == [ts.strftime(fmt) for ts in expected.index]
    assert [value for _, value in got] == pytest.approx(list(expected), rel=1e-12)


def test_period_returns_after_wipe_out_are_left_out() -> None:
    times = np.array(["2024-01-31", "2024-02-29", "2024-03-29"], dtype="datetime64[ns]")
    result = period_returns(times.view(np.int64), np.array([0.0, 10.0, 20.0]), 100.0, "month")
    assert result == [("2024-01", -1.0), ("2024-03", 1.0)]


def test_period_returns_edge_inputs() -> None:
    assert period_returns(np.zeros(0, dtype=np.int64), np.zeros(0), 100.0, "month") == []
    with pytest.raises(InputError):
        period_returns(daily_times(2), np.ones(2), 100.0, "week")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        period_returns(daily_times(2), np.ones(3), 100.0, "month")


# ----------------------------------------------------------------------- warnings


def test_warnings_for_a_thin_backtest() -> None:
    m = run([100.0, 101.0, 102.0], benchmark_close=np.array([np.nan, 1.0, 1.1]))
    text = metric_warnings(m, 3)
    assert len(text) == 3
    assert "No trades" in text[0]
    assert "3 return periods" in text[1]
    assert "2 of 3 bars" in text[2]


def test_warning_for_few_trades() -> None:
    m = run([100.0, 101.0], trades=make_trades([1.0] * 9))
    assert any(
        "not statistically meaningful" in w and "9 closed trades" in w
        for w in metric_warnings(m, 100)
    )


def test_warnings_count_one_trade_and_one_period_in_the_singular() -> None:
    m = run([100.0, 101.0], trades=make_trades([1.0]))
    text = metric_warnings(m, 1)
    assert text[0].startswith("Only 1 closed trade (fewer than")
    assert text[1].startswith("Only 1 return period (fewer than")


def test_warning_for_wiped_out_equity() -> None:
    m = run([100.0, 0.0])
    assert "zero or below" in metric_warnings(m, 100)[0]


def test_no_warnings_for_a_solid_backtest() -> None:
    n = 40
    m = run(
        np.linspace(100, 140, n),
        trades=make_trades([1.0, -1.0] * 6),
        benchmark_close=np.linspace(10, 12, n),
    )
    assert metric_warnings(m, n) == []


# ------------------------------------------------------------ periods per year


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (np.busday_offset("2024-01-01", np.arange(30), roll="forward"), 252.0),
        (np.arange("2020-01-06", "2021-01-06", 7, dtype="datetime64[D]"), 52.0),
        (np.arange("2020-01", "2023-01", dtype="datetime64[M]"), 12.0),
        (np.arange("2024-01-02T09:00", "2024-01-02T15:30", dtype="datetime64[m]"), 252.0 * 390),
        (np.arange("2024-01-02T09:00", "2024-01-02T15:00", 5, dtype="datetime64[m]"), 252.0 * 78),
        (np.arange("2024-01-02T09", "2024-01-04T16", dtype="datetime64[h]"), 252.0 * 7),
        (np.array(["2024-01-02"], dtype="datetime64[D]"), 252.0),
    ],
)
def test_infer_periods_per_year(times: np.ndarray, expected: float) -> None:
    assert infer_periods_per_year(times.astype("datetime64[ns]").view(np.int64)) == expected


def test_infer_periods_per_year_rejects_unsorted_times() -> None:
    with pytest.raises(InputError):
        infer_periods_per_year(np.array([5, 5, 5, 3], dtype=np.int64))


# ------------------------------------------------------------------- properties

positive_equity = st.lists(
    st.floats(min_value=1.0, max_value=1e6).map(lambda x: round(x, 2)), min_size=1, max_size=80
)


@settings(max_examples=200, deadline=None)
@given(positive_equity, st.floats(min_value=1.0, max_value=1e6))
def test_drawdown_bounded_and_consistent(equity: list[float], initial: float) -> None:
    dd = drawdown_series(np.array(equity), initial)
    assert np.all(dd <= 0.0)
    assert np.all(dd >= -1.0)
    m = run(equity, initial_cash=initial)
    assert m.max_drawdown == dd.min()
    assert_matches(m, {**dataclasses.asdict(m), **ref_drawdowns(equity, initial)})
    if m.max_drawdown_end is not None:
        assert m.max_drawdown_start is not None
        assert m.max_drawdown_start <= m.max_drawdown_end
        assert m.longest_drawdown_bars >= m.max_drawdown_duration_bars


@settings(max_examples=200, deadline=None)
@given(positive_equity, st.floats(min_value=1.0, max_value=1e6), st.integers(0, 2))
def test_returns_compound_to_total_return(
    equity: list[float], initial: float, start_day: int
) -> None:
    times = daily_times(len(equity), start=f"2023-12-{29 + start_day}", step_days=9)
    m = run(equity, initial_cash=initial, times=times)
    values = np.array(equity)
    for returns in (
        period_returns(times, values, initial, "month"),
        period_returns(times, values, initial, "year"),
    ):
        compounded = math.prod(1 + v for _, v in returns)
        assert all(type(v) is float for _, v in returns)
        assert compounded == pytest.approx(1 + m.total_return, rel=1e-9)
    assert m.total_return == pytest.approx(equity[-1] / initial - 1)


@settings(max_examples=100, deadline=None)
@given(
    positive_equity,
    st.lists(st.sampled_from([-2.5, -1.0, 0.0, 0.5, 3.0]), max_size=40),
    st.floats(min_value=0.0, max_value=0.1),
)
def test_all_metrics_match_reference_property(
    equity: list[float], pnl: list[float], rf: float
) -> None:
    trades = make_trades(pnl)
    times = daily_times(len(equity))
    m = run(equity, initial_cash=1_000.0, times=times, trades=trades, risk_free_rate=rf)
    expected = reference_metrics(
        times,
        equity,
        [0.0] * len(equity),
        [10.0] * len(equity),
        np.zeros(0, dtype=FILL_DTYPE),
        trades,
        1_000.0,
        rf=rf,
    )
    assert_matches(m, expected)
    assert_json_clean(m)


# ------------------------------------------------------------------ module hygiene


def test_module_does_not_import_pandas() -> None:
    code = "import sys, privatetrade.engine.metrics; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["metrics", "periods"])
def test_docstring_examples_run(module: str) -> None:
    import importlib

    result = doctest.testmod(importlib.import_module(f"privatetrade.engine.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


def test_all_is_sorted_and_complete() -> None:
    assert metrics_module.__all__ == sorted(metrics_module.__all__)
    for name in metrics_module.__all__:
        assert hasattr(metrics_module, name)
