"""The dispatcher: claims queued jobs from the database and hands them to an executor.

It runs on a thread of the server process (never on the event loop). Each server
process has one; several can share a database, because a claim is a lease written
in one transaction. Housekeeping (renewing leases of running jobs, requeueing jobs
whose server died, replacing workers that died idle) is part of the same loop, so
recovery is just normal start-up.

A second thread watches the jobs in flight a few times a second. A job past its
kind's time limit is recorded as failed (``time_limit``); its worker's cancel token
sees that, as it sees a user's cancel, and stops at its next check. A worker that
has not stopped within a short grace (busy in a step that checks no token, such as
serializing a large result) is killed, and the job is recorded as cancelled or
failed (``time_limit``), never as a lost worker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum

import structlog

from privatetrade.db.jobs import JobQueue
from privatetrade.db.jobs.queue import AttemptStatus
from privatetrade.domain.jobs import FailureReason, Job, JobState
from privatetrade.jobs.executors import Executor, WorkerLostError

__all__ = ["DEFAULT_TIME_LIMIT_SECONDS", "Dispatcher"]

DEFAULT_TIME_LIMIT_SECONDS = 900.0
_GONE_GRACE_SECONDS = 10.0  # a finished, deleted or superseded attempt is not urgent

log = structlog.get_logger("privatetrade.dispatcher")


class _StopReason(StrEnum):
    CANCELLED = "cancelled"  # the user asked
    TIME_LIMIT = "time_limit"  # ran longer than its kind's limit
    GONE = "gone"  # the attempt ended, was superseded, or the job was deleted


@dataclass(eq=False)
class _Execution:
    """One job handed to the executor, as this dispatcher watches it."""

    job: Job  # as claimed: ``job.attempt`` attempts had started before this one
    future: Future[str]
    time_limit: float
    running_since: float | None = None  # monotonic: first seen running
    stop_reason: _StopReason | None = None
    stop_since: float = 0.0  # monotonic: first seen that it should stop
    aborted: bool = False  # its worker was (asked to be) killed

    @property
    def attempt(self) -> int:
        """The attempt number this execution's worker runs under."""
        return self.job.attempt + 1


def _default_time_limit(_kind: str) -> float:
    return DEFAULT_TIME_LIMIT_SECONDS


