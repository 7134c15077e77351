"""The users' side of the jobs table: submit, read, list, cancel and delete jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from privatetrade.db.engine import read_tx, write_tx
from privatetrade.db.jobs.rows import ACTIVE, JobTable, ended, owned, to_job
from privatetrade.db.notifications import queue_job_endings
from privatetrade.db.schema import jobs
from privatetrade.domain.jobs import Job, JobPage, JobState
from privatetrade.domain.kinds import JobKind, JobLabels, JobSpec
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import IdempotencyConflictError

__all__ = ["JobSubmissions", "SortField"]

SortField = Literal[
    "created_at",
    "finished_at",
    "symbol",
    "strategy",
    "state",
    "total_return",
    "sharpe",
    "max_drawdown",
]
# Sort keys read from the summary a succeeded job stores (jobs without one sort last).
_SUMMARY_SORTS = frozenset({"total_return", "sharpe", "max_drawdown"})


def _backtest_labels(spec: JobSpec) -> JobLabels:
    if not isinstance(spec, BacktestSpec):
        raise TypeError(f"give the labels of a {type(spec).__name__} job")
    return JobLabels(spec.symbol, spec.strategy)


class JobSubmissions(JobTable):
    """Creates jobs and answers the owners' questions about them."""

    def create(
        self,
        job_id: str,
        owner: str,
        spec: JobSpec,
        idempotency_key: str | None = None,
        *,
        kind: JobKind = JobKind.BACKTEST,
        labels: JobLabels | None = None,
    ) -> tuple[Job, bool]:
        """Insert a queued job; return it and whether it is new.

        ``labels`` fill the listing columns (default, for a backtest: the spec's symbol
        and strategy; other kinds must give them).

        With an ``idempotency_key`` already used by ``owner`` for the same spec, the
        existing job is returned instead.

        Raises:
            IdempotencyConflictError: The key was used with a different spec.
        """
        now = self.clock()
        shown = labels or _backtest_labels(spec)
        row = {
            "id": job_id,
            "owner": owner,
            "kind": kind.value,
            "state": JobState.QUEUED.value,
            "spec": spec.canonical_json(),
            "spec_hash": spec.fingerprint(),
            "symbol": shown.symbol,
            "strategy": shown.strategy,
            "idempotency_key": idempotency_key,
            "created_at": now,
            "updated_at": now,
        }
        if idempotency_key is not None:
            existing = self.find_idempotent(owner, idempotency_key, spec, kind=kind)
            if existing is not None:
                return existing, False
        try:
            with write_tx(self.engine) as connection:
                connection.execute(insert(jobs).values(**row))
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self.find_idempotent(owner, idempotency_key, spec, kind=kind)
            if existing is None:
                raise
            return existing, False
        return to_job(row), True

    def find_idempotent(
        self, owner: str, key: str, spec: JobSpec, *, kind: JobKind = JobKind.BACKTEST
    ) -> Job | None:
        """Return the owner's job created with ``key``, if any.

        Raises:
            IdempotencyConflictError: That job was created from a different spec or kind.
        """
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs).where(jobs.c.owner == owner, jobs.c.idempotency_key == key)
            ).first()
        if row is None:
            return None
        job = to_job(row)
        if row._mapping["spec_hash"] != spec.fingerprint() or job.kind != kind:
            raise IdempotencyConflictError(job.id)
        return job

    def count_active(self, owner: str) -> int:
        """Return the owner's queued plus running jobs."""
        with read_tx(self.engine) as connection:
            count = connection.execute(
                select(func.count())
                .select_from(jobs)
                .where(jobs.c.owner == owner, jobs.c.state.in_(ACTIVE))
            ).scalar_one()
        return int(count)

    def page(
        self,
        owner: str | None,
        *,
        symbol: str | None = None,
        strategy: str | None = None,
        states: Sequence[JobState] = (),
        kinds: Sequence[JobKind] = (),
        sort: SortField = "created_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
        created_from: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
    ) -> JobPage:
        """Return one page of jobs, filtered (empty filters: any) and sorted (ties by id).

        ``created_from`` / ``created_before`` keep the jobs created at or after / before
        those instants. ``total_return``, ``sharpe`` and ``max_drawdown`` sort by the
        figures of the job's summary; jobs without the figure come last either way.
        """
        conditions = []
        if owner is not None:
            conditions.append(jobs.c.owner == owner)
        if kinds:
            conditions.append(jobs.c.kind.in_([kind.value for kind in kinds]))
        if symbol:
            conditions.append(jobs.c.symbol == symbol)
        if strategy:
            conditions.append(jobs.c.strategy == strategy)
        if states:
            conditions.append(jobs.c.state.in_([state.value for state in states]))
        if created_from is not None:
            conditions.append(jobs.c.created_at >= created_from)
        if created_before is not None:
            conditions.append(jobs.c.created_at < created_before)
        where = and_(*conditions) if conditions else and_(True)
        column = jobs.c.summary[sort].as_float() if sort in _SUMMARY_SORTS else jobs.c[sort]
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
        return JobPage([to_job(row) for row in rows], total_count, offset, limit)

    def latest_keyed(
        self, owner: str, key_prefix: str, *, states: Sequence[JobState] = ()
    ) -> Job | None:
        """Return the owner's newest job whose Idempotency-Key starts with ``key_prefix``.

        ``states`` limits it to jobs in those states (empty: any).
        """
        conditions = [
            jobs.c.owner == owner,
            jobs.c.idempotency_key.startswith(key_prefix, autoescape=True),
        ]
        if states:
            conditions.append(jobs.c.state.in_([state.value for state in states]))
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs)
                .where(*conditions)
                .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else to_job(row)

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

    def oldest_queued_at(self) -> dt.datetime | None:
        """Return when the longest-waiting queued job was submitted (None: queue empty)."""
        with read_tx(self.engine) as connection:
            oldest: dt.datetime | None = connection.execute(
                select(func.min(jobs.c.created_at)).where(jobs.c.state == JobState.QUEUED.value)
            ).scalar()
        return oldest

    def request_cancel(self, job_id: str, owner: str | None = None) -> Job | None:
        """Cancel a queued job at once, or ask a running one to stop.

        Returns the job after the change (unchanged if already final), None if unknown.
        """
        now = self.clock()
        where = owned(job_id, owner)
        with write_tx(self.engine) as connection:
            cancelled = connection.execute(
                update(jobs)
                .where(*where, jobs.c.state == JobState.QUEUED.value)
                .values(
                    state=JobState.CANCELLED.value,
                    stage="cancelled",
                    cancel_requested=True,
                    **ended(now),
                )
            ).rowcount
            if cancelled:  # the owner's notifications, with the cancel
                queue_job_endings(connection, [job_id], now)
            connection.execute(
                update(jobs)
                .where(*where, jobs.c.state == JobState.RUNNING.value)
                .values(cancel_requested=True, updated_at=now)
            )
            row = connection.execute(select(jobs).where(*where)).first()
        return None if row is None else to_job(row)

    def delete(self, job_id: str, owner: str | None = None) -> bool:
        """Delete a job and its artifact rows; a running attempt's later writes match nothing.

        The caller removes the job's artifact files (:meth:`ArtifactFiles.remove_job`).
        """
        from privatetrade.db.schema import artifacts

        with write_tx(self.engine) as connection:
            exists = connection.execute(select(jobs.c.id).where(*owned(job_id, owner))).first()
            if exists is None:
                return False
            connection.execute(delete(artifacts).where(artifacts.c.job_id == job_id))
            deleted = connection.execute(delete(jobs).where(*owned(job_id, owner))).rowcount
        return bool(deleted)
