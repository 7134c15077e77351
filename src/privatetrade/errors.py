"""Exceptions raised by privatetrade, grouped by what the caller must do.

::

    PrivatetradeError                 base of everything below
    ├── InputError                    the caller passed a bad argument: fix the call
    │   ├── ParameterError            a strategy parameter is missing, unknown or out of bounds
    │   └── ConfigurationError        settings or a cost / sizing / stop choice is invalid
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
"""

from __future__ import annotations

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
    "StrategyError",
    "TimeLimitError",
    "UnavailableError",
]


class PrivatetradeError(Exception):
    """Base class of every error privatetrade raises on purpose."""


class InputError(PrivatetradeError, ValueError):
    """An argument is invalid; ``field`` names it when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ParameterError(InputError):
    """A strategy parameter is missing, unknown, of the wrong type or out of bounds."""


class ConfigurationError(InputError):
    """A setting or an option (costs, sizing, stops) is invalid."""


class DataError(PrivatetradeError, ValueError):
    """Bars are invalid; ``row`` is the position of the first bad row when known."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
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
