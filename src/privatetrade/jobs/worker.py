"""What runs inside a worker process: execute one job, writing its row as it goes.

Executors (the local process pool, Dask) transport only a job id and where the
database and data live; everything else is read from and written to the job row,
guarded by the attempt number this execution started (its fencing token).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog

from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobQueue, JobResults
from privatetrade.domain.jobs import FailureReason, Job, JobState
from privatetrade.errors import (
    CancelledError,
    DataError,
    InputError,
    PrivatetradeError,
    StrategyError,
)
from privatetrade.jobs.kinds import KindContext, handler_for

__all__ = ["WorkerContext", "execute_job", "warm_up", "worker_id"]

_PROGRESS_INTERVAL_S = 0.25
_CANCEL_CHECK_INTERVAL_S = 0.2
log = structlog.get_logger("privatetrade.worker")


def worker_id() -> str:
    """Return ``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerContext:
    """Connections a worker process keeps between jobs."""

    repository: JobQueue
    results: JobResults
    files: ArtifactFiles
    data_dir: Path

    def kind_context(self, job: Job) -> KindContext:
        """What job kinds may use (market data read afresh: the catalog may have changed)."""
        from privatetrade.data.market_data import MarketData

        return KindContext(
            MarketData(self.data_dir),
            scratch=self.files.scratch_dir(job.id),
            run_key=f"{job.id}-{job.attempt}",
        )


@lru_cache(maxsize=4)
def _context(database_url: str, data_dir: str) -> WorkerContext:
    engine = create_db_engine(database_url, pool_size=1)
    files = ArtifactFiles.in_data_dir(Path(data_dir))
    return WorkerContext(JobQueue(engine), JobResults(engine, files), files, Path(data_dir))


def warm_up() -> None:
    """Load every compiled kernel a job uses, backtests and sweeps (so the first job is fast).

    Compiles them first when numba's cache lacks them (``./dev start`` builds it at
    install: :mod:`privatetrade.engine.warmup`). Also imports the Parquet writer of the
    sweeps' tables.
    """
    import pyarrow.parquet  # noqa: F401

    from privatetrade.engine.warmup import compile_kernels

    compile_kernels(sweeps=True)


class _Reporter:
    """Throttled progress writes; remembers whether the job should stop."""

    def __init__(self, repository: JobQueue, job: Job) -> None:
        self.repository = repository
        self.job = job
        self.stopped = False
        self._last_write = 0.0
        self._last_check = time.monotonic()  # starting the attempt just checked
        self._stage = ""

    def __call__(
        self, stage: str, fraction: float, summary: Mapping[str, Any] | None = None
    ) -> None:
        now = time.monotonic()
        if stage == self._stage and now - self._last_write < _PROGRESS_INTERVAL_S:
            return
        self._stage, self._last_write = stage, now
        fraction = min(max(fraction, 0.0), 0.99)
        reported = self.repository.report_progress(
            self.job.id, self.job.attempt, fraction, stage, summary
        )
        if not reported:
            self.stopped = True
        self._last_check = now

    def is_set(self) -> bool:
        """Cancel-token protocol: True once the job should stop.

        Asks the database at most every 0.2 s (one read by primary key) whether the
        job was cancelled, failed by the dispatcher (time limit), deleted or taken
        over by a newer attempt.
        """
        now = time.monotonic()
        if not self.stopped and now - self._last_check >= _CANCEL_CHECK_INTERVAL_S:
            self._last_check = now
            self.stopped = self.repository.cancel_requested(self.job.id, self.job.attempt)
        return self.stopped


def execute_job(job_id: str, database_url: str, data_dir: str) -> str:
    """Run one job to a final state; return that state (or ``skipped``).

    Called in a worker process. Errors of the backtest itself end the job as
    failed with a reason; only infrastructure errors (database gone) escape.
    """
    context = _context(database_url, data_dir)
    repository = context.repository
    job = repository.start_attempt(job_id, worker_id())
    if job is None:
        return "skipped"
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job.id, attempt=job.attempt)
    bound = log
    labels = handler_for(job.kind).labels(job.spec)
    bound.info("job.started", kind=job.kind.value, symbol=labels.symbol, strategy=labels.strategy)
    reporter = _Reporter(repository, job)
    started = time.perf_counter()
    try:
        state = _run(context, job, reporter)
    except CancelledError:
        state = _stopped(repository, job)
    except (InputError, DataError, StrategyError) as exc:
        repository.finish_failed(job.id, job.attempt, _reason(exc), str(exc))
        state = JobState.FAILED
    except PrivatetradeError as exc:
        repository.finish_failed(job.id, job.attempt, FailureReason.INTERNAL_ERROR, str(exc))
        state = JobState.FAILED
    except Exception as exc:
        bound.exception("job.crashed")
        message = f"internal error ({type(exc).__name__}); see the server log"
        repository.finish_failed(job.id, job.attempt, FailureReason.INTERNAL_ERROR, message)
        state = JobState.FAILED
    elapsed = round(time.perf_counter() - started, 4)
    bound.info(f"job.{state}", seconds=elapsed)
    structlog.contextvars.clear_contextvars()
    return str(state)


def _stopped(repository: JobQueue, job: Job) -> JobState:
    """Record the stop the cancel token asked for; return the state the job ended in."""
    if repository.finish_cancelled(job.id, job.attempt):
        return JobState.CANCELLED
    current = repository.get(job.id)  # failed by the dispatcher (time limit), or gone
    return current.state if current is not None and current.state.final else JobState.CANCELLED


def _reason(exc: Exception) -> FailureReason:
    if isinstance(exc, DataError):
        return FailureReason.DATA_ERROR
    if isinstance(exc, StrategyError):
        return FailureReason.STRATEGY_ERROR
    return FailureReason.INVALID_INPUT


def _run(context: WorkerContext, job: Job, reporter: _Reporter) -> JobState:
    output = handler_for(job.kind).run(job.spec, context.kind_context(job), reporter, reporter)
    if reporter.is_set():
        raise CancelledError("cancelled")
    staged = context.files.write(job.id, job.attempt, output.artifacts)
    saved = context.results.finish_succeeded(job.id, job.attempt, staged.infos, output.summary)
    if saved:
        context.files.keep_only(staged)
        return JobState.SUCCEEDED
    context.files.discard(staged)
    if context.repository.cancel_requested(job.id, job.attempt):
        context.repository.finish_cancelled(job.id, job.attempt)
    return JobState.CANCELLED  # cancelled, superseded or deleted: no result of ours was kept
