"""Job kind ``scan``: one strategy and parameter set on every symbol of a universe, ranked.

Symbols run in chunks (:mod:`privatetrade.research.scan`): in the worker process on
the local executor, as Dask tasks when the job itself runs on a Dask worker; each chunk
reads its symbols' bars where it runs. Each finished chunk is kept in the job's scratch
folder, so a new attempt (a server restart, a lost worker) resumes from the finished
chunks. Progress is the share of finished symbols; while it runs the job's summary
carries the counts and the best symbol so far.

Artifacts: ``ranking.json`` (the ranking document: every symbol's row, ranked by the
spec's ``sort``) and ``ranking.csv``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.kinds import JobKind, JobLabels
from privatetrade.domain.scan import ScanSpec
from privatetrade.errors import CancelledError
from privatetrade.jobs.kinds.base import KindContext, RunOutput, StageCallback
from privatetrade.plans.scan import plan_scan
from privatetrade.research.scan import (
    DaskScanRunner,
    DirectoryScanStore,
    LocalScanRunner,
    MemoryScanStore,
    ScanProgress,
    ScanRunner,
    ScanStore,
    run_scan,
)

if TYPE_CHECKING:
    from privatetrade.engine.simulation import CancelToken

__all__ = ["HANDLER", "ScanKind", "scan_runner"]

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
_START, _END = 0.02, 0.94


def scan_runner(context: KindContext) -> ScanRunner:
    """Dask tasks when this job runs on a Dask worker, else this process."""
    if "distributed" not in sys.modules:  # a Dask worker has it loaded; others need not
        return LocalScanRunner()
    try:
        from distributed import get_worker

        get_worker()
    except ValueError:
        return LocalScanRunner()
    return DaskScanRunner(prefix=f"scan-{context.run_key}")


def _store(context: KindContext) -> ScanStore:
    if context.scratch is None:
        return MemoryScanStore()
    return DirectoryScanStore(context.scratch / "scan-chunks")


def _progress(stage: StageCallback) -> ScanProgress:
    def report(done: int, total: int, failed: int, best: Mapping[str, Any] | None) -> None:
        share = done / total if total else 1.0
        summary = {"done": done, "total": total, "failed": failed, "best": best}
        stage("scanning", _START + (_END - _START) * share, summary)

    return report


class ScanKind:
    """Check and run :class:`~privatetrade.domain.scan.ScanSpec` jobs."""

    kind = JobKind.SCAN

    def check(self, spec: ScanSpec, context: KindContext) -> ScanSpec:
        """Plan it: the universe (codes, currency, size limit), the strategy, the settings."""
        return plan_scan(spec, context.market_data, max_symbols=context.max_symbols).spec

    def labels(self, spec: ScanSpec) -> JobLabels:
        """The universe (the market, or the first symbol and how many more) and the strategy."""
        return JobLabels(spec.label, spec.strategy)

    def run(
        self, spec: ScanSpec, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Scan every symbol in chunks; serialize the ranking as JSON and CSV."""
        stage("loading", 0.01)
        plan = plan_scan(spec, context.market_data)
        runner = scan_runner(context)
        result = run_scan(
            plan.problem,
            sort=spec.sort,
            runner=runner,
            store=_store(context),
            progress=_progress(stage),
            cancelled=cancel.is_set,
        )
        executor = "dask" if isinstance(runner, DaskScanRunner) else "local"
        result = result.with_context(plan.document_context(executor))
        if cancel.is_set():
            raise CancelledError("cancelled")
        stage("saving", _END)
        artifacts = (
            Artifact("ranking.json", JSON, result.to_json().encode()),
            Artifact("ranking.csv", CSV, result.to_csv().encode()),
        )
        return RunOutput(artifacts, result.summary())


HANDLER = ScanKind()
