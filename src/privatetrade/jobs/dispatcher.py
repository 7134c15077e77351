"""The dispatcher: claims queued jobs from the database and hands them to an executor.

It runs on a thread of the server process (never on the event loop). Each server
process has one; several can share a database, because a claim is a lease written
in one transaction. Housekeeping (renewing leases of running jobs, requeueing jobs
whose server died) is part of the same loop, so recovery is just normal start-up.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future

import structlog

from privatetrade.db.jobs import JobRepository
from privatetrade.domain.jobs import FailureReason, Job
from privatetrade.jobs.executors import Executor, WorkerLostError

__all__ = ["Dispatcher"]

log = structlog.get_logger("privatetrade.dispatcher")


class Dispatcher:
    """Moves jobs from the queue (the jobs table) to the executor."""

    def __init__(
        self,
        repository: JobRepository,
        executor: Executor,
        *,
        lease_seconds: float,
        max_attempts: int,
        max_running_per_owner: int | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.repository = repository
        self.executor = executor
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.max_running_per_owner = max_running_per_owner
        self.poll_seconds = poll_seconds
        self.name = f"dispatcher-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._in_flight: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.on_finished: Callable[[Job], None] | None = None

    def start(self) -> None:
        """Start the dispatch loop on a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for queued work now (called after a job was committed)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming and stop the executor; running jobs go back to the queue.

        They run again on the next start (or on another server sharing the database).
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            abandoned = list(self._in_flight)
            self._in_flight.clear()
        self.executor.close()
        requeued = self.repository.requeue_abandoned(self.name, abandoned)
        if requeued:
            log.info("jobs.requeued_on_shutdown", count=requeued)

    def _loop(self) -> None:
        next_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_housekeeping:
                    self._housekeeping()
                    next_housekeeping = now + self.lease_seconds / 3.0
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
        try:
            future = self.executor.submit(job.id)
        except Exception:
            log.exception("dispatcher.submit_failed", job_id=job.id)
            self.repository.release(job.id, self.name)
            return
        with self._lock:
            self._in_flight[job.id] = future
        future.add_done_callback(lambda done: self._finished(job, done))

    def _finished(self, job: Job, future: Future[str]) -> None:
        with self._lock:
            if self._in_flight.get(job.id) is not future:
                # Abandoned at shutdown (requeued by stop()), or a stale execution whose
                # lease expired and whose job this dispatcher claimed again since.
                return
            del self._in_flight[job.id]
        try:
            error = future.exception()
            if isinstance(error, WorkerLostError):
                state = self.repository.record_lost(
                    job.id, self.max_attempts, str(error), lease_owner=self.name
                )
                log.warning("job.worker_lost", job_id=job.id, now=str(state))
            elif error is not None:
                log.error("job.execution_error", job_id=job.id, error=repr(error))
                self._fail_current(job.id, f"the worker could not run the job: {error}")
            self.repository.release(job.id, self.name)
            if self.on_finished is not None:
                finished = self.repository.get(job.id)
                if finished is not None:
                    self.on_finished(finished)
        except Exception:
            log.exception("dispatcher.finish_failed", job_id=job.id)
        self._wake.set()

    def _fail_current(self, job_id: str, message: str) -> None:
        current = self.repository.get(job_id)
        if current is not None and not current.state.final:
            self.repository.finish_failed(
                job_id, current.attempt, FailureReason.INTERNAL_ERROR, message
            )
