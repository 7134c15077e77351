"""Trading calendars: XKRX and XNYS sessions, our overrides, coverage and lookups."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    KRX_OVERRIDES,
    CalendarName,
    calendar_for_market,
    calendar_overrides,
    is_krx_session,
    is_session,
    is_us_session,
    krx_sessions,
    missing_sessions,
    session_days,
    session_mask,
    us_sessions,
)
from privatetrade.data.symbols import Market
from privatetrade.errors import InputError

D = dt.date


@pytest.mark.parametrize("day", [D(2026, 6, 3), D(2026, 7, 17)])
def test_override_days_are_closed(day: dt.date) -> None:
    assert not is_krx_session(day)
    assert day not in krx_sessions(day - dt.timedelta(days=3), day + dt.timedelta(days=3))


def test_days_around_the_overrides_stay_open() -> None:
    assert krx_sessions(D(2026, 6, 2), D(2026, 6, 4)) == [D(2026, 6, 2), D(2026, 6, 4)]
    assert krx_sessions(D(2026, 7, 16), D(2026, 7, 20)) == [D(2026, 7, 16), D(2026, 7, 20)]


def test_overrides_are_one_documented_table() -> None:
    assert calendar_overrides("XKRX") == KRX_OVERRIDES
    assert calendar_overrides(CalendarName.XNYS) == ()
    assert {o.day for o in KRX_OVERRIDES} >= {D(2026, 6, 3), D(2026, 7, 17)}
    assert all(o.reason.strip() and not o.is_open for o in KRX_OVERRIDES)


@pytest.mark.parametrize("day", [D(2024, 1, 2), D(2024, 9, 19), D(2025, 12, 30), D(2016, 1, 4)])
def test_regular_krx_sessions_are_open(day: dt.date) -> None:
    assert is_krx_session(day)


@pytest.mark.parametrize(
    "day",
    [
        D(2024, 1, 1),  # New Year's Day
        D(2024, 9, 16),  # Chuseok
        D(2024, 9, 17),
        D(2024, 9, 18),
        D(2024, 12, 31),  # year-end closing day
        D(2025, 6, 3),  # presidential election
        D(2024, 9, 14),  # a Saturday
    ],
)
def test_krx_holidays_are_closed(day: dt.date) -> None:
    assert not is_krx_session(day)


def test_krx_sessions_skip_chuseok() -> None:
    assert krx_sessions(D(2024, 9, 13), D(2024, 9, 20)) == [
        D(2024, 9, 13),
        D(2024, 9, 19),
        D(2024, 9, 20),
    ]


def test_session_days_are_a_read_only_datetime64_view() -> None:
    days = session_days("XKRX", D(2024, 9, 13), D(2024, 9, 20))
    assert days.dtype == np.dtype("datetime64[D]")
    assert not days.flags.writeable
    assert session_days("xkrx", D(2024, 9, 14), D(2024, 9, 15)).shape == (0,)


def test_session_mask_is_vectorized() -> None:
    days = np.array(["2024-09-13", "2024-09-16", "2026-06-03", "2026-06-04"], "datetime64[D]")
    assert session_mask("XKRX", days).tolist() == [True, False, False, True]


def test_missing_sessions_between_the_first_and_last_date() -> None:
    have = [D(2024, 9, 12), D(2024, 9, 20)]
    assert missing_sessions(have) == [D(2024, 9, 13), D(2024, 9, 19)]
    assert missing_sessions(have, D(2024, 9, 11), D(2024, 9, 23)) == [
        D(2024, 9, 11),
        D(2024, 9, 13),
        D(2024, 9, 19),
        D(2024, 9, 23),
    ]
    assert missing_sessions([]) == []
    assert missing_sessions([], D(2026, 6, 2), D(2026, 6, 4)) == [D(2026, 6, 2), D(2026, 6, 4)]


def test_missing_sessions_read_aware_timestamps_in_the_exchange_zone() -> None:
    # 15:00 UTC is midnight of the next day in Seoul: 09-13 and 09-21 (a Saturday).
    stamps = pd.DatetimeIndex(["2024-09-12 15:00", "2024-09-20 15:00"], tz="UTC")
    assert missing_sessions(stamps) == [D(2024, 9, 19), D(2024, 9, 20)]
    assert missing_sessions(list(stamps)) == [D(2024, 9, 19), D(2024, 9, 20)]


def test_us_calendar() -> None:
    assert not is_us_session(D(2024, 7, 4))
    assert is_us_session(D(2024, 7, 5))
    assert us_sessions(D(2001, 9, 10), D(2001, 9, 18)) == [
        D(2001, 9, 10),
        D(2001, 9, 17),
        D(2001, 9, 18),
    ]
    assert missing_sessions([D(2024, 7, 3), D(2024, 7, 8)], calendar="XNYS") == [D(2024, 7, 5)]


@pytest.mark.parametrize(
    ("market", "calendar"),
    [
        (Market.KOSPI, CalendarName.XKRX),
        ("kosdaq", CalendarName.XKRX),
        (Market.KONEX, CalendarName.XKRX),
        (Market.NASDAQ, CalendarName.XNYS),
        ("NYSE", CalendarName.XNYS),
        (Market.OTHER, None),
    ],
)
def test_calendar_for_market(market: Market | str, calendar: CalendarName | None) -> None:
    assert calendar_for_market(market) is calendar


@pytest.mark.parametrize(
    "day", [CALENDAR_START - dt.timedelta(days=1), CALENDAR_END + dt.timedelta(days=1)]
)
def test_days_outside_the_coverage_are_an_error(day: dt.date) -> None:
    with pytest.raises(InputError, match="covers 2000-01-01 to 2050-12-31"):
        is_krx_session(day)
    with pytest.raises(InputError, match="outside"):
        krx_sessions(min(day, CALENDAR_START), max(day, CALENDAR_START))


def test_unknown_names_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown calendar"):
        is_session("XLON", D(2024, 1, 2))
    with pytest.raises(InputError, match="unknown market"):
        calendar_for_market("MOON")


def test_importing_the_module_does_not_import_exchange_calendars() -> None:
    code = (
        "import sys, privatetrade.data.calendar, privatetrade.data.quality, "
        "privatetrade.data.synthetic; print('exchange_calendars' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
