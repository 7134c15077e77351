"""Fencing: writes of a presumed-dead attempt never change a job a newer attempt owns.

Repository-level tests against a real database (SQLite file and PostgreSQL): the
attempt number a worker started with is its fencing token; every write it makes
is guarded by it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from databases import postgres_database
from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository
from privatetrade.db.migrate import upgrade
from privatetrade.db.schema import artifacts, jobs
from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.jobs import FailureReason, Job, JobState
from privatetrade.domain.specs import BacktestSpec

MAX_ATTEMPTS = 3
SPEC = BacktestSpec.model_validate(
    {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
)


class Clock:
    """A clock the test moves by hand (leases expire when the test says so)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], scope="module"
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("fencing") / "jobs.db"
        yield f"sqlite+pysqlite:///{path}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url, pool_size=2)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(engine: Engine, clock: Clock, tmp_path: Path) -> JobRepository:
    return JobRepository(engine, clock=clock, files=ArtifactFiles(tmp_path / "artifacts"))


def new_job(repo: JobRepository) -> str:
    job, created = repo.create(uuid.uuid4().hex, "local", SPEC)
    assert created
    return job.id


def row(engine: Engine, job_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        found = connection.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
    return dict(found._mapping)


def artifact_rows(engine: Engine, job_id: str) -> list[dict[str, Any]]:
    query = sa.select(artifacts).where(artifacts.c.job_id == job_id).order_by(artifacts.c.name)
    with engine.connect() as connection:
        found = connection.execute(query).all()
    return [dict(item._mapping) for item in found]


def artifact_files(repo: JobRepository, job_id: str) -> list[str]:
    """Every file under the job's artifact folder, relative to the artifacts root."""
    assert repo.files is not None
    folder = repo.files.root / job_id
    return sorted(str(path.relative_to(repo.files.root)) for path in folder.rglob("*"))


def succeed(repo: JobRepository, job_id: str, attempt: int, payload: bytes) -> bool:
    """Do what a worker does: write the files, record them, discard them if fenced off."""
    assert repo.files is not None
    documents = [
        Artifact("result.json", "application/json", payload),
        Artifact("trades.csv", "text/csv", b"trades-" + payload),
        Artifact("equity.csv", "text/csv", b"equity-" + payload),
    ]
    staged = repo.files.write(job_id, attempt, documents)
    saved = repo.finish_succeeded(job_id, attempt, staged.infos, {"attempt": attempt})
    if not saved:
        repo.files.discard(staged)
    return saved


def start(repo: JobRepository, job_id: str, worker: str) -> Job:
    job = repo.start_attempt(job_id, worker)
    assert job is not None
    return job


def assert_stale_attempt_is_fenced(
    repo: JobRepository, engine: Engine, clock: Clock, job_id: str, stale: int
) -> None:
    """Every write of attempt ``stale`` returns False and leaves row and artifacts as they were."""
    before = row(engine, job_id)
    artifacts_before = artifact_rows(engine, job_id)
    files_before = artifact_files(repo, job_id)
    clock.advance(1.0)  # any write that got through would move updated_at
    assert repo.report_progress(job_id, stale, 0.5, "simulating") is False
    assert succeed(repo, job_id, stale, b'{"late": true}') is False
    assert repo.finish_failed(job_id, stale, FailureReason.INTERNAL_ERROR, "late") is False
    assert repo.finish_cancelled(job_id, stale) is False
    assert repo.cancel_requested(job_id, stale) is True  # the stale attempt is told to stop
    assert row(engine, job_id) == before
    assert artifact_rows(engine, job_id) == artifacts_before
    assert artifact_files(repo, job_id) == files_before


def test_attempt_after_recorded_loss_is_fenced(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    job_id = new_job(repo)
    first = start(repo, job_id, "host-a:101")
    assert first.attempt == 1
    assert first.state is JobState.RUNNING
    assert repo.report_progress(job_id, 1, 0.3, "simulating") is True

    assert repo.record_lost(job_id, MAX_ATTEMPTS, "worker killed") is JobState.QUEUED
    # Lost but not yet restarted: attempt 1 is still the highest number, yet it may not write.
    assert row(engine, job_id)["attempt"] == 1
    assert_stale_attempt_is_fenced(repo, engine, clock, job_id, stale=1)
    assert row(engine, job_id)["state"] == JobState.QUEUED.value

    second = start(repo, job_id, "host-b:202")
    assert second.attempt == 2
    assert second.worker == "host-b:202"
    assert_stale_attempt_is_fenced(repo, engine, clock, job_id, stale=1)
    current = row(engine, job_id)
    assert (current["state"], current["attempt"], current["worker"]) == ("running", 2, "host-b:202")

    assert repo.report_progress(job_id, 2, 0.6, "simulating") is True
    assert succeed(repo, job_id, 2, b'{"attempt": 2}') is True
    done = row(engine, job_id)
    assert done["state"] == JobState.SUCCEEDED.value
    assert done["progress"] == 1.0
    assert done["summary"] == {"attempt": 2}
    stored = artifact_rows(engine, job_id)
    assert [(item["name"], item["attempt"]) for item in stored] == [
        ("equity.csv", 2),
        ("result.json", 2),
        ("trades.csv", 2),
    ]
    assert all(item["location"].startswith(f"{job_id}/2-") for item in stored)
    assert len(artifact_files(repo, job_id)) == 1 + len(stored)  # one folder, its files

    # The dead attempt wakes up after the new one finished: still nothing changes.
    assert_stale_attempt_is_fenced(repo, engine, clock, job_id, stale=1)
    result = repo.artifact(job_id, "result.json")
    assert result.content == b'{"attempt": 2}'
    assert result.info.sha256 == hashlib.sha256(b'{"attempt": 2}').hexdigest()


def test_attempt_after_expired_lease_is_fenced(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    job_id = new_job(repo)
    claimed = repo.claim("dispatcher-a", 1000, lease_seconds=2.0)
    assert job_id in [job.id for job in claimed]
    start(repo, job_id, "host-a:101")

    clock.advance(1.0)
    assert repo.recover_expired(MAX_ATTEMPTS) == 0  # lease still valid: nothing recovered
    assert row(engine, job_id)["state"] == JobState.RUNNING.value

    clock.advance(5.0)  # dispatcher a died; its lease ran out
    assert repo.recover_expired(MAX_ATTEMPTS) >= 1
    recovered = row(engine, job_id)
    assert (recovered["state"], recovered["lost_attempts"], recovered["lease_owner"]) == (
        "queued",
        1,
        None,
    )

    assert job_id in [job.id for job in repo.claim("dispatcher-b", 1000, lease_seconds=2.0)]
    second = start(repo, job_id, "host-b:202")
    assert second.attempt == 2
    assert_stale_attempt_is_fenced(repo, engine, clock, job_id, stale=1)

    # A stale failure after the new attempt failed for real does not rewrite its reason.
    assert repo.finish_failed(job_id, 2, FailureReason.DATA_ERROR, "no bars") is True
    assert_stale_attempt_is_fenced(repo, engine, clock, job_id, stale=1)
    failed = row(engine, job_id)
    assert (failed["state"], failed["reason"]) == ("failed", "data_error")
    assert failed["error"] == "no bars"
    assert artifact_rows(engine, job_id) == []
    assert artifact_files(repo, job_id) == []


def test_stale_success_cannot_replace_a_newer_result(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    job_id = new_job(repo)
    start(repo, job_id, "host-a:101")
    repo.record_lost(job_id, MAX_ATTEMPTS, "worker killed")
    start(repo, job_id, "host-b:202")
    assert succeed(repo, job_id, 2, b"new") is True
    # Neither attempt (even the current one) can store a second result once final.
    assert succeed(repo, job_id, 1, b"old") is False
    assert succeed(repo, job_id, 2, b"again") is False
    stored = artifact_rows(engine, job_id)
    assert {(item["name"], item["attempt"]) for item in stored} == {
        ("result.json", 2),
        ("trades.csv", 2),
        ("equity.csv", 2),
    }
    assert repo.artifact(job_id, "result.json").content == b"new"
    assert repo.artifact(job_id, "trades.csv").content == b"trades-new"
    assert repo.start_attempt(job_id, "host-c:303") is None  # a final job never runs again
    assert row(engine, job_id)["attempt"] == 2


def test_cancelled_attempt_cannot_store_a_result(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    job_id = new_job(repo)
    start(repo, job_id, "host-a:101")
    cancelled = repo.request_cancel(job_id)
    assert cancelled is not None
    assert cancelled.state is JobState.RUNNING
    assert cancelled.cancel_requested
    assert repo.report_progress(job_id, 1, 0.9, "saving") is False
    assert succeed(repo, job_id, 1, b"too late") is False
    assert artifact_rows(engine, job_id) == []
    assert artifact_files(repo, job_id) == []
    assert repo.finish_cancelled(job_id, 1) is True
    assert row(engine, job_id)["state"] == JobState.CANCELLED.value


def test_loss_at_the_attempt_limit_fails_with_worker_lost(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    job_id = new_job(repo)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        job = start(repo, job_id, f"host:{attempt}")
        assert job.attempt == attempt
        state = repo.record_lost(job_id, MAX_ATTEMPTS, f"killed #{attempt}")
        assert state is (JobState.FAILED if attempt == MAX_ATTEMPTS else JobState.QUEUED)
    final = row(engine, job_id)
    assert (final["state"], final["reason"], final["lost_attempts"]) == (
        "failed",
        "worker_lost",
        MAX_ATTEMPTS,
    )
    assert f"killed #{MAX_ATTEMPTS}" in final["error"]
    assert repo.start_attempt(job_id, "host:99") is None
    assert_stale_attempt_is_fenced(repo, engine, clock, job_id, stale=MAX_ATTEMPTS)


def test_loss_reported_by_a_dispatcher_without_the_lease_changes_nothing(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    """Dispatcher a stalls, its lease expires, b runs attempt 2; a's late loss report is void."""
    job_id = new_job(repo)
    assert job_id in [job.id for job in repo.claim("dispatcher-a", 1000, lease_seconds=2.0)]
    start(repo, job_id, "host-a:101")
    clock.advance(5.0)
    assert repo.recover_expired(MAX_ATTEMPTS) >= 1
    assert job_id in [job.id for job in repo.claim("dispatcher-b", 1000, lease_seconds=2.0)]
    start(repo, job_id, "host-b:202")
    before = row(engine, job_id)
    assert (before["lost_attempts"], before["lease_owner"]) == (1, "dispatcher-b")

    # a's worker process dies now: the loss is a's attempt 1, already counted.
    state = repo.record_lost(job_id, MAX_ATTEMPTS, "late", lease_owner="dispatcher-a")
    assert state is JobState.RUNNING
    assert row(engine, job_id) == before
    assert repo.report_progress(job_id, 2, 0.5, "simulating") is True

    # b's own loss report still counts.
    assert repo.record_lost(job_id, MAX_ATTEMPTS, "killed", lease_owner="dispatcher-b") is (
        JobState.QUEUED
    )
    assert row(engine, job_id)["lost_attempts"] == 2
