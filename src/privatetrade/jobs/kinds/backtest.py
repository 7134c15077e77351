"""Job kind ``backtest``: one strategy on one stock; result.json, trades.csv, equity.csv."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.kinds import JobKind, JobLabels
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import CancelledError
from privatetrade.jobs.kinds.base import KindContext, RunOutput, StageCallback
from privatetrade.plans.backtest import execute_plan, plan_backtest

if TYPE_CHECKING:
    from privatetrade.engine.result import BacktestResult
    from privatetrade.engine.simulation import CancelToken

__all__ = ["HANDLER", "BacktestKind", "result_artifacts", "result_summary"]

JSON = "application/json"
CSV = "text/csv; charset=utf-8"


class BacktestKind:
    """Check and run :class:`~privatetrade.domain.specs.BacktestSpec` jobs."""

    kind = JobKind.BACKTEST

    def check(self, spec: BacktestSpec, context: KindContext) -> BacktestSpec:
        """Plan the spec (symbol, range, bar limit, strategy, settings); return it normalized."""
        return plan_backtest(spec, context.market_data, max_bars=context.max_bars).spec

    def labels(self, spec: BacktestSpec) -> JobLabels:
        """The stock and the strategy."""
        return JobLabels(spec.symbol, spec.strategy)

    def run(
        self, spec: BacktestSpec, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Plan and run the backtest; serialize the result document and CSV exports."""
        stage("loading", 0.01)
        plan = plan_backtest(spec, context.market_data)
        result = execute_plan(plan, stage=stage, cancel=cancel)
        stage("saving", 0.85)
        return RunOutput(result_artifacts(result, cancel), result_summary(result))


def result_artifacts(result: BacktestResult, cancel: CancelToken) -> tuple[Artifact, ...]:
    """Serialize a result into its three artifacts, checking ``cancel`` between them."""
    artifacts = []
    for name, media_type, render in (
        ("result.json", JSON, result.to_json),
        ("trades.csv", CSV, result.trades_csv),
        ("equity.csv", CSV, result.equity_csv),
    ):
        if cancel.is_set():
            raise CancelledError("cancelled")
        artifacts.append(Artifact(name, media_type, render().encode()))
    return tuple(artifacts)


def result_summary(result: BacktestResult) -> dict[str, Any]:
    """The key figures shown in job listings."""
    metrics = result.metrics
    return {
        "total_return": metrics.total_return,
        "cagr": metrics.cagr,
        "sharpe": metrics.sharpe,
        "max_drawdown": metrics.max_drawdown,
        "trades": metrics.trade_count,
        "win_rate": metrics.win_rate,
        "buy_and_hold_return": metrics.buy_and_hold_return,
        "final_equity": result.final_equity,
        "bars": len(result.prepared),
    }


HANDLER = BacktestKind()
