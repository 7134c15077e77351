"""Our metrics (docs/engine.md §7) against empyrical-reloaded 0.7.1, the reference users check.

empyrical is given what a user rebuilds from the equity column of a run:

- ``ret = equity / equity.shift(1, fill_value=initial_cash) - 1``: the ``n`` returns of §7,
  the first one against the initial cash;
- ``rb = bench / bench.shift(1) - 1``: NaN on bar 0 and before the benchmark's first price;
  empyrical leaves out the NaN pairs, as we do;
- ``ppy = result.periods_per_year``, ``rf_p = (1 + risk_free_rate)^(1/ppy) - 1``;
- ``years`` = calendar days between the first and last bar's local date / 365.25.

Agreement is to 1e-9 relative (``abs=1e-12``). Where a convention differs, the test checks
that the conversion named below reproduces empyrical to 1e-9 and that the naive comparison
is off by more than 1e-6 relative, so the named convention is what explains the difference.

| ours | empyrical | convention behind a difference |
|---|---|---|
| total_return | cum_returns_final(ret) | none |
| volatility | annual_volatility(ret) | none (both ddof=1) |
| sharpe | sharpe_ratio(ret, rf_p) | none (ddof=1) |
| sortino | sortino_ratio(ret, rf_p) | none (RMS of min(0, r - rf_p) over all n) |
| max_drawdown | max_drawdown(ret) | none (both anchored at the initial cash) |
| drawdown series | stats.drawdown_series(ret) | none |
| monthly/yearly | aggregate_returns(ret, ...) | none (local calendar of the index) |
| cagr | cagr(ret) | years: ours calendar days / 365.25, theirs n / ppy; |
| | | equal with ``annualization = n / years`` |
| calmar | calmar_ratio(ret) | as cagr |
| beta | beta(ret, rb) | none |
| alpha | alpha(ret, rb, rf_p) | ours simple ``a_p * ppy``, theirs ``(1 + a_p)^ppy - 1``, |
| | | a_p = mean(r - rf_p - beta (rb - rf_p)): theirs = (1 + ours / ppy)^ppy - 1 |
| information_ratio | excess_sharpe(ret, rb) | ours annualized: ours = theirs * sqrt(ppy) |
| tracking_error | annual_volatility(ret - rb) | none (empyrical has no function of its own) |
| benchmark_return | cum_returns_final(rb) | none |
| buy_and_hold_return | cum_returns_final(simple_returns(close)) | none |

Two inputs that users get wrong, also checked:

- First period: ``equity.pct_change().dropna()`` has n - 1 returns, without the first one
  against the initial cash. Volatility, Sharpe and Sortino then differ (a zero return less in
  the mean and deviation, ~1e-4 to 3e-3 relative here), and so do total return and CAGR when
  bar 0 has a fill; our ``compute_metrics`` on ``equity[1:]`` with ``initial_cash=equity[0]``
  reproduces those numbers. The benchmark metrics are the same either way: bar 0 has no
  benchmark return, so its return is never paired.
- Risk-free rate: ``rf_p`` is compounded per period; empyrical given ``rf / ppy`` differs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.sample import load_sample_bars
from privatetrade.engine.metrics import Metrics, compute_metrics
from privatetrade.engine.records import FILL_DTYPE, TRADE_DTYPE

DAYS_PER_YEAR = 365.25
# Naive comparisons must be off by more than this to count as a real difference.
DIFFERENT = 1e-6


@dataclass(frozen=True)
class Case:
    """One sample run: its inputs and whether its first fill is on bar 0."""

    symbol: str
    strategy: str
    params: dict[str, Any]
    benchmark: str
    risk_free_rate: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    first_fill_on_bar_0: bool = False


US_STOPS = {"stop_loss": 0.05, "take_profit": 0.1, "trailing_stop": 0.08}
CASES = {
    "goog_sma_cross_us": Case(
        "GOOG", "sma_cross", {"fast": 10, "slow": 30}, "MSFT",
        options={"cash": 10_000_000, "costs": pt.CostModel.us(regulatory_fees=True)},
    ),
    "goog_sma_cross_us_rf3": Case(
        "GOOG", "sma_cross", {"fast": 10, "slow": 30}, "MSFT", risk_free_rate=0.03,
        options={"cash": 10_000_000, "costs": pt.CostModel.us(regulatory_fees=True)},
    ),
    "ibm_rsi_stops_rf3": Case(
        "IBM", "rsi_reversion", {"period": 14, "lower": 30, "upper": 70}, "GOOG",
        risk_free_rate=0.03,
        options={
            "cash": 10_000_000,
            "costs": pt.CostModel.us(slippage=5.0),
            "sizing": {"mode": "fraction", "value": 0.5},
            "stops": US_STOPS,
        },
    ),
    "aapl_buy_and_hold_close_krx": Case(
        "AAPL", "buy_and_hold", {}, "MSFT",
        options={"costs": "krx", "fill_at": "close"},
        first_fill_on_bar_0=True,
    ),
    "msft_macd_close_zero_rf_negative": Case(
        "MSFT", "macd_cross", {}, "IBM", risk_free_rate=-0.005,
        options={"costs": "zero", "fill_at": "close"},
    ),
    "fb_sma_cross_short_us": Case(
        "FB", "sma_cross", {"fast": 5, "slow": 20}, "MSFT",
        options={"costs": "us", "allow_short": True},
    ),
}  # fmt: skip
RF_CASES = [name for name, case in CASES.items() if case.risk_free_rate != 0.0]
BAR_0_FILL_CASES = [name for name, case in CASES.items() if case.first_fill_on_bar_0]


@dataclass(frozen=True)
class Run:
    """A backtest and the series a user would hand to empyrical."""

    result: pt.BacktestResult
    equity: pd.Series
    returns: pd.Series
    bench_returns: pd.Series
    ppy: float
    rf_p: float
    years: float

    @property
    def metrics(self) -> Metrics:
        return self.result.metrics


@functools.cache
def _run(name: str) -> Run:
    case = CASES[name]
    result = pt.run_backtest(
        load_sample_bars(case.symbol),
        case.strategy,
        case.params,
        settings=pt.SimulationSettings(risk_free_rate=case.risk_free_rate),
        benchmark=load_sample_bars(case.benchmark)["close"],
        benchmark_name=case.benchmark,
        **case.options,
    )
    equity = result.equity_frame()["equity"]
    assert result.benchmark_close is not None
    bench = pd.Series(result.benchmark_close, index=equity.index)
    ppy = result.periods_per_year
    return Run(
        result=result,
        equity=equity,
        returns=equity / equity.shift(1, fill_value=result.settings.initial_cash) - 1.0,
        bench_returns=bench / bench.shift(1) - 1.0,
        ppy=ppy,
        rf_p=(1.0 + result.settings.risk_free_rate) ** (1.0 / ppy) - 1.0,
        years=_calendar_years(equity.index),
    )


def _calendar_years(index: pd.DatetimeIndex) -> float:
    return (index[-1].date() - index[0].date()).days / DAYS_PER_YEAR


@pytest.fixture(params=sorted(CASES))
def run(request: pytest.FixtureRequest) -> Run:
    return _run(request.param)


def same(value: float) -> Any:
    return pytest.approx(float(value), rel=1e-9, abs=1e-12)


def same_array(values: pd.Series) -> Any:
    return pytest.approx(values.to_numpy(dtype=float), rel=1e-9, abs=1e-12)


def defined(value: float | None, name: str) -> float:
    assert value is not None, f"{name} is None"
    return value


def assert_differs(ours: float | None, theirs: float, name: str) -> None:
    assert defined(ours, name) != pytest.approx(float(theirs), rel=DIFFERENT), name


def compounded_alpha(simple_alpha: float | None, ppy: float) -> float:
    return (1.0 + defined(simple_alpha, "alpha") / ppy) ** ppy - 1.0


def test_metrics_of_the_same_convention_agree(run: Run) -> None:
    m, ret, rb, ppy, rf_p = run.metrics, run.returns, run.bench_returns, run.ppy, run.rf_p
    close = pd.Series(run.result.prepared.bars.close)
    pairs = {
        "total_return": (m.total_return, ep.cum_returns_final(ret)),
        "volatility": (m.volatility, ep.annual_volatility(ret, annualization=ppy)),
        "sharpe": (m.sharpe, ep.sharpe_ratio(ret, risk_free=rf_p, annualization=ppy)),
        "sortino": (m.sortino, ep.sortino_ratio(ret, required_return=rf_p, annualization=ppy)),
        "max_drawdown": (m.max_drawdown, ep.max_drawdown(ret)),
        "beta": (m.beta, ep.beta(ret, rb)),
        "tracking_error": (m.tracking_error, ep.annual_volatility(ret - rb, annualization=ppy)),
        "benchmark_return": (m.benchmark_return, ep.cum_returns_final(rb)),
        "buy_and_hold_return": (
            m.buy_and_hold_return,
            ep.cum_returns_final(ep.simple_returns(close)),
        ),
    }
    for name, (ours, theirs) in pairs.items():
        assert math.isfinite(theirs), name
        assert defined(ours, name) == same(theirs), name


def test_drawdown_series_and_calendar_returns_agree(run: Run) -> None:
    drawdown = ep.stats.drawdown_series(run.returns)
    assert run.result.equity_frame()["drawdown"].to_numpy() == same_array(drawdown)
    for ours, frequency, label in [
        (run.result.monthly_returns(), "monthly", "{}-{:02d}"),
        (run.result.yearly_returns(), "yearly", "{}"),
    ]:
        theirs = ep.aggregate_returns(run.returns, frequency)
        keys = [label.format(*np.atleast_1d(key)) for key in theirs.index]
        assert [period for period, _ in ours] == keys
        assert [value for _, value in ours] == same_array(theirs)


def test_cagr_and_calmar_differ_only_by_how_years_are_counted(run: Run) -> None:
    m, ret = run.metrics, run.returns
    calendar = len(ret) / run.years
    assert defined(m.cagr, "cagr") == same(ep.cagr(ret, annualization=calendar))
    assert defined(m.calmar, "calmar") == same(ep.calmar_ratio(ret, annualization=calendar))
    assert_differs(m.cagr, ep.cagr(ret, annualization=run.ppy), "cagr")
    assert_differs(m.calmar, ep.calmar_ratio(ret, annualization=run.ppy), "calmar")


def test_alpha_differs_only_by_simple_versus_compounded_annualization(run: Run) -> None:
    theirs = ep.alpha(run.returns, run.bench_returns, risk_free=run.rf_p, annualization=run.ppy)
    assert compounded_alpha(run.metrics.alpha, run.ppy) == same(theirs)
    assert_differs(run.metrics.alpha, theirs, "alpha")


def test_information_ratio_is_excess_sharpe_annualized(run: Run) -> None:
    theirs = ep.excess_sharpe(run.returns, run.bench_returns)
    ours = defined(run.metrics.information_ratio, "information_ratio")
    assert ours == same(theirs * math.sqrt(run.ppy))
    assert_differs(ours, theirs, "information_ratio")


def _metrics_without_bar_0(run: Run) -> Metrics:
    """Our metrics of the run's bars 1..n-1, starting from the equity at bar 0."""
    result = run.result
    return compute_metrics(
        result.prepared.local_time_ns[1:],
        result.output.equity[1:],
        result.output.position[1:],
        result.prepared.bars.close[1:],
        np.zeros(0, dtype=FILL_DTYPE),
        np.zeros(0, dtype=TRADE_DTYPE),
        initial_cash=float(result.output.equity[0]),
        periods_per_year=run.ppy,
        risk_free_rate=result.settings.risk_free_rate,
    )


