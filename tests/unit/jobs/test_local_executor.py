"""The local process executor with real worker processes and a real SQLite database.

Idle workers that died are replaced without costing a job anything, ``abort`` kills
exactly the worker running a job, and no worker (nor the resource tracker) outlives
the process that started it, whichever thread replaced it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
from job_workspace import Workspace

from privatetrade.domain.jobs import JobState
from privatetrade.jobs.executors import LocalProcessExecutor, WorkerLostError

pytestmark = pytest.mark.slow

ExecutorFactory = Callable[[int], LocalProcessExecutor]


@pytest.fixture
def make_executor(workspace: Workspace) -> Iterator[ExecutorFactory]:
    made: list[LocalProcessExecutor] = []

    def make(workers: int) -> LocalProcessExecutor:
        executor = LocalProcessExecutor(workers, workspace.database_url, str(workspace.data_dir))
        made.append(executor)
        executor.start()
        return executor

    yield make
    for executor in made:
        executor.close()


def own_workers() -> set[psutil.Process]:
    """Live worker processes started by this (test) process."""
    return {
        child
        for child in psutil.Process().children()
        if alive(child) and "spawn_main" in " ".join(child.cmdline())
    }


def alive(process: psutil.Process) -> bool:
    """True while it runs (a zombie nobody reaped yet counts as dead); never reaps it."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(pid: int) -> bool:
    try:
        return not alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


def new_workers(
    workspace: Workspace, before: set[psutil.Process], count: int
) -> set[psutil.Process]:
    return workspace.poll(
        lambda: found if len(found := own_workers() - before) == count else None,
        30.0,
        f"{count} new worker processes",
    )


def kill_and_wait(workspace: Workspace, processes: set[psutil.Process]) -> None:
    for process in processes:
        process.kill()
    workspace.poll(
        lambda: True if not any(alive(p) for p in processes) else None, 10.0, "workers to die"
    )


def test_a_worker_that_died_idle_is_replaced_before_it_gets_a_job(
    workspace: Workspace, make_executor: ExecutorFactory
) -> None:
    before = own_workers()
    executor = make_executor(1)
    kill_and_wait(workspace, new_workers(workspace, before, 1))

    job_id = workspace.new_job()
    assert executor.submit(job_id).result(timeout=120) == "succeeded"
    job = workspace.job(job_id)
    assert (job.state, job.attempt, job.lost_attempts) == (JobState.SUCCEEDED, 1, 0)
    assert executor.state().detail == "1 worker restarts"


def test_dead_idle_workers_are_replaced_without_a_job(
    workspace: Workspace, make_executor: ExecutorFactory
) -> None:
    before = own_workers()
    executor = make_executor(2)
    first = new_workers(workspace, before, 2)
    kill_and_wait(workspace, first)

    assert executor.replace_dead_workers() == 2
    replacements = new_workers(workspace, before | first, 2)
    assert not replacements & first
    assert executor.replace_dead_workers() == 0  # all alive again
    assert executor.state().detail == "2 worker restarts"


def test_abort_kills_the_worker_running_the_job_and_the_slot_recovers(
    workspace: Workspace, make_executor: ExecutorFactory
) -> None:
    executor = make_executor(1)
    job_id = workspace.new_job(long=True)
    future = executor.submit(job_id)
    running = workspace.poll(
        lambda: job if (job := workspace.job(job_id)).state is JobState.RUNNING else None,
        60.0,
        "the job to run",
    )
    pid = int(str(running.worker).rpartition(":")[2])

    assert executor.abort(job_id) is True
    with pytest.raises(WorkerLostError):
        future.result(timeout=10)
    workspace.poll(lambda: True if gone(pid) else None, 10.0, "the killed worker to exit")
    assert executor.abort(job_id) is False  # nothing runs it any more
    # The executor records nothing: the dispatcher decides what the job's outcome is.
    assert workspace.job(job_id).state is JobState.RUNNING

    # The slot got a fresh process (forked by the spawner thread, so it survives the
    # exit of the pool thread that reported the death) and runs the next job.
    after = workspace.new_job()
    assert executor.submit(after).result(timeout=120) == "succeeded"
    assert executor.state().detail == "1 worker restarts"


_PARENT = """
import sys, threading, time
import psutil
from privatetrade.jobs.executors import LocalProcessExecutor

executor = LocalProcessExecutor(2, sys.argv[1], sys.argv[2])

def is_worker(child):
    # A worker killed a moment ago is a zombie until reaped: psutil then refuses its
    # command line (ZombieProcess), or it is gone (NoSuchProcess).
    try:
        return ("spawn_main" in " ".join(child.cmdline())
                and child.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False

def workers():
    return [c for c in psutil.Process().children() if is_worker(c)]

def niceness(child):
    try:
        return child.nice()
    except psutil.Error:
        return None

DEADLINE = time.monotonic() + 240

def until(check, what):
    while not (found := check()):
        if time.monotonic() > DEADLINE:
            print("gave up waiting for", what, flush=True)
            sys.exit(3)
        time.sleep(0.02)
    return found

def initialized():
    # The initializer sets the parent-death signal, then lowers its priority (nice 10).
    return len([w for w in workers() if niceness(w) == 10]) == 2

def in_thread(action):
    # Act on a thread that lives until the workers are initialized, then exits: Linux
    # sends the parent-death signal when the thread that forked a worker exits.
    thread = threading.Thread(target=action)
    thread.start()
    thread.join()

def replace_until_initialized():
    # As the dispatcher does on every poll: a replacement that died while starting
    # is itself replaced by a later call.
    until(lambda: executor.replace_dead_workers() >= 0 and initialized(), "two workers again")

in_thread(lambda: (executor.start(), until(initialized, "two workers")))
victim = workers()[0]
victim.kill()
until(lambda: not victim.is_running() or victim.status() == psutil.STATUS_ZOMBIE, "the kill")
in_thread(replace_until_initialized)
print("pids:", *(c.pid for c in psutil.Process().children()), flush=True)
time.sleep(600)
"""


def test_workers_and_resource_tracker_exit_when_their_parent_is_killed(
    workspace: Workspace,
) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_PARENT),
            workspace.database_url,
            str(workspace.data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    children: list[psutil.Process] = []
    try:
        assert parent.stdout is not None
        line = ""
        while not line.startswith("pids:"):  # log lines come first
            line = parent.stdout.readline()  # the parent gives up after 240 s and says so
            assert line, "the parent exited early"
            assert not line.startswith("gave up"), line
        children = [psutil.Process(int(pid)) for pid in line.split()[1:]]
        assert len(children) == 3  # two workers and the resource tracker
        # The threads that started and replaced workers are gone; the workers live on
        # (a parent-death signal tied to those threads would have killed them by now).
        watched_until = time.monotonic() + 0.5
        while time.monotonic() < watched_until:
            assert all(alive(child) for child in children)
            time.sleep(0.05)

        os.kill(parent.pid, 9)
        parent.wait(10)
        workspace.poll(
            lambda: True if not any(alive(c) for c in children) else None,
            5.0,
            "every child of the killed parent to exit",
        )
    finally:
        parent.kill()
        parent.wait(10)
        for child in children:
            if alive(child):
                child.kill()
