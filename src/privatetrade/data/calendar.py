"""Trading calendars: which days an exchange holds a session.

Sessions come from the ``exchange_calendars`` package (``XKRX`` for KOSPI, KOSDAQ and
KONEX; ``XNYS`` for US listings), corrected by our own table of overrides where that
package is known to be wrong (:data:`KRX_OVERRIDES`). To add a correction, append a
:class:`SessionOverride` with its reason to the table.

Both calendars cover :data:`CALENDAR_START` to :data:`CALENDAR_END`. A date outside
that range raises :class:`~privatetrade.errors.InputError`: before 2000 the XKRX
calendar lacks the Saturday sessions KRX held until December 1998, and after 2050
``exchange_calendars`` has no holidays at all. Days far in the future are projections
from the holiday rules: elections and temporary holidays are added as they are announced.

``exchange_calendars`` is slow to import and XKRX takes seconds to build (its lunar
holidays), so what we read from it — sessions and closes — is built once per machine and
kept on disk (see :func:`calendar_cache_dir`), keyed by the package's version; the
overrides are applied on top when read. Example::

    >>> import datetime as dt
    >>> is_krx_session(dt.date(2024, 9, 16))  # Chuseok
    False
    >>> krx_sessions(dt.date(2024, 9, 13), dt.date(2024, 9, 20))
    [datetime.date(2024, 9, 13), datetime.date(2024, 9, 19), datetime.date(2024, 9, 20)]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.data.symbols import Market, parse_market
from privatetrade.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALENDAR_END",
    "CALENDAR_START",
    "KRX_OVERRIDES",
    "CalendarName",
    "SessionOverride",
    "as_days",
    "calendar_cache_dir",
    "calendar_for_market",
    "calendar_overrides",
    "calendar_timezone",
    "is_krx_session",
    "is_session",
    "is_us_session",
    "krx_sessions",
    "missing_sessions",
    "session_close",
    "session_days",
    "session_mask",
    "sessions",
    "us_sessions",
]

CALENDAR_START = dt.date(2000, 1, 1)
"""First day the calendars cover."""
CALENDAR_END = dt.date(2050, 12, 31)
"""Last day the calendars cover (``exchange_calendars``' limit for XKRX)."""

Days = npt.NDArray[np.datetime64]


class CalendarName(StrEnum):
    """An exchange calendar, by its ISO 10383 market identifier code."""

    XKRX = "XKRX"
    XNYS = "XNYS"


@dataclass(frozen=True, slots=True)
class SessionOverride:
    """A correction of the upstream calendar on one day.

    Attributes:
        day: The calendar day.
        is_open: True when the exchange held (or will hold) a session that day.
        reason: Why, for the people who maintain the table.
    """

    day: dt.date
    is_open: bool
    reason: str


KRX_OVERRIDES: tuple[SessionOverride, ...] = (
    SessionOverride(
        dt.date(2026, 6, 3),
        is_open=False,
        reason="9th nationwide local elections (제9회 전국동시지방선거), a public holiday",
    ),
    SessionOverride(
        dt.date(2026, 7, 17),
        is_open=False,
        reason="Constitution Day (제헌절), a public holiday again from 2026",
    ),
)
"""Days where ``exchange_calendars``' XKRX is wrong, with the reason."""


def calendar_overrides(name: CalendarName | str) -> tuple[SessionOverride, ...]:
    """Return our overrides of the named calendar."""
    return KRX_OVERRIDES if _name(name) is CalendarName.XKRX else ()


def calendar_for_market(market: Market | str) -> CalendarName | None:
    """Return the calendar of a market, or None for a market without one (``OTHER``)."""
    member = parse_market(market)
    if member in (Market.KOSPI, Market.KOSDAQ, Market.KONEX):
        return CalendarName.XKRX
    if member in (Market.NYSE, Market.NASDAQ, Market.AMEX):
        return CalendarName.XNYS
    return None


def calendar_timezone(name: CalendarName | str) -> str:
    """Return the IANA time zone the calendar's days are counted in."""
    return "Asia/Seoul" if _name(name) is CalendarName.XKRX else "America/New_York"


def _name(name: CalendarName | str) -> CalendarName:
    try:
        return CalendarName(str(name).upper())
    except ValueError as exc:
        choices = ", ".join(member.value for member in CalendarName)
        raise InputError(f"unknown calendar {name!r}; use {choices}", field="calendar") from exc


@lru_cache(maxsize=4)
def _exchange_calendar(name: CalendarName) -> Any:
    """Build the upstream calendar over our whole range (about a second for XKRX)."""
    import exchange_calendars  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads ``Series.values`` of aware datetimes, which
        # pandas 3.1 deprecates; the values it gets are still right.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return exchange_calendars.get_calendar(
            name.value, start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat()
        )


_CACHE_FORMAT = 1


@dataclass(frozen=True)
class _Upstream:
    """What we read from an upstream calendar: sessions, their closes, the regular close."""

    sessions: Days
    closes_ns: npt.NDArray[np.int64]  # UTC nanoseconds, one per session
    regular_close_seconds: int  # latest regular close, local seconds after midnight


