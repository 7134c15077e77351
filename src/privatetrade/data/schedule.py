"""When the daily data updates run: after each market's close, on its sessions only.

Pure functions of a given time; the server's loop that submits the updates is
:mod:`privatetrade.jobs.scheduled_updates`. A market's update for a session is due
``delay`` after that session's close (KRX 15:30 Asia/Seoul, NYSE 16:00 America/New_York;
early closes such as the NYSE's 13:00 on the day after Thanksgiving, and KRX's late
closes on exam days, as the calendar records them). Days without a session (weekends,
Chuseok, Christmas, Thanksgiving, ...) have no update. Times are computed in the
exchange's zone, so daylight saving time moves the NYSE update in UTC (Korea has none).

Example::

    >>> import datetime as dt
    >>> now = dt.datetime(2024, 9, 13, 12, 0, tzinfo=dt.UTC)  # Friday before Chuseok
    >>> run = next_run(ScheduledMarket.KRX, now, dt.timedelta(minutes=30))
    >>> run.session, run.at.isoformat()
    (datetime.date(2024, 9, 19), '2024-09-19T07:00:00+00:00')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from privatetrade.data.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    CalendarName,
    calendar_timezone,
    session_close,
    sessions,
)
from privatetrade.errors import InputError

__all__ = [
    "ScheduledMarket",
    "ScheduledRun",
    "last_closed_session",
    "latest_run",
    "next_run",
    "run_for_session",
]

_LOOK_BACK = dt.timedelta(days=21)  # longer than any run of closed days (Chuseok + weekend)
_LOOK_AHEAD = dt.timedelta(days=21)


class ScheduledMarket(StrEnum):
    """A market with a daily update; its value is the ``market`` label of the metrics."""

    KRX = "KRX"
    NYSE = "NYSE"

    @property
    def calendar(self) -> CalendarName:
        """The exchange calendar of the market's sessions."""
        return CalendarName.XKRX if self is ScheduledMarket.KRX else CalendarName.XNYS

    @property
    def key_prefix(self) -> str:
        """What the idempotency keys of this market's update jobs start with."""
        return f"scheduled-data-update:{self.value}:"


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    """One market's update for one session.

    Attributes:
        market: The market.
        session: The session (local date) whose bars the update brings in.
        at: When the update is due (UTC): the session's close plus the delay.
    """

    market: ScheduledMarket
    session: dt.date
    at: dt.datetime

    @property
    def idempotency_key(self) -> str:
        """The key of its job: one job per market and session, whoever submits it."""
        return f"{self.market.key_prefix}{self.session.isoformat()}"


def run_for_session(market: ScheduledMarket, session: dt.date, delay: dt.timedelta) -> ScheduledRun:
    """Return the update of ``market`` for ``session``.

    Raises:
        InputError: ``session`` is not one of the market's sessions.
    """
    return ScheduledRun(market, session, session_close(market.calendar, session) + delay)


def _local_day(calendar: CalendarName, moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None:
        raise InputError("give an aware time (UTC)", field="now")
    return moment.astimezone(ZoneInfo(calendar_timezone(calendar))).date()


def _sessions_around(calendar: CalendarName, day: dt.date) -> list[dt.date]:
    first = max(day - _LOOK_BACK, CALENDAR_START)
    last = min(day + _LOOK_AHEAD, CALENDAR_END)
    if first > last:
        raise InputError(
            f"{day} is outside the calendars ({CALENDAR_START} to {CALENDAR_END})", field="now"
        )
    return sessions(calendar, first, last)


def next_run(market: ScheduledMarket, now: dt.datetime, delay: dt.timedelta) -> ScheduledRun:
    """Return the first update of ``market`` due strictly after ``now``.

    Args:
        market: KRX or NYSE.
        now: The current time (aware).
        delay: How long after the close the update runs.

    Raises:
        InputError: ``now`` is naive, or no session follows within the calendar.
    """
    day = _local_day(market.calendar, now)
    for session in _sessions_around(market.calendar, day):
        run = run_for_session(market, session, delay)
        if run.at > now:
            return run
    raise InputError(f"no {market.value} session after {now.isoformat()}", field="now")


def latest_run(
    market: ScheduledMarket, now: dt.datetime, delay: dt.timedelta
) -> ScheduledRun | None:
    """Return the newest update of ``market`` due at or before ``now`` (None: none recent).

    Raises:
        InputError: ``now`` is naive.
    """
    day = _local_day(market.calendar, now)
    for session in reversed(_sessions_around(market.calendar, day)):
        run = run_for_session(market, session, delay)
        if run.at <= now:
            return run
    return None


def last_closed_session(calendar: CalendarName, now: dt.datetime) -> dt.date | None:
    """Return the newest session of ``calendar`` that had closed by ``now`` (None: none).

    A data update fetches up to this day, never a session still trading.

    Raises:
        InputError: ``now`` is naive.
    """
    day = _local_day(calendar, now)
    for session in reversed(_sessions_around(calendar, day)):
        if session_close(calendar, session) <= now:
            return session
    return None
