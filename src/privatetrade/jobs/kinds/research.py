"""Job kinds ``sweep`` (parameter optimization) and ``walkforward``.

Combinations run in chunks (:mod:`privatetrade.research.chunks`): in the worker
process on the local executor, as Dask tasks when the job itself runs on a Dask
worker. Each finished chunk is kept in the job's scratch folder, so a new attempt
(after a server restart or a lost worker) resumes from the finished chunks and runs
only the rest. Progress is the share of finished combinations; the job's summary
carries the best combination so far while it runs.

Artifacts: ``result.json`` (the result document), ``table.csv`` and ``table.parquet``
(every combination; for a walk-forward, every window's), and for a walk-forward
``windows.csv`` and ``equity.csv`` (the stitched out-of-sample equity).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.kinds import JobKind, JobLabels
from privatetrade.domain.research import SweepSpec, WalkForwardSpec
from privatetrade.errors import CancelledError
from privatetrade.jobs.kinds.base import KindContext, RunOutput, StageCallback
from privatetrade.plans.research import ResearchPlan, plan_research
from privatetrade.research.chunks import (
    ChunkRunner,
    ChunkStore,
    DaskRunner,
    DirectoryStore,
    InProcessRunner,
    MemoryStore,
)

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.engine.simulation import CancelToken
    from privatetrade.research.documents import Optimization, WalkForward

__all__ = ["SWEEP", "WALKFORWARD", "SweepKind", "WalkForwardKind", "research_runner"]

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
PARQUET = "application/vnd.apache.parquet"
_SEARCH_START, _SEARCH_END = 0.02, 0.92


def research_runner(context: KindContext) -> ChunkRunner:
    """Dask tasks when this job runs on a Dask worker, else this process."""
    if "distributed" not in sys.modules:  # a Dask worker has it loaded; others need not
        return InProcessRunner()
    try:
        from distributed import get_worker

        get_worker()
    except ValueError:
        return InProcessRunner()
    return DaskRunner(prefix=f"chunk-{context.run_key}")


def _store(context: KindContext) -> ChunkStore:
    return MemoryStore() if context.scratch is None else DirectoryStore(context.scratch / "chunks")


def _progress(stage: StageCallback, label: str) -> Any:
    def report(done: int, total: int, best: Mapping[str, Any] | None) -> None:
        share = done / total if total else 1.0
        summary = {"done": done, "total": total, "best": best}
        stage(label, _SEARCH_START + (_SEARCH_END - _SEARCH_START) * share, summary)

    return report


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, allow_nan=False, default=str).encode()


def _table_artifacts(frame: pd.DataFrame) -> tuple[Artifact, Artifact]:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return (
        Artifact("table.csv", CSV, frame.to_csv(index=False).encode()),
        Artifact("table.parquet", PARQUET, buffer.getvalue()),
    )


def _checked(spec: SweepSpec, context: KindContext) -> ResearchPlan:
    """The plan of a spec at submit time: bar limit and the user's combination limit."""
    return plan_research(
        spec,
        context.market_data,
        max_bars=context.max_bars,
        max_combinations=context.max_combinations,
    )


def _search_options(
    spec: SweepSpec, context: KindContext, runner: ChunkRunner, progress: Any
) -> dict[str, Any]:
    """What a search takes from the spec and the job: method, goal, runner, chunk store."""
    return {
        "method": spec.method,
        "samples": spec.samples,
        "seed": spec.seed,
        "objective": spec.objective,
        "min_trades": spec.min_trades,
        "runner": runner,
        "store": _store(context),
        "progress": progress,
    }


def _check_cancel(cancel: CancelToken) -> None:
    if cancel.is_set():
        raise CancelledError("cancelled")