class Dispatcher:
    """Moves jobs from the queue (the jobs table) to the executor and watches them run."""

    def __init__(
        self,
        repository: JobQueue,
        executor: Executor,
        *,
        lease_seconds: float,
        max_attempts: int,
        max_running_per_owner: int | None = None,
        time_limit: Callable[[str], float] = _default_time_limit,
        poll_seconds: float = 0.5,
        watch_seconds: float = 0.2,
        stop_grace_seconds: float = 0.75,
    ) -> None:
        """Create a stopped dispatcher.

        Args:
            repository: The job queue.
            executor: Where jobs run.
            lease_seconds: Lifetime of a claim without renewal.
            max_attempts: Lost workers before a job fails (``worker_lost``); also the
                server restarts one job may be interrupted by before it fails
                (``time_limit``) instead of being started again.
            max_running_per_owner: Cap of one owner's running jobs (None: no cap).
            time_limit: Seconds one attempt of a job of the given kind may run.
            poll_seconds: Longest wait between looks at the queue.
            watch_seconds: Interval of the checks of running jobs.
            stop_grace_seconds: How long a worker that should stop (cancelled, over
                its limit) may take before it is killed.
        """
        self.repository = repository
        self.executor = executor
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.max_running_per_owner = max_running_per_owner
        self.time_limit = time_limit
        self.poll_seconds = poll_seconds
        self.watch_seconds = watch_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.name = f"dispatcher-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._in_flight: dict[str, _Execution] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.on_finished: Callable[[Job], None] | None = None

    def start(self) -> None:
        """Start the dispatch loop and the watch of running jobs on daemon threads."""
        self._threads = [
            threading.Thread(target=self._loop, name=self.name, daemon=True),
            threading.Thread(target=self._watch, name=f"{self.name}-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Look for queued work now (called after a job was committed)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming and stop the executor; running jobs go back to the queue.

        They run again on the next start (or on another server sharing the database),
        except those already past their time limit, which fail.
        """
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        with self._lock:
            executions = list(self._in_flight.values())
            self._in_flight.clear()
        now = time.monotonic()
        for execution in executions:
            if self._over_limit(execution, now):
                try:
                    self._fail_time_limit(execution)
                except Exception:
                    log.exception("dispatcher.time_limit_failed", job_id=execution.job.id)
        self.executor.close()
        abandoned = [execution.job.id for execution in executions]
        requeued = self.repository.requeue_abandoned(self.name, abandoned)
        if requeued:
            log.info("jobs.requeued_on_shutdown", count=requeued)

    # ------------------------------------------------------------------ dispatch loop

    def _loop(self) -> None:
        next_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_housekeeping:
                    self._housekeeping()
                    next_housekeeping = now + self.lease_seconds / 3.0
                replaced = self.executor.replace_dead_workers()
                if replaced:
                    log.warning("executor.idle_workers_replaced", count=replaced)
                self._dispatch()
            except Exception:
                log.exception("dispatcher.error")
                time.sleep(min(self.poll_seconds, 1.0))
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _housekeeping(self) -> None:
        with self._lock:
            ids = list(self._in_flight)
        self.repository.renew(self.name, ids, self.lease_seconds)
        recovered = self.repository.recover_expired(self.max_attempts)
        if recovered:
            log.warning("jobs.recovered", count=recovered)

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            free = self.executor.free_slots()
            if free <= 0:
                return
            claimed = self.repository.claim(
                self.name,
                free,
                self.lease_seconds,
                max_running_per_owner=self.max_running_per_owner,
            )
            if not claimed:
                return
            for job in claimed:
                self._submit(job)

    def _submit(self, job: Job) -> None:
        # Every start that neither finished nor lost its worker was ended by a
        # server stopping (requeued uncounted): bound those too.
        interrupted = job.attempt - job.lost_attempts
        if interrupted >= self.max_attempts:
            self._give_up(job, interrupted)
            return
        self._show_wait_for_workers(job)
        try:
            future = self.executor.submit(job.id)
        except Exception:
            log.exception("dispatcher.submit_failed", job_id=job.id)
            self.repository.release(job.id, self.name)
            return
        limit = self.time_limit(str(getattr(job, "kind", "backtest")))
        execution = _Execution(job, future, limit)
        with self._lock:
            self._in_flight[job.id] = execution
        future.add_done_callback(lambda done: self._finished(execution, done))

    def _show_wait_for_workers(self, job: Job) -> None:
        """While the workers still start, the job's stage says so, with an estimate."""
        seconds = self.executor.seconds_until_ready()
        if seconds <= 0:
            return
        try:
            if self.repository.wait_for_workers(job.id, self.name, seconds):
                log.info("job.waiting_for_workers", job_id=job.id, seconds=round(seconds, 1))
        except Exception as exc:  # only what is shown; the job is handed over regardless
            log.warning("dispatcher.stage_failed", job_id=job.id, error=repr(exc))

    def _give_up(self, job: Job, interrupted: int) -> None:
        message = (
            f"the job was interrupted by {interrupted} server restarts before it could "
            "finish; it is not started again"
        )
        if self.repository.fail_unstarted(job.id, self.name, FailureReason.TIME_LIMIT, message):
            log.warning("job.failed_interrupted", job_id=job.id, interrupted=interrupted)
            self._notify(job.id)

    def _finished(self, execution: _Execution, future: Future[str]) -> None:
        job = execution.job
        with self._lock:
            if self._in_flight.get(job.id) is not execution:
                # Abandoned at shutdown (requeued by stop()), or a stale execution whose
                # lease expired and whose job this dispatcher claimed again since.
                return
            del self._in_flight[job.id]
        try:
            error = future.exception()
            if execution.aborted:
                self._record_abort(execution)
            elif isinstance(error, WorkerLostError):
                self._record_loss(execution, error)
            elif error is not None:
                log.error("job.execution_error", job_id=job.id, error=repr(error))
                self._fail_current(job.id, f"the worker could not run the job: {error}")
            self.repository.release(job.id, self.name)
            self._notify(job.id)
        except Exception:
            log.exception("dispatcher.finish_failed", job_id=job.id)
        self._wake.set()

    def _record_loss(self, execution: _Execution, error: WorkerLostError) -> None:
        job = execution.job
        current = self.repository.get(job.id)
        unstarted = (JobState.QUEUED, job.attempt)
        if current is not None and (current.state, current.attempt) == unstarted:
            # The worker died before it started the job: nothing ran, nothing charged.
            log.warning("job.worker_lost_before_start", job_id=job.id)
            return
        state = self.repository.record_lost(
            job.id, self.max_attempts, str(error), lease_owner=self.name
        )
        log.warning("job.worker_lost", job_id=job.id, now=str(state))

    def _notify(self, job_id: str) -> None:
        if self.on_finished is not None:
            finished = self.repository.get(job_id)
            if finished is not None:
                self.on_finished(finished)

    def _fail_current(self, job_id: str, message: str) -> None:
        current = self.repository.get(job_id)
        if current is not None and not current.state.final:
            self.repository.finish_failed(
                job_id, current.attempt, FailureReason.INTERNAL_ERROR, message
            )

    # ------------------------------------------------------------------ watch

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_seconds):
            try:
                self._supervise()
            except Exception as exc:
                log.warning("dispatcher.watch_failed", error=repr(exc))

    def _supervise(self) -> None:
        with self._lock:
            executions = [e for e in self._in_flight.values() if not e.future.done()]
        if not executions:
            return
        statuses = self.repository.attempt_statuses([e.job.id for e in executions])
        now = time.monotonic()
        for execution in executions:
            self._check(execution, statuses.get(execution.job.id), now)

    def _check(self, execution: _Execution, status: AttemptStatus | None, now: float) -> None:
        if execution.stop_reason is None:
            reason = self._stop_reason(execution, status, now)
            if reason is None:
                return
            execution.stop_reason, execution.stop_since = reason, now
            if reason == _StopReason.TIME_LIMIT:
                self._fail_time_limit(execution)  # the worker's token sees it and stops
            return
        grace = (
            _GONE_GRACE_SECONDS
            if execution.stop_reason == _StopReason.GONE
            else self.stop_grace_seconds
        )
        if not execution.aborted and now - execution.stop_since >= grace:
            self._abort(execution)

    def _stop_reason(
        self, execution: _Execution, status: AttemptStatus | None, now: float
    ) -> _StopReason | None:
        if status is None or status.attempt > execution.attempt:
            return _StopReason.GONE  # deleted, or superseded by a newer attempt
        if status.attempt < execution.attempt:
            return None  # the worker has not started it (yet)
        if status.state != JobState.RUNNING:
            return _StopReason.GONE  # this attempt ended; its worker is returning
        if execution.running_since is None:
            execution.running_since = now
        if status.cancel_requested:
            return _StopReason.CANCELLED
        if self._over_limit(execution, now):
            return _StopReason.TIME_LIMIT
        return None

    def _over_limit(self, execution: _Execution, now: float) -> bool:
        started = execution.running_since
        return started is not None and now - started >= execution.time_limit

    def _fail_time_limit(self, execution: _Execution) -> None:
        message = (
            f"stopped after running longer than the time limit of "
            f"{execution.time_limit:g} s; not retried"
        )
        job_id = execution.job.id
        if self.repository.finish_failed(
            job_id, execution.attempt, FailureReason.TIME_LIMIT, message
        ):
            log.warning("job.time_limit", job_id=job_id, seconds=execution.time_limit)

    def _abort(self, execution: _Execution) -> None:
        execution.aborted = True
        job_id = execution.job.id
        if not self.executor.abort(job_id):
            return
        log.warning("job.worker_aborted", job_id=job_id, reason=str(execution.stop_reason))
        self._record_abort(execution)

    def _record_abort(self, execution: _Execution) -> None:
        """Record what ended a killed worker's job (idempotent: guarded by the attempt)."""
        if execution.stop_reason == _StopReason.CANCELLED:
            self.repository.finish_cancelled(execution.job.id, execution.attempt)
        elif execution.stop_reason == _StopReason.TIME_LIMIT:
            self._fail_time_limit(execution)  # done when first seen, unless that write failed
