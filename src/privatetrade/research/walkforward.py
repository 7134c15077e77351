"""Walk-forward analysis: optimize on each in-sample window, trade the next out-of-sample one.

Windows are cut on the bars' local dates (calendar months) or on bar counts. Each
in-sample window is optimized on its own bars only; the chosen parameters then
trade the following out-of-sample window, with the in-sample bars before it as
indicator history (no order before the window starts) and the previous window's
final equity as capital. The out-of-sample pieces, stitched, are the strategy's
honest record: no out-of-sample bar takes part in any choice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.errors import CancelledError, InputError
from privatetrade.research.chunks import ChunkRunner, ChunkStore, Problem
from privatetrade.research.optimize import (
    CancelCheck,
    OptimizationResult,
    combination_count,
    run_optimization,
)

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.domain.research import WindowLength
    from privatetrade.engine.metrics import Metrics
    from privatetrade.engine.result import BacktestResult

__all__ = [
    "MIN_IN_SAMPLE_BARS",
    "WalkForwardResult",
    "Window",
    "WindowOutcome",
    "WindowReport",
    "plan_windows",
    "run_walk_forward",
]

MIN_IN_SAMPLE_BARS = 20
WindowReport = Callable[[Problem, "OptimizationResult"], "dict[str, Any]"]


@dataclass(frozen=True)
class Window:
    """One step of a walk-forward: bar positions ``[start, end)`` of its two parts."""

    index: int
    is_start: int
    is_end: int
    oos_start: int
    oos_end: int
    partial: bool = False  # the data ended before the out-of-sample window did


def plan_windows(
    dates: pd.DatetimeIndex,
    in_sample: WindowLength,
    out_of_sample: WindowLength,
    step: WindowLength | None = None,
    *,
    anchored: bool = False,
) -> list[Window]:
    """Cut the bars (their local dates, oldest first) into walk-forward windows.

    Months count from the first bar's date: window ``k``'s out-of-sample part starts
    ``in_sample + k * step`` after it. A last out-of-sample part cut short by the end
    of the data is kept (``partial``).

    Raises:
        InputError: The data is too short for one window (``field`` is ``in_sample``),
            or an in-sample window would hold fewer than :data:`MIN_IN_SAMPLE_BARS` bars.
    """
    n = len(dates)
    move = step or out_of_sample
    boundaries = _month_positions(dates) if in_sample.unit == "months" else None
    windows: list[Window] = []
    k = 0
    while True:
        if boundaries is None:
            is_start = 0 if anchored else k * move.count
            oos_start = in_sample.count + k * move.count
            oos_end = oos_start + out_of_sample.count
        else:
            is_start = 0 if anchored else boundaries(k * move.count)
            oos_start = boundaries(in_sample.count + k * move.count)
            oos_end = boundaries(in_sample.count + k * move.count + out_of_sample.count)
        if oos_start >= n:
            break
        windows.append(Window(k, is_start, oos_start, oos_start, min(oos_end, n), oos_end > n))
        k += 1
    if not windows:
        raise InputError(
            f"{n:,} bars are too few for one window of {in_sample.text()} in-sample and "
            f"{out_of_sample.text()} out-of-sample; choose shorter windows or more data",
            field="in_sample",
            code="too_few_bars_for_window",
            params={"count": n},
        )
    short = min(windows, key=lambda w: w.is_end - w.is_start)
    if short.is_end - short.is_start < MIN_IN_SAMPLE_BARS:
        raise InputError(
            f"in-sample window {short.index + 1} holds {short.is_end - short.is_start} bars; "
            f"at least {MIN_IN_SAMPLE_BARS} are needed",
            field="in_sample",
            code="in_sample_too_short",
            params={
                "window": short.index + 1,
                "count": short.is_end - short.is_start,
                "minimum": MIN_IN_SAMPLE_BARS,
            },
        )
    return windows


def _month_positions(dates: pd.DatetimeIndex) -> Callable[[int], int]:
    """Return months-after-the-first-bar → position of the first bar on or after that date."""
    import pandas as pd

    first = dates[0].normalize()
    days = dates.normalize().tz_localize(None) if dates.tz is not None else dates.normalize()
    origin = first.tz_localize(None) if first.tzinfo is not None else first

    def position(months: int) -> int:
        boundary = origin + pd.DateOffset(months=months)
        return int(days.searchsorted(boundary, side="left"))

    return position


@dataclass(frozen=True)
class WindowOutcome:
    """One window's optimization and out-of-sample run."""

    window: Window
    optimization: OptimizationResult
    chosen: dict[str, Any] | None  # the best in-sample combination (row), None: none eligible
    oos: BacktestResult | None  # None when nothing was eligible (the window stays in cash)
    oos_equity: npt.NDArray[np.float64]
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WalkForwardResult:
    """The windows, the stitched out-of-sample record and its metrics.

    Attributes:
        windows: One outcome per window, in time order.
        times: Local times of the stitched out-of-sample bars (ISO strings).
        equity: Stitched out-of-sample equity.
        metrics: Metrics of the stitched out-of-sample record (None: no bar).
        initial_cash: Capital at the start of the first out-of-sample window.
        seconds: Wall time.
    """

    windows: list[WindowOutcome]
    times: list[str]
    equity: npt.NDArray[np.float64]
    metrics: Metrics | None
    initial_cash: float
    seconds: float = 0.0

    @property
    def boundaries(self) -> list[int]:
        """Positions in the stitched record where each window's out-of-sample part starts."""
        positions, total = [], 0
        for outcome in self.windows:
            positions.append(total)
            total += len(outcome.oos_equity)
        return positions

    def in_sample_mean(self, metric: str) -> float | None:
        """Mean of the chosen combinations' in-sample ``metric`` over windows with one."""
        values = [
            outcome.chosen["metrics"].get(metric)
            for outcome in self.windows
            if outcome.chosen is not None
        ]
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        return sum(finite) / len(finite) if finite else None


