"""Jobs handed to workers that are still starting, with real processes and real SQLite.

The executor estimates the wait while its workers load the engine and reports none
once one is ready; a job goes to a ready worker before a starting one; the dispatcher
shows a job that waits for starting workers as ``waiting_for_workers`` with the time
left, and the job then runs as usual.
"""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest
from job_workspace import Workspace

from privatetrade.domain.jobs import WAITING_FOR_WORKERS, Job, JobState
from privatetrade.jobs.dispatcher import Dispatcher
from privatetrade.jobs.executors import LocalProcessExecutor

pytestmark = pytest.mark.slow

WARM_UP_TIMEOUT_S = 120.0


@pytest.fixture
def executor(workspace: Workspace) -> Iterator[LocalProcessExecutor]:
    executor = LocalProcessExecutor(2, workspace.database_url, str(workspace.data_dir))
    yield executor
    executor.close()


def ready(workspace: Workspace, executor: LocalProcessExecutor) -> None:
    workspace.poll(
        lambda: True if executor.seconds_until_ready() == 0.0 else None,
        WARM_UP_TIMEOUT_S,
        "a worker to finish warming up",
    )


def final(workspace: Workspace, job_id: str) -> Job:
    return workspace.poll(
        lambda: job if (job := workspace.job(job_id)).state.final else None,
        WARM_UP_TIMEOUT_S,
        f"job {job_id} to end",
    )


def test_the_wait_is_estimated_while_workers_start_and_none_once_one_is_ready(
    workspace: Workspace, executor: LocalProcessExecutor
) -> None:
    assert executor.seconds_until_ready() >= 1.0  # nothing spawned yet: all will start
    executor.start()
    # Starting a worker imports the engine and loads its compiled kernels: never instant.
    assert executor.seconds_until_ready() >= 1.0
    ready(workspace, executor)
    job_id = workspace.new_job()
    assert executor.submit(job_id).result(timeout=WARM_UP_TIMEOUT_S) == "succeeded"
    assert executor.seconds_until_ready() == 0.0


def test_a_job_goes_to_the_ready_worker_while_another_one_starts(
    workspace: Workspace, executor: LocalProcessExecutor
) -> None:
    executor.start()
    # Two jobs at once: both workers have warmed up once they return.
    first, second = (workspace.new_job() for _ in range(2))
    futures = [executor.submit(job_id) for job_id in (first, second)]
    assert [future.result(timeout=WARM_UP_TIMEOUT_S) for future in futures] == ["succeeded"] * 2
    killed, survivor = (_pid(workspace.job(job_id)) for job_id in (first, second))
    assert killed != survivor
    psutil.Process(killed).kill()
    workspace.poll(lambda: True if _gone(killed) else None, 10.0, "the killed worker to exit")
    workspace.poll(  # its slot starts a new worker (once the pool saw the death)
        lambda: True if executor.replace_dead_workers() == 1 else None, 10.0, "a replacement"
    )
    assert executor.seconds_until_ready() == 0.0  # the other worker is ready

    job_id = workspace.new_job()
    assert executor.submit(job_id).result(timeout=WARM_UP_TIMEOUT_S) == "succeeded"
    assert _pid(workspace.job(job_id)) == survivor  # not the one still starting


def test_a_job_waiting_for_starting_workers_says_so_then_runs(
    workspace: Workspace, executor: LocalProcessExecutor
) -> None:
    dispatcher = Dispatcher(
        workspace.repository, executor, lease_seconds=10.0, max_attempts=3, poll_seconds=0.1
    )
    job_id = workspace.new_job()
    dispatcher.start()  # the executor's workers start with the job's hand-over
    try:
        waiting = workspace.poll(
            lambda: job if (job := workspace.job(job_id)).stage != "queued" else None,
            WARM_UP_TIMEOUT_S,
            "the dispatcher to take the job",
        )
        # Either seen while it waits, or already started: the estimate stays on the row.
        assert waiting.stage in {WAITING_FOR_WORKERS, "starting", "simulating", "done"}
        if waiting.stage == WAITING_FOR_WORKERS:
            assert waiting.state is JobState.QUEUED
            seconds_left = waiting.seconds_left(waiting.updated_at or waiting.created_at)
            assert seconds_left is not None
            assert seconds_left > 0
        job = final(workspace, job_id)
        assert (job.state, job.attempt, job.lost_attempts) == (JobState.SUCCEEDED, 1, 0)
        assert job.workers_ready_at is not None  # it was shown as waiting
        assert job.seconds_left(job.workers_ready_at) is None  # not waiting any more
    finally:
        dispatcher.stop()


def _pid(job: Job) -> int:
    return int(str(job.worker).rpartition(":")[2])


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
