"""Executors: replaceable transports that run ``execute_job`` somewhere else.

::

    Executor (protocol)
    ├── LocalProcessExecutor   one single-process pool per slot on this machine
    └── DaskExecutor           tasks on a Dask ``distributed`` cluster

Both only carry a job id; the job row holds the state. A worker that dies shows
up as :class:`WorkerLostError` on that job's future and nowhere else; a worker the
dispatcher aborts (cancelled, over its time limit) dies the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

import structlog

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
_SUBMIT_TRIES = 3
# A worker's warm-up loads the engine's compiled kernels: about a second when numba's cache
# holds them (./dev builds it at install), half a minute when it compiles them. Until one
# warm-up was seen, estimates assume the cache.
_EXPECTED_WARM_UP_SECONDS = 3.0
_MIN_WAIT_ESTIMATE_SECONDS = 1.0
_STOP_SECONDS = 5.0  # a worker's time to end after SIGTERM before it is killed
log = structlog.get_logger("privatetrade.executor")


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

    def abort(self, job_id: str) -> bool:
        """Stop the worker running ``job_id`` now, without its cooperation.

        The job's future then fails; the caller records the job's outcome. Returns
        False when nothing was stopped (the job is not running here any more).
        """

    def replace_dead_workers(self) -> int:
        """Replace idle workers that died; return how many (0 where not applicable)."""

    def seconds_until_ready(self) -> float:
        """Estimate how long a job submitted now waits for its worker to finish starting.

        0 when an idle worker is ready (or when the executor cannot tell).
        """

    def state(self) -> ExecutorState:
        """Describe the executor."""

    def close(self) -> None:
        """Stop taking work; running jobs are abandoned (their leases expire)."""


def _init_worker(parent_pid: int) -> None:
    from privatetrade.jobs.lifeline import exit_with_parent

    exit_with_parent(parent_pid)  # first: a worker never outlives its server
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
        self.job_id: str | None = None
        self.warm_up: Future[int] | None = None  # its process's first task: done once warm
        self.spawned_at = 0.0  # monotonic

    @property
    def busy(self) -> bool:
        return self.job_id is not None

    def process(self) -> BaseProcess | None:
        """The worker process (None before the pool spawned it)."""
        processes = getattr(self.pool, "_processes", None) or {}
        return next(iter(list(processes.values())), None)

    def ready(self) -> bool:
        """True when its worker process has warmed up and is alive."""
        return self.warm_up is not None and self.warm_up.done() and self.alive()

    def warming(self) -> bool:
        """True while its live worker process loads the engine."""
        return self.warm_up is not None and not self.warm_up.done() and self.alive()

    def alive(self) -> bool:
        """True while the pool can take work: not broken and its process not exited."""
        if self.pool is None or getattr(self.pool, "_broken", False):
            return False
        process = self.process()
        return process is None or not _exited(process)

    def discard(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


def _exited(process: BaseProcess) -> bool:
    """True once the process ended (its sentinel is readable); never reaps it."""
    try:
        return bool(wait([process.sentinel], timeout=0))
    except (ValueError, OSError):  # closed or never started
        return True


class LocalProcessExecutor:
    """A pool of worker processes on this machine (the default executor).

    Every worker process is forked by one spawner thread that lives as long as the
    executor, because Linux's parent-death signal (which ends a worker when its server
    dies, see :mod:`privatetrade.jobs.lifeline`) fires when the forking *thread*
    exits. A worker found dead before a job is handed to it is replaced first, so an
    idle worker's death never costs a job an attempt.
    """

    def __init__(self, workers: int, database_url: str, data_dir: str) -> None:
        self._slots = [_Slot(index) for index in range(workers)]
        self._database_url = database_url
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._closed = False
        self._restarts = 0
        self._warm_up_seconds = _EXPECTED_WARM_UP_SECONDS  # the last one seen
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="worker-spawner")

    def start(self) -> None:
        """Spawn every worker process; they warm up in the background."""
        for slot in self._slots:
            self._on_spawner(slot)

    def free_slots(self) -> int:
        """Return idle worker processes."""
        with self._lock:
            return 0 if self._closed else sum(not slot.busy for slot in self._slots)

    def submit(self, job_id: str) -> Future[str]:
        """Run the job on an idle worker process (replacing it first if it died idle)."""
        with self._lock:
            if self._closed:
                raise JobError("the executor is closed")
            idle = [slot for slot in self._slots if not slot.busy]
            if not idle:
                raise JobError("no idle worker")
            slot = next((slot for slot in idle if slot.ready()), idle[0])
            slot.job_id = job_id
        outcome: Future[str] = Future()
        try:
            inner = self._submit_to_live_worker(slot, job_id)
        except BaseException:
            with self._lock:
                slot.job_id = None
            raise
        if inner is None:
            self._finish(slot, outcome, None, WorkerLostError("the worker process is gone"))
        else:
            inner.add_done_callback(lambda done: self._completed(slot, outcome, done))
        return outcome

    def _submit_to_live_worker(self, slot: _Slot, job_id: str) -> Future[str] | None:
        for _ in range(_SUBMIT_TRIES):
            pool = self._on_spawner(slot)
            try:
                return pool.submit(_run_job, job_id, self._database_url, self._data_dir)
            except BrokenProcessPool:
                continue  # it died between the check and the submit: replace it again
        return None

    def _on_spawner(self, slot: _Slot) -> ProcessPoolExecutor:
        """Give the slot a live worker process, forked on the spawner thread."""
        return self._spawner.submit(self._ensure_alive, slot).result()

    def _ensure_alive(self, slot: _Slot) -> ProcessPoolExecutor:
        # Runs on the spawner thread only: the first submit of a pool forks its process.
        with self._lock:
            if self._closed:
                raise JobError("the executor is closed")
            if slot.pool is not None and slot.alive():
                return slot.pool
            if slot.pool is not None:
                slot.discard()
                self._restarts += 1
                log.warning("executor.worker_replaced", slot=slot.index, busy=slot.busy)
            context = multiprocessing.get_context("spawn")
            slot.pool = ProcessPoolExecutor(
                1, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
            )
            slot.spawned_at = time.monotonic()
            slot.warm_up = slot.pool.submit(_ping)  # fork now, on this thread, and warm up
            slot.warm_up.add_done_callback(lambda done: self._warmed(slot, done))
            return slot.pool

    def _warmed(self, slot: _Slot, done: Future[int]) -> None:
        # On the pool's thread; no lock: the spawner may hold it while this runs.
        if slot.warm_up is done and done.exception() is None:
            seconds = time.monotonic() - slot.spawned_at
            self._warm_up_seconds = seconds
            log.info("executor.worker_ready", slot=slot.index, seconds=round(seconds, 2))

    def seconds_until_ready(self) -> float:
        """Estimate the wait for the idle worker that warms up soonest (0: one is ready).

        The estimate is the last warm-up's duration minus the time the oldest warm-up
        under way has run (a worker still to be started has not begun), and at least a
        second while none has finished.
        """
        with self._lock:
            idle = [slot for slot in self._slots if not slot.busy]
            if self._closed or not idle or any(slot.ready() for slot in idle):
                return 0.0
            now = time.monotonic()
            elapsed = max((now - slot.spawned_at for slot in idle if slot.warming()), default=0.0)
            return max(self._warm_up_seconds - elapsed, _MIN_WAIT_ESTIMATE_SECONDS)

    def replace_dead_workers(self) -> int:
        """Replace idle worker processes that died (killed, out of memory); return how many."""
        with self._lock:
            if self._closed:
                return 0
            idle = [slot for slot in self._slots if not slot.busy and not slot.alive()]
            dead = sum(slot.pool is not None for slot in idle)  # the rest await a respawn
            for slot in idle:
                self._spawner.submit(self._ensure_alive, slot)
        return dead

    def abort(self, job_id: str) -> bool:
        """Kill the worker process running ``job_id`` (its future fails: WorkerLostError).

        Returns False when no worker runs that job (any more).
        """
        with self._lock:
            slot = next((slot for slot in self._slots if slot.job_id == job_id), None)
            process = None if slot is None else slot.process()
            if process is None or _exited(process):
                return False
            process.kill()
        log.warning("executor.worker_killed", job_id=job_id, pid=process.pid)
        return True

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
                    self._spawner.submit(self._ensure_alive, slot)  # respawn and warm up now
            slot.job_id = None
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
        """Stop the worker processes (running jobs are resumed after a restart).

        Each pool is shut down once its process ended, so its queues' locks (named
        semaphores) are released now, not reported as leaked when the server exits.
        """
        with self._lock:
            self._closed = True
            pools = [slot.pool for slot in self._slots if slot.pool is not None]
            processes = [slot.process() for slot in self._slots]
            for slot in self._slots:
                slot.pool = None
        _stop_processes([process for process in processes if process is not None])
        for pool in pools:  # not under the lock: its thread runs callbacks that take it
            pool.shutdown(wait=True, cancel_futures=True)
        self._spawner.shutdown(wait=False, cancel_futures=True)


def _stop_processes(processes: list[BaseProcess]) -> None:
    """Terminate the processes; kill those still running after a few seconds."""
    running = [process for process in processes if not _exited(process)]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + _STOP_SECONDS
    while running and time.monotonic() < deadline:
        wait([process.sentinel for process in running], timeout=deadline - time.monotonic())
        running = [process for process in running if not _exited(process)]
    for process in running:
        process.kill()


class DaskExecutor:
    """Runs jobs as tasks on a Dask ``distributed`` cluster."""

    def __init__(self, scheduler: str, database_url: str, data_dir: str) -> None:
        self._scheduler = scheduler
        self._database_url = database_url
        self._data_dir = data_dir
        self._client: Any = None
        self._tasks: dict[str, Any] = {}
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
            running = len(self._tasks)
        return max(self._capacity() - running, 0)

    def submit(self, job_id: str) -> Future[str]:
        """Submit the job as a Dask task (not retried by the scheduler beyond its limit)."""
        outcome: Future[str] = Future()
        task = self._client.submit(
            _run_job, job_id, self._database_url, self._data_dir, pure=False, key=f"job-{job_id}"
        )
        with self._lock:
            self._tasks[job_id] = task
        task.add_done_callback(lambda done: self._completed(job_id, outcome, done))
        return outcome

    def abort(self, job_id: str) -> bool:
        """Cancel the job's task (best effort).

        Dask cannot interrupt a task that already runs: it goes on until the job's
        cancel token sees the row the dispatcher wrote, but its future ends now.
        """
        with self._lock:
            task = self._tasks.get(job_id)
        if task is None or self._client is None:
            return False
        try:
            self._client.cancel(task)
        except Exception:
            return False
        return True

    def replace_dead_workers(self) -> int:
        """Dask replaces its own workers: nothing to do."""
        return 0

    def seconds_until_ready(self) -> float:
        """Dask workers start on their own: 0 (unknown here)."""
        return 0.0

    def _completed(self, job_id: str, outcome: Future[str], task: Any) -> None:
        from distributed.scheduler import KilledWorker

        with self._lock:
            if self._tasks.get(job_id) is task:
                del self._tasks[job_id]
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
            running = len(self._tasks)
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