ProgressCallback = Callable[[int, int, "dict[str, Any] | None"], None]


def run_walk_forward(
    problem: Problem,
    windows: list[Window],
    *,
    method: str = "grid",
    samples: int | None = None,
    seed: int = 0,
    objective: str = "sharpe",
    min_trades: int = 1,
    runner: ChunkRunner | None = None,
    store: ChunkStore | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    window_report: WindowReport | None = None,
) -> WalkForwardResult:
    """Run every window: optimize in-sample, trade out-of-sample, stitch the pieces.

    ``problem.bars`` are all bars; each window's optimization sees only its in-sample
    bars. Arguments as for :func:`~privatetrade.research.optimize.run_optimization`.

    Raises:
        CancelledError: ``cancelled`` said so.
    """
    started = time.perf_counter()
    check = cancelled or (lambda: False)
    per_window = combination_count(problem.space, method, samples, cap=10**9)
    total = per_window * len(windows)
    cash = problem.settings.initial_cash
    outcomes: list[WindowOutcome] = []
    for window in windows:
        offset = window.index * per_window

        def report(
            done: int, _total: int, best: dict[str, Any] | None, offset: int = offset
        ) -> None:
            if progress is not None:
                progress(offset + done, total, best)

        window_problem = replace(problem, bars=problem.bars.iloc[window.is_start : window.is_end])
        optimization = run_optimization(
            window_problem,
            method=method,
            samples=samples,
            seed=seed,
            objective=objective,
            min_trades=min_trades,
            runner=runner,
            store=store,
            key_prefix=f"w{window.index:04d}-",
            progress=report,
            cancelled=check,
        )
        if check():
            raise CancelledError("cancelled")
        outcome = _out_of_sample(problem, window, optimization, cash)
        if window_report is not None:
            outcome = replace(outcome, report=window_report(window_problem, optimization))
        if len(outcome.oos_equity):
            cash = float(outcome.oos_equity[-1])
        outcomes.append(outcome)
    return _stitch(problem, windows, outcomes, time.perf_counter() - started)


def _out_of_sample(
    problem: Problem, window: Window, optimization: OptimizationResult, cash: float
) -> WindowOutcome:
    from privatetrade.engine.api import run_backtest

    chosen = optimization.best
    if chosen is None:
        flat = np.full(window.oos_end - window.oos_start, cash)
        return WindowOutcome(window, optimization, None, None, flat)
    history = problem.bars.iloc[window.is_start : window.oos_end]
    result = run_backtest(
        history,
        problem.space.strategy,
        chosen["all_params"],
        settings=problem.settings.model_copy(update={"initial_cash": cash}),
        start=window.oos_start - window.is_start,
    )
    return WindowOutcome(window, optimization, chosen, result, result.output.equity.copy())


def _stitch(
    problem: Problem, windows: list[Window], outcomes: list[WindowOutcome], seconds: float
) -> WalkForwardResult:
    from privatetrade.engine.bars import prepare_bars
    from privatetrade.engine.metrics import compute_metrics, infer_periods_per_year
    from privatetrade.engine.records import FILL_DTYPE, TRADE_DTYPE

    first, last = windows[0].oos_start, windows[-1].oos_end
    prepared = prepare_bars(problem.bars.iloc[first:last])
    equity = np.concatenate([outcome.oos_equity for outcome in outcomes])
    position = np.concatenate(
        [
            outcome.oos.output.position
            if outcome.oos is not None
            else np.zeros(len(outcome.oos_equity))
            for outcome in outcomes
        ]
    )
    fills = [o.oos.output.fills for o in outcomes if o.oos is not None]
    trades = [o.oos.output.trades for o in outcomes if o.oos is not None]
    settings = problem.settings
    metrics = compute_metrics(
        prepared.local_time_ns,
        equity,
        position,
        prepared.bars.close,
        np.concatenate(fills) if fills else np.empty(0, dtype=FILL_DTYPE),
        np.concatenate(trades) if trades else np.empty(0, dtype=TRADE_DTYPE),
        initial_cash=settings.initial_cash,
        periods_per_year=settings.periods_per_year or infer_periods_per_year(prepared.bars.time),
        risk_free_rate=settings.risk_free_rate,
    )
    times = [str(t) for t in _iso_times(prepared.local_time_ns)]
    return WalkForwardResult(outcomes, times, equity, metrics, settings.initial_cash, seconds)


def _iso_times(local_time_ns: npt.NDArray[np.int64]) -> list[str]:
    stamps = local_time_ns.astype("datetime64[ns]")
    if len(stamps) and (local_time_ns % 86_400_000_000_000 == 0).all():
        return [str(day) for day in stamps.astype("datetime64[D]")]
    return [str(stamp) for stamp in stamps.astype("datetime64[s]")]
