"""The account repository: users, sessions, API tokens, login links.

Login failures have their own repository (``db/logins.py``).

Secrets (session ids, tokens, login links) are stored only as sha256 hashes; the
caller hashes before asking.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Engine, Row, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from privatetrade.db.engine import read_tx, write_tx
from privatetrade.db.jobs import Clock, utc_now
from privatetrade.db.schema import (
    LOCAL_OWNER,
    api_tokens,
    jobs,
    login_links,
    sessions,
    users,
)
from privatetrade.domain.users import ApiToken, Role, Session, User

__all__ = ["UserExistsError", "UserRepository"]

_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class UserExistsError(Exception):
    """A user with that name already exists."""


def _to_user(values: Any) -> User:
    return User(
        id=values["id"],
        username=values["username"],
        role=Role(values["role"]),
        disabled=bool(values["disabled"]),
        created_at=values["created_at"],
        has_password=values["password_hash"] is not None,
    )


def _to_token(row: Row[Any]) -> ApiToken:
    values = row._mapping
    return ApiToken(
        id=values["id"],
        user_id=values["user_id"],
        name=values["name"],
        prefix=values["prefix"],
        created_at=values["created_at"],
        last_used_at=values["last_used_at"],
        revoked_at=values["revoked_at"],
    )


class UserRepository:
    """Reads and writes accounts."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def _insert(self, table: Table, **values: Any) -> None:
        """Insert one row in a transaction of its own."""
        with write_tx(self.engine) as connection:
            connection.execute(insert(table).values(**values))

    # ------------------------------------------------------------------ users

    def create(self, user_id: str, username: str, password_hash: str | None, role: Role) -> User:
        """Insert a user.

        Raises:
            UserExistsError: The (case-folded) username is taken.
        """
        values = {
            "id": user_id,
            "username": username.casefold(),
            "password_hash": password_hash,
            "role": role.value,
            "disabled": False,
            "created_at": self.clock(),
        }
        try:
            self._insert(users, **values)
        except IntegrityError as exc:
            raise UserExistsError(username) from exc
        return _to_user(values)

    def count(self) -> int:
        """Return the number of users."""
        with read_tx(self.engine) as connection:
            return int(connection.execute(select(func.count()).select_from(users)).scalar_one())

    def all(self) -> list[User]:
        """Return every user, by name."""
        with read_tx(self.engine) as connection:
            rows = connection.execute(select(users).order_by(users.c.username)).all()
        return [_to_user(row._mapping) for row in rows]

    def by_name(self, username: str) -> tuple[User, str | None] | None:
        """Return the user and their password hash, or None."""
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(users).where(users.c.username == username.casefold())
            ).first()
        if row is None:
            return None
        return _to_user(row._mapping), row._mapping["password_hash"]

    def by_id(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""
        with read_tx(self.engine) as connection:
            row = connection.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _to_user(row._mapping)

    def set_password(self, user_id: str, password_hash: str) -> None:
        """Replace the password hash and end every session of the user."""
        with write_tx(self.engine) as connection:
            connection.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            connection.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def set_disabled(self, user_id: str, disabled: bool) -> None:
        """Disable (or enable) a user; disabling ends their sessions."""
        with write_tx(self.engine) as connection:
            connection.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
            if disabled:
                connection.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def adopt_local_objects(self, user_id: str) -> int:
        """Give the jobs created before accounts existed to ``user_id``."""
        with write_tx(self.engine) as connection:
            return int(
                connection.execute(
                    update(jobs).where(jobs.c.owner == LOCAL_OWNER).values(owner=user_id)
                ).rowcount
            )

    # ------------------------------------------------------------------ sessions

    def create_session(
        self, id_hash: str, user_id: str, csrf_token: str, expires_at: dt.datetime
    ) -> None:
        """Store a new session."""
        self._insert(
            sessions,
            id_hash=id_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=self.clock(),
            expires_at=expires_at,
        )

    def session(self, id_hash: str) -> Session | None:
        """Return the unexpired session of an enabled user, or None."""
        query = (
            select(sessions, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(
                sessions.c.id_hash == id_hash,
                sessions.c.expires_at > self.clock(),
                users.c.disabled.is_(False),
            )
        )
        with read_tx(self.engine) as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        values = row._mapping
        return Session(
            id=id_hash,
            user=_to_user(values),
            csrf_token=values["csrf_token"],
            created_at=values["created_at"],
            expires_at=values["expires_at"],
        )

    def delete_session(self, id_hash: str) -> None:
        """End a session (logout)."""
        with write_tx(self.engine) as connection:
            connection.execute(delete(sessions).where(sessions.c.id_hash == id_hash))

    # ------------------------------------------------------------------ API tokens

    def create_token(
        self, token_id: str, user_id: str, name: str, token_hash: str, prefix: str
    ) -> ApiToken:
        """Store a new API token (its hash)."""
        token = ApiToken(token_id, user_id, name, prefix, self.clock())
        self._insert(api_tokens, token_hash=token_hash, **dataclasses.asdict(token))
        return token

    def tokens(self, user_id: str) -> list[ApiToken]:
        """Return the user's tokens, newest first (revoked ones included)."""
        with read_tx(self.engine) as connection:
            rows = connection.execute(
                select(api_tokens)
                .where(api_tokens.c.user_id == user_id)
                .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
            ).all()
        return [_to_token(row) for row in rows]

    def user_by_token(self, token_hash: str) -> User | None:
        """Return the enabled user of a valid (unrevoked) token and note its use."""
        now = self.clock()
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(
                    users,
                    api_tokens.c.id.label("token_id"),
                    api_tokens.c.last_used_at.label("token_last_used_at"),
                )
                .join(api_tokens, api_tokens.c.user_id == users.c.id)
                .where(
                    api_tokens.c.token_hash == token_hash,
                    api_tokens.c.revoked_at.is_(None),
                    users.c.disabled.is_(False),
                )
            ).first()
        if row is None:
            return None
        last_used = row._mapping["token_last_used_at"]
        if last_used is None or now - last_used >= _LAST_USED_RESOLUTION:
            # A write per request would serialize every API call on SQLite.
            with write_tx(self.engine) as connection:
                connection.execute(
                    update(api_tokens)
                    .where(api_tokens.c.id == row._mapping["token_id"])
                    .values(last_used_at=now)
                )
        return _to_user(row._mapping)

    def revoke_token(self, token_id: str, user_id: str) -> bool:
        """Revoke one of the user's tokens; False if they have no such token."""
        with write_tx(self.engine) as connection:
            changed = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
                .values(revoked_at=func.coalesce(api_tokens.c.revoked_at, self.clock()))
            ).rowcount
        return bool(changed)

    # ------------------------------------------------------------------ login links

    def create_login_link(self, token_hash: str, user_id: str, expires_at: dt.datetime) -> None:
        """Store a one-time login link (its hash)."""
        self._insert(
            login_links,
            token_hash=token_hash,
            user_id=user_id,
            created_at=self.clock(),
            expires_at=expires_at,
        )

    def use_login_link(self, token_hash: str) -> User | None:
        """Consume a one-time login link; None if unknown, used or expired."""
        now = self.clock()
        with write_tx(self.engine) as connection:
            row = connection.execute(
                select(login_links.c.user_id).where(
                    login_links.c.token_hash == token_hash,
                    login_links.c.used_at.is_(None),
                    login_links.c.expires_at > now,
                )
            ).first()
            if row is None:
                return None
            connection.execute(
                update(login_links)
                .where(login_links.c.token_hash == token_hash)
                .values(used_at=now)
            )
            user = connection.execute(
                select(users).where(users.c.id == row.user_id, users.c.disabled.is_(False))
            ).first()
        return None if user is None else _to_user(user._mapping)
