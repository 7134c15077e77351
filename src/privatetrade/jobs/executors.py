"""Executors: replaceable transports that run ``execute_job`` somewhere else.

::

    Executor (protocol)
    ├── LocalProcessExecutor   one single-process pool per slot on this machine
    └── DaskExecutor           tasks on a Dask ``distributed`` cluster

Both only carry a job id; the job row holds the state. A worker that dies shows
up as :class:`WorkerLostError` on that job's future and nowhere else.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from privatetrade.errors import ConfigurationError, JobError

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorState",
    "LocalProcessExecutor",
    "WorkerLostError",
    "create_executor",
]


_WORKER_NICENESS = 10


class WorkerLostError(JobError):
    """The process running a job died (killed, out of memory, crashed)."""


@dataclass(frozen=True, slots=True)
class ExecutorState:
    """What an executor reports about itself (health, status, metrics)."""

    kind: str
    healthy: bool
    workers: int
    busy: int
    detail: str = ""


class Executor(Protocol):
    """Runs jobs by id in worker processes."""

    def start(self) -> None:
        """Start (and warm up) the workers."""

    def free_slots(self) -> int:
        """Return how many more jobs can start now."""

    def submit(self, job_id: str) -> Future[str]:
        """Start ``execute_job(job_id, ...)``; the future gives the final state."""

    def state(self) -> ExecutorState:
        """Describe the executor."""

    def close(self) -> None:
        """Stop taking work; running jobs are abandoned (their leases expire)."""


def _init_worker() -> None:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    # Backtests yield the CPU to the web server: the API stays responsive under load.
    os.nice(_WORKER_NICENESS)
    if hasattr(os, "sched_setscheduler"):  # Linux: no wake-up preemption of the server
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    from privatetrade.logs import configure_logging

    configure_logging(
        level=os.environ.get("PRIVATETRADE_LOG_LEVEL", "info"),
        json_lines=os.environ.get("PRIVATETRADE_LOG_JSON", "true").lower() != "false",
    )
    from privatetrade.jobs.worker import warm_up

    warm_up()


def _run_job(job_id: str, database_url: str, data_dir: str) -> str:
    from privatetrade.jobs.worker import execute_job

    return execute_job(job_id, database_url, data_dir)


def _ping() -> int:
    return os.getpid()


class _Slot:
    """One worker process; a crash breaks only this slot, which is then rebuilt."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.pool: ProcessPoolExecutor | None = None
        self.busy = False

    def ensure_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker)
        return self.pool

    def discard(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


class LocalProcessExecutor:
    """A pool of worker processes on this machine (the default executor)."""

    def __init__(self, workers: int, database_url: str, data_dir: str) -> None:
        self._slots = [_Slot(index) for index in range(workers)]
        self._database_url = database_url
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._closed = False
        self._restarts = 0

    def start(self) -> None:
        """Spawn every worker process; they warm up in the background."""
        for slot in self._slots:
            slot.ensure_pool().submit(_ping)

    def free_slots(self) -> int:
        """Return idle worker processes."""
        with self._lock:
            return 0 if self._closed else sum(not slot.busy for slot in self._slots)

    def submit(self, job_id: str) -> Future[str]:
        """Run the job on an idle worker process."""
        with self._lock:
            if self._closed:
                raise JobError("the executor is closed")
            slot = next((slot for slot in self._slots if not slot.busy), None)
            if slot is None:
                raise JobError("no idle worker")
            slot.busy = True
            pool = slot.ensure_pool()
        outcome: Future[str] = Future()
        try:
            inner = pool.submit(_run_job, job_id, self._database_url, self._data_dir)
        except BrokenProcessPool:
            self._finish(slot, outcome, None, WorkerLostError("worker process is gone"))
            return outcome
        inner.add_done_callback(lambda done: self._completed(slot, outcome, done))
        return outcome

    def _completed(self, slot: _Slot, outcome: Future[str], done: Future[str]) -> None:
        error = done.exception()
        if isinstance(error, BrokenProcessPool):
            error = WorkerLostError("the worker process died while running the job")
        self._finish(slot, outcome, None if error else done.result(), error)

    def _finish(
        self, slot: _Slot, outcome: Future[str], value: str | None, error: BaseException | None
    ) -> None:
        with self._lock:
            if isinstance(error, WorkerLostError):
                slot.discard()
                self._restarts += 1
                if not self._closed:
                    slot.ensure_pool().submit(_ping)  # respawn and warm up now
            slot.busy = False
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(value or "")

    def state(self) -> ExecutorState:
        """Describe the pool."""
        with self._lock:
            busy = sum(slot.busy for slot in self._slots)
            return ExecutorState(
                kind="local",
                healthy=not self._closed,
                workers=len(self._slots),
                busy=busy,
                detail=f"{self._restarts} worker restarts",
            )

    def close(self) -> None:
        """Stop the worker processes (running jobs are resumed after a restart)."""
        with self._lock:
            self._closed = True
            slots = list(self._slots)
        for slot in slots:
            if slot.pool is not None:
                for process in list(getattr(slot.pool, "_processes", {}).values()):
                    process.terminate()
            slot.discard()


class DaskExecutor:
    """Runs jobs as tasks on a Dask ``distributed`` cluster."""

    def __init__(self, scheduler: str, database_url: str, data_dir: str) -> None:
        self._scheduler = scheduler
        self._database_url = database_url
        self._data_dir = data_dir
        self._client: Any = None
        self._running = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Connect to the scheduler."""
        try:
            from distributed import Client
        except ImportError as exc:
            raise ConfigurationError(
                "the dask executor needs the 'dask' extra: pip install 'privatetrade[dask]'",
                field="executor",
            ) from exc
        try:
            self._client = Client(  # type: ignore[no-untyped-call]
                self._scheduler, timeout="10s", set_as_default=False
            )
        except OSError as exc:
            raise ConfigurationError(
                f"cannot reach the Dask scheduler at {self._scheduler}: {exc}",
                field="dask_scheduler",
            ) from exc

    def _capacity(self) -> int:
        try:
            info = self._client.scheduler_info(n_workers=-1)
        except Exception:
            return 0
        return sum(int(worker.get("nthreads", 1)) for worker in info.get("workers", {}).values())

    def free_slots(self) -> int:
        """Return the cluster's threads not busy with our jobs."""
        if self._client is None:
            return 0
        with self._lock:
            running = self._running
        return max(self._capacity() - running, 0)

    def submit(self, job_id: str) -> Future[str]:
        """Submit the job as a Dask task (not retried by the scheduler beyond its limit)."""
        outcome: Future[str] = Future()
        task = self._client.submit(
            _run_job, job_id, self._database_url, self._data_dir, pure=False, key=f"job-{job_id}"
        )
        with self._lock:
            self._running += 1
        task.add_done_callback(lambda done: self._completed(outcome, done))
        return outcome

    def _completed(self, outcome: Future[str], task: Any) -> None:
        from distributed.scheduler import KilledWorker

        with self._lock:
            self._running -= 1
        try:
            outcome.set_result(task.result())
        except KilledWorker as exc:
            outcome.set_exception(WorkerLostError(f"Dask workers died running it: {exc}"))
        except Exception as exc:
            outcome.set_exception(exc)

    def state(self) -> ExecutorState:
        """Describe the cluster."""
        if self._client is None:
            return ExecutorState("dask", False, 0, 0, "not connected")
        try:
            info = self._client.scheduler_info(n_workers=-1)
        except Exception as exc:
            return ExecutorState("dask", False, 0, 0, f"scheduler unreachable: {exc}")
        workers = len(info.get("workers", {}))
        with self._lock:
            running = self._running
        return ExecutorState("dask", workers > 0, workers, running, self._scheduler)

    def close(self) -> None:
        """Disconnect from the scheduler."""
        if self._client is not None:
            self._client.close()
            self._client = None


def create_executor(
    kind: str, *, workers: int, database_url: str, data_dir: str, scheduler: str | None
) -> Executor:
    """Build the configured executor.

    Raises:
        ConfigurationError: ``dask`` without a scheduler address, or an unknown kind.
    """
    if kind == "local":
        return LocalProcessExecutor(workers, database_url, data_dir)
    if kind == "dask":
        if not scheduler:
            raise ConfigurationError(
                "executor 'dask' needs PRIVATETRADE_DASK_SCHEDULER (tcp://host:8786)",
                field="dask_scheduler",
            )
        return DaskExecutor(scheduler, database_url, data_dir)
    raise ConfigurationError(f"unknown executor {kind!r}", field="executor")
