"""Per-owner running cap in claims: one user's burst cannot take every worker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from privatetrade.db import migrate
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository
from privatetrade.domain.jobs import FailureReason
from privatetrade.domain.specs import BacktestSpec


class StepClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now


def repository(tmp_path: Path) -> JobRepository:
    engine = create_db_engine(f"sqlite+pysqlite:///{tmp_path / 'jobs.db'}")
    migrate.upgrade(engine)
    return JobRepository(engine, clock=StepClock())


def submit(repo: JobRepository, owner: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        job_id = f"{owner[:1]}{index:031d}"
        repo.create(job_id, owner, BacktestSpec(symbol="AAPL"))
        ids.append(job_id)
    return ids


def test_an_owner_at_the_cap_waits_while_others_run(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    alice = submit(repo, "alice", 5)  # alice's burst came first
    bob = submit(repo, "bob", 2)
    claimed = repo.claim("d1", 4, 30.0, max_running_per_owner=2)
    assert [job.id for job in claimed] == [*alice[:2], *bob]
    # Leased jobs count against the cap too: alice gets nothing more for now.
    assert repo.claim("d2", 4, 30.0, max_running_per_owner=2) == []
    repo.start_attempt(alice[0], "w")
    attempt = repo.get(alice[0])
    assert attempt is not None
    repo.finish_failed(alice[0], attempt.attempt, FailureReason.INVALID_INPUT, "stop")
    assert [job.id for job in repo.claim("d2", 4, 30.0, max_running_per_owner=2)] == [alice[2]]


def test_without_a_cap_the_oldest_jobs_win(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    alice = submit(repo, "alice", 5)
    submit(repo, "bob", 2)
    assert [job.id for job in repo.claim("d1", 4, 30.0)] == alice[:4]
