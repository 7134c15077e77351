"""JobRepository against a real database: a SQLite file and a fresh PostgreSQL database.

Each backend gets one migrated database per module; every test starts from empty
tables and a hand-driven clock. Fencing of late writes is covered in
``test_fencing.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from databases import postgres_database
from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository, SortField
from privatetrade.db.migrate import upgrade
from privatetrade.db.schema import artifacts, jobs
from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.jobs import WAITING_FOR_WORKERS, FailureReason, Job, JobState
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import ConflictError, IdempotencyConflictError, NotFoundError

OWNER = "local"
MAX_ATTEMPTS = 3
LEASE_S = 30.0
CSV = "text/csv; charset=utf-8"
ARTIFACT_NAMES = ["equity.csv", "result.json", "trades.csv"]  # as listed: by name
T = TypeVar("T")


def spec(symbol: str = "AAPL", strategy: str = "sma_cross", **params: int) -> BacktestSpec:
    return BacktestSpec.model_validate(
        {"symbol": symbol, "strategy": strategy, "params": params or {"fast": 10, "slow": 30}}
    )


class Clock:
    """A clock the test moves by hand; microseconds on purpose (round-trip precision)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 2, 9, 0, 0, 123_456, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with _database_url(request.param, tmp_path_factory) as url:
        engine = create_db_engine(url, pool_size=4)
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("repository") / "jobs.db"
        yield f"sqlite+pysqlite:///{path}"
        return
    with postgres_database("pt_repo") as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(engine: Engine, clock: Clock, tmp_path: Path) -> JobRepository:
    with engine.begin() as connection:
        connection.execute(sa.delete(artifacts))
        connection.execute(sa.delete(jobs))
    return JobRepository(engine, clock=clock, files=ArtifactFiles(tmp_path / "artifacts"))


def new_id() -> str:
    return uuid.uuid4().hex


def create(repo: JobRepository, job_spec: BacktestSpec | None = None, owner: str = OWNER) -> Job:
    job, created = repo.create(new_id(), owner, job_spec or spec())
    assert created
    return job


def start(repo: JobRepository, job_id: str, worker: str = "host:1") -> Job:
    job = repo.start_attempt(job_id, worker)
    assert job is not None
    return job


def documents(payload: bytes) -> tuple[Artifact, ...]:
    return (
        Artifact("result.json", "application/json", payload),
        Artifact("trades.csv", CSV, b"trades:" + payload),
        Artifact("equity.csv", CSV, b"equity:" + payload),
    )


def succeed(repo: JobRepository, job: Job, payload: bytes = b'{"ok":true}') -> bool:
    """Do what a worker does: write the artifact files, then record them (or discard them)."""
    assert repo.files is not None
    staged = repo.files.write(job.id, job.attempt, documents(payload))
    saved = repo.finish_succeeded(job.id, job.attempt, staged.infos, {"total_return": 0.25})
    if not saved:
        repo.files.discard(staged)
    return saved