def _return_stats(returns: pd.Series, run: Run) -> dict[str, float]:
    ppy, rf_p = run.ppy, run.rf_p
    return {
        "volatility": ep.annual_volatility(returns, annualization=ppy),
        "sharpe": ep.sharpe_ratio(returns, risk_free=rf_p, annualization=ppy),
        "sortino": ep.sortino_ratio(returns, required_return=rf_p, annualization=ppy),
    }


def test_n_minus_1_returns_differ_and_match_our_metrics_from_bar_1(run: Run) -> None:
    naive = run.equity.pct_change().dropna()
    assert len(naive) == len(run.returns) - 1
    truncated = _metrics_without_bar_0(run)
    naive_years = _calendar_years(run.equity.index[1:])
    for name, theirs in _return_stats(naive, run).items():
        assert_differs(getattr(run.metrics, name), theirs, name)
        assert defined(getattr(truncated, name), name) == same(theirs), name
    assert truncated.max_drawdown == same(ep.max_drawdown(naive))
    assert truncated.total_return == same(ep.cum_returns_final(naive))
    naive_cagr = ep.cagr(naive, annualization=len(naive) / naive_years)
    assert defined(truncated.cagr, "cagr") == same(naive_cagr)


def test_benchmark_metrics_do_not_depend_on_the_first_period(run: Run) -> None:
    naive, rb, m = run.equity.pct_change().dropna(), run.bench_returns, run.metrics
    assert defined(m.beta, "beta") == same(ep.beta(naive, rb))
    alpha = ep.alpha(naive, rb, risk_free=run.rf_p, annualization=run.ppy)
    assert compounded_alpha(m.alpha, run.ppy) == same(alpha)
    excess_sharpe = ep.excess_sharpe(naive, rb) * math.sqrt(run.ppy)
    assert defined(m.information_ratio, "information_ratio") == same(excess_sharpe)


