"""What the three job repositories share: row mapping, guards and the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Row, select

from privatetrade.db.engine import read_tx
from privatetrade.db.schema import jobs
from privatetrade.domain.jobs import FailureReason, Job, JobState
from privatetrade.domain.kinds import JobKind, parse_spec

__all__ = [
    "ACTIVE",
    "Clock",
    "JobTable",
    "current_attempt",
    "ended",
    "owned",
    "to_job",
    "utc_now",
]

Clock = Callable[[], dt.datetime]
ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


def utc_now() -> dt.datetime:
    """Return the current time in UTC."""
    return dt.datetime.now(dt.UTC)


class JobTable:
    """Base of the job repositories: an engine and a clock."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """Return the job, or None if it does not exist (or belongs to another owner)."""
        with read_tx(self.engine) as connection:
            row = connection.execute(select(jobs).where(*owned(job_id, owner))).first()
        return None if row is None else to_job(row)


def to_job(row: Row[Any] | Mapping[str, Any]) -> Job:
    """Map a ``jobs`` row (or the values of a new one) to the domain object."""
    values = row._mapping if isinstance(row, Row) else row
    reason = values.get("reason")
    return Job(
        id=values["id"],
        owner=values["owner"],
        kind=JobKind(values.get("kind") or JobKind.BACKTEST),
        state=JobState(values["state"]),
        spec=parse_spec(values.get("kind") or JobKind.BACKTEST, values["spec"]),
        created_at=values["created_at"],
        started_at=values.get("started_at"),
        finished_at=values.get("finished_at"),
        updated_at=values.get("updated_at"),
        progress=values.get("progress") or 0.0,
        stage=values.get("stage") or "queued",
        attempt=values.get("attempt") or 0,
        lost_attempts=values.get("lost_attempts") or 0,
        cancel_requested=bool(values.get("cancel_requested")),
        error=values.get("error"),
        reason=FailureReason(reason) if reason else None,
        worker=values.get("worker"),
        heartbeat_at=values.get("heartbeat_at"),
        idempotency_key=values.get("idempotency_key"),
        summary=values.get("summary"),
        workers_ready_at=values.get("workers_ready_at"),
    )


def current_attempt(job_id: str, attempt: int) -> tuple[Any, ...]:
    """Conditions matching the job only while ``attempt`` is its running attempt (fencing)."""
    return (
        jobs.c.id == job_id,
        jobs.c.attempt == attempt,
        jobs.c.state == JobState.RUNNING.value,
    )


def owned(job_id: str, owner: str | None) -> list[Any]:
    """Conditions matching the job, and only the owner's when ``owner`` is given."""
    return [jobs.c.id == job_id] + ([jobs.c.owner == owner] if owner is not None else [])


def ended(now: dt.datetime) -> dict[str, Any]:
    """Values every final state writes: the end time, and no lease any more."""
    return {"finished_at": now, "updated_at": now, "lease_owner": None, "lease_until": None}
