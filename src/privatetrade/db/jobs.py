"""The job repository: every state change of a job is one guarded SQL statement.

Writes from a worker carry the attempt number they were started with (a fencing
token): a late write from an attempt that was presumed dead matches no row and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from privatetrade.db.engine import is_sqlite, read_tx, write_tx
from privatetrade.db.schema import jobs, results
from privatetrade.domain.jobs import FailureReason, Job, JobPage, JobState
from privatetrade.domain.specs import BacktestSpec

__all__ = ["Clock", "IdempotencyConflictError", "JobRepository", "StoredResult", "utc_now"]

Clock = Callable[[], dt.datetime]
SortField = Literal["created_at", "finished_at", "symbol", "strategy", "state"]

_ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


def utc_now() -> dt.datetime:
    """Return the current time in UTC."""
    return dt.datetime.now(dt.UTC)


class IdempotencyConflictError(Exception):
    """An Idempotency-Key was reused with a different request body."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"Idempotency-Key already used for job {job.id} with another body")
        self.job = job


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A finished job's result document and CSV exports."""

    job: Job
    document: bytes
    trades_csv: bytes
    equity_csv: bytes
    document_sha256: str


def _to_job(row: Row[Any]) -> Job:
    values = row._mapping
    return Job(
        id=values["id"],
        owner=values["owner"],
        state=JobState(values["state"]),
        spec=BacktestSpec.from_json(values["spec"]),
        created_at=values["created_at"],
        started_at=values["started_at"],
        finished_at=values["finished_at"],
        updated_at=values["updated_at"],
        progress=values["progress"],
        stage=values["stage"],
        attempt=values["attempt"],
        lost_attempts=values["lost_attempts"],
        cancel_requested=bool(values["cancel_requested"]),
        error=values["error"],
        reason=FailureReason(values["reason"]) if values["reason"] else None,
        worker=values["worker"],
        heartbeat_at=values["heartbeat_at"],
        idempotency_key=values["idempotency_key"],
        summary=values["summary"],
    )