def calendar_cache_dir() -> Path:
    """Return the directory of the on-disk calendar cache.

    ``PRIVATETRADE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/privatetrade``, else
    ``~/.cache/privatetrade``. The cache is only an accelerator: a missing, unwritable
    or damaged cache means the calendar is built from ``exchange_calendars`` again.
    """
    configured = os.environ.get("PRIVATETRADE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "privatetrade"


def _cache_path(name: CalendarName) -> Path:
    version = metadata.version("exchange-calendars")
    span = f"{CALENDAR_START:%Y%m%d}-{CALENDAR_END:%Y%m%d}"
    return (
        calendar_cache_dir() / "calendars" / f"{name.value}-{version}-{span}-v{_CACHE_FORMAT}.npz"
    )


def _read_cached(path: Path) -> _Upstream | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            upstream = _Upstream(
                sessions=stored["sessions"].astype("datetime64[D]"),
                closes_ns=stored["closes_ns"].astype(np.int64),
                regular_close_seconds=int(stored["regular_close_seconds"]),
            )
    except (OSError, ValueError, KeyError):
        return None
    if upstream.sessions.shape != upstream.closes_ns.shape or upstream.sessions.shape[0] == 0:
        return None
    return upstream


def _write_cached(path: Path, upstream: _Upstream) -> None:
    """Write atomically (temporary file + rename): readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".calendar-", suffix=".npz")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(
                file,
                sessions=upstream.sessions.astype(np.int64),
                closes_ns=upstream.closes_ns,
                regular_close_seconds=np.int64(upstream.regular_close_seconds),
            )
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _build_upstream(name: CalendarName) -> _Upstream:
    calendar = _exchange_calendar(name)
    days = np.asarray(calendar.sessions.values).astype("datetime64[D]")
    closes = calendar.closes.reindex(calendar.sessions)
    closes_ns = np.asarray(closes.dt.tz_convert("UTC").dt.tz_localize(None).values)
    regular: dt.time = calendar.close_times[-1][1]
    seconds = regular.hour * 3600 + regular.minute * 60 + regular.second
    return _Upstream(days, closes_ns.astype("datetime64[ns]").view(np.int64), seconds)


@lru_cache(maxsize=4)
def _upstream(name: CalendarName) -> _Upstream:
    """Return the upstream calendar's sessions and closes: from the disk cache if there."""
    path = _cache_path(name)
    cached = _read_cached(path)
    if cached is not None:
        return cached
    built = _build_upstream(name)
    _write_cached(path, built)
    return built


@lru_cache(maxsize=4)
def _all_sessions(name: CalendarName) -> Days:
    """Return every session of the calendar in range, overrides applied, read-only."""
    upstream = _upstream(name).sessions
    overrides = [o for o in calendar_overrides(name) if CALENDAR_START <= o.day <= CALENDAR_END]
    closed = np.array([o.day for o in overrides if not o.is_open], dtype="datetime64[D]")
    opened = np.array([o.day for o in overrides if o.is_open], dtype="datetime64[D]")
    days = np.union1d(upstream[~np.isin(upstream, closed)], opened).astype("datetime64[D]")
    days.setflags(write=False)
    return days


def _check_range(name: CalendarName, first: dt.date, last: dt.date) -> None:
    if first < CALENDAR_START or last > CALENDAR_END:
        raise InputError(
            f"the {name.value} calendar covers {CALENDAR_START} to {CALENDAR_END}; "
            f"{first if first < CALENDAR_START else last} is outside it",
            field="date",
        )


def _day(value: dt.date | np.datetime64 | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        day: dt.date = value.astype("datetime64[D]").astype(object)
        return day
    return dt.date.fromisoformat(str(value)[:10])


def session_days(name: CalendarName | str, start: dt.date, end: dt.date) -> Days:
    """Return the sessions from ``start`` to ``end`` (inclusive) as ``datetime64[D]``.

    Args:
        name: The calendar.
        start: First day.
        end: Last day.

    Returns:
        A read-only array view (copy it to modify it).

    Raises:
        InputError: When the range leaves the calendar's coverage.
    """
    calendar = _name(name)
    first, last = _day(start), _day(end)
    _check_range(calendar, first, last)
    days = _all_sessions(calendar)
    lo = int(np.searchsorted(days, np.datetime64(first, "D"), side="left"))
    hi = int(np.searchsorted(days, np.datetime64(last, "D"), side="right"))
    return days[lo:hi]


def sessions(name: CalendarName | str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Return the sessions from ``start`` to ``end`` (inclusive) as dates."""
    result: list[dt.date] = session_days(name, start, end).astype(object).tolist()
    return result


def krx_sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """Return the KRX sessions from ``start`` to ``end`` (inclusive)."""
    return sessions(CalendarName.XKRX, start, end)


def us_sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """Return the NYSE sessions from ``start`` to ``end`` (inclusive)."""
    return sessions(CalendarName.XNYS, start, end)


def session_mask(name: CalendarName | str, days: Days) -> npt.NDArray[np.bool_]:
    """Return, for each ``datetime64[D]`` day, whether it is a session.

    Days outside the calendar's coverage are False; use :data:`CALENDAR_START` and
    :data:`CALENDAR_END` to tell them apart.
    """
    all_days = _all_sessions(_name(name))
    days = np.asarray(days, dtype="datetime64[D]")
    position = np.minimum(np.searchsorted(all_days, days), all_days.shape[0] - 1)
    mask: npt.NDArray[np.bool_] = all_days[position] == days
    return mask


def is_session(name: CalendarName | str, day: dt.date) -> bool:
    """Return whether the exchange holds a session on ``day``.

    Raises:
        InputError: When the day is outside the calendar's coverage.
    """
    calendar = _name(name)
    first = _day(day)
    _check_range(calendar, first, first)
    return bool(session_mask(calendar, np.array([first], dtype="datetime64[D]"))[0])


def is_krx_session(day: dt.date) -> bool:
    """Return whether KRX holds a session on ``day``."""
    return is_session(CalendarName.XKRX, day)


def is_us_session(day: dt.date) -> bool:
    """Return whether the NYSE holds a session on ``day``."""
    return is_session(CalendarName.XNYS, day)


def session_close(name: CalendarName | str, day: dt.date) -> dt.datetime:
    """Return when the session on ``day`` closes (aware, UTC), early and late closes included.

    Example: the NYSE closes at 13:00 New York time on the day after Thanksgiving::

        >>> session_close("XNYS", dt.date(2024, 11, 29)).isoformat()
        '2024-11-29T18:00:00+00:00'

    Raises:
        InputError: The day is not a session (``field`` is ``date``), or is outside
            the calendar's coverage.
    """
    import pandas as pd

    calendar = _name(name)
    first = _day(day)
    if not is_session(calendar, first):
        raise InputError(f"{first} is not a {calendar.value} session", field="date")
    upstream = _upstream(calendar)
    day64 = np.datetime64(first, "D")
    position = int(np.searchsorted(upstream.sessions, day64))
    if position < upstream.sessions.shape[0] and upstream.sessions[position] == day64:
        close = pd.Timestamp(int(upstream.closes_ns[position]), tz="UTC")
        result: dt.datetime = close.to_pydatetime()
        return result
    # A session our overrides added: the regular close.
    local = pd.Timestamp(first) + pd.Timedelta(seconds=upstream.regular_close_seconds)
    aware: dt.datetime = (
        local.tz_localize(calendar_timezone(calendar)).tz_convert("UTC").to_pydatetime()
    )
    return aware


def as_days(dates: Iterable[Any] | pd.DatetimeIndex, tz: str) -> Days:
    """Return dates, datetimes or timestamps as ``datetime64[D]`` days, in the given order.

    Timezone-aware values are first converted to ``tz`` so a bar stamped in UTC
    counts on the exchange's calendar day.
    """
    import pandas as pd

    if isinstance(dates, np.ndarray) and np.issubdtype(dates.dtype, np.datetime64):
        return dates.astype("datetime64[D]")
    if isinstance(dates, pd.DatetimeIndex):
        index = dates
    else:
        items = list(dates)
        if not items:
            return np.empty(0, dtype="datetime64[D]")
        if all(isinstance(i, dt.date) and not isinstance(i, dt.datetime) for i in items):
            return np.array(items, dtype="datetime64[D]")
        index = pd.DatetimeIndex(pd.to_datetime(items, utc=_any_aware(items)))
    if index.tz is not None:
        index = index.tz_convert(tz).tz_localize(None)
    return np.asarray(index.values).astype("datetime64[D]")


def _any_aware(items: list[Any]) -> bool:
    return any(getattr(item, "tzinfo", None) is not None for item in items)


def missing_sessions(
    dates: Iterable[Any] | pd.DatetimeIndex,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    calendar: CalendarName | str = CalendarName.XKRX,
) -> list[dt.date]:
    """Return the sessions between ``start`` and ``end`` that ``dates`` lack.

    Args:
        dates: Days that have data (dates, datetimes, timestamps; aware ones are read
            in the calendar's time zone).
        start: First day to check (default: the earliest of ``dates``).
        end: Last day to check (default: the latest of ``dates``).
        calendar: The calendar, XKRX by default.

    Returns:
        The missing sessions in order; empty when ``dates`` is empty and no range given.

    Raises:
        InputError: When the range leaves the calendar's coverage.
    """
    name = _name(calendar)
    days = as_days(dates, calendar_timezone(name))
    if days.shape[0] == 0 and (start is None or end is None):
        return []
    first = _day(start) if start is not None else _day(days.min())
    last = _day(end) if end is not None else _day(days.max())
    if last < first:
        return []
    expected = session_days(name, first, last)
    missing: list[dt.date] = expected[~np.isin(expected, days)].astype(object).tolist()
    return missing