@pytest.mark.parametrize("name", BAR_0_FILL_CASES)
def test_a_fill_on_bar_0_moves_totals_measured_from_equity_0(name: str) -> None:
    run = _run(name)
    naive = run.equity.pct_change().dropna()
    assert_differs(run.metrics.total_return, ep.cum_returns_final(naive), "total_return")
    naive_cagr = ep.cagr(naive, annualization=len(naive) / _calendar_years(run.equity.index[1:]))
    assert_differs(run.metrics.cagr, naive_cagr, "cagr")


@pytest.mark.parametrize("name", RF_CASES)
def test_risk_free_rate_is_compounded_per_period(name: str) -> None:
    run = _run(name)
    m, ret, rb, ppy = run.metrics, run.returns, run.bench_returns, run.ppy
    simple_rf = run.result.settings.risk_free_rate / ppy
    assert run.rf_p != pytest.approx(simple_rf, rel=DIFFERENT)
    assert defined(m.sharpe, "sharpe") == same(
        ep.sharpe_ratio(ret, risk_free=run.rf_p, annualization=ppy)
    )
    assert_differs(m.sharpe, ep.sharpe_ratio(ret, risk_free=simple_rf, annualization=ppy), "sharpe")
    assert_differs(
        m.sortino, ep.sortino_ratio(ret, required_return=simple_rf, annualization=ppy), "sortino"
    )
    assert compounded_alpha(m.alpha, ppy) != pytest.approx(
        ep.alpha(ret, rb, risk_free=simple_rf, annualization=ppy), rel=DIFFERENT
    )


