"""Users, roles, sessions and API tokens (domain objects, no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ApiToken", "Role", "Session", "User"]


class Role(StrEnum):
    """What a user may do: ``user`` sees only their own work; ``admin`` also runs the site."""

    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    """An account.

    Attributes:
        id: 32 hex characters; the owner of everything the user creates.
        username: Login name (unique, case-insensitive).
        role: ``user`` or ``admin``.
        disabled: A disabled user cannot log in and their tokens stop working.
        created_at: When the account was created (UTC).
        has_password: False until a password is set (e.g. the first admin before login).
    """

    id: str
    username: str
    role: Role
    disabled: bool
    created_at: dt.datetime
    has_password: bool = True

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class Session:
    """A browser session (the cookie holds its secret; the database its hash)."""

    id: str
    user: User
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A named Bearer token of a user (only its hash is stored).

    Attributes:
        id: 32 hex characters (not the secret).
        user_id: Owner.
        name: The user's label for it.
        prefix: First characters of the secret, to recognize it in lists.
        created_at: Creation time.
        last_used_at: Last successful use.
        revoked_at: When it was revoked; None while valid.
    """

    id: str
    user_id: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
