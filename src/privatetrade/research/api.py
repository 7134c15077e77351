"""The library's research functions: :func:`optimize` and :func:`walk_forward`.

::

    import privatetrade as pt

    found = pt.optimize(frame, "sma_cross", {"fast": range(5, 51), "slow": range(20, 201, 5)})
    found.best["params"], found.report["deflated_sharpe"]
    found.to_frame()                       # every combination's metrics

    wf = pt.walk_forward(frame, "sma_cross", {"fast": range(5, 30), "slow": range(20, 120, 5)},
                         in_sample="24m", out_of_sample="6m")
    wf.to_dict()["report"]["walk_forward_efficiency"]

The job kinds ``sweep`` and ``walkforward`` run the same code (see
:mod:`privatetrade.jobs.kinds.sweep`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.research.chunks import ChunkRunner, ChunkStore, DaskRunner, Problem
from privatetrade.research.documents import Optimization, WalkForward
from privatetrade.research.optimize import (
    CancelCheck,
    OptimizationResult,
    ProgressCallback,
    run_optimization,
)
from privatetrade.research.report import PBO_BLOCKS, optimization_report, walk_forward_report
from privatetrade.research.space import build_space
from privatetrade.research.walkforward import (
    WalkForwardResult,
    WindowReport,
    plan_windows,
    run_walk_forward,
)

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.engine.costs import CostModel, CostPreset
    from privatetrade.engine.settings import SimulationSettings
    from privatetrade.engine.strategies.base import Strategy

__all__ = [
    "finish_optimization",
    "finish_walk_forward",
    "optimize",
    "walk_forward",
    "window_reporter",
]


def _problem(
    bars: pd.DataFrame,
    strategy: str | type[Strategy[Any]],
    space: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    settings: SimulationSettings | None,
    cash: float | None,
    costs: CostModel | CostPreset | None,
    market: str | None,
) -> Problem:
    from privatetrade.engine.api import default_registry, make_settings

    strategy_class = default_registry().get(strategy) if isinstance(strategy, str) else strategy
    resolved = make_settings(settings, market=market, cash=cash, costs=costs)
    searched = {name: list(values) for name, values in (space or {}).items()}
    return Problem(bars, build_space(strategy_class, searched, params), resolved, PBO_BLOCKS)


def _runner(client: Any) -> ChunkRunner | None:
    return None if client is None else DaskRunner(client, prefix="library")


def best_returns(problem: Problem, result: OptimizationResult) -> npt.NDArray[np.float64] | None:
    """Per-bar returns of the best combination's full backtest (None: none eligible)."""
    from privatetrade.engine.api import run_backtest

    best = result.best
    if best is None:
        return None
    backtest = run_backtest(
        problem.bars, problem.space.strategy, best["all_params"], settings=problem.settings
    )
    equity = backtest.output.equity
    previous = np.concatenate(([problem.settings.initial_cash], equity[:-1]))
    returns: npt.NDArray[np.float64] = equity / previous - 1.0
    return returns


def periods_per_year(problem: Problem) -> float:
    """Bars per year of the problem's bars (its settings' value when set)."""
    from privatetrade.engine.bars import prepare_bars
    from privatetrade.engine.metrics import infer_periods_per_year

    if problem.settings.periods_per_year:
        return float(problem.settings.periods_per_year)
    return float(infer_periods_per_year(prepare_bars(problem.bars).bars.time))


def finish_optimization(
    problem: Problem, result: OptimizationResult, context: dict[str, Any], top: int = 20
) -> Optimization:
    """Add the overfitting report (one more backtest: the best's returns) to a search."""
    report = optimization_report(result, best_returns(problem, result), periods_per_year(problem))
    return Optimization(result, report, context, top)


def window_reporter(problem: Problem) -> WindowReport:
    """The report of each walk-forward window's optimization (on that window's bars)."""
    ppy = periods_per_year(problem)

    def report(window_problem: Problem, result: OptimizationResult) -> dict[str, Any]:
        return optimization_report(result, best_returns(window_problem, result), ppy)

    return report


def finish_walk_forward(
    result: WalkForwardResult, objective: str, context: dict[str, Any]
) -> WalkForward:
    """Add the walk-forward report to a finished walk-forward."""
    return WalkForward(result, walk_forward_report(result, objective), context)