class JobRepository:
    """Reads and writes jobs and results."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # ------------------------------------------------------------------ submit

    def create(
        self, job_id: str, owner: str, spec: BacktestSpec, idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Insert a queued job; return it and whether it is new.

        With an ``idempotency_key`` already used by ``owner`` for the same spec, the
        existing job is returned instead.

        Raises:
            IdempotencyConflictError: The key was used with a different spec.
        """
        now = self.clock()
        row = {
            "id": job_id,
            "owner": owner,
            "state": JobState.QUEUED.value,
            "spec": spec.canonical_json(),
            "spec_hash": spec.fingerprint(),
            "symbol": spec.symbol,
            "strategy": spec.strategy,
            "idempotency_key": idempotency_key,
            "created_at": now,
            "updated_at": now,
        }
        if idempotency_key is not None:
            existing = self.find_idempotent(owner, idempotency_key, spec)
            if existing is not None:
                return existing, False
        try:
            with write_tx(self.engine) as connection:
                connection.execute(insert(jobs).values(**row))
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self.find_idempotent(owner, idempotency_key, spec)
            if existing is None:
                raise
            return existing, False
        return _to_job_from_values(row), True

    def find_idempotent(self, owner: str, key: str, spec: BacktestSpec) -> Job | None:
        """Return the owner's job created with ``key``, if any.

        Raises:
            IdempotencyConflictError: That job was created from a different spec.
        """
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs).where(jobs.c.owner == owner, jobs.c.idempotency_key == key)
            ).first()
        if row is None:
            return None
        job = _to_job(row)
        if row._mapping["spec_hash"] != spec.fingerprint():
            raise IdempotencyConflictError(job)
        return job

    def count_active(self, owner: str) -> int:
        """Return the owner's queued plus running jobs."""
        with read_tx(self.engine) as connection:
            count = connection.execute(
                select(func.count())
                .select_from(jobs)
                .where(jobs.c.owner == owner, jobs.c.state.in_(_ACTIVE))
            ).scalar_one()
        return int(count)

    # ------------------------------------------------------------------ read

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """Return the job, or None if it does not exist (or belongs to another owner)."""
        query = select(jobs).where(jobs.c.id == job_id)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with read_tx(self.engine) as connection:
            row = connection.execute(query).first()
        return None if row is None else _to_job(row)

    def result(self, job_id: str, owner: str | None = None) -> tuple[Job, StoredResult | None]:
        """Return the job and, when it succeeded, its result, read in one snapshot.

        Raises:
            LookupError: No such job (for this owner).
        """
        query = select(jobs, results).outerjoin(results, results.c.job_id == jobs.c.id)
        query = query.where(jobs.c.id == job_id)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with read_tx(self.engine) as connection:
            row = connection.execute(query).first()
        if row is None:
            raise LookupError(job_id)
        job = _to_job(row)
        values = row._mapping
        if values["document"] is None:
            return job, None
        return job, StoredResult(
            job=job,
            document=bytes(values["document"]),
            trades_csv=bytes(values["trades_csv"]),
            equity_csv=bytes(values["equity_csv"]),
            document_sha256=values["document_sha256"],
        )

    def page(
        self,
        owner: str | None,
        *,
        symbol: str | None = None,
        strategy: str | None = None,
        states: Sequence[JobState] = (),
        sort: SortField = "created_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> JobPage:
        """Return one page of jobs, filtered and sorted (ties broken by id)."""
        conditions = []
        if owner is not None:
            conditions.append(jobs.c.owner == owner)
        if symbol:
            conditions.append(jobs.c.symbol == symbol)
        if strategy:
            conditions.append(jobs.c.strategy == strategy)
        if states:
            conditions.append(jobs.c.state.in_([state.value for state in states]))
        where = and_(*conditions) if conditions else and_(True)
        column = jobs.c[sort]
        # Unfinished jobs (finished_at NULL) go last either way; backends disagree by default.
        order = (
            (column.desc().nulls_last(), jobs.c.id.desc())
            if descending
            else (column.asc().nulls_last(), jobs.c.id)
        )
        with read_tx(self.engine) as connection:
            total = connection.execute(select(func.count()).select_from(jobs).where(where))
            total_count = int(total.scalar_one())
            rows = connection.execute(
                select(jobs).where(where).order_by(*order).offset(offset).limit(limit)
            ).all()
        return JobPage([_to_job(row) for row in rows], total_count, offset, limit)

    def counts_by_state(self) -> dict[JobState, int]:
        """Return the number of jobs in each state (all owners)."""
        with read_tx(self.engine) as connection:
            rows = connection.execute(
                select(jobs.c.state, func.count()).group_by(jobs.c.state)
            ).all()
        counts = dict.fromkeys(JobState, 0)
        for state, count in rows:
            counts[JobState(state)] = int(count)
        return counts

    # ------------------------------------------------------------------ user actions

    def request_cancel(self, job_id: str, owner: str | None = None) -> Job | None:
        """Cancel a queued job at once, or ask a running one to stop.

        Returns the job after the change (unchanged if already final), None if unknown.
        """
        now = self.clock()
        owned = [jobs.c.id == job_id] + ([jobs.c.owner == owner] if owner is not None else [])
        with write_tx(self.engine) as connection:
            connection.execute(
                update(jobs)
                .where(*owned, jobs.c.state == JobState.QUEUED.value)
                .values(
                    state=JobState.CANCELLED.value,
                    stage="cancelled",
                    cancel_requested=True,
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            connection.execute(
                update(jobs)
                .where(*owned, jobs.c.state == JobState.RUNNING.value)
                .values(cancel_requested=True, updated_at=now)
            )
            row = connection.execute(select(jobs).where(*owned)).first()
        return None if row is None else _to_job(row)

    def delete(self, job_id: str, owner: str | None = None) -> bool:
        """Delete a job and its result; a running attempt's later writes match nothing."""
        owned = [jobs.c.id == job_id] + ([jobs.c.owner == owner] if owner is not None else [])
        with write_tx(self.engine) as connection:
            connection.execute(delete(results).where(results.c.job_id == job_id))
            deleted = connection.execute(delete(jobs).where(*owned)).rowcount
        return bool(deleted)

    # ------------------------------------------------------------------ dispatcher

    def claim(
        self,
        lease_owner: str,
        limit: int,
        lease_seconds: float,
        *,
        max_running_per_owner: int | None = None,
    ) -> list[Job]:
        """Lease up to ``limit`` queued jobs (oldest first) to one dispatcher.

        With ``max_running_per_owner``, an owner's jobs are skipped while that many of
        theirs are running or leased, so one user's burst cannot take every worker.
        """
        if limit <= 0:
            return []
        now = self.clock()
        free = or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now)
        scan = limit if max_running_per_owner is None else limit * 8 + 16
        candidates = (
            select(jobs.c.id, jobs.c.owner)
            .where(jobs.c.state == JobState.QUEUED.value, free)
            .order_by(jobs.c.created_at, jobs.c.id)
            .limit(scan)
        )
        if not is_sqlite(self.engine):
            candidates = candidates.with_for_update(skip_locked=True)
        until = now + dt.timedelta(seconds=lease_seconds)
        with write_tx(self.engine) as connection:
            found = connection.execute(candidates).all()
            ids = _fair_share(connection, found, limit, max_running_per_owner, now)
            if not ids:
                return []
            connection.execute(
                update(jobs)
                .where(jobs.c.id.in_(ids))
                .values(lease_owner=lease_owner, lease_until=until, updated_at=now)
            )
            rows = connection.execute(
                select(jobs).where(jobs.c.id.in_(ids)).order_by(jobs.c.created_at, jobs.c.id)
            ).all()
        return [_to_job(row) for row in rows]

    def renew(self, lease_owner: str, job_ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the dispatcher's leases on the jobs it is running."""
        if not job_ids:
            return
        with write_tx(self.engine) as connection:
            now = self.clock()  # after the write lock: a wait must not shorten the lease
            connection.execute(
                update(jobs)
                .where(jobs.c.id.in_(list(job_ids)), jobs.c.lease_owner == lease_owner)
                .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
            )

    def release(self, job_id: str, lease_owner: str) -> None:
        """Drop the dispatcher's lease on a job whose execution ended."""
        with write_tx(self.engine) as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lease_owner == lease_owner)
                .values(lease_owner=None, lease_until=None)
            )

    def requeue_abandoned(self, lease_owner: str, job_ids: Sequence[str]) -> int:
        """Put running jobs a stopping server abandons back in the queue, uncounted.

        Their workers were stopped on purpose, so no attempt is charged; any write
        of theirs that still arrives is fenced off by the next attempt.
        """
        if not job_ids:
            return 0
        now = self.clock()
        with write_tx(self.engine) as connection:
            return int(
                connection.execute(
                    update(jobs)
                    .where(
                        jobs.c.id.in_(list(job_ids)),
                        jobs.c.lease_owner == lease_owner,
                        jobs.c.state.in_(_ACTIVE),
                    )
                    .values(
                        state=case(
                            (jobs.c.cancel_requested.is_(True), JobState.CANCELLED.value),
                            else_=JobState.QUEUED.value,
                        ),
                        stage="queued",
                        progress=0.0,
                        updated_at=now,
                        lease_owner=None,
                        lease_until=None,
                    )
                ).rowcount
            )

    def record_lost(
        self, job_id: str, max_attempts: int, detail: str, *, lease_owner: str | None = None
    ) -> JobState | None:
        """Count a dead worker against the job: back to the queue, or failed at the limit.

        With ``lease_owner`` (the dispatcher reporting the loss), nothing changes unless
        that dispatcher still holds the job's lease: once its lease expired, the loss was
        already counted by ``recover_expired`` and a newer attempt may be running.
        """
        now = self.clock()
        lost = jobs.c.lost_attempts + 1
        held = [jobs.c.lease_owner == lease_owner] if lease_owner is not None else []
        with write_tx(self.engine) as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state.in_(_ACTIVE), *held)
                .values(**_lost_values(lost, max_attempts, detail, now))
            )
            state = connection.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
        return None if state is None else JobState(state)

    def recover_expired(self, max_attempts: int) -> int:
        """Requeue (or fail) running jobs whose dispatcher's lease ran out.

        Part of normal start-up and of every dispatcher's housekeeping: a server
        that died leaves leases that expire, and its jobs run again elsewhere.
        """
        now = self.clock()
        lost = jobs.c.lost_attempts + 1
        expired = and_(
            jobs.c.state == JobState.RUNNING.value,
            or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now),
        )
        with write_tx(self.engine) as connection:
            return int(
                connection.execute(
                    update(jobs)
                    .where(expired)
                    .values(
                        **_lost_values(lost, max_attempts, "the server running it stopped", now)
                    )
                ).rowcount
            )

    # ------------------------------------------------------------------ worker

    def start_attempt(self, job_id: str, worker: str) -> Job | None:
        """Start a new attempt; return the job with its new attempt number.

        Returns None when the job is gone, final or cancelled (nothing to run).
        """
        now = self.clock()
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.state.in_(_ACTIVE),
                    jobs.c.cancel_requested.is_(False),
                )
                .values(
                    state=JobState.RUNNING.value,
                    attempt=jobs.c.attempt + 1,
                    started_at=func.coalesce(jobs.c.started_at, now),
                    heartbeat_at=now,
                    updated_at=now,
                    worker=worker,
                    progress=0.0,
                    stage="starting",
                )
            ).rowcount
            if not changed:
                return None
            row = connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _to_job(row)

    def report_progress(self, job_id: str, attempt: int, progress: float, stage: str) -> bool:
        """Record progress of the current attempt; return False if it should stop.

        False means the job was cancelled, deleted or taken over by a newer attempt.
        """
        now = self.clock()
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(jobs)
                .where(*_current(job_id, attempt), jobs.c.cancel_requested.is_(False))
                .values(progress=progress, stage=stage, heartbeat_at=now, updated_at=now)
            ).rowcount
        return bool(changed)

    def finish_succeeded(
        self,
        job_id: str,
        attempt: int,
        *,
        document: bytes,
        trades_csv: bytes,
        equity_csv: bytes,
        document_sha256: str,
        summary: Mapping[str, Any],
    ) -> bool:
        """Store the result and mark the job succeeded, in one transaction.

        Nothing is written unless ``attempt`` is still the current, uncancelled
        attempt; the result is visible exactly when the state says succeeded.
        """
        now = self.clock()
        with write_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs.c.owner).where(
                    *_current(job_id, attempt), jobs.c.cancel_requested.is_(False)
                )
            ).first()
            if row is None:
                return False
            connection.execute(delete(results).where(results.c.job_id == job_id))
            connection.execute(
                insert(results).values(
                    job_id=job_id,
                    owner=row.owner,
                    attempt=attempt,
                    created_at=now,
                    document=document,
                    trades_csv=trades_csv,
                    equity_csv=equity_csv,
                    document_sha256=document_sha256,
                )
            )
            connection.execute(
                update(jobs)
                .where(*_current(job_id, attempt))
                .values(
                    state=JobState.SUCCEEDED.value,
                    progress=1.0,
                    stage="done",
                    finished_at=now,
                    updated_at=now,
                    heartbeat_at=now,
                    summary=dict(summary),
                    lease_owner=None,
                    lease_until=None,
                )
            )
        return True

    def finish_failed(self, job_id: str, attempt: int, reason: FailureReason, error: str) -> bool:
        """Mark the current attempt failed with a reason."""
        return self._finish(
            job_id, attempt, state=JobState.FAILED, stage="failed", reason=reason.value, error=error
        )

    def finish_cancelled(self, job_id: str, attempt: int) -> bool:
        """Mark the current attempt cancelled (after the worker saw the cancel flag)."""
        return self._finish(job_id, attempt, state=JobState.CANCELLED, stage="cancelled")

    def _finish(self, job_id: str, attempt: int, *, state: JobState, **values: Any) -> bool:
        now = self.clock()
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(jobs)
                .where(*_current(job_id, attempt))
                .values(
                    state=state.value,
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_until=None,
                    **values,
                )
            ).rowcount
        return bool(changed)

    def cancel_requested(self, job_id: str, attempt: int) -> bool:
        """True when the attempt should stop (cancelled, deleted or superseded)."""
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs.c.cancel_requested).where(*_current(job_id, attempt))
            ).first()
        return row is None or bool(row.cancel_requested)


