"""``/api/me`` and ``/api/tokens``: who am I, and my API tokens."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from privatetrade.domain.users import ApiToken
from privatetrade.web.deps import CurrentUser, SystemDep
from privatetrade.web.problems import ProblemError, problem_responses

router = APIRouter(tags=["accounts"])


class MeOut(BaseModel):
    """The calling user."""

    id: str
    username: str
    role: str


class TokenOut(BaseModel):
    """An API token (without its secret)."""

    id: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        """Map a domain token."""
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class NewTokenOut(TokenOut):
    """A new token with its secret, shown this once."""

    token: str


class TokenCreate(BaseModel):
    """A token to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


@router.get("/api/me", response_model=MeOut, responses=problem_responses({401: "Not signed in"}))
def get_me(user: CurrentUser) -> MeOut:
    """Return the calling user."""
    return MeOut(id=user.id, username=user.username, role=user.role.value)


@router.get(
    "/api/tokens",
    response_model=list[TokenOut],
    responses=problem_responses({401: "Not signed in"}),
)
def list_tokens(user: CurrentUser, services: SystemDep) -> list[TokenOut]:
    """List the caller's API tokens (revoked ones included)."""
    return [TokenOut.of(token) for token in services.accounts.tokens(user)]


@router.post(
    "/api/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=NewTokenOut,
    responses=problem_responses(
        {
            400: "The body cannot be read (not UTF-8)",
            401: "Not signed in",
            403: "Cookie-authenticated without the X-CSRF-Token header",
            422: "Invalid name",
        }
    ),
)
def create_token(body: TokenCreate, user: CurrentUser, services: SystemDep) -> NewTokenOut:
    """Create an API token; the secret is in this answer only."""
    secret, token = services.accounts.create_token(user, body.name)
    return NewTokenOut(**TokenOut.of(token).model_dump(), token=secret)


@router.delete(
    "/api/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses({401: "Not signed in", 404: "No such token"}),
)
def revoke_token(token_id: str, user: CurrentUser, services: SystemDep) -> Response:
    """Revoke one of the caller's API tokens."""
    if not services.accounts.revoke_token(user, token_id):
        raise ProblemError(404, f"no token with id {token_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
