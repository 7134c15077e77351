"""Login attempts: the failures the login limits count, recorded before a password is checked.

An attempt is written as a failure *before* its password is checked, in the same
serialized transaction that counts the earlier failures (``BEGIN IMMEDIATE`` on
SQLite, a transaction-level advisory lock on PostgreSQL): parallel attempts cannot
all pass a limit, and an attempt whose failure cannot be written is refused, never
checked unrecorded. A correct password then turns the attempt back into a success.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from privatetrade.db.engine import read_tx, write_tx
from privatetrade.db.schema import login_failures
from privatetrade.errors import UnavailableError

__all__ = ["Attempt", "FailureCounts", "LoginAttempts", "LoginFailure", "attempt_keys"]

_T = TypeVar("_T")

_KEY_LENGTH = 160
_CLIENT_LENGTH = 64
# Serializes the count-and-record transactions on PostgreSQL ("ptLG").
_ADVISORY_LOCK = 0x70744C47
# Pauses between tries when the database is busy or a connection broke.
_RETRY_PAUSES = (0.05, 0.25, 1.0)
# Old failures are deleted when an attempt's id is a multiple of this.
_PRUNE_EVERY = 256

_BUSY_ERRORS = (UnavailableError, OperationalError, PoolTimeoutError)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class FailureCounts:
    """Uncleared failures within the window, before the current attempt.

    ``pair``: of this account from this client; ``account``: of this account from every
    client; ``client``: from this client on every account. ``*_last``/``*_oldest`` are
    the newest/oldest of them (None without any).
    """

    pair: int = 0
    pair_last: dt.datetime | None = None
    account: int = 0
    account_last: dt.datetime | None = None
    client: int = 0
    client_oldest: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LoginFailure:
    """One failed login in the audit log."""

    id: int
    username: str
    client: str | None
    at: dt.datetime
    cleared_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt recorded as a failure until it succeeds."""

    id: int
    username: str
    client: str
    counts: FailureCounts


def attempt_keys(username: str, client: str) -> tuple[str, str]:
    """The stored forms of a case-folded username and a client address (truncated)."""
    return username[:_KEY_LENGTH], client[:_CLIENT_LENGTH]


class LoginAttempts:
    """Records login attempts and counts recent failures."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], dt.datetime] = _utc_now,
        *,
        retention: dt.timedelta = dt.timedelta(days=30),
        retry_budget: float = 5.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.retention = retention
        self.retry_budget = retry_budget

    def begin(
        self,
        username: str,
        client: str,
        window: dt.timedelta,
        check: Callable[[FailureCounts, dt.datetime], None],
    ) -> Attempt:
        """Count the failures within ``window`` and record this attempt as one more.

        ``check`` sees the counts and the time; an exception from it refuses the attempt
        and nothing is recorded.

        Raises:
            UnavailableError: The database stayed busy or unreachable: the attempt was
                not recorded, so its password must not be checked.
        """
        key, address = attempt_keys(username, client)

        def run() -> Attempt:
            with write_tx(self.engine) as connection:
                _serialize(connection)
                now = self.clock()
                counts = _counts(connection, key, address, now - window)
                check(counts, now)
                inserted = connection.execute(
                    insert(login_failures).values(key=key, client=address, at=now)
                ).inserted_primary_key
                if inserted is None:  # pragma: no cover - every backend returns the key
                    raise UnavailableError("the database returned no id for a login attempt")
                attempt_id = int(inserted[0])
                if attempt_id % _PRUNE_EVERY == 0:
                    connection.execute(
                        delete(login_failures).where(login_failures.c.at < now - self.retention)
                    )
            return Attempt(attempt_id, key, address, counts)

        return self._retrying(run)

    def succeeded(self, attempt: Attempt) -> None:
        """Turn the attempt into a success: it and its client's failures on the account clear.

        Raises:
            UnavailableError: The database stayed busy (the attempt stays a failure).
        """

        def run() -> None:
            with write_tx(self.engine) as connection:
                connection.execute(delete(login_failures).where(login_failures.c.id == attempt.id))
                connection.execute(
                    update(login_failures)
                    .where(
                        login_failures.c.key == attempt.username,
                        login_failures.c.client == attempt.client,
                        login_failures.c.cleared_at.is_(None),
                    )
                    .values(cleared_at=self.clock())
                )

        self._retrying(run)

    def failures(self, username: str | None = None, limit: int = 100) -> list[LoginFailure]:
        """The newest failures (of one username, or of all), newest first."""
        query = select(login_failures).order_by(
            login_failures.c.at.desc(), login_failures.c.id.desc()
        )
        if username is not None:
            query = query.where(login_failures.c.key == attempt_keys(username, "")[0])
        with read_tx(self.engine) as connection:
            rows = connection.execute(query.limit(limit)).all()
        return [LoginFailure(row.id, row.key, row.client, row.at, row.cleared_at) for row in rows]

    def _retrying(self, run: Callable[[], _T]) -> _T:
        """Run ``run``, again after a pause while the database is busy, within the budget."""
        deadline = time.monotonic() + self.retry_budget
        pauses = iter(_RETRY_PAUSES)
        while True:
            try:
                return run()
            except _BUSY_ERRORS as exc:
                pause = next(pauses, None)
                if pause is None or time.monotonic() + pause > deadline:
                    if isinstance(exc, UnavailableError):
                        raise
                    raise UnavailableError("the database is busy; try again") from exc
                time.sleep(pause)


def _serialize(connection: Connection) -> None:
    """Make count-and-record transactions take turns (SQLite's BEGIN IMMEDIATE already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def _counts(connection: Connection, key: str, client: str, since: dt.datetime) -> FailureCounts:
    recent = (login_failures.c.at > since, login_failures.c.cleared_at.is_(None))
    count, at = func.count(), login_failures.c.at
    pair = connection.execute(
        select(count, func.max(at)).where(
            login_failures.c.key == key, login_failures.c.client == client, *recent
        )
    ).one()
    account = connection.execute(
        select(count, func.max(at)).where(login_failures.c.key == key, *recent)
    ).one()
    by_client = connection.execute(
        select(count, func.min(at)).where(login_failures.c.client == client, *recent)
    ).one()
    return FailureCounts(
        pair=int(pair[0]),
        pair_last=pair[1],
        account=int(account[0]),
        account_last=account[1],
        client=int(by_client[0]),
        client_oldest=by_client[1],
    )