class SweepKind:
    """Check and run :class:`~privatetrade.domain.research.SweepSpec` jobs."""

    kind = JobKind.SWEEP

    def check(self, spec: SweepSpec, context: KindContext) -> SweepSpec:
        """Plan it (backtest part, space, combination count against the user's limit)."""
        return _checked(spec, context).spec

    def labels(self, spec: SweepSpec) -> JobLabels:
        """The stock and the strategy."""
        return JobLabels(spec.symbol, spec.strategy)

    def run(
        self, spec: SweepSpec, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Search, report, and serialize the table and the result document."""
        from privatetrade.research.api import finish_optimization
        from privatetrade.research.optimize import run_optimization

        stage("loading", 0.01)
        plan = plan_research(spec, context.market_data, max_combinations=None)
        problem = plan.problem()
        runner = research_runner(context)
        options = _search_options(spec, context, runner, _progress(stage, "optimizing"))
        result = run_optimization(problem, cancelled=cancel.is_set, **options)
        stage("reporting", _SEARCH_END)
        found = finish_optimization(problem, result, plan.document_context(runner), spec.top)
        _check_cancel(cancel)
        stage("saving", 0.96)
        artifacts = (
            Artifact("result.json", JSON, _json(found.to_dict())),
            *_table_artifacts(found.to_frame()),
        )
        return RunOutput(artifacts, sweep_summary(found))


def sweep_summary(found: Optimization) -> dict[str, Any]:
    """Key figures for job listings: counts, best parameters and objective, DSR, PBO."""
    best = found.best
    report = found.report
    pbo = report.get("pbo")
    return {
        "combinations": len(found.result),
        "eligible": int(found.result.eligible.sum()),
        "objective": found.result.objective,
        "best": None
        if best is None
        else {
            "params": best["params"],
            "value": best["metrics"].get(found.result.objective),
            "trades": best["metrics"]["trade_count"],
        },
        "deflated_sharpe": report.get("deflated_sharpe"),
        "pbo": None if pbo is None else pbo.get("pbo"),
        "findings": [finding["code"] for finding in report.get("findings", [])],
    }


class WalkForwardKind:
    """Check and run :class:`~privatetrade.domain.research.WalkForwardSpec` jobs."""

    kind = JobKind.WALKFORWARD

    def check(self, spec: WalkForwardSpec, context: KindContext) -> WalkForwardSpec:
        """Plan it: the backtest part, the space, the windows, the combination count."""
        checked = _checked(spec, context).spec
        assert isinstance(checked, WalkForwardSpec)
        return checked

    def labels(self, spec: WalkForwardSpec) -> JobLabels:
        """The stock and the strategy."""
        return JobLabels(spec.symbol, spec.strategy)

    def run(
        self, spec: WalkForwardSpec, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Run every window; serialize windows, stitched equity and the result document."""
        from privatetrade.research.api import finish_walk_forward, window_reporter
        from privatetrade.research.walkforward import run_walk_forward

        stage("loading", 0.01)
        plan = plan_research(spec, context.market_data, max_combinations=None)
        assert plan.windows is not None
        problem = plan.problem()
        runner = research_runner(context)
        options = _search_options(spec, context, runner, _progress(stage, "walking forward"))
        result = run_walk_forward(
            problem,
            plan.windows,
            cancelled=cancel.is_set,
            window_report=window_reporter(problem),
            **options,
        )
        stage("reporting", _SEARCH_END)
        bars = plan.backtest.bars
        context_document = {
            **plan.document_context(runner),
            "bar_times": [str(t.date()) for t in bars.index],
        }
        found = finish_walk_forward(result, spec.objective, context_document)
        _check_cancel(cancel)
        stage("saving", 0.96)
        artifacts = (
            Artifact("result.json", JSON, _json(found.to_dict())),
            Artifact("windows.csv", CSV, found.to_frame().to_csv(index=False).encode()),
            Artifact("equity.csv", CSV, found.equity_frame().to_csv(index=False).encode()),
        )
        return RunOutput(artifacts, walk_forward_summary(found))


def walk_forward_summary(found: WalkForward) -> dict[str, Any]:
    """Key figures for job listings: windows, out-of-sample return and Sharpe, WFE."""
    metrics = found.result.metrics
    return {
        "windows": len(found.result.windows),
        "total_return": None if metrics is None else metrics.total_return,
        "sharpe": None if metrics is None else metrics.sharpe,
        "max_drawdown": None if metrics is None else metrics.max_drawdown,
        "walk_forward_efficiency": found.report.get("walk_forward_efficiency"),
        "findings": [finding["code"] for finding in found.report.get("findings", [])],
    }


SWEEP = SweepKind()
WALKFORWARD = WalkForwardKind()
