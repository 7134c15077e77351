"""Exceptions raised by privatetrade, grouped by what the caller must do.

::

    PrivatetradeError                 base of everything below
    ├── InputError                    the caller passed a bad argument: fix the call
    │   ├── ParameterError            a strategy parameter is missing, unknown or out of bounds
    │   └── ConfigurationError        settings or a cost / sizing / stop choice is invalid
    ├── DataError                     the bars are unusable: fix the data (names the first bad row)
    │   └── ProviderError             a data provider failed or answered empty/malformed
    ├── StrategyError                 a strategy is unknown, broken or looks ahead
    └── JobError                      a run could not finish
        └── CancelledError            the run was cancelled through its cancel token

HTTP status codes and CLI exit codes are chosen at the boundaries (web, cli), never here.
"""

from __future__ import annotations

__all__ = [
    "CancelledError",
    "ConfigurationError",
    "DataError",
    "InputError",
    "JobError",
    "ParameterError",
    "PrivatetradeError",
    "ProviderError",
    "StrategyError",
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
