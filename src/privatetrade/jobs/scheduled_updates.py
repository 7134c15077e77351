"""Scheduled data updates: one ``data_update`` job per market and session, after the close.

A thread of each server process (started by :meth:`privatetrade.system.System.start`
when ``scheduled_updates`` is on) looks at the schedule
(:mod:`privatetrade.data.schedule`), submits the newest due update of each market
through the job service, and sleeps until the next one is due (at most a minute, so a
changed clock is noticed). The jobs belong to :data:`SCHEDULE_OWNER` and carry the
idempotency key of their market and session: several server processes sharing a
database, or a restart, find the existing job instead of submitting a second one. An
update missed while the server was down is submitted when it starts again.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence

import structlog

from privatetrade.data.schedule import ScheduledMarket, ScheduledRun, latest_run, next_run
from privatetrade.db.jobs import JobSubmissions
from privatetrade.domain.data_updates import SCHEDULE_OWNER, DataUpdateSpec, ScheduledUpdateStatus
from privatetrade.domain.jobs import FINAL_STATES, Job, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.errors import (
    ConflictError,
    IdempotencyConflictError,
    InputError,
    LimitExceededError,
    UnavailableError,
)
from privatetrade.jobs.service import JobService

__all__ = ["ScheduledUpdates", "scheduled_update_status"]

Clock = Callable[[], dt.datetime]
log = structlog.get_logger("privatetrade.schedule")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ScheduledUpdates:
    """Submits each market's daily update once it is due.

    Args:
        jobs: The job service (checks the spec, creates the row, wakes the dispatcher).
        provider: The data provider of the updates.
        delay: How long after the close an update is due.
        markets: The markets to update.
        clock: The current time (UTC); tests inject their own.
        max_wait_seconds: Longest sleep between two looks at the schedule.
    """

    def __init__(
        self,
        jobs: JobService,
        *,
        provider: str,
        delay: dt.timedelta,
        markets: Sequence[ScheduledMarket] = tuple(ScheduledMarket),
        clock: Clock = _utc_now,
        max_wait_seconds: float = 60.0,
    ) -> None:
        self.jobs = jobs
        self.provider = provider
        self.delay = delay
        self.markets = tuple(markets)
        self.clock = clock
        self.max_wait_seconds = max_wait_seconds
        self.passes = 0  # looks at the schedule so far (tests wait for the next one)
        self._done: set[str] = set()  # keys this process submitted, found or skipped
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the schedule's thread (a daemon: it never keeps the process alive)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduled-updates", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a submission under way finishes first)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look at the schedule now (tests call it after moving their clock)."""
        self._wake.set()

    def run_due(self) -> dt.datetime:
        """Submit every market's newest due update not handled yet; return the next due time."""
        now = self.clock()
        for market in self.markets:
            due = latest_run(market, now, self.delay)
            if due is not None and due.idempotency_key not in self._done:
                self._submit(due)
        self.passes += 1
        return min(next_run(market, now, self.delay).at for market in self.markets)

    def _submit(self, run: ScheduledRun) -> None:
        key = run.idempotency_key
        spec = DataUpdateSpec(provider=self.provider, exchange=run.market.calendar.value)
        fields = {"market": run.market.value, "session": run.session.isoformat()}
        try:
            submission = self.jobs.submit(
                SCHEDULE_OWNER, spec, kind=JobKind.DATA_UPDATE, idempotency_key=key
            )
        except (UnavailableError, LimitExceededError) as exc:
            log.warning("data_update.schedule_retry", error=str(exc), **fields)
            return  # tried again at the next look
        except IdempotencyConflictError:
            log.warning("data_update.schedule_conflict", key=key, **fields)
        except (InputError, ConflictError) as exc:
            log.info("data_update.schedule_skipped", reason=str(exc), **fields)
        else:
            event = (
                "data_update.scheduled" if submission.created else "data_update.already_scheduled"
            )
            log.info(event, job_id=submission.job.id, **fields)
        self._done.add(key)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                due = self.run_due()
                wait = (due - self.clock()).total_seconds()
            except Exception:
                log.exception("data_update.schedule_error")
                wait = self.max_wait_seconds
            self._wake.wait(min(max(wait, 0.0), self.max_wait_seconds))
            self._wake.clear()


def scheduled_update_status(
    submissions: JobSubmissions,
    *,
    enabled: bool,
    delay: dt.timedelta,
    now: dt.datetime,
    markets: Sequence[ScheduledMarket] = tuple(ScheduledMarket),
) -> list[ScheduledUpdateStatus]:
    """Return each market's next scheduled update and the outcome of its last ones.

    The outcomes come from the jobs table, so every server process reports the same.
    """
    return [_market_status(submissions, market, enabled, delay, now) for market in markets]


def _market_status(
    submissions: JobSubmissions,
    market: ScheduledMarket,
    enabled: bool,
    delay: dt.timedelta,
    now: dt.datetime,
) -> ScheduledUpdateStatus:
    prefix = market.key_prefix
    newest = submissions.latest_keyed(SCHEDULE_OWNER, prefix)
    finished = submissions.latest_keyed(SCHEDULE_OWNER, prefix, states=tuple(FINAL_STATES))
    success = submissions.latest_keyed(SCHEDULE_OWNER, prefix, states=(JobState.SUCCEEDED,))
    upcoming = next_run(market, now, delay) if enabled else None
    summary = (finished.summary or {}) if finished is not None else {}
    return ScheduledUpdateStatus(
        market=market.value,
        enabled=enabled,
        next_run_at=upcoming.at if upcoming else None,
        next_session=upcoming.session if upcoming else None,
        last_job_id=newest.id if newest else None,
        last_session=_session_of(newest),
        last_state=newest.state.value if newest else None,
        last_submitted_at=newest.created_at if newest else None,
        last_finished_at=finished.finished_at if finished else None,
        last_finished_state=finished.state.value if finished else None,
        updated=summary.get("updated"),
        up_to_date=summary.get("up_to_date"),
        failed=summary.get("failed"),
        error=finished.error if finished else None,
        last_success_at=success.finished_at if success else None,
    )


def _session_of(job: Job | None) -> dt.date | None:
    if job is None or job.idempotency_key is None:
        return None
    return dt.date.fromisoformat(job.idempotency_key.rsplit(":", 1)[1])
