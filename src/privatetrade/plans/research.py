"""The run plan of an optimization or a walk-forward: the API's check, the worker and the CLI.

A research spec is a backtest spec plus a search: :func:`plan_research` resolves the
backtest part with :func:`~privatetrade.plans.backtest.plan_backtest` (symbol, dates,
bars, settings) and the search part with :func:`~privatetrade.research.space.build_space`,
then counts the combinations against the caller's limit, so nothing too large is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from privatetrade.domain.research import SweepSpec, WalkForwardSpec
from privatetrade.errors import InputError
from privatetrade.plans.backtest import BacktestPlan, plan_backtest
from privatetrade.research.chunks import ChunkRunner, DaskRunner, Problem
from privatetrade.research.optimize import combination_count
from privatetrade.research.report import PBO_BLOCKS
from privatetrade.research.space import SearchSpace, build_space

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData
    from privatetrade.research.walkforward import Window

__all__ = ["DEFAULT_MAX_COMBINATIONS", "MAX_TPE_TRIALS", "ResearchPlan", "plan_research"]

DEFAULT_MAX_COMBINATIONS = 100_000
MAX_TPE_TRIALS = 2_000  # TPE's cost per trial grows with the trials before it


@dataclass(frozen=True)
class ResearchPlan:
    """An optimization or walk-forward, checked and resolved.

    Attributes:
        spec: The spec, symbol codes normalized.
        backtest: The plan of the backtest part (bars, settings, data info).
        space: The search space.
        combinations: Combinations one search runs (per window for a walk-forward).
        windows: The walk-forward windows (None for an optimization).
    """

    spec: SweepSpec
    backtest: BacktestPlan
    space: SearchSpace
    combinations: int
    windows: list[Window] | None = None

    @property
    def total_combinations(self) -> int:
        """Combinations over every window."""
        return self.combinations * (len(self.windows) if self.windows else 1)

    def document_context(self, runner: ChunkRunner) -> dict[str, Any]:
        """What a result document says was run: symbol, strategy, spec, data, executor.

        The same for a job and for the CLI, so their documents match.
        """
        spec = self.spec
        bars = self.backtest.bars
        return {
            "symbol": spec.symbol,
            "strategy": spec.strategy,
            "spec": spec.model_dump(mode="json"),
            "data": {
                "symbol": self.backtest.data_info.symbol,
                "adjusted": self.backtest.data_info.adjusted,
                "bars": len(bars),
                "start": str(bars.index[0].date()) if len(bars) else None,
                "end": str(bars.index[-1].date()) if len(bars) else None,
            },
            "initial_cash": self.backtest.settings.initial_cash,
            "executor": "dask" if isinstance(runner, DaskRunner) else "local",
        }

    def problem(self) -> Problem:
        """What every chunk needs (bars, space, settings, PBO blocks)."""
        return Problem(self.backtest.bars, self.space, self.backtest.settings, PBO_BLOCKS)


def plan_research(
    spec: SweepSpec,
    data: MarketData,
    *,
    max_bars: int | None = None,
    max_combinations: int | None = DEFAULT_MAX_COMBINATIONS,
) -> ResearchPlan:
    """Resolve a sweep or walk-forward spec on the stored market data.

    Raises:
        InputError: As for a backtest (``symbol``, ``start``, ``params.fast`` ...), a
            bad search space (``space``, ``space.<name>``), too many combinations
            (``space`` for a grid, ``samples`` otherwise; the limit in the message), or
            windows that do not fit the data (``in_sample``).
    """
    from privatetrade.plans.strategies import strategy_class

    if spec.method == "tpe" and (spec.samples or 0) > MAX_TPE_TRIALS:
        raise InputError(
            f"TPE runs at most {MAX_TPE_TRIALS:,} trials (each costs more than the last); "
            "use method random or grid for more",
            field="samples",
            code="tpe_too_many_trials",
            params={"limit": MAX_TPE_TRIALS},
        )
    strategy = strategy_class(spec.strategy, spec.rules)
    space = build_space(strategy, spec.space, spec.params)
    probe = space.searched(space.sample(1, spec.seed)[0])
    backtest = plan_backtest(spec.backtest_spec(probe), data, max_bars=max_bars)
    normalized = spec.model_copy(
        update={
            "symbol": backtest.spec.symbol,
            "benchmark": backtest.spec.benchmark,
            "rules": backtest.spec.rules,
        }
    )
    cap = max_combinations or 10**9
    count = combination_count(space, spec.method, spec.samples, cap)
    windows = _windows(normalized, backtest) if isinstance(normalized, WalkForwardSpec) else None
    total = count * (len(windows) if windows else 1)
    if max_combinations is not None and total > max_combinations:
        _too_many(spec, count, total, max_combinations, windows)
    return ResearchPlan(normalized, backtest, space, count, windows)


def _windows(spec: WalkForwardSpec, backtest: BacktestPlan) -> list[Window]:
    import pandas as pd

    from privatetrade.research.walkforward import plan_windows

    index = pd.DatetimeIndex(backtest.bars.index)
    return plan_windows(
        index, spec.in_sample, spec.out_of_sample, spec.step, anchored=spec.anchored
    )


def _too_many(
    spec: SweepSpec, count: int, total: int, limit: int, windows: list[Any] | None
) -> None:
    field = "space" if spec.method == "grid" else "samples"
    per = f"{count:,} per window × {len(windows)} windows = " if windows else ""
    raise InputError(
        f"{per}{total:,} combinations; your limit is {limit:,} "
        + (
            "(search fewer values per parameter or use method random or tpe)"
            if spec.method == "grid"
            else "(ask for fewer samples)"
        ),
        field=field,
        code="too_many_combinations",
        params={"count": total, "limit": limit},
    )
