"""The notification outbox: written in the transaction that ends a job, on every path.

Real SQLite and PostgreSQL. Each way a job reaches its final state (worker success or
failure, a queued job cancelled in the database, a running job's cancel seen by its
worker, lost workers, expired leases, a stopping server's abandoned jobs) queues exactly
one message per subscribed channel of its owner, and nothing when the ending does not
happen (fenced off) or when it is rolled back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from databases import postgres_database
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository
from privatetrade.db.migrate import upgrade
from privatetrade.db.notifications import NotificationStore
from privatetrade.db.schema import jobs, notification_outbox
from privatetrade.db.users import UserRepository
from privatetrade.domain.jobs import FailureReason, JobState
from privatetrade.domain.notifications import (
    Channel,
    ChannelKind,
    DeliveryOutcome,
    MessageState,
    NotificationEvent,
)
from privatetrade.domain.specs import BacktestSpec
from privatetrade.domain.users import Role
from privatetrade.errors import InputError, UnavailableError

SPEC = BacktestSpec.model_validate(
    {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
)
ALL_RUNS = (
    NotificationEvent.RUN_SUCCEEDED,
    NotificationEvent.RUN_FAILED,
    NotificationEvent.RUN_CANCELLED,
)


class Clock:
    """A clock the test moves by hand."""

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
        path: Path = tmp_path_factory.mktemp("outbox") / "outbox.db"
        yield f"sqlite+pysqlite:///{path}"
        return
    with postgres_database("pt_outbox") as url:
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
def repo(engine: Engine, clock: Clock) -> JobRepository:
    return JobRepository(engine, clock=clock)


@pytest.fixture
def store(engine: Engine, clock: Clock) -> NotificationStore:
    return NotificationStore(engine, clock=clock)


def new_user(engine: Engine) -> str:
    user_id = uuid.uuid4().hex
    UserRepository(engine).create(user_id, f"u{user_id[:12]}", None, Role.USER)
    return user_id


def new_channel(
    store: NotificationStore,
    user_id: str,
    events: tuple[NotificationEvent, ...] = ALL_RUNS,
    *,
    enabled: bool = True,
) -> str:
    now = dt.datetime.now(dt.UTC)
    channel = Channel(
        id=uuid.uuid4().hex,
        user_id=user_id,
        kind=ChannelKind.WEBHOOK,
        name="hook",
        language="en",
        events=events,
        enabled=enabled,
        shown="https://example.org/…",
        created_at=now,
        updated_at=now,
    )
    store.create_channel(channel, "sealed", max_channels=10)
    return channel.id


def new_job(repo: JobRepository, owner: str) -> str:
    job, created = repo.create(uuid.uuid4().hex, owner, SPEC)
    assert created
    return job.id


def messages(engine: Engine, job_id: str) -> list[dict[str, Any]]:
    query = sa.select(notification_outbox).where(notification_outbox.c.job_id == job_id)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query).all()]


def events_of(engine: Engine, job_id: str) -> list[tuple[str, str, str]]:
    return sorted((m["channel_id"], m["event"], m["key"]) for m in messages(engine, job_id))


def test_each_ending_queues_one_message_per_subscribed_channel(
    engine: Engine, repo: JobRepository, store: NotificationStore
) -> None:
    owner = new_user(engine)
    every = new_channel(store, owner)
    failures = new_channel(store, owner, (NotificationEvent.RUN_FAILED,))
    new_channel(store, owner, enabled=False)
    new_channel(store, new_user(engine))  # another user's

    succeeded = new_job(repo, owner)
    attempt = repo.start_attempt(succeeded, "w1")
    assert attempt is not None
    assert events_of(engine, succeeded) == []  # running: nothing yet
    assert repo.finish_succeeded(succeeded, attempt.attempt, [], {"total_return": 0.1})
    key = f"run_succeeded:{succeeded}"
    assert events_of(engine, succeeded) == [(every, "run_succeeded", key)]

    failed = new_job(repo, owner)
    attempt = repo.start_attempt(failed, "w1")
    assert attempt is not None
    assert repo.finish_failed(failed, attempt.attempt, FailureReason.DATA_ERROR, "bad bars")
    key = f"run_failed:{failed}"
    assert events_of(engine, failed) == sorted(
        [(every, "run_failed", key), (failures, "run_failed", key)]
    )
    row = messages(engine, failed)[0]
    assert (row["state"], row["attempts"], row["user_id"]) == ("pending", 0, owner)


def test_queued_job_cancelled_in_the_database_notifies(
    engine: Engine, repo: JobRepository, store: NotificationStore
) -> None:
    owner = new_user(engine)
    channel = new_channel(store, owner)
    queued = new_job(repo, owner)
    cancelled = repo.request_cancel(queued, owner)
    assert cancelled is not None
    assert cancelled.state is JobState.CANCELLED
    assert events_of(engine, queued) == [(channel, "run_cancelled", f"run_cancelled:{queued}")]
    repo.request_cancel(queued, owner)  # again: already final, nothing more
    assert len(messages(engine, queued)) == 1

    running = new_job(repo, owner)
    attempt = repo.start_attempt(running, "w1")
    assert attempt is not None
    repo.request_cancel(running, owner)  # asks the worker: not ended yet
    assert messages(engine, running) == []
    assert repo.finish_cancelled(running, attempt.attempt)
    assert [m["event"] for m in messages(engine, running)] == ["run_cancelled"]


def test_lost_workers_expired_leases_and_abandoned_jobs(
    engine: Engine, repo: JobRepository, store: NotificationStore, clock: Clock
) -> None:
    owner = new_user(engine)
    new_channel(store, owner)

    given_up = new_job(repo, owner)
    assert repo.claim("d1", 10, 5.0)
    assert repo.start_attempt(given_up, "w1") is not None
    assert repo.record_lost(given_up, max_attempts=1, detail="killed") is JobState.FAILED
    assert [m["event"] for m in messages(engine, given_up)] == ["run_failed"]

    requeued = new_job(repo, owner)
    repo.claim("d1", 10, 5.0)
    assert repo.start_attempt(requeued, "w1") is not None
    assert repo.record_lost(requeued, max_attempts=3, detail="killed") is JobState.QUEUED
    assert messages(engine, requeued) == []  # back in the queue: not an ending

    expired = new_job(repo, owner)
    repo.claim("d2", 10, 5.0)
    assert repo.start_attempt(expired, "w2") is not None
    clock.advance(60)
    assert repo.recover_expired(max_attempts=1) >= 1
    assert [m["event"] for m in messages(engine, expired)] == ["run_failed"]

    abandoned = new_job(repo, owner)
    repo.claim("d3", 10, 5.0)
    assert repo.start_attempt(abandoned, "w3") is not None
    repo.request_cancel(abandoned, owner)
    assert repo.requeue_abandoned("d3", [abandoned]) == 1
    assert repo.get(abandoned) is not None
    assert [m["event"] for m in messages(engine, abandoned)] == ["run_cancelled"]


def test_fenced_off_ending_queues_nothing(
    engine: Engine, repo: JobRepository, store: NotificationStore
) -> None:
    owner = new_user(engine)
    new_channel(store, owner)
    job_id = new_job(repo, owner)
    first = repo.start_attempt(job_id, "w1")
    second = repo.start_attempt(job_id, "w2")
    assert first is not None
    assert second is not None
    assert not repo.finish_succeeded(job_id, first.attempt, [], {})  # superseded attempt
    assert not repo.finish_failed(job_id, first.attempt, FailureReason.DATA_ERROR, "late")
    assert messages(engine, job_id) == []
    assert repo.finish_succeeded(job_id, second.attempt, [], {})
    assert len(messages(engine, job_id)) == 1


def test_a_failed_message_insert_rolls_the_ending_back(
    engine: Engine, repo: JobRepository, store: NotificationStore
) -> None:
    owner = new_user(engine)
    channel = new_channel(store, owner)
    job_id = new_job(repo, owner)
    attempt = repo.start_attempt(job_id, "w1")
    assert attempt is not None
    # A message already holding the key makes the ending's insert fail (unique key).
    store.queue(
        owner, NotificationEvent.RUN_SUCCEEDED, f"run_succeeded:{job_id}", channel_id=channel
    )
    with pytest.raises((sa.exc.IntegrityError, UnavailableError)):
        repo.finish_succeeded(job_id, attempt.attempt, [], {})
    with engine.connect() as connection:
        state = connection.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
    assert state == JobState.RUNNING.value  # one transaction: the ending was rolled back


def test_claim_retry_backoff_and_attempts(
    engine: Engine, store: NotificationStore, clock: Clock
) -> None:
    owner = new_user(engine)
    channel = new_channel(store, owner, (NotificationEvent.ALERT,))
    ids = store.queue(owner, NotificationEvent.ALERT, "alert:disk:firing", payload={"title": "x"})
    assert len(ids) == 1
    assert store.queue(owner, NotificationEvent.ALERT, "alert:disk:firing") == []  # same key
    assert store.queue(owner, NotificationEvent.RUN_FAILED, "other") == []  # not subscribed

    claimed = [m for m in store.claim(1000, 30.0) if m.channel_id == channel]
    assert [m.key for m in claimed] == ["alert:disk:firing"]
    assert claimed[0].payload == {"title": "x"}
    assert [m for m in store.claim(1000, 30.0) if m.channel_id == channel] == []  # leased

    store.record(
        claimed[0], DeliveryOutcome.RETRY, "HTTP 500", retry_at=clock.now + dt.timedelta(seconds=60)
    )
    assert [m for m in store.claim(1000, 30.0) if m.channel_id == channel] == []  # not due yet
    clock.advance(61)
    again = [m for m in store.claim(1000, 30.0) if m.channel_id == channel]
    assert [(m.id, m.attempts) for m in again] == [(ids[0], 1)]
    store.record(again[0], DeliveryOutcome.FAILED, "HTTP 500")
    clock.advance(3600)
    assert [m for m in store.claim(1000, 30.0) if m.channel_id == channel] == []  # given up

    attempts = store.attempts(channel, owner)
    assert [(a.attempt, a.outcome, a.message_state) for a in attempts] == [
        (2, DeliveryOutcome.FAILED, MessageState.FAILED),
        (1, DeliveryOutcome.RETRY, MessageState.FAILED),
    ]
    assert store.attempts(channel, new_user(engine)) == []  # not theirs


def test_at_most_ten_channels_and_deleting_one_takes_its_messages(
    engine: Engine, store: NotificationStore
) -> None:
    owner = new_user(engine)
    channels = [new_channel(store, owner) for _ in range(10)]
    with pytest.raises(InputError) as refused:
        new_channel(store, owner)
    assert (refused.value.code, dict(refused.value.params)) == ("too_many_channels", {"limit": 10})
    store.queue(owner, NotificationEvent.TEST, "test:1", channel_id=channels[0])
    assert not store.delete_channel(channels[0], new_user(engine))
    assert store.delete_channel(channels[0], owner)
    with engine.connect() as connection:
        left = connection.execute(
            sa.select(sa.func.count())
            .select_from(notification_outbox)
            .where(notification_outbox.c.channel_id == channels[0])
        ).scalar()
    assert left == 0
    assert len(store.channels(owner)) == 9
