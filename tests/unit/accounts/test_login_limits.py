"""Login limits on a real, migrated database (SQLite file and PostgreSQL), no server.

Time is a hand-driven clock injected into the repository, so the progressive delays
are tested without sleeping; the busy-database tests hold a real SQLite write lock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from structlog.testing import capture_logs

from databases import postgres_database
from privatetrade.accounts.limits import LoginPolicy, RateLimitedError
from privatetrade.accounts.service import AccountService, AuthenticationError
from privatetrade.db.engine import create_db_engine
from privatetrade.db.migrate import upgrade
from privatetrade.db.users import UserRepository
from privatetrade.errors import UnavailableError

KEY = "unit-test-secret-key-0123456789abcdef0123456789"
PASSWORD = "correct horse battery"
WRONG = "wrong password!"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ATTACKER, OWNER = "198.51.100.7", "203.0.113.20"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+pysqlite:///{tmp_path / 'accounts.db'}"
        return
    with postgres_database("pt_login") as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = create_db_engine(database_url)
    upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_accounts(engine: Engine, clock: Clock) -> Callable[..., AccountService]:
    def make(**policy: Any) -> AccountService:
        return AccountService(UserRepository(engine, clock=clock), KEY, LoginPolicy(**policy))

    return make


@pytest.fixture
def accounts(make_accounts: Callable[..., AccountService]) -> AccountService:
    service = make_accounts()
    service.create_user("alice", PASSWORD)
    return service


def fail(accounts: AccountService, username: str, client: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(username, WRONG, client)


def limited(accounts: AccountService, username: str, client: str, password: str = PASSWORD) -> Any:
    with pytest.raises(RateLimitedError) as refused:
        accounts.authenticate(username, password, client)
    return refused.value


def failure_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(sa.text("SELECT * FROM login_failures ORDER BY id"))
        return [dict(row._mapping) for row in result]


# ---------------------------------------------------------------- the policy itself


def test_the_delay_doubles_from_five_seconds_up_to_five_minutes() -> None:
    policy = LoginPolicy()
    waits = [policy.delay(failures, 5).total_seconds() for failures in range(4, 14)]
    assert waits == [0, 5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert policy.delay(10_000, 5) == dt.timedelta(minutes=5)  # no overflow


def test_the_default_policy_matches_the_documented_limits() -> None:
    policy = LoginPolicy()
    assert policy.free_failures_per_pair == 5
    assert policy.free_failures_per_account == 20
    assert policy.max_failures_per_client == 20
    assert policy.failure_window == dt.timedelta(minutes=15)
    assert (policy.first_delay, policy.max_delay) == (
        dt.timedelta(seconds=5),
        dt.timedelta(minutes=5),
    )


# ---------------------------------------------------------------- per account and client


def test_an_attacker_is_slowed_while_the_owner_logs_in_from_elsewhere(
    accounts: AccountService, clock: Clock
) -> None:
    fail(accounts, "alice", ATTACKER, 5)
    refused = limited(accounts, "alice", ATTACKER)  # even the right password waits
    assert (refused.retry_after, refused.limit) == (5, "pair")
    assert accounts.authenticate("alice", PASSWORD, OWNER).username == "alice"

    clock.advance(seconds=4)
    assert limited(accounts, "alice", ATTACKER, WRONG).retry_after == 1
    clock.advance(seconds=1)
    fail(accounts, "alice", ATTACKER)  # one more guess, then twice the wait
    assert limited(accounts, "alice", ATTACKER).retry_after == 10
    clock.advance(seconds=10)
    fail(accounts, "alice", ATTACKER)
    assert limited(accounts, "alice", ATTACKER).retry_after == 20
    assert accounts.authenticate("alice", PASSWORD, OWNER).username == "alice"


def test_a_limited_attempt_is_neither_checked_nor_recorded(
    accounts: AccountService, engine: Engine
) -> None:
    fail(accounts, "alice", ATTACKER, 5)
    before = failure_rows(engine)
    for _ in range(3):
        limited(accounts, "alice", ATTACKER)
    assert failure_rows(engine) == before


def test_the_delay_is_capped_and_failures_leave_the_window(
    make_accounts: Callable[..., AccountService], clock: Clock
) -> None:
    accounts = make_accounts(free_failures_per_pair=1, max_delay=dt.timedelta(seconds=30))
    accounts.create_user("bob", PASSWORD)
    fail(accounts, "bob", ATTACKER)
    for expected in (5, 10, 20, 30, 30):
        assert limited(accounts, "bob", ATTACKER).retry_after == expected
        clock.advance(seconds=expected)
        fail(accounts, "bob", ATTACKER)
    clock.advance(minutes=15)  # every failure is older than the window
    assert accounts.authenticate("bob", PASSWORD, ATTACKER).username == "bob"


def test_a_success_clears_the_clients_failures_but_keeps_them_as_audit(
    accounts: AccountService, engine: Engine, clock: Clock
) -> None:
    fail(accounts, "alice", OWNER, 4)
    fail(accounts, "alice", ATTACKER, 2)
    assert accounts.authenticate("alice", PASSWORD, OWNER).username == "alice"
    rows = failure_rows(engine)
    assert len(rows) == 6  # the success itself is not a failure
    assert {row["client"] for row in rows if row["cleared_at"] is not None} == {OWNER}
    assert sum(row["cleared_at"] is None for row in rows) == 2  # the attacker's still count
    fail(accounts, "alice", OWNER, 5)  # a fresh allowance for the owner
    assert limited(accounts, "alice", OWNER).limit == "pair"


def test_unknown_and_disabled_users_count_like_wrong_passwords(accounts: AccountService) -> None:
    fail(accounts, "ghost", ATTACKER, 5)
    assert limited(accounts, "ghost", ATTACKER, WRONG).limit == "pair"
    accounts.create_user("carol", PASSWORD)
    accounts.set_disabled("carol")
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("carol", PASSWORD, ATTACKER)
    assert limited(accounts, "CAROL", ATTACKER).limit == "pair"  # names are case-folded


# ---------------------------------------------------------------- per account


def test_many_clients_share_one_allowance_per_account(
    make_accounts: Callable[..., AccountService], clock: Clock
) -> None:
    accounts = make_accounts(free_failures_per_account=6)
    accounts.create_user("dave", PASSWORD)
    bots = [f"192.0.2.{index}" for index in range(1, 7)]
    for bot in bots:  # one guess each: 6 failures on the account
        fail(accounts, "dave", bot)
    refused = limited(accounts, "dave", bots[0], WRONG)  # a bot that failed waits ...
    assert (refused.retry_after, refused.limit) == (5, "account")
    fail(accounts, "dave", "192.0.2.99")  # ... a new client has its first guess ...
    assert accounts.authenticate("dave", PASSWORD, OWNER).username == "dave"  # owner: in
    clock.advance(seconds=5)
    assert limited(accounts, "dave", bots[1], WRONG).retry_after == 5  # 8th failure waits
    clock.advance(seconds=5)
    fail(accounts, "dave", bots[1])
    assert limited(accounts, "dave", bots[2], WRONG).retry_after == 20


# ---------------------------------------------------------------- per client


def test_one_client_trying_many_accounts_is_capped(
    make_accounts: Callable[..., AccountService], clock: Clock
) -> None:
    accounts = make_accounts(max_failures_per_client=4)
    accounts.create_user("erin", PASSWORD)
    for index in range(4):  # credential stuffing: one guess on each of four accounts
        fail(accounts, f"victim{index}", ATTACKER)
        clock.advance(minutes=1)
    refused = limited(accounts, "erin", ATTACKER)
    assert (refused.retry_after, refused.limit) == (11 * 60, "client")
    assert accounts.authenticate("erin", PASSWORD, OWNER).username == "erin"
    clock.advance(minutes=11)  # the oldest failure leaves the 15-minute window
    assert accounts.authenticate("erin", PASSWORD, ATTACKER).username == "erin"


# ---------------------------------------------------------------- the audit log


def test_each_failure_is_logged_and_stored_with_its_client(
    accounts: AccountService, engine: Engine
) -> None:
    with capture_logs() as logs:
        fail(accounts, "alice", ATTACKER, 2)
        fail(accounts, "Nobody", OWNER)
        fail(accounts, "alice", ATTACKER, 3)
        limited(accounts, "alice", ATTACKER)
    failed = [entry for entry in logs if entry["event"] == "auth.login_failed"]
    assert [(e["username"], e["client"], e["count"]) for e in failed] == [
        ("alice", ATTACKER, 1),
        ("alice", ATTACKER, 2),
        ("nobody", OWNER, 1),
        ("alice", ATTACKER, 3),
        ("alice", ATTACKER, 4),
        ("alice", ATTACKER, 5),
    ]
    assert all(entry["log_level"] == "warning" for entry in failed)
    refusals = [entry for entry in logs if entry["event"] == "auth.login_limited"]
    assert [(e["username"], e["client"], e["limit"]) for e in refusals] == [
        ("alice", ATTACKER, "pair")
    ]
    stored = [(row["key"], row["client"], row["at"]) for row in failure_rows(engine)]
    assert [(key, client) for key, client, _ in stored] == [
        ("alice", ATTACKER),
        ("alice", ATTACKER),
        ("nobody", OWNER),
        *[("alice", ATTACKER)] * 3,
    ]
    newest = accounts.attempts.failures("alice", limit=2)
    assert [(f.username, f.client, f.at) for f in newest] == [("alice", ATTACKER, START)] * 2


# ---------------------------------------------------------------- concurrency and a busy database


def test_parallel_guesses_cannot_all_pass_a_limit(accounts: AccountService, clock: Clock) -> None:
    fail(accounts, "alice", ATTACKER, 5)
    clock.advance(seconds=5)  # exactly one more guess is due
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def guess() -> None:
        start.wait()
        try:
            accounts.authenticate("alice", WRONG, ATTACKER)
        except AuthenticationError:
            outcome = "checked"
        except RateLimitedError:
            outcome = "limited"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["checked"] + ["limited"] * 7


def short_busy_timeout(engine: Engine) -> None:
    """Let a locked SQLite database fail after 50 ms instead of 10 s."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer, as far as SQLite can tell: BEGIN IMMEDIATE, held."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def release(holder: sqlite3.Connection) -> None:
    holder.execute("ROLLBACK")


