"""AccountService and UserRepository on a real, migrated SQLite file (no server).

Time is a hand-driven clock injected into the repository, so expiry is tested
without sleeping. The login limits have their own module (test_login_limits.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from privatetrade.accounts.keys import resolve_secret_key
from privatetrade.accounts.service import (
    AccountService,
    AuthenticationError,
    LoginPolicy,
    UserExistsError,
)
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository
from privatetrade.db.migrate import upgrade
from privatetrade.db.schema import LOCAL_OWNER
from privatetrade.db.users import UserRepository
from privatetrade.domain.specs import BacktestSpec
from privatetrade.domain.users import Role, User
from privatetrade.errors import ConfigurationError, InputError

KEY = "unit-test-secret-key-0123456789abcdef0123456789"
PASSWORD = "correct horse battery"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ACCOUNT_TABLES = ("users", "sessions", "api_tokens", "login_links", "login_failures")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    created = create_db_engine(f"sqlite+pysqlite:///{tmp_path / 'accounts.db'}")
    upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(engine: Engine, clock: Clock) -> AccountService:
    return AccountService(UserRepository(engine, clock=clock), KEY)


def rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT * FROM {table}"))
        return [dict(row._mapping) for row in result]


def database_text(engine: Engine) -> str:
    """Every value of every account table, as one string (to search for secrets)."""
    return "\n".join(repr(rows(engine, table)) for table in ACCOUNT_TABLES)


def keyed(secret: str) -> str:
    return hmac.new(KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()


def new_user(accounts: AccountService, name: str | None = None, role: Role = Role.USER) -> User:
    return accounts.create_user(name or f"u{uuid.uuid4().hex[:10]}", PASSWORD, role)


# ---------------------------------------------------------------- passwords


def test_passwords_are_stored_as_argon2id_hashes(accounts: AccountService, engine: Engine) -> None:
    user = new_user(accounts, "alice")
    (row,) = rows(engine, "users")
    assert row["id"] == user.id
    assert row["password_hash"].startswith("$argon2id$"), row["password_hash"]
    assert PASSWORD not in database_text(engine)
    # A second user with the same password gets a different (salted) hash.
    new_user(accounts, "bob")
    hashes = {row["password_hash"] for row in rows(engine, "users")}
    assert len(hashes) == 2
    assert accounts.authenticate("alice", PASSWORD, "10.0.0.1").id == user.id


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_short_passwords_are_rejected(accounts: AccountService, password: str) -> None:
    with pytest.raises(InputError, match="at least 8 characters") as caught:
        accounts.create_user("carol", password)
    assert caught.value.field == "password"
    assert accounts.repository.count() == 0
    new_user(accounts, "dave")
    with pytest.raises(InputError, match="at least 8 characters"):
        accounts.set_password("dave", password)
    assert accounts.authenticate("dave", PASSWORD, "10.0.0.1").username == "dave"


def test_a_password_of_eight_characters_is_accepted(accounts: AccountService) -> None:
    accounts.create_user("erin", "8charsok")
    assert accounts.authenticate("erin", "8charsok", "10.0.0.1").username == "erin"


def test_set_password_replaces_the_old_one_and_ends_sessions(accounts: AccountService) -> None:
    user = new_user(accounts, "frank")
    secret, _ = accounts.start_session(user)
    accounts.set_password("frank", "a brand new password")
    assert accounts.session(secret) is None
    with pytest.raises(AuthenticationError):
        accounts.authenticate("frank", PASSWORD, "10.0.0.1")
    assert accounts.authenticate("frank", "a brand new password", "10.0.0.1").id == user.id


# ---------------------------------------------------------------- usernames


def test_usernames_are_case_insensitive(accounts: AccountService) -> None:
    user = accounts.create_user("Alice", PASSWORD)
    assert user.username == "alice"
    for taken in ("alice", "ALICE", " aLiCe "):
        with pytest.raises(UserExistsError):
            accounts.create_user(taken, PASSWORD)
    assert accounts.repository.count() == 1
    for spelled in ("alice", "ALICE", "Alice", " alice "):
        assert accounts.authenticate(spelled, PASSWORD, "10.0.0.1").id == user.id
    assert accounts.user("ALICE").id == user.id


@pytest.mark.parametrize("username", ["", "a b", "x" * 65, "ümlaut", "semi;colon", "a/b"])
def test_bad_usernames_are_rejected(accounts: AccountService, username: str) -> None:
    with pytest.raises(InputError) as caught:
        accounts.create_user(username, PASSWORD)
    assert caught.value.field == "username"
    assert accounts.repository.count() == 0


# ---------------------------------------------------------------- authentication


def test_unknown_user_and_wrong_password_raise_the_same_error(accounts: AccountService) -> None:
    new_user(accounts, "grace")
    with pytest.raises(AuthenticationError) as wrong:
        accounts.authenticate("grace", "not the password", "10.0.0.1")
    with pytest.raises(AuthenticationError) as unknown:
        accounts.authenticate("nobody", "not the password", "10.0.0.1")
    assert str(wrong.value) == str(unknown.value)
    assert type(wrong.value) is type(unknown.value)


def test_disabled_users_cannot_authenticate_and_their_credentials_stop_working(
    accounts: AccountService,
) -> None:
    user = new_user(accounts, "heidi")
    token, _ = accounts.create_token(user, "laptop")
    session, _ = accounts.start_session(user)
    accounts.set_disabled("heidi")
    assert accounts.user("heidi").disabled
    with pytest.raises(AuthenticationError) as disabled:
        accounts.authenticate("heidi", PASSWORD, "10.0.0.1")
    with pytest.raises(AuthenticationError) as wrong:
        accounts.authenticate("heidi", "wrong password", "10.0.0.1")
    assert str(disabled.value) == str(wrong.value)  # no hint that the account exists
    assert accounts.user_for_token(token) is None
    assert accounts.session(session) is None

    accounts.set_disabled("heidi", False)
    assert accounts.authenticate("heidi", PASSWORD, "10.0.0.1").id == user.id
    resolved = accounts.user_for_token(token)
    assert resolved is not None
    assert resolved.id == user.id
    assert accounts.session(session) is None  # disabling ended the session for good


# ---------------------------------------------------------------- tokens and sessions


def test_api_tokens_are_stored_only_as_keyed_hashes(
    accounts: AccountService, engine: Engine
) -> None:
    user = new_user(accounts)
    secret, token = accounts.create_token(user, "ci")
    assert secret.startswith("pt_")
    assert len(secret) >= 40
    (row,) = rows(engine, "api_tokens")
    assert row["id"] == token.id
    assert row["token_hash"] == keyed(secret)
    assert row["token_hash"] != hashlib.sha256(secret.encode()).hexdigest()
    assert secret[:10] == row["prefix"]
    text = database_text(engine)
    assert secret not in text
    assert secret[len("pt_") :] not in text
    assert secret[-20:] not in text

    resolved = accounts.user_for_token(secret)
    assert resolved is not None
    assert resolved.id == user.id
    # Neither the stored hash nor the secret under another server key lets anyone in.
    assert accounts.user_for_token(row["token_hash"]) is None
    assert accounts.user_for_token("pt_" + row["token_hash"]) is None
    other_key = AccountService(accounts.repository, "another-secret-key-" + "x" * 32)
    assert other_key.user_for_token(secret) is None


def test_token_use_is_recorded_and_revocation_is_per_owner(
    accounts: AccountService, clock: Clock
) -> None:
    owner, intruder = new_user(accounts), new_user(accounts)
    secret, token = accounts.create_token(owner, "script")
    assert accounts.tokens(owner)[0].last_used_at is None
    clock.advance(minutes=5)
    assert accounts.user_for_token(secret) is not None
    assert accounts.tokens(owner)[0].last_used_at == clock.now

    assert accounts.revoke_token(intruder, token.id) is False
    assert accounts.tokens(intruder) == []
    assert accounts.user_for_token(secret) is not None
    assert accounts.revoke_token(owner, token.id) is True
    assert accounts.user_for_token(secret) is None
    (listed,) = accounts.tokens(owner)
    assert listed.revoked_at == clock.now
    assert accounts.revoke_token(owner, uuid.uuid4().hex) is False


@pytest.mark.parametrize(
    "secret",
    ["", "pt_", "pt_unknown", "not-a-token", "Bearer pt_x", "pt_" + "a" * 300],
)
def test_made_up_tokens_resolve_to_nobody(accounts: AccountService, secret: str) -> None:
    user = new_user(accounts)
    accounts.create_token(user, "real")
    assert accounts.user_for_token(secret) is None


def test_token_names_are_checked(accounts: AccountService) -> None:
    user = new_user(accounts)
    for name in ("", "   ", "x" * 101):
        with pytest.raises(InputError):
            accounts.create_token(user, name)
    assert accounts.tokens(user) == []


def test_session_ids_are_stored_only_as_keyed_hashes(
    accounts: AccountService, engine: Engine
) -> None:
    user = new_user(accounts)
    secret, session = accounts.start_session(user)
    (row,) = rows(engine, "sessions")
    assert row["id_hash"] == keyed(secret) == session.id
    assert secret not in database_text(engine)
    assert row["csrf_token"] == session.csrf_token
    assert session.csrf_token != secret

    found = accounts.session(secret)
    assert found is not None
    assert found.user.id == user.id
    assert found.csrf_token == session.csrf_token
    assert accounts.session(row["id_hash"]) is None
    accounts.end_session(secret)
    assert accounts.session(secret) is None
    assert rows(engine, "sessions") == []


def test_sessions_expire(engine: Engine, clock: Clock) -> None:
    policy = LoginPolicy(session_lifetime=dt.timedelta(hours=2))
    accounts = AccountService(UserRepository(engine, clock=clock), KEY, policy)
    secret, session = accounts.start_session(new_user(accounts))
    assert session.expires_at == START + dt.timedelta(hours=2)
    clock.advance(hours=1, minutes=59)
    assert accounts.session(secret) is not None
    clock.advance(minutes=1)
    assert accounts.session(secret) is None


# ---------------------------------------------------------------- first start and login links


def test_bootstrap_creates_admin_once_and_adopts_local_jobs(
    accounts: AccountService, engine: Engine
) -> None:
    jobs = JobRepository(engine)
    spec = BacktestSpec.model_validate({"symbol": "AAPL"})
    local_job, _ = jobs.create(uuid.uuid4().hex, LOCAL_OWNER, spec)

    admin = accounts.bootstrap(None)
    assert admin is not None
    assert (admin.username, admin.role, admin.has_password) == ("admin", Role.ADMIN, False)
    adopted = jobs.get(local_job.id)
    assert adopted is not None
    assert adopted.owner == admin.id
    assert jobs.get(local_job.id, admin.id) is not None
    assert accounts.bootstrap("another password") is None
    assert accounts.repository.count() == 1
    # Without a password, nobody gets in as admin by guessing one.
    for guess in ("", "admin", "password"):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("admin", guess, f"10.0.1.{len(guess)}")


def test_bootstrap_with_a_password_issues_no_login_link(accounts: AccountService) -> None:
    admin = accounts.bootstrap("the admin password")
    assert admin is not None
    assert admin.has_password
    assert admin.is_admin
    assert accounts.login_link_token("admin") is None
    assert accounts.authenticate("admin", "the admin password", "10.0.0.1").id == admin.id


def test_bootstrap_does_nothing_when_users_exist(accounts: AccountService) -> None:
    new_user(accounts, "ivan")
    assert accounts.bootstrap(None) is None
    assert [user.username for user in accounts.repository.all()] == ["ivan"]


def test_login_links_are_single_use_and_stored_hashed(
    accounts: AccountService, engine: Engine
) -> None:
    admin = accounts.bootstrap(None)
    assert admin is not None
    token = accounts.login_link_token("admin")
    assert token is not None
    (row,) = rows(engine, "login_links")
    assert row["token_hash"] == keyed(token)
    assert token not in database_text(engine)
    assert accounts.use_login_link(row["token_hash"]) is None

    user = accounts.use_login_link(token)
    assert user is not None
    assert user.id == admin.id
    assert accounts.use_login_link(token) is None
    assert accounts.use_login_link("made-up") is None


def test_login_links_expire(engine: Engine, clock: Clock) -> None:
    policy = LoginPolicy(link_lifetime=dt.timedelta(hours=24))
    accounts = AccountService(UserRepository(engine, clock=clock), KEY, policy)
    accounts.bootstrap(None)
    late, early = accounts.login_link_token("admin"), accounts.login_link_token("admin")
    assert late is not None
    assert early is not None
    assert late != early
    clock.advance(hours=23, minutes=59)
    assert accounts.use_login_link(early) is not None
    clock.advance(minutes=1)
    assert accounts.use_login_link(late) is None


def test_login_links_only_for_enabled_users_without_a_password(
    accounts: AccountService,
) -> None:
    accounts.bootstrap(None)
    new_user(accounts, "judy")
    assert accounts.login_link_token("judy") is None
    assert accounts.login_link_token("nobody") is None
    token = accounts.login_link_token("admin")
    assert token is not None
    accounts.set_disabled("admin")
    assert accounts.login_link_token("admin") is None
    assert accounts.use_login_link(token) is None


# ---------------------------------------------------------------- the secret key


def test_a_loopback_server_generates_a_private_key_file_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = resolve_secret_key(None, "127.0.0.1", data_dir)
    assert len(first) >= 32
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert resolve_secret_key(None, "localhost", data_dir) == first
    assert resolve_secret_key(None, "::1", data_dir) == first


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.org"])
def test_a_reachable_server_needs_a_configured_key(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigurationError, match="PRIVATETRADE_SECRET_KEY"):
        resolve_secret_key(None, host, tmp_path)
    assert not (tmp_path / "secret_key").exists()
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        resolve_secret_key("x" * 31, host, tmp_path)
    assert resolve_secret_key(KEY, host, tmp_path) == KEY
