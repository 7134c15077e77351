"""The dispatcher's watch of running jobs, with real worker processes and real SQLite.

A job past its time limit fails (``time_limit``) and a cancelled job ends cancelled;
with a long grace the worker stops by itself (its cancel token reads the job row), so
no worker is killed. A job that server restarts keep interrupting is not started
again forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from job_workspace import Workspace

from privatetrade.domain.jobs import FailureReason, Job, JobState
from privatetrade.jobs.dispatcher import Dispatcher
from privatetrade.jobs.executors import LocalProcessExecutor

pytestmark = pytest.mark.slow

MAX_ATTEMPTS = 3
DispatcherFactory = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(workspace: Workspace) -> Iterator[DispatcherFactory]:
    made: list[Dispatcher] = []

    def make(**options: object) -> Dispatcher:
        executor = LocalProcessExecutor(1, workspace.database_url, str(workspace.data_dir))
        executor.start()
        dispatcher = Dispatcher(
            workspace.repository,
            executor,
            lease_seconds=10.0,
            max_attempts=MAX_ATTEMPTS,
            poll_seconds=0.1,
            **options,  # type: ignore[arg-type]
        )
        made.append(dispatcher)
        dispatcher.start()
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.stop()


def final(workspace: Workspace, job_id: str, timeout: float = 120.0) -> Job:
    return workspace.poll(
        lambda: job if (job := workspace.job(job_id)).state.final else None,
        timeout,
        f"job {job_id} to end",
    )


def idle(workspace: Workspace, dispatcher: Dispatcher) -> None:
    """Wait until the executor's one worker is free (its execution returned)."""
    workspace.poll(
        lambda: True if dispatcher.executor.free_slots() == 1 else None, 60.0, "an idle worker"
    )


def test_job_over_its_time_limit_fails_and_its_worker_stops_by_itself(
    workspace: Workspace, make_dispatcher: DispatcherFactory
) -> None:
    dispatcher = make_dispatcher(time_limit=lambda kind: 0.5, stop_grace_seconds=60.0)
    job_id = workspace.new_job(long=True)
    dispatcher.wake()

    job = final(workspace, job_id)
    assert job.state is JobState.FAILED
    assert job.reason is FailureReason.TIME_LIMIT
    assert (job.attempt, job.lost_attempts) == (1, 0)
    assert job.error is not None
    assert "time limit of 0.5 s" in job.error
    idle(workspace, dispatcher)
    assert dispatcher.executor.state().detail == "0 worker restarts"  # nothing was killed

    # The kind's limit applies to every job of that kind; the worker is free for them.
    dispatcher.time_limit = lambda kind: 60.0
    after = workspace.new_job()
    dispatcher.wake()
    assert final(workspace, after).state is JobState.SUCCEEDED
    assert workspace.job(job_id).attempt == 1  # never retried


def test_cancelled_job_is_stopped_by_its_own_worker_within_the_grace(
    workspace: Workspace, make_dispatcher: DispatcherFactory
) -> None:
    dispatcher = make_dispatcher(stop_grace_seconds=60.0)
    job_id = workspace.new_job(long=True)
    dispatcher.wake()
    workspace.poll(
        lambda: True if workspace.job(job_id).state is JobState.RUNNING else None,
        60.0,
        "the job to run",
    )

    assert workspace.repository.request_cancel(job_id) is not None
    job = final(workspace, job_id)
    assert job.state is JobState.CANCELLED
    assert (job.attempt, job.lost_attempts) == (1, 0)
    idle(workspace, dispatcher)
    assert dispatcher.executor.state().detail == "0 worker restarts"


def test_job_interrupted_by_every_restart_fails_instead_of_starting_again(
    workspace: Workspace, make_dispatcher: DispatcherFactory
) -> None:
    repository = workspace.repository
    worn_out, survivor = workspace.new_job(), workspace.new_job()
    # Servers that stopped while the jobs ran: each start was requeued uncounted.
    for restart in range(MAX_ATTEMPTS):
        claimed = {job.id for job in repository.claim("stopping-server", 2, 10.0)}
        assert claimed == {worn_out, survivor}
        started = [worn_out] if restart == MAX_ATTEMPTS - 1 else [worn_out, survivor]
        for job_id in started:
            assert repository.start_attempt(job_id, "host:1") is not None
        assert repository.requeue_abandoned("stopping-server", sorted(claimed)) == 2

    make_dispatcher()

    failed = final(workspace, worn_out)
    assert failed.state is JobState.FAILED
    assert failed.reason is FailureReason.TIME_LIMIT
    assert failed.attempt == MAX_ATTEMPTS  # not started a fourth time
    assert failed.error is not None
    assert f"interrupted by {MAX_ATTEMPTS} server restarts" in failed.error
    ran = final(workspace, survivor)
    assert ran.state is JobState.SUCCEEDED
    assert ran.attempt == MAX_ATTEMPTS
