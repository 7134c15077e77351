"""execute_job in this process, on a SQLite file and the sample data: what a worker leaves.

A succeeded job's three artifacts are files whose checksums the database records; an
attempt that was superseded or cancelled leaves no file at all. The in-process run is
the same function the worker processes call (no executor, no server).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from job_workspace import Workspace

from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.jobs import JobResults
from privatetrade.domain.jobs import FailureReason, Job, JobState
from privatetrade.domain.specs import BacktestSpec
from privatetrade.jobs.worker import execute_job

MAX_ATTEMPTS = 3
ARTIFACT_NAMES = ["equity.csv", "result.json", "trades.csv"]


def execute(workspace: Workspace, job_id: str) -> str:
    return execute_job(job_id, workspace.database_url, str(workspace.data_dir))


@contextmanager
def executing(workspace: Workspace, job_id: str) -> Iterator[Future[str]]:
    """Run the job in a thread of this process while the test acts on its row."""
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(execute, workspace, job_id)


def files_of(workspace: Workspace) -> ArtifactFiles:
    return ArtifactFiles.in_data_dir(workspace.data_dir)


def job_files(workspace: Workspace, job_id: str) -> list[str]:
    folder = files_of(workspace).root / job_id
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def serializing(workspace: Workspace, job_id: str) -> Job:
    """Wait until the worker reports ``saving`` (LONG's documents take seconds to render)."""

    def saving() -> Job | None:
        job = workspace.job(job_id)
        assert not job.state.final, job  # it must not get past saving unseen
        return job if job.stage == "saving" else None

    return workspace.poll(saving, timeout=120, what=f"job {job_id} saving")


def test_a_succeeded_job_leaves_three_files_whose_checksums_are_recorded(
    workspace: Workspace,
) -> None:
    job_id = workspace.new_job()
    assert execute(workspace, job_id) == "succeeded"

    files = files_of(workspace)
    results = JobResults(workspace.repository.engine, files)
    job, infos = results.artifact_infos(job_id)
    assert (job.state, job.progress, job.stage, job.attempt) == (JobState.SUCCEEDED, 1.0, "done", 1)
    assert [info.name for info in infos] == ARTIFACT_NAMES
    (folder,) = {info.location.split("/")[1] for info in infos if info.location}
    assert folder.startswith("1-")
    assert job_files(workspace, job_id) == [folder] + [
        f"{folder}/{name}" for name in ARTIFACT_NAMES
    ]
    for info in infos:
        assert info.location == f"{job_id}/{folder}/{info.name}"
        content = (files.root / info.location).read_bytes()
        assert (len(content), hashlib.sha256(content).hexdigest()) == (info.size, info.sha256)
        assert results.artifact(job_id, info.name).content == content

    document = json.loads(results.artifact(job_id, "result.json").content)
    assert document["data"]["symbol"] == "AAPL"
    trades = list(
        csv.DictReader(io.StringIO(results.artifact(job_id, "trades.csv").content.decode()))
    )
    assert job.summary is not None
    assert job.summary["trades"] == len(trades) == document["metrics"]["trade_count"]
    assert job.summary["bars"] == 3_270
    assert execute(workspace, job_id) == "skipped"  # a final job never runs again


@pytest.mark.slow
def test_a_superseded_attempt_leaves_no_files(workspace: Workspace) -> None:
    job_id = workspace.new_job(long=True)
    with executing(workspace, job_id) as first:
        serializing(workspace, job_id)
        # The dispatcher presumed this worker dead and another one took the job over.
        assert workspace.repository.record_lost(job_id, MAX_ATTEMPTS, "presumed dead") is (
            JobState.QUEUED
        )
        newer = workspace.repository.start_attempt(job_id, "elsewhere:1")
        assert newer is not None
        assert newer.attempt == 2
        assert first.result(timeout=120) == "cancelled"
    assert job_files(workspace, job_id) == []
    after = workspace.job(job_id)
    assert (after.state, after.attempt, after.worker) == (JobState.RUNNING, 2, "elsewhere:1")
    assert after.stage == "starting"  # the old attempt's progress writes were fenced off
    assert JobResults(workspace.repository.engine).artifact_infos(job_id)[1] == []


@pytest.mark.slow
def test_a_job_cancelled_before_saving_ends_cancelled_without_files(workspace: Workspace) -> None:
    job_id = workspace.new_job(long=True)
    with executing(workspace, job_id) as execution:
        serializing(workspace, job_id)
        asked = workspace.repository.request_cancel(job_id)
        assert asked is not None
        assert (asked.state, asked.cancel_requested) == (JobState.RUNNING, True)
        assert execution.result(timeout=120) == "cancelled"
    job = workspace.job(job_id)
    assert (job.state, job.stage, job.reason) == (JobState.CANCELLED, "cancelled", None)
    assert job.finished_at is not None
    assert job_files(workspace, job_id) == []
    assert JobResults(workspace.repository.engine).artifact_infos(job_id)[1] == []


def test_a_job_cancelled_while_queued_is_skipped(workspace: Workspace) -> None:
    job_id = workspace.new_job()
    assert workspace.repository.request_cancel(job_id) is not None
    assert execute(workspace, job_id) == "skipped"
    assert workspace.job(job_id).attempt == 0
    assert job_files(workspace, job_id) == []


def test_a_job_whose_input_fails_ends_failed_with_its_reason(workspace: Workspace) -> None:
    """A spec the submit check would refuse (the symbol was deleted meanwhile) fails cleanly."""
    spec = BacktestSpec.model_validate({"symbol": "GONE", "strategy": "sma_cross"})
    job, _ = workspace.repository.create("0" * 32, "local", spec)
    assert execute(workspace, job.id) == "failed"
    failed = workspace.job(job.id)
    assert (failed.state, failed.reason, failed.stage) == (
        JobState.FAILED,
        FailureReason.INVALID_INPUT,
        "failed",
    )
    assert failed.error is not None
    assert "GONE" in failed.error
    assert job_files(workspace, job.id) == []
