"""The account service: everything about who a request is, behind one object.

Secrets handed out (session cookies, API tokens, login links) are random; only a
keyed hash (HMAC-SHA256 with the server's secret key) is stored, so a copy of the
database alone lets nobody in. Passwords are hashed with argon2id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from privatetrade.accounts.limits import LoginPolicy, RateLimitedError, check_limits
from privatetrade.db.logins import Attempt, FailureCounts, LoginAttempts
from privatetrade.db.users import UserExistsError, UserRepository
from privatetrade.domain.users import ApiToken, Role, Session, User
from privatetrade.errors import InputError

__all__ = [
    "AccountService",
    "AuthenticationError",
    "LoginPolicy",
    "RateLimitedError",
    "UserExistsError",
]

log = structlog.get_logger("privatetrade.accounts")

TOKEN_PREFIX = "pt_"
_MIN_PASSWORD = 8
_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class AuthenticationError(Exception):
    """Wrong username or password (deliberately not saying which)."""


class AccountService:
    """Creates users, checks passwords, issues and resolves sessions and tokens."""

    def __init__(
        self, repository: UserRepository, secret_key: str, policy: LoginPolicy | None = None
    ) -> None:
        self.repository = repository
        self.policy = policy or LoginPolicy()
        self.attempts = LoginAttempts(
            repository.engine, repository.clock, retention=self.policy.failure_retention
        )
        self._key = secret_key.encode()
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def _digest(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ users

    def create_user(self, username: str, password: str | None, role: Role = Role.USER) -> User:
        """Create a user; ``password`` None leaves them to log in by a one-time link.

        Raises:
            InputError: Bad username or a too short password.
            UserExistsError: The name is taken.
        """
        name = username.strip().casefold()
        if not 1 <= len(name) <= 64 or not set(name) <= _USERNAME_CHARS:
            raise InputError(
                "a username has 1-64 characters: letters, digits, '.', '_', '-'",
                field="username",
            )
        hashed = None if password is None else self._hash_password(password)
        return self.repository.create(uuid.uuid4().hex, name, hashed, role)

    def _hash_password(self, password: str) -> str:
        if len(password) < _MIN_PASSWORD:
            raise InputError(
                f"a password needs at least {_MIN_PASSWORD} characters", field="password"
            )
        return self._hasher.hash(password)

    def user(self, username: str) -> User:
        """Return a user by name.

        Raises:
            InputError: No such user.
        """
        found = self.repository.by_name(username)
        if found is None:
            raise InputError(f"no user named {username!r}", field="username")
        return found[0]

    def set_password(self, username: str, password: str) -> User:
        """Set a new password and end the user's sessions."""
        user = self.user(username)
        self.repository.set_password(user.id, self._hash_password(password))
        return user

    def set_disabled(self, username: str, disabled: bool = True) -> User:
        """Disable or enable a user (a disabled user's sessions and tokens stop working)."""
        user = self.user(username)
        self.repository.set_disabled(user.id, disabled)
        return user

    # ------------------------------------------------------------------ first start

    def bootstrap(self, admin_password: str | None) -> User | None:
        """Create the ``admin`` user when there are no users yet; return it if created.

        Jobs created before accounts existed become the admin's.
        """
        if self.repository.count() > 0:
            return None
        try:
            admin = self.create_user("admin", admin_password, Role.ADMIN)
        except UserExistsError:
            return None  # another server process created it first
        self.repository.adopt_local_objects(admin.id)
        return admin

    def login_link_token(self, username: str = "admin") -> str | None:
        """Issue a one-time login token for a user who has no password yet."""
        found = self.repository.by_name(username)
        if found is None or found[1] is not None or found[0].disabled:
            return None
        token = secrets.token_urlsafe(32)
        expires = self.repository.clock() + self.policy.link_lifetime
        self.repository.create_login_link(self._digest(token), found[0].id, expires)
        return token

    def use_login_link(self, token: str) -> User | None:
        """Consume a one-time login token; None if unknown, used or expired."""
        return self.repository.use_login_link(self._digest(token))

    # ------------------------------------------------------------------ login

    def authenticate(self, username: str, password: str, client: str) -> User:
        """Check a username and password from ``client`` (its address), within the limits.

        The attempt is recorded as a failure before the password is checked, and
        becomes a success only if it is right (see :mod:`privatetrade.accounts.limits`).

        Raises:
            RateLimitedError: This client must wait before trying this account again.
            UnavailableError: The database is busy: the attempt could not be recorded,
                so the password was not checked.
            AuthenticationError: Wrong username or password (same error for both).
        """
        name = username.strip().casefold()
        attempt = self._begin(name, client)
        found = self.repository.by_name(name)
        stored = found[1] if found is not None else None
        if not self._verify(stored, password) or found is None or found[0].disabled:
            _log_failure(attempt)
            raise AuthenticationError("wrong username or password")
        self.attempts.succeeded(attempt)
        return found[0]

    def _begin(self, name: str, client: str) -> Attempt:
        def check(counts: FailureCounts, now: dt.datetime) -> None:
            check_limits(self.policy, counts, now)

        try:
            return self.attempts.begin(name, client, self.policy.failure_window, check)
        except RateLimitedError as exc:
            log.warning(
                "auth.login_limited",
                username=name[:64],
                client=client,
                limit=exc.limit,
                retry_after=exc.retry_after,
            )
            raise

    def _verify(self, stored: str | None, password: str) -> bool:
        # Without a stored hash, verify against a dummy one: equal timing either way.
        try:
            return self._hasher.verify(stored or self._dummy_hash, password) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False

    # ------------------------------------------------------------------ sessions

    def start_session(self, user: User) -> tuple[str, Session]:
        """Open a session; return the cookie secret and the session."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.repository.clock()
        expires = now + self.policy.session_lifetime
        digest = self._digest(secret)
        self.repository.create_session(digest, user.id, csrf, expires)
        return secret, Session(digest, user, csrf, now, expires)

    def session(self, secret: str) -> Session | None:
        """Resolve a session cookie (None if unknown, expired or the user is disabled)."""
        return self.repository.session(self._digest(secret))

    def end_session(self, secret: str) -> None:
        """Log out."""
        self.repository.delete_session(self._digest(secret))

    # ------------------------------------------------------------------ API tokens

    def create_token(self, user: User, name: str) -> tuple[str, ApiToken]:
        """Create an API token; return the secret (shown once) and its record."""
        label = name.strip()
        if not 1 <= len(label) <= 100:
            raise InputError("a token name has 1-100 characters", field="name")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.repository.create_token(
            uuid.uuid4().hex, user.id, label, self._digest(secret), secret[:10]
        )
        return secret, token

    def user_for_token(self, secret: str) -> User | None:
        """Resolve a Bearer token (None if unknown, revoked or the user is disabled)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        return self.repository.user_by_token(self._digest(secret))

    def tokens(self, user: User) -> list[ApiToken]:
        """Return the user's tokens."""
        return self.repository.tokens(user.id)

    def revoke_token(self, user: User, token_id: str) -> bool:
        """Revoke one of the user's tokens."""
        return self.repository.revoke_token(token_id, user.id)


def _log_failure(attempt: Attempt) -> None:
    """The audit line of a failed login (the row is in ``login_failures`` already)."""
    counts = attempt.counts
    log.warning(
        "auth.login_failed",
        username=attempt.username[:64],
        client=attempt.client,
        count=counts.account + 1,
        client_count=counts.client + 1,
        pair_count=counts.pair + 1,
    )
