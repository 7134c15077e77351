"""The workers' side of the jobs table: claims, leases, attempts, progress and endings.

Every state change of a job is one guarded SQL statement. Writes from a worker carry
the attempt number they were started with (a fencing token): a late write from an
attempt that was presumed dead matches no row and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, case, func, or_, select, update

from privatetrade.db.engine import is_sqlite, read_tx, write_tx
from privatetrade.db.jobs.rows import ACTIVE, JobTable, current_attempt, ended, to_job
from privatetrade.db.notifications import queue_job_endings
from privatetrade.db.schema import jobs
from privatetrade.domain.jobs import WAITING_FOR_WORKERS, FailureReason, Job, JobState

__all__ = ["AttemptStatus", "JobQueue"]


class JobQueue(JobTable):
    """Moves jobs through their states for dispatchers and workers."""

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
        return [to_job(row) for row in rows]

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

    def wait_for_workers(self, job_id: str, lease_owner: str, seconds: float) -> bool:
        """Show a claimed job as waiting for starting workers, ready in about ``seconds``.

        Changes nothing once a worker started it (or it left the queue or the lease).
        """
        now = self.clock()
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.state == JobState.QUEUED.value,
                    jobs.c.lease_owner == lease_owner,
                )
                .values(
                    stage=WAITING_FOR_WORKERS,
                    workers_ready_at=now + dt.timedelta(seconds=seconds),
                    updated_at=now,
                )
            ).rowcount
        return bool(changed)

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
            requeued = int(
                connection.execute(
                    update(jobs)
                    .where(
                        jobs.c.id.in_(list(job_ids)),
                        jobs.c.lease_owner == lease_owner,
                        jobs.c.state.in_(ACTIVE),
                    )
                    .values(
                        state=case(
                            (jobs.c.cancel_requested.is_(True), JobState.CANCELLED.value),
                            else_=JobState.QUEUED.value,
                        ),
                        stage=case(
                            (jobs.c.cancel_requested.is_(True), "cancelled"), else_="queued"
                        ),
                        # A cancelled one ended now (its owner's notifications need the time).
                        finished_at=case((jobs.c.cancel_requested.is_(True), now), else_=None),
                        progress=0.0,
                        updated_at=now,
                        lease_owner=None,
                        lease_until=None,
                    )
                ).rowcount
            )
            queue_job_endings(connection, job_ids, now)  # those cancelled meanwhile
        return requeued

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
                .where(jobs.c.id == job_id, jobs.c.state.in_(ACTIVE), *held)
                .values(**_lost_values(lost, max_attempts, detail, now))
            )
            queue_job_endings(connection, [job_id], now)
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
            ids = list(connection.execute(select(jobs.c.id).where(expired)).scalars())
            if not ids:
                return 0
            recovered = int(
                connection.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ids), expired)
                    .values(
                        **_lost_values(lost, max_attempts, "the server running it stopped", now)
                    )
                ).rowcount
            )
            queue_job_endings(connection, ids, now)  # those given up or cancelled
        return recovered

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
                    jobs.c.state.in_(ACTIVE),
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
        return None if row is None else to_job(row)

    def report_progress(
        self,
        job_id: str,
        attempt: int,
        progress: float,
        stage: str,
        summary: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record progress of the current attempt; return False if it should stop.

        ``summary`` (live figures, e.g. the best combination so far) replaces the
        row's summary when given. False means the job was cancelled, deleted or
        taken over by a newer attempt.
        """
        now = self.clock()
        values: dict[str, Any] = {}
        if summary is not None:
            values["summary"] = dict(summary)
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(jobs)
                .where(*current_attempt(job_id, attempt), jobs.c.cancel_requested.is_(False))
                .values(progress=progress, stage=stage, heartbeat_at=now, updated_at=now, **values)
            ).rowcount
        return bool(changed)

    def finish_failed(self, job_id: str, attempt: int, reason: FailureReason, error: str) -> bool:
        """Mark the current attempt failed with a reason."""
        return self._finish(
            job_id,
            current_attempt(job_id, attempt),
            JobState.FAILED,
            stage="failed",
            reason=reason.value,
            error=error,
        )

    def finish_cancelled(self, job_id: str, attempt: int) -> bool:
        """Mark the current attempt cancelled (after the worker saw the cancel flag)."""
        return self._finish(
            job_id, current_attempt(job_id, attempt), JobState.CANCELLED, stage="cancelled"
        )

    def _finish(
        self, job_id: str, conditions: Sequence[Any], state: JobState, **values: Any
    ) -> bool:
        """Give the job matching ``conditions`` its final ``state``; False if none matched.

        The owner's notifications of the ending are queued in the same transaction.
        """
        now = self.clock()
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(jobs).where(*conditions).values(state=state.value, **values, **ended(now))
            ).rowcount
            if changed:
                queue_job_endings(connection, [job_id], now)
        return bool(changed)

    def cancel_requested(self, job_id: str, attempt: int) -> bool:
        """True when the attempt should stop (cancelled, deleted or superseded)."""
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs.c.cancel_requested).where(*current_attempt(job_id, attempt))
            ).first()
        return row is None or bool(row.cancel_requested)

    # ------------------------------------------------------------------ supervision

    def attempt_statuses(self, job_ids: Sequence[str]) -> dict[str, AttemptStatus]:
        """Return state, attempt and cancel flag of each job (deleted jobs are absent).

        One small read the dispatcher repeats a few times a second while jobs run.
        """
        if not job_ids:
            return {}
        query = select(jobs.c.id, jobs.c.state, jobs.c.attempt, jobs.c.cancel_requested)
        with read_tx(self.engine) as connection:
            rows = connection.execute(query.where(jobs.c.id.in_(list(job_ids)))).all()
        return {
            row.id: AttemptStatus(JobState(row.state), int(row.attempt), bool(row.cancel_requested))
            for row in rows
        }

    def fail_unstarted(
        self, job_id: str, lease_owner: str, reason: FailureReason, error: str
    ) -> bool:
        """Fail a queued job this dispatcher leased instead of starting it again."""
        leased = (
            jobs.c.id == job_id,
            jobs.c.state == JobState.QUEUED.value,
            jobs.c.lease_owner == lease_owner,
            jobs.c.cancel_requested.is_(False),
        )
        return self._finish(
            job_id,
            leased,
            JobState.FAILED,
            stage="failed",
            reason=reason.value,
            error=error,
            progress=0.0,
        )


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


@dataclass(frozen=True, slots=True)
class AttemptStatus:
    """What a dispatcher watching a running job needs to know of its row."""

    state: JobState
    attempt: int
    cancel_requested: bool
