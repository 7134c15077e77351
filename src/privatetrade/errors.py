"""Exceptions raised by privatetrade, grouped by what the caller must do.

::

    PrivatetradeError                 base of everything below
    ├── InputError                    the caller passed a bad argument: fix the call
    │   ├── ParameterError            a strategy parameter is missing, unknown or out of bounds
    │   ├── ConfigurationError        settings or a cost / sizing / stop choice is invalid
    │   └── RuleError                 a rule strategy document is invalid (names its JSON path)
    ├── DataError                     the bars are unusable: fix the data (names the first bad row)
    │   └── ProviderError             a data provider failed or answered empty/malformed
    ├── StrategyError                 a strategy is unknown, broken or looks ahead
    ├── JobError                      a run could not finish
    │   ├── CancelledError            the run was cancelled through its cancel token
    │   └── TimeLimitError            the run took longer than its kind's time limit
    ├── NotFoundError                 no such object (or not the caller's): check the id
    ├── ConflictError                 the request conflicts with the object's state
    │   └── IdempotencyConflictError  an Idempotency-Key was reused with another request
    ├── LimitExceededError            a quota or rate limit is reached: retry later
    ├── AuthenticationError           missing or wrong credentials: sign in again
    │   └── PermissionDeniedError     signed in, but not allowed to do this
    └── UnavailableError              a dependency (the database) is down or busy: retry later

HTTP status codes and CLI exit codes are chosen at the boundaries (web, cli), never here.

An error may carry a ``code`` (a stable name of its kind, e.g. ``"too_many_bars"``) and the
``params`` its message mentions (``{"count": 5200, "limit": 5000}``), so a boundary can
show it in another language; the English message stays the error's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "AuthenticationError",
    "CancelledError",
    "ConfigurationError",
    "ConflictError",
    "DataError",
    "IdempotencyConflictError",
    "InputError",
    "JobError",
    "LimitExceededError",
    "NotFoundError",
    "ParameterError",
    "PermissionDeniedError",
    "PrivatetradeError",
    "ProviderError",
    "RuleError",
    "StrategyError",
    "TimeLimitError",
    "UnavailableError",
]


_Params = Mapping[str, str | int | float]
"""The values an error message mentions, by name (for translated messages)."""


class PrivatetradeError(Exception):
    """Base class of every error privatetrade raises on purpose.

    Args:
        message: What went wrong and how to fix it, in English.
        code: A stable name of the kind of error (None: not named).
        params: The values the message mentions, by name.
    """

    code: str | None = None
    params: _Params = MappingProxyType({})

    def __init__(
        self, message: str = "", *, code: str | None = None, params: _Params | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if params:
            self.params = MappingProxyType(dict(params))


class InputError(PrivatetradeError, ValueError):
    """An argument is invalid; ``field`` names it when known."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        params: _Params | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)
        self.field = field


class ParameterError(InputError):
    """A strategy parameter is missing, unknown, of the wrong type or out of bounds."""


class ConfigurationError(InputError):
    """A setting or an option (costs, sizing, stops) is invalid."""


class RuleError(InputError):
    """A rule strategy document is invalid.

    ``path`` is the JSON path of the offending part (``"$.long.entry.all[1].left.period"``;
    ``"$"`` for the whole document), also given as ``field`` and in ``params["path"]``;
    ``code`` is a stable snake_case name of the problem.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "$",
        code: str = "invalid_rule",
        params: _Params | None = None,
    ) -> None:
        super().__init__(message, field=path, code=code, params={"path": path, **(params or {})})
        self.path = path


class DataError(PrivatetradeError, ValueError):
    """Bars are invalid; ``row`` is the position of the first bad row when known."""

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        code: str | None = None,
        params: _Params | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)
        self.row = row


class ProviderError(DataError):
    """A market-data provider failed, or answered with nothing or something malformed.

    ``transient`` marks failures worth retrying (timeouts, 5xx, connection resets).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class StrategyError(PrivatetradeError):
    """A strategy is unknown, fails, returns malformed signals or looks ahead."""


class JobError(PrivatetradeError):
    """A backtest run could not finish."""


class CancelledError(JobError):
    """The run was cancelled through its cancel token."""


class TimeLimitError(JobError):
    """The run took longer than the time limit of its kind."""


class NotFoundError(PrivatetradeError, LookupError):
    """The object does not exist, or belongs to someone else (indistinguishable on purpose)."""


class ConflictError(PrivatetradeError):
    """The request conflicts with the current state of the object.

    ``state`` names that state when it helps the caller (e.g. a result asked for
    while the job is still ``running``).
    """

    def __init__(self, message: str, *, state: str | None = None) -> None:
        super().__init__(message)
        self.state = state


class IdempotencyConflictError(ConflictError):
    """An Idempotency-Key was used before with a different request; ``job_id`` is that job."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Idempotency-Key already used for job {job_id} with another body")
        self.job_id = job_id


class LimitExceededError(PrivatetradeError):
    """A quota or rate limit is reached; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(PrivatetradeError):
    """Credentials are missing, wrong, expired or revoked."""


class PermissionDeniedError(AuthenticationError):
    """The caller is signed in but may not do this."""


class UnavailableError(PrivatetradeError):
    """A dependency (the database) is unavailable or busy; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
