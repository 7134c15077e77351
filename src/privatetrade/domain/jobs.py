"""Jobs: the state machine of a run, as the database row records it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from privatetrade.domain.kinds import JobKind, JobSpec

__all__ = ["FINAL_STATES", "WAITING_FOR_WORKERS", "FailureReason", "Job", "JobPage", "JobState"]

# The stage of a queued job handed to worker processes that are still starting.
WAITING_FOR_WORKERS = "waiting_for_workers"


class JobState(StrEnum):
    """Where a job is in its life.

    ``queued -> running -> succeeded | failed | cancelled``; a running job whose
    worker was lost goes back to ``queued`` (bounded retries); a queued job can be
    cancelled directly.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """True for states a job never leaves."""
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class FailureReason(StrEnum):
    """Why a job failed (machine-readable; ``error`` has the human message)."""

    INVALID_INPUT = "invalid_input"
    DATA_ERROR = "data_error"
    STRATEGY_ERROR = "strategy_error"
    WORKER_LOST = "worker_lost"
    INTERNAL_ERROR = "internal_error"
    TIME_LIMIT = "time_limit"


@dataclass(frozen=True, slots=True)
class Job:
    """One backtest job as stored.

    Attributes:
        id: 32 hex characters.
        owner: The user the job belongs to.
        state: Current state.
        spec: What to run (the spec model of ``kind``).
        created_at: When it was submitted (UTC).
        started_at: When its first attempt started.
        finished_at: When it reached a final state.
        updated_at: Last change of the row.
        progress: Fraction done, 0..1.
        stage: What the worker is doing (``queued``, ``waiting_for_workers``, ``loading``,
            ``simulating``, ...).
        attempt: Number of attempts started; also the fencing token of the current one.
        lost_attempts: Attempts whose worker died.
        cancel_requested: A cancel was asked for; the worker stops at its next check.
        error: Human-readable failure message.
        reason: Machine-readable failure reason.
        worker: ``host:pid`` (or Dask worker address) of the current attempt.
        heartbeat_at: Last sign of life of the current attempt.
        idempotency_key: The client's Idempotency-Key, if one was sent.
        summary: Key metrics of a succeeded run.
        kind: What the job does; ``spec`` is that kind's spec model.
        workers_ready_at: While ``waiting_for_workers``: when the dispatcher expects the
            starting workers to be ready.
    """

    id: str
    owner: str
    state: JobState
    spec: JobSpec
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    progress: float = 0.0
    stage: str = "queued"
    attempt: int = 0
    lost_attempts: int = 0
    cancel_requested: bool = False
    error: str | None = None
    reason: FailureReason | None = None
    worker: str | None = None
    heartbeat_at: dt.datetime | None = None
    idempotency_key: str | None = None
    summary: dict[str, Any] | None = None
    kind: JobKind = JobKind.BACKTEST
    workers_ready_at: dt.datetime | None = None

    @property
    def waiting_for_workers(self) -> bool:
        """True while queued for worker processes that are still starting."""
        return self.state == JobState.QUEUED and self.stage == WAITING_FOR_WORKERS

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from the first start to the end (None while unfinished)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def seconds_left(self, now: dt.datetime) -> float | None:
        """Estimate the time left (None if unknown).

        A running job's from its progress rate so far; a job waiting for starting
        workers: until they are expected to be ready.
        """
        if self.waiting_for_workers:
            ready_at = self.workers_ready_at
            left = None if ready_at is None else (ready_at - now).total_seconds()
            return round(left, 3) if left is not None and left > 0 else None
        if self.state != JobState.RUNNING or self.started_at is None or self.progress <= 0.02:
            return None
        elapsed = max((now - self.started_at).total_seconds(), 0.0)
        return round(elapsed / self.progress * (1.0 - self.progress), 3)


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a job listing."""

    items: list[Job]
    total: int
    offset: int
    limit: int
