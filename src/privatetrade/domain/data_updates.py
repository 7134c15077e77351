"""What a data update asks for, what it reports per symbol, and its schedule's figures.

A ``data_update`` job fetches new bars of stored symbols (or first bars of new codes)
from a data provider, symbol by symbol (``privatetrade.jobs.kinds.data_update``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from privatetrade.engine.limits import IsoDate

__all__ = [
    "MAX_UPDATE_SYMBOLS",
    "SCHEDULE_OWNER",
    "DataUpdateSpec",
    "Exchange",
    "ScheduledUpdateStatus",
    "Series",
    "UpdateStatus",
]

MAX_UPDATE_SYMBOLS = 500
"""Most codes one update may name (``symbols``); an empty list means every stored one."""

SCHEDULE_OWNER = "system"
"""The owner of the scheduled updates' jobs (no user has this id: user ids are hex)."""

Series = Literal["adjusted", "raw"]
Exchange = Literal["XKRX", "XNYS"]
UpdateCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=32)
]


class UpdateStatus(StrEnum):
    """What happened to one symbol in an update."""

    UPDATED = "updated"
    UP_TO_DATE = "up_to_date"
    FAILED = "failed"


class DataUpdateSpec(BaseModel):
    """Which symbols to bring up to date, from which provider, which series.

    Attributes:
        symbols: Codes to update or fetch for the first time (``005930``, ``AAPL``);
            empty: every stored symbol that came from ``provider`` (of ``exchange`` only,
            when given).
        provider: ``fdr``, ``pykrx`` or ``yfinance``; None at submission means the
            configured one (the stored spec always names it).
        series: ``adjusted`` and/or ``raw``; None: the series each symbol stores
            (a new symbol: ``adjusted``).
        start: First date to fetch; None: the day after each series' last stored bar
            (a new symbol or series: as far back as the provider goes).
        exchange: With an empty ``symbols``: only symbols traded on this exchange
            (``XKRX`` for KOSPI/KOSDAQ/KONEX, ``XNYS`` for NYSE/NASDAQ/AMEX).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: tuple[UpdateCode, ...] = Field(default=(), max_length=MAX_UPDATE_SYMBOLS)
    provider: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    series: tuple[Series, ...] | None = Field(default=None, min_length=1, max_length=2)
    start: IsoDate | None = None
    exchange: Exchange | None = None

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(symbols))

    @field_validator("series")
    @classmethod
    def _sorted_series(cls, series: tuple[Series, ...] | None) -> tuple[Series, ...] | None:
        return None if series is None else tuple(sorted(set(series)))

    def canonical_json(self) -> str:
        """Return the spec as canonical JSON (sorted keys, no spaces)."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False
        )

    def fingerprint(self) -> str:
        """Return the sha256 hex digest of the canonical JSON: equal specs, equal ids."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ScheduledUpdateStatus:
    """The scheduled daily update of one market, as the status page and /metrics show it.

    Attributes:
        market: ``KRX`` or ``NYSE``.
        enabled: Scheduled updates are switched on and a provider is configured.
        next_run_at: When the next update is due (UTC), if enabled.
        next_session: The session that update is for.
        last_job_id: The newest scheduled update job of this market, if any.
        last_session: The session it is for.
        last_state: Its state (``queued``, ``running``, ``succeeded``, ...).
        last_submitted_at: When it was submitted.
        last_finished_at: When the newest finished one ended.
        last_finished_state: How it ended (``succeeded``, ``failed``, ``cancelled``).
        updated: Symbols with new bars in that run (None unless it succeeded).
        up_to_date: Symbols that had nothing new.
        failed: Symbols that failed (a run fails when all of them do).
        error: Why that run failed, if it did.
        last_success_at: When the newest succeeded one ended.
    """

    market: str
    enabled: bool
    next_run_at: dt.datetime | None = None
    next_session: dt.date | None = None
    last_job_id: str | None = None
    last_session: dt.date | None = None
    last_state: str | None = None
    last_submitted_at: dt.datetime | None = None
    last_finished_at: dt.datetime | None = None
    last_finished_state: str | None = None
    updated: int | None = None
    up_to_date: int | None = None
    failed: int | None = None
    error: str | None = None
    last_success_at: dt.datetime | None = None