def _first_fill_bar(result: pt.BacktestResult) -> int:
    fills = result.output.fills
    assert fills.shape[0] > 0
    return int(fills["bar"][0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_fills_on_bar_0_only_where_marked(name: str) -> None:
    run = _run(name)
    on_bar_0 = _first_fill_bar(run.result) == 0
    assert on_bar_0 == CASES[name].first_fill_on_bar_0
    assert (run.returns.iloc[0] != 0.0) == on_bar_0


def test_cases_cover_the_settings_that_shape_returns() -> None:
    runs = [_run(name) for name in sorted(CASES)]
    settings = [run.result.settings for run in runs]
    assert any(run.metrics.trade_count > 20 for run in runs)
    assert any(s.fill_at == "close" and s.costs.preset == "krx" for s in settings)
    assert any(s.fill_at == "close" and s.costs.preset == "zero" for s in settings)
    assert any((run.result.output.position < 0).any() for run in runs)
    assert any(s.risk_free_rate > 0 for s in settings)
    assert any(s.risk_free_rate < 0 for s in settings)
    assert any(s.stops.stop_loss is not None for s in settings)
    assert any(
        defined(run.metrics.benchmark_bars, "benchmark_bars") < len(run.returns) for run in runs
    )
    assert all(run.ppy == 252 for run in runs)