@pytest.fixture
def sqlite_accounts(tmp_path: Path, clock: Clock) -> Iterator[tuple[AccountService, Path]]:
    path = tmp_path / "busy.db"
    engine = create_db_engine(f"sqlite+pysqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    short_busy_timeout(engine)
    accounts = AccountService(UserRepository(engine, clock=clock), KEY)
    accounts.create_user("alice", PASSWORD)
    accounts.attempts.retry_budget = 0.5
    yield accounts, path
    engine.dispose()


def test_a_locked_database_refuses_the_attempt_without_checking_it(
    sqlite_accounts: tuple[AccountService, Path],
) -> None:
    accounts, path = sqlite_accounts
    holder = hold_write_lock(path)
    try:
        for password in (WRONG, PASSWORD):  # the right password does not get in either
            with pytest.raises(UnavailableError) as busy:
                accounts.authenticate("alice", password, ATTACKER)
            assert busy.value.retry_after >= 1
    finally:
        release(holder)
        holder.close()
    assert accounts.attempts.failures("alice") == []
    # Once the lock is gone every failure counts: five, not seven, then a wait.
    fail(accounts, "alice", ATTACKER, 5)
    assert limited(accounts, "alice", ATTACKER).limit == "pair"


def test_a_briefly_locked_database_is_retried(
    sqlite_accounts: tuple[AccountService, Path],
) -> None:
    accounts, path = sqlite_accounts
    accounts.attempts.retry_budget = 30.0
    holder = hold_write_lock(path)
    timer = threading.Timer(0.3, release, (holder,))
    timer.start()
    try:
        fail(accounts, "alice", ATTACKER)  # recorded after the lock went away
    finally:
        timer.join()
        holder.close()
    assert len(accounts.attempts.failures("alice")) == 1
