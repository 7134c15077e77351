"""The daily update schedule: after each market's close, on its sessions, across DST.

Every expected time is worked out by hand: KRX closes at 15:30 in Seoul (UTC+9 all
year), the NYSE at 16:00 in New York (UTC-5 in winter, UTC-4 from the second Sunday of
March to the first Sunday of November), at 13:00 on its early-close days.
"""

from __future__ import annotations

import datetime as dt

import pytest

from privatetrade.data.calendar import CalendarName
from privatetrade.data.schedule import (
    ScheduledMarket,
    last_closed_session,
    latest_run,
    next_run,
    run_for_session,
)
from privatetrade.errors import InputError

KRX, NYSE = ScheduledMarket.KRX, ScheduledMarket.NYSE
HALF_HOUR = dt.timedelta(minutes=30)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("market", "now", "session", "at"),
    [
        # KRX: 15:30 KST + 30 min = 07:00 UTC, summer and winter alike (Korea has no DST).
        (KRX, utc(2024, 9, 13, 6, 59), dt.date(2024, 9, 13), utc(2024, 9, 13, 7, 0)),
        # Chuseok: Monday 16 to Wednesday 18 September 2024 are closed.
        (KRX, utc(2024, 9, 13, 7, 0), dt.date(2024, 9, 19), utc(2024, 9, 19, 7, 0)),
        (KRX, utc(2024, 3, 8, 12, 0), dt.date(2024, 3, 11), utc(2024, 3, 11, 7, 0)),
        (KRX, utc(2024, 11, 1, 12, 0), dt.date(2024, 11, 4), utc(2024, 11, 4, 7, 0)),
        # Christmas, the year-end closing day (31 December) and New Year's Day.
        (KRX, utc(2024, 12, 24, 8, 0), dt.date(2024, 12, 26), utc(2024, 12, 26, 7, 0)),
        (KRX, utc(2024, 12, 30, 8, 0), dt.date(2025, 1, 2), utc(2025, 1, 2, 7, 0)),
        # A late close the calendar knows: the 2019 college entrance exam day, 16:30 KST.
        (KRX, utc(2019, 11, 14, 7, 30), dt.date(2019, 11, 14), utc(2019, 11, 14, 8, 0)),
        # NYSE: Friday 8 March 2024 in EST (21:30 UTC), Monday 11 March in EDT (20:30 UTC).
        (NYSE, utc(2024, 3, 8, 21, 29), dt.date(2024, 3, 8), utc(2024, 3, 8, 21, 30)),
        (NYSE, utc(2024, 3, 8, 21, 30), dt.date(2024, 3, 11), utc(2024, 3, 11, 20, 30)),
        # Friday 1 November 2024 in EDT (20:30 UTC), Monday 4 November in EST (21:30 UTC).
        (NYSE, utc(2024, 11, 1, 12, 0), dt.date(2024, 11, 1), utc(2024, 11, 1, 20, 30)),
        (NYSE, utc(2024, 11, 1, 21, 0), dt.date(2024, 11, 4), utc(2024, 11, 4, 21, 30)),
        # Thanksgiving (28 November) is closed; the day after closes at 13:00 EST.
        (NYSE, utc(2024, 11, 27, 22, 0), dt.date(2024, 11, 29), utc(2024, 11, 29, 18, 30)),
        # Christmas Eve closes at 13:00; Christmas is closed.
        (NYSE, utc(2024, 12, 24, 12, 0), dt.date(2024, 12, 24), utc(2024, 12, 24, 18, 30)),
        (NYSE, utc(2024, 12, 24, 19, 0), dt.date(2024, 12, 26), utc(2024, 12, 26, 21, 30)),
        # Friday 5 January 2024: before and after its update, across the UTC midnight
        # (Saturday 00:00 UTC is still Friday evening in New York).
        (NYSE, utc(2024, 1, 5, 20, 0), dt.date(2024, 1, 5), utc(2024, 1, 5, 21, 30)),
        (NYSE, utc(2024, 1, 6, 0, 0), dt.date(2024, 1, 8), utc(2024, 1, 8, 21, 30)),
    ],
)
def test_next_run_is_the_first_close_plus_delay_after_now(
    market: ScheduledMarket, now: dt.datetime, session: dt.date, at: dt.datetime
) -> None:
    run = next_run(market, now, HALF_HOUR)
    assert (run.market, run.session, run.at) == (market, session, at)
    assert run.at.tzinfo is not None
    assert run.at.utcoffset() == dt.timedelta(0)


def test_latest_run_is_the_last_one_due() -> None:
    # Between Friday's KRX update and Chuseok's end, Friday's is the newest one due.
    for now in (utc(2024, 9, 13, 7, 0), utc(2024, 9, 17, 12, 0), utc(2024, 9, 19, 6, 59)):
        run = latest_run(KRX, now, HALF_HOUR)
        assert run is not None
        assert (run.session, run.at) == (dt.date(2024, 9, 13), utc(2024, 9, 13, 7, 0))
    thanksgiving = latest_run(NYSE, utc(2024, 11, 29, 18, 0), HALF_HOUR)
    assert thanksgiving is not None
    assert thanksgiving.session == dt.date(2024, 11, 27)


def test_the_delay_moves_the_run_and_may_cross_midnight() -> None:
    assert next_run(NYSE, utc(2024, 7, 1, 12, 0), dt.timedelta(0)).at == utc(2024, 7, 1, 20, 0)
    late = next_run(NYSE, utc(2024, 7, 1, 12, 0), dt.timedelta(hours=6))
    assert (late.session, late.at) == (dt.date(2024, 7, 1), utc(2024, 7, 2, 2, 0))
    # 2 July's 02:00 UTC run is still Monday's, due after Tuesday began in New York.
    assert next_run(NYSE, utc(2024, 7, 2, 1, 0), dt.timedelta(hours=6)).session == dt.date(
        2024, 7, 1
    )


def test_one_key_per_market_and_session() -> None:
    run = run_for_session(KRX, dt.date(2024, 9, 13), HALF_HOUR)
    assert run.idempotency_key == "scheduled-data-update:KRX:2024-09-13"
    assert run.idempotency_key.startswith(KRX.key_prefix)
    other = run_for_session(NYSE, dt.date(2024, 9, 13), HALF_HOUR)
    assert other.idempotency_key != run.idempotency_key
    assert run_for_session(KRX, dt.date(2024, 9, 13), dt.timedelta(hours=1)).idempotency_key == (
        run.idempotency_key
    )
    with pytest.raises(InputError, match="not a XKRX session"):
        run_for_session(KRX, dt.date(2024, 9, 16), HALF_HOUR)  # Chuseok


def test_last_closed_session_never_includes_a_session_still_trading() -> None:
    now = utc(2024, 1, 8, 12, 0)  # 21:00 in Seoul, 07:00 in New York
    assert last_closed_session(CalendarName.XKRX, now) == dt.date(2024, 1, 8)
    assert last_closed_session(CalendarName.XNYS, now) == dt.date(2024, 1, 5)
    during = utc(2024, 1, 8, 5, 0)  # 14:00 in Seoul: trading
    assert last_closed_session(CalendarName.XKRX, during) == dt.date(2024, 1, 5)


def test_naive_times_are_refused() -> None:
    with pytest.raises(InputError, match="aware"):
        next_run(KRX, dt.datetime(2024, 1, 8, 12, 0), HALF_HOUR)