def row(engine: Engine, job_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        found = connection.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
    return dict(found._mapping)


def artifact_count(engine: Engine, job_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(artifacts)
    if job_id is not None:
        query = query.where(artifacts.c.job_id == job_id)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def run_threads(count: int, target: Callable[[int], T]) -> list[T]:
    """Run ``target(i)`` in ``count`` threads released together; re-raise their errors."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = target(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return outcomes


# ---------------------------------------------------------------------- create / get


def test_create_and_get_round_trip(repo: JobRepository, clock: Clock) -> None:
    job_spec = spec("005930", "sma_cross", fast=5, slow=20)
    job, created = repo.create(new_id(), OWNER, job_spec, idempotency_key="key-1")
    assert created
    assert job.state is JobState.QUEUED
    assert (job.attempt, job.lost_attempts, job.progress, job.stage) == (0, 0, 0.0, "queued")
    stored = repo.get(job.id)
    assert stored == job  # what create returns is what is stored
    assert stored is not None
    assert stored.spec == job_spec
    assert stored.created_at == clock.now
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert stored.idempotency_key == "key-1"
    assert repo.get(job.id, OWNER) == job
    assert repo.get(job.id, "someone-else") is None
    assert repo.get(new_id()) is None


def test_duplicate_id_is_an_error(repo: JobRepository) -> None:
    job = create(repo)
    with pytest.raises(sa.exc.IntegrityError):
        repo.create(job.id, OWNER, spec("MSFT"))


# ---------------------------------------------------------------------- idempotency


def test_same_key_and_spec_returns_the_same_job(repo: JobRepository, clock: Clock) -> None:
    first, created = repo.create(new_id(), OWNER, spec(), idempotency_key="abc")
    assert created
    clock.advance(5)
    again, created_again = repo.create(new_id(), OWNER, spec(), idempotency_key="abc")
    assert created_again is False
    assert again.id == first.id
    assert again.created_at == first.created_at
    page = repo.page(OWNER)
    assert page.total == 1


def test_same_key_with_another_spec_conflicts(repo: JobRepository) -> None:
    first, _ = repo.create(new_id(), OWNER, spec(), idempotency_key="abc")
    with pytest.raises(IdempotencyConflictError) as raised:
        repo.create(new_id(), OWNER, spec(fast=11, slow=30), idempotency_key="abc")
    assert raised.value.job_id == first.id
    assert repo.page(OWNER).total == 1


def test_idempotency_keys_are_per_owner_and_optional(repo: JobRepository) -> None:
    mine, _ = repo.create(new_id(), OWNER, spec(), idempotency_key="abc")
    theirs, created = repo.create(new_id(), "other", spec(fast=1, slow=2), idempotency_key="abc")
    assert created
    assert theirs.id != mine.id
    # Without a key, equal specs are separate jobs.
    assert create(repo).id != create(repo).id
    assert repo.page(None).total == 4


def test_concurrent_submissions_with_one_key_create_one_job(repo: JobRepository) -> None:
    ids = [new_id() for _ in range(4)]

    def submit(index: int) -> tuple[Job, bool]:
        return repo.create(ids[index], OWNER, spec(), idempotency_key="race")

    outcomes = run_threads(len(ids), submit)
    assert sum(created for _, created in outcomes) == 1
    assert len({job.id for job, _ in outcomes}) == 1
    assert repo.page(OWNER).total == 1


# ---------------------------------------------------------------------- counts


def test_count_active_and_counts_by_state(repo: JobRepository) -> None:
    assert repo.counts_by_state() == dict.fromkeys(JobState, 0)
    queued = [create(repo) for _ in range(3)]
    running = start(repo, queued[0].id)
    succeeded = start(repo, queued[1].id)
    assert succeed(repo, succeeded)
    failed = start(repo, create(repo).id)
    assert repo.finish_failed(failed.id, failed.attempt, FailureReason.DATA_ERROR, "no bars")
    cancelled = repo.request_cancel(create(repo).id)
    assert cancelled is not None
    create(repo, owner="other")

    assert repo.count_active(OWNER) == 2  # queued[2] and running
    assert repo.count_active("other") == 1
    assert repo.count_active("nobody") == 0
    assert repo.counts_by_state() == {
        JobState.QUEUED: 2,
        JobState.RUNNING: 1,
        JobState.SUCCEEDED: 1,
        JobState.FAILED: 1,
        JobState.CANCELLED: 1,
    }
    assert running.state is JobState.RUNNING


# ---------------------------------------------------------------------- page


@pytest.fixture
def history(repo: JobRepository, clock: Clock) -> dict[str, Job]:
    """Six jobs of one owner (one a minute) in every state, plus one of another owner."""
    made: dict[str, Job] = {}
    for name, symbol, strategy in [
        ("a", "AAPL", "sma_cross"),
        ("b", "MSFT", "sma_cross"),
        ("c", "AAPL", "rsi"),
        ("d", "005930", "sma_cross"),
        ("e", "AAPL", "sma_cross"),
        ("f", "MSFT", "rsi"),
    ]:
        clock.advance(60)
        made[name] = create(repo, spec(symbol, strategy))
    clock.advance(60)
    create(repo, spec("AAPL"), owner="other")

    clock.advance(1)
    assert succeed(repo, start(repo, made["b"].id))
    clock.advance(1)
    failed = start(repo, made["d"].id)
    assert repo.finish_failed(failed.id, 1, FailureReason.STRATEGY_ERROR, "boom")
    clock.advance(1)
    start(repo, made["e"].id)
    clock.advance(1)
    assert repo.request_cancel(made["f"].id) is not None
    clock.advance(1)
    # a and c stay queued; b succeeded, d failed, f cancelled (finished in that order)
    return {name: repo.get(job.id) for name, job in made.items()}  # type: ignore[misc]


def names(page_items: list[Job], history: dict[str, Job]) -> list[str]:
    by_id = {job.id: name for name, job in history.items()}
    return [by_id[job.id] for job in page_items]


def test_page_defaults_newest_first_with_total(
    repo: JobRepository, history: dict[str, Job]
) -> None:
    page = repo.page(OWNER)
    assert names(page.items, history) == ["f", "e", "d", "c", "b", "a"]
    assert (page.total, page.offset, page.limit) == (6, 0, 50)
    assert repo.page(None).total == 7
    assert repo.page("other").total == 1


def test_page_offset_and_limit(repo: JobRepository, history: dict[str, Job]) -> None:
    first = repo.page(OWNER, limit=4, descending=False)
    second = repo.page(OWNER, offset=4, limit=4, descending=False)
    assert names(first.items, history) == ["a", "b", "c", "d"]
    assert names(second.items, history) == ["e", "f"]
    assert first.total == second.total == 6
    beyond = repo.page(OWNER, offset=10, limit=4)
    assert beyond.items == []
    assert beyond.total == 6


def test_page_filters(repo: JobRepository, history: dict[str, Job]) -> None:
    def listed(**filters: Any) -> tuple[list[str], int]:
        page = repo.page(OWNER, descending=False, **filters)
        return names(page.items, history), page.total

    assert listed(symbol="AAPL") == (["a", "c", "e"], 3)
    assert listed(strategy="rsi") == (["c", "f"], 2)
    assert listed(symbol="AAPL", strategy="sma_cross") == (["a", "e"], 2)
    assert listed(states=[JobState.QUEUED]) == (["a", "c"], 2)
    assert listed(states=[JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]) == (
        ["b", "d", "f"],
        3,
    )
    assert listed(symbol="AAPL", states=[JobState.RUNNING]) == (["e"], 1)
    assert listed(symbol="NOPE") == ([], 0)
    # Empty filters mean "any".
    assert listed(symbol="", strategy=None, states=[])[1] == 6


@pytest.mark.parametrize("sort", ["created_at", "symbol", "strategy", "state"])
def test_page_sorts_with_ties_broken_by_id(
    repo: JobRepository, history: dict[str, Job], sort: SortField
) -> None:
    def key(name: str) -> tuple[Any, str]:
        job = history[name]
        column = {
            "created_at": job.created_at,
            "symbol": job.spec.symbol,
            "strategy": job.spec.strategy,
            "state": job.state.value,
        }[sort]
        return column, job.id  # ties broken by id, in the sort's direction

    for descending in (False, True):
        listed = names(repo.page(OWNER, sort=sort, descending=descending).items, history)
        assert listed == sorted(history, key=key, reverse=descending)


def test_page_by_finished_at_puts_unfinished_jobs_last_on_every_backend(
    repo: JobRepository, history: dict[str, Job]
) -> None:
    up = names(repo.page(OWNER, sort="finished_at", descending=False).items, history)
    down = names(repo.page(OWNER, sort="finished_at", descending=True).items, history)
    assert up[:3] == ["b", "d", "f"]
    assert down[:3] == ["f", "d", "b"]
    assert sorted(up[3:]) == sorted(down[3:]) == ["a", "c", "e"]


# ---------------------------------------------------------------------- cancel / delete


def test_cancel_a_queued_job_at_once(repo: JobRepository, clock: Clock) -> None:
    job = create(repo)
    clock.advance(3)
    cancelled = repo.request_cancel(job.id, OWNER)
    assert cancelled is not None
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.cancel_requested
    assert cancelled.stage == "cancelled"
    assert cancelled.finished_at == clock.now
    assert repo.start_attempt(job.id, "host:1") is None  # never runs
    assert repo.claim("dispatcher", 10, LEASE_S) == []


def test_cancel_a_running_job_asks_it_to_stop(repo: JobRepository) -> None:
    job = create(repo)
    running = start(repo, job.id)
    assert repo.report_progress(job.id, running.attempt, 0.2, "simulating") is True
    asked = repo.request_cancel(job.id)
    assert asked is not None
    assert asked.state is JobState.RUNNING
    assert asked.cancel_requested
    assert asked.finished_at is None
    assert repo.cancel_requested(job.id, running.attempt) is True
    assert repo.report_progress(job.id, running.attempt, 0.4, "simulating") is False
    assert repo.get(job.id).progress == 0.2  # type: ignore[union-attr]
    assert repo.finish_cancelled(job.id, running.attempt) is True
    assert repo.get(job.id).state is JobState.CANCELLED  # type: ignore[union-attr]


def test_cancel_leaves_final_unknown_and_foreign_jobs_alone(repo: JobRepository) -> None:
    done = start(repo, create(repo).id)
    assert succeed(repo, done)
    before = repo.get(done.id)
    after = repo.request_cancel(done.id)
    assert after == before
    assert after is not None
    assert after.state is JobState.SUCCEEDED
    assert not after.cancel_requested
    assert repo.request_cancel(new_id()) is None
    foreign = create(repo, owner="other")
    assert repo.request_cancel(foreign.id, OWNER) is None
    assert repo.get(foreign.id).state is JobState.QUEUED  # type: ignore[union-attr]


def test_delete_removes_the_job_and_its_artifacts(repo: JobRepository, engine: Engine) -> None:
    keep = start(repo, create(repo).id)
    assert succeed(repo, keep)
    gone = start(repo, create(repo).id)
    assert succeed(repo, gone)
    assert artifact_count(engine) == 2 * len(ARTIFACT_NAMES)
    foreign = create(repo, owner="other")

    assert repo.delete(gone.id, OWNER) is True
    assert repo.get(gone.id) is None
    assert artifact_count(engine, gone.id) == 0
    with pytest.raises(NotFoundError):
        repo.artifact_infos(gone.id)
    with pytest.raises(NotFoundError):
        repo.artifact(gone.id, "result.json")
    assert repo.delete(gone.id) is False
    assert repo.delete(foreign.id, OWNER) is False
    assert repo.get(foreign.id) is not None
    assert artifact_count(engine, keep.id) == len(ARTIFACT_NAMES)
    assert repo.artifact(keep.id, "result.json").content == b'{"ok":true}'


def test_delete_of_a_running_job_fences_its_attempt(repo: JobRepository, engine: Engine) -> None:
    running = start(repo, create(repo).id)
    assert repo.delete(running.id) is True
    assert repo.report_progress(running.id, running.attempt, 0.5, "simulating") is False
    assert succeed(repo, running) is False
    assert artifact_count(engine) == 0
    assert repo.files is not None
    assert not (repo.files.root / running.id).exists()  # the fenced attempt's files are gone


# ---------------------------------------------------------------------- claim / leases


def test_claim_leases_oldest_queued_jobs_up_to_the_limit(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    made = []
    for _ in range(5):
        clock.advance(1)
        made.append(create(repo))
    start(repo, made[0].id)  # running jobs are not claimable
    assert repo.claim("d1", 0, LEASE_S) == []
    claimed = repo.claim("d1", 2, LEASE_S)
    assert [job.id for job in claimed] == [made[1].id, made[2].id]
    lease = row(engine, made[1].id)
    assert lease["lease_owner"] == "d1"
    assert lease["lease_until"] == clock.now + dt.timedelta(seconds=LEASE_S)
    assert [job.id for job in repo.claim("d2", 10, LEASE_S)] == [made[3].id, made[4].id]
    assert repo.claim("d3", 10, LEASE_S) == []


def test_leased_jobs_are_claimable_again_only_after_the_lease_expires(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    assert [item.id for item in repo.claim("d1", 10, LEASE_S)] == [job.id]
    clock.advance(LEASE_S - 1)
    assert repo.claim("d2", 10, LEASE_S) == []
    repo.renew("d1", [job.id], LEASE_S)  # d1 is alive: its lease moves on
    clock.advance(LEASE_S - 1)
    assert repo.claim("d2", 10, LEASE_S) == []
    repo.renew("d2", [job.id], LEASE_S)  # not d2's lease: changes nothing
    clock.advance(2)
    assert [item.id for item in repo.claim("d2", 10, LEASE_S)] == [job.id]
    assert repo.claim("d1", 10, LEASE_S) == []
    repo.release(job.id, "d1")  # not d1's lease any more
    assert repo.claim("d1", 10, LEASE_S) == []
    repo.release(job.id, "d2")
    assert [item.id for item in repo.claim("d1", 10, LEASE_S)] == [job.id]


def test_concurrent_dispatchers_never_claim_the_same_job(repo: JobRepository) -> None:
    total = 40
    made = {create(repo).id for _ in range(total)}

    def dispatcher(index: int) -> list[str]:
        mine: list[str] = []
        while batch := repo.claim(f"dispatcher-{index}", 3, LEASE_S):
            mine.extend(job.id for job in batch)
        return mine

    claims = run_threads(3, dispatcher)
    every = [job_id for claim in claims for job_id in claim]
    assert len(every) == len(set(every)), "a job was claimed twice"
    assert set(every) == made
    with repo.engine.connect() as connection:
        owners = dict(connection.execute(sa.select(jobs.c.id, jobs.c.lease_owner)).all())
    for index, claim in enumerate(claims):
        assert all(owners[job_id] == f"dispatcher-{index}" for job_id in claim)


# ---------------------------------------------------------------------- recovery


def test_recover_expired_requeues_a_running_job(
    repo: JobRepository, engine: Engine, clock: Clock
) -> None:
    job = create(repo)
    fresh = create(repo)
    repo.claim("d1", 10, LEASE_S)
    running = start(repo, job.id)
    other = start(repo, fresh.id)
    assert repo.report_progress(job.id, running.attempt, 0.5, "simulating")
    clock.advance(LEASE_S - 1)
    assert repo.recover_expired(MAX_ATTEMPTS) == 0
    repo.renew("d1", [fresh.id], LEASE_S)  # only this one's dispatcher is still alive
    clock.advance(2)
    assert repo.recover_expired(MAX_ATTEMPTS) == 1

    recovered = repo.get(job.id)
    assert recovered is not None
    assert recovered.state is JobState.QUEUED
    assert (recovered.lost_attempts, recovered.attempt) == (1, 1)
    assert (recovered.progress, recovered.stage) == (0.0, "queued")
    assert recovered.finished_at is None
    assert recovered.reason is None
    assert row(engine, job.id)["lease_owner"] is None
    assert repo.get(fresh.id).state is JobState.RUNNING  # type: ignore[union-attr]
    assert other.attempt == 1
    # Back in the queue: claimable and startable again, with the next attempt number.
    assert [item.id for item in repo.claim("d2", 10, LEASE_S)] == [job.id]
    assert start(repo, job.id).attempt == 2


def test_recover_expired_fails_a_job_at_the_attempt_limit(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert [item.id for item in repo.claim("d", 10, LEASE_S)] == [job.id]
        assert start(repo, job.id).attempt == attempt
        clock.advance(LEASE_S + 1)
        assert repo.recover_expired(MAX_ATTEMPTS) == 1
    failed = repo.get(job.id)
    assert failed is not None
    assert failed.state is JobState.FAILED
    assert failed.reason is FailureReason.WORKER_LOST
    assert failed.lost_attempts == MAX_ATTEMPTS
    assert failed.finished_at == clock.now
    assert failed.error is not None
    assert "the server running it stopped" in failed.error
    assert repo.claim("d", 10, LEASE_S) == []
    assert repo.start_attempt(job.id, "host:9") is None
    clock.advance(LEASE_S + 1)
    assert repo.recover_expired(MAX_ATTEMPTS) == 0  # final jobs are never touched


def test_recover_expired_cancels_a_job_whose_cancel_was_requested(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    repo.claim("d", 10, LEASE_S)
    start(repo, job.id)
    assert repo.request_cancel(job.id) is not None
    clock.advance(LEASE_S + 1)
    assert repo.recover_expired(MAX_ATTEMPTS) == 1
    cancelled = repo.get(job.id)
    assert cancelled is not None
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.stage == "cancelled"
    assert cancelled.reason is None
    assert cancelled.error is None
    assert cancelled.finished_at == clock.now
    assert repo.claim("d", 10, LEASE_S) == []


def test_recover_expired_leaves_queued_jobs_with_stale_leases_alone(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    repo.claim("d", 10, LEASE_S)
    clock.advance(LEASE_S + 1)
    assert repo.recover_expired(MAX_ATTEMPTS) == 0
    stale = repo.get(job.id)
    assert stale is not None
    assert (stale.state, stale.lost_attempts) == (JobState.QUEUED, 0)
    assert [item.id for item in repo.claim("d2", 10, LEASE_S)] == [job.id]


# ---------------------------------------------------------------------- worker side


def test_start_attempt_counts_attempts_and_keeps_the_first_start(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    clock.advance(10)
    first_start = clock.now
    first = start(repo, job.id, "host-a:1")
    assert (first.attempt, first.state, first.worker, first.stage) == (
        1,
        JobState.RUNNING,
        "host-a:1",
        "starting",
    )
    assert first.started_at == first_start
    assert first.heartbeat_at == first_start
    assert repo.record_lost(job.id, MAX_ATTEMPTS, "killed") is JobState.QUEUED
    clock.advance(10)
    second = start(repo, job.id, "host-b:2")
    assert second.attempt == 2
    assert second.worker == "host-b:2"
    assert second.started_at == first_start
    assert second.heartbeat_at == clock.now
    assert repo.start_attempt(new_id(), "host:1") is None


def test_a_claimed_job_shows_its_wait_for_starting_workers(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    assert repo.wait_for_workers(job.id, "d1", 3.0) is False  # not claimed: nothing shown
    assert [item.id for item in repo.claim("d1", 1, LEASE_S)] == [job.id]
    assert repo.wait_for_workers(job.id, "d2", 3.0) is False  # another dispatcher's lease
    assert repo.wait_for_workers(job.id, "d1", 3.0) is True

    waiting = repo.get(job.id)
    assert waiting is not None
    assert (waiting.state, waiting.stage) == (JobState.QUEUED, WAITING_FOR_WORKERS)
    assert waiting.workers_ready_at == clock.now + dt.timedelta(seconds=3)
    assert waiting.seconds_left(clock.now + dt.timedelta(seconds=1)) == 2.0
    assert waiting.seconds_left(clock.now + dt.timedelta(seconds=4)) is None  # overdue

    started = start(repo, job.id)
    assert (started.stage, started.seconds_left(clock.now)) == ("starting", None)
    assert repo.wait_for_workers(job.id, "d1", 3.0) is False  # running: nothing changes
    current = repo.get(job.id)
    assert current is not None
    assert (current.state, current.stage) == (JobState.RUNNING, "starting")


def test_report_progress_records_the_current_attempt(repo: JobRepository, clock: Clock) -> None:
    job = start(repo, create(repo).id)
    clock.advance(2)
    assert repo.report_progress(job.id, job.attempt, 0.75, "simulating") is True
    current = repo.get(job.id)
    assert current is not None
    assert (current.progress, current.stage, current.heartbeat_at) == (
        0.75,
        "simulating",
        clock.now,
    )
    assert repo.cancel_requested(job.id, job.attempt) is False


def test_a_job_may_succeed_without_artifacts(repo: JobRepository) -> None:
    job = start(repo, create(repo).id)
    assert repo.finish_succeeded(job.id, job.attempt, [], {"symbols": 0}) is True
    fetched, infos = repo.artifact_infos(job.id)
    assert (fetched.state, infos) == (JobState.SUCCEEDED, [])


def test_artifacts_are_absent_until_success_then_complete(
    repo: JobRepository, clock: Clock
) -> None:
    job = create(repo)
    assert repo.artifact_infos(job.id) == (repo.get(job.id), [])
    with pytest.raises(ConflictError) as queued:
        repo.artifact(job.id, "result.json")
    assert queued.value.state == "queued"
    running = start(repo, job.id)
    fetched, infos = repo.artifact_infos(job.id)
    assert fetched.state is JobState.RUNNING
    assert infos == []
    with pytest.raises(ConflictError) as unfinished:
        repo.artifact(job.id, "result.json")
    assert unfinished.value.state == "running"
    for job_id, owner in [(new_id(), None), (job.id, "other")]:
        with pytest.raises(NotFoundError):
            repo.artifact_infos(job_id, owner)
        with pytest.raises(NotFoundError):
            repo.artifact(job_id, "result.json", owner)

    clock.advance(4)
    document = b'{"schema_version":1,"metrics":{}}'
    assert succeed(repo, running, document) is True
    fetched, infos = repo.artifact_infos(job.id, OWNER)
    assert fetched.state is JobState.SUCCEEDED
    assert (fetched.progress, fetched.stage, fetched.finished_at) == (1.0, "done", clock.now)
    assert fetched.summary == {"total_return": 0.25}
    assert fetched.duration_seconds == 4.0
    contents = {artifact.name: artifact for artifact in documents(document)}
    assert [info.name for info in infos] == ARTIFACT_NAMES
    for info in infos:
        expected = contents[info.name]
        assert (info.media_type, info.size) == (expected.media_type, len(expected.content))
        assert info.sha256 == hashlib.sha256(expected.content).hexdigest()
        assert info.location is not None
        assert info.location.startswith(f"{job.id}/{running.attempt}-")
        stored = repo.artifact(job.id, info.name, OWNER)
        assert stored.job == fetched
        assert stored.info == info
        assert stored.content == expected.content
    assert repo.artifact(job.id, "result.json").content == document
    with pytest.raises(NotFoundError):
        repo.artifact(job.id, "heatmap.csv")
    with pytest.raises(NotFoundError):
        repo.artifact(job.id, "result.json", "other")


def test_failed_job_has_no_artifacts(repo: JobRepository, engine: Engine) -> None:
    job = start(repo, create(repo).id)
    assert repo.finish_failed(job.id, job.attempt, FailureReason.INVALID_INPUT, "bad params")
    fetched, infos = repo.artifact_infos(job.id)
    assert infos == []
    assert (fetched.state, fetched.reason, fetched.error) == (
        JobState.FAILED,
        FailureReason.INVALID_INPUT,
        "bad params",
    )
    with pytest.raises(ConflictError) as failed:
        repo.artifact(job.id, "result.json")
    assert failed.value.state == "failed"
    assert artifact_count(engine) == 0


def test_readers_never_see_artifacts_without_success_or_the_reverse(
    repo: JobRepository,
) -> None:
    started = [start(repo, create(repo).id) for _ in range(30)]
    done = threading.Event()
    observations: list[tuple[JobState, int]] = []

    def reader(_: int) -> None:
        while not done.is_set():
            for job in started:
                fetched, infos = repo.artifact_infos(job.id)
                observations.append((fetched.state, len(infos)))

    def writer() -> None:
        try:
            for job in started:
                assert succeed(repo, job, f'{{"id":"{job.id}"}}'.encode())
        finally:
            done.set()

    threads = [threading.Thread(target=reader, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    writer()
    for thread in threads:
        thread.join(30)
    assert observations
    assert set(observations) <= {
        (JobState.RUNNING, 0),
        (JobState.SUCCEEDED, len(ARTIFACT_NAMES)),
    }
    for job in started:
        assert repo.artifact(job.id, "result.json").content == f'{{"id":"{job.id}"}}'.encode()