def optimize(
    bars: pd.DataFrame,
    strategy: str | type[Strategy[Any]],
    space: Mapping[str, Sequence[Any]] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    method: str = "grid",
    samples: int | None = None,
    seed: int = 0,
    objective: str = "sharpe",
    min_trades: int = 1,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostModel | CostPreset | None = None,
    market: str | None = None,
    client: Any = None,
    store: ChunkStore | None = None,
    top: int = 20,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> Optimization:
    """Search the parameters of a strategy on bars; report the best and how lucky it looks.

    Args:
        bars: OHLCV bars (a frame with a datetime index, as for ``run_backtest``).
        strategy: Registry name or Strategy class.
        space: Values per searched parameter; None or empty: the default grid from
            the strategy's declared bounds.
        params: Parameters kept fixed.
        method: ``grid``, ``random`` or ``tpe`` (Optuna's TPE sampler).
        samples: Combinations (random) or trials (tpe); 100 if None.
        seed: Seed of random and tpe.
        objective: ``sharpe``, ``cagr``, ``sortino``, ``calmar``, ``profit_factor``,
            ``total_return``, ``max_drawdown`` or ``return_over_drawdown``.
        min_trades: Combinations with fewer trades cannot be the best.
        settings: Base simulation settings; ``cash``, ``costs``, ``market`` override.
        cash: Initial cash.
        costs: Cost preset or model.
        market: KRX market of the ``krx`` preset.
        client: A ``distributed.Client``: chunks run on that Dask cluster.
        store: Keeps finished chunks (resume an interrupted search).
        top: Rows of the top table in ``to_dict()``.
        progress: Called with (done, total, best so far) after each chunk.
        cancelled: Checked between chunks; True stops with CancelledError.

    Returns:
        The :class:`~privatetrade.research.documents.Optimization`.

    Raises:
        ParameterError: Unknown parameter, values out of bounds, no valid combination.
    """
    problem = _problem(bars, strategy, space, params, settings, cash, costs, market)
    result = run_optimization(
        problem,
        method=method,
        samples=samples,
        seed=seed,
        objective=objective,
        min_trades=min_trades,
        runner=_runner(client),
        store=store,
        progress=progress,
        cancelled=cancelled,
    )
    context = {"strategy": problem.space.strategy.name, "bars": len(bars)}
    return finish_optimization(problem, result, context, top)


def walk_forward(
    bars: pd.DataFrame,
    strategy: str | type[Strategy[Any]],
    space: Mapping[str, Sequence[Any]] | None = None,
    *,
    in_sample: str = "24m",
    out_of_sample: str = "6m",
    step: str | None = None,
    anchored: bool = False,
    params: Mapping[str, Any] | None = None,
    method: str = "grid",
    samples: int | None = None,
    seed: int = 0,
    objective: str = "sharpe",
    min_trades: int = 1,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostModel | CostPreset | None = None,
    market: str | None = None,
    client: Any = None,
    store: ChunkStore | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> WalkForward:
    """Optimize on rolling (or anchored) in-sample windows and trade each next window.

    Window lengths are months (``24m``) or bars (``500b``); ``step`` defaults to
    ``out_of_sample``. Other arguments as for :func:`optimize`.

    Returns:
        The :class:`~privatetrade.research.documents.WalkForward`.

    Raises:
        InputError: The windows do not fit the bars (``field`` is ``in_sample``).
        ParameterError: As for :func:`optimize`.
    """
    import pandas as pd

    from privatetrade.domain.research import WindowLength

    problem = _problem(bars, strategy, space, params, settings, cash, costs, market)
    index = pd.DatetimeIndex(bars.index)
    windows = plan_windows(
        index,
        WindowLength.model_validate(in_sample),
        WindowLength.model_validate(out_of_sample),
        None if step is None else WindowLength.model_validate(step),
        anchored=anchored,
    )
    result = run_walk_forward(
        problem,
        windows,
        method=method,
        samples=samples,
        seed=seed,
        objective=objective,
        min_trades=min_trades,
        runner=_runner(client),
        store=store,
        progress=progress,
        cancelled=cancelled,
        window_report=window_reporter(problem),
    )
    times = [str(t.date()) for t in index]
    context = {"strategy": problem.space.strategy.name, "bars": len(bars), "bar_times": times}
    return finish_walk_forward(result, objective, context)