def _fair_share(
    connection: Connection,
    found: Sequence[Row[Any, Any]],
    limit: int,
    max_running_per_owner: int | None,
    now: dt.datetime,
) -> list[str]:
    """Pick up to ``limit`` candidates, oldest first, within each owner's running cap."""
    if max_running_per_owner is None or not found:
        return [row.id for row in found[:limit]]
    owners = {row.owner for row in found}
    occupied = or_(
        jobs.c.state == JobState.RUNNING.value,
        and_(jobs.c.state == JobState.QUEUED.value, jobs.c.lease_until >= now),
    )
    busy: dict[str, int] = {
        owner: int(count)
        for owner, count in connection.execute(
            select(jobs.c.owner, func.count())
            .where(jobs.c.owner.in_(owners), occupied)
            .group_by(jobs.c.owner)
        ).all()
    }
    chosen: list[str] = []
    for row in found:
        if busy.get(row.owner, 0) < max_running_per_owner:
            chosen.append(row.id)
            busy[row.owner] = busy.get(row.owner, 0) + 1
            if len(chosen) == limit:
                break
    return chosen


def _current(job_id: str, attempt: int) -> tuple[Any, ...]:
    return (
        jobs.c.id == job_id,
        jobs.c.attempt == attempt,
        jobs.c.state == JobState.RUNNING.value,
    )


def _lost_values(lost: Any, max_attempts: int, detail: str, now: dt.datetime) -> dict[str, Any]:
    give_up = lost >= max_attempts
    cancelled = jobs.c.cancel_requested.is_(True)
    return {
        "lost_attempts": lost,
        "state": case(
            (cancelled, JobState.CANCELLED.value),
            (give_up, JobState.FAILED.value),
            else_=JobState.QUEUED.value,
        ),
        "stage": case((cancelled, "cancelled"), (give_up, "failed"), else_="queued"),
        "reason": case((and_(give_up, ~cancelled), FailureReason.WORKER_LOST.value), else_=None),
        "error": case(
            (
                and_(give_up, ~cancelled),
                f"the worker was lost {max_attempts} times; last: {detail}",
            ),
            else_=None,
        ),
        "finished_at": case((or_(give_up, cancelled), now), else_=None),
        "progress": 0.0,
        "updated_at": now,
        "lease_owner": None,
        "lease_until": None,
    }


def _to_job_from_values(values: Mapping[str, Any]) -> Job:
    return Job(
        id=values["id"],
        owner=values["owner"],
        state=JobState(values["state"]),
        spec=BacktestSpec.from_json(values["spec"]),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        idempotency_key=values["idempotency_key"],
    )
