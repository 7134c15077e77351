"""signal_bars: first/last session of each period on the portfolio calendar."""

from __future__ import annotations

import numpy as np
import pytest

from allocation_builders import local_days
from privatetrade.engine.portfolio.schedule import period_keys, signal_bars
from privatetrade.errors import InputError


def bars(dates: list[str], rebalance: str, on: str, first: int = 0) -> list[int]:
    return signal_bars(local_days(dates), rebalance, on, first).tolist()  # type: ignore[arg-type]


# Two weeks and a bit: Monday 2024-01-01 is a holiday (the week starts on Tuesday), and
# Friday 2024-01-12 is one too (the week ends on Thursday).
WEEKS = [
    "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05",  # 0-3
    "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11",  # 4-7
    "2024-01-15", "2024-01-16",  # 8-9
]  # fmt: skip


def test_weekly_first_session_moves_past_a_monday_holiday() -> None:
    assert bars(WEEKS, "weekly", "first") == [0, 4, 8]


def test_weekly_last_session_moves_before_a_friday_holiday() -> None:
    # 7 = Thursday 01-11; the data's last bar (9) is not known to end its week.
    assert bars(WEEKS, "weekly", "last") == [0, 3, 7]


def test_an_iso_week_spans_the_new_year() -> None:
    days = ["2024-12-27", "2024-12-30", "2024-12-31", "2025-01-02", "2025-01-03", "2025-01-06"]
    # 2024-12-30 .. 2025-01-05 is one ISO week (2025-W01); months still split on 01-01.
    assert bars(days, "weekly", "first") == [0, 1, 5]
    assert bars(days, "weekly", "last") == [0, 4]
    assert bars(days, "monthly", "first") == [0, 3]
    assert bars(days, "monthly", "last") == [0, 2]


MONTHS = [
    "2024-01-30", "2024-01-31",  # 0-1
    "2024-02-01", "2024-02-15", "2024-02-29",  # 2-4 (leap day)
    "2024-03-04", "2024-03-28",  # 5-6 (03-29 is no session here)
    "2024-04-01", "2024-04-02",  # 7-8
]  # fmt: skip


def test_monthly_first_and_last_sessions() -> None:
    assert bars(MONTHS, "monthly", "first") == [0, 2, 5, 7]
    assert bars(MONTHS, "monthly", "last") == [0, 1, 4, 6]


def test_the_first_eligible_bar_is_a_signal_bar_and_nothing_before_it() -> None:
    assert bars(MONTHS, "monthly", "first", first=3) == [3, 5, 7]
    assert bars(MONTHS, "monthly", "last", first=3) == [3, 4, 6]
    # The first eligible bar may itself be a period's first or last session: once only.
    assert bars(MONTHS, "monthly", "first", first=2) == [2, 5, 7]
    assert bars(MONTHS, "monthly", "last", first=4) == [4, 6]
    assert bars(MONTHS, "monthly", "last", first=-5) == [0, 1, 4, 6]
    assert bars(MONTHS, "monthly", "first", first=9) == []
    assert bars(MONTHS, "monthly", "last", first=8) == [8]


def test_quarterly_sessions_are_calendar_quarters() -> None:
    days = [
        "2023-12-28", "2024-01-02",  # 0-1: Q4, Q1
        "2024-03-28", "2024-04-01",  # 2-3: Q1, Q2
        "2024-06-28", "2024-07-01",  # 4-5: Q2, Q3
        "2024-09-30", "2024-10-02",  # 6-7: Q3, Q4
        "2024-12-30",  # 8: Q4
    ]  # fmt: skip
    assert bars(days, "quarterly", "first") == [0, 1, 3, 5, 7]
    assert bars(days, "quarterly", "last") == [0, 2, 4, 6]


def test_daily_is_every_session() -> None:
    days = ["2024-01-02", "2024-01-03", "2024-01-05", "2024-01-08"]
    assert bars(days, "daily", "first") == [0, 1, 2, 3]
    assert bars(days, "daily", "last") == [0, 1, 2]  # the last bar may be followed that day
    assert bars(days, "daily", "first", first=2) == [2, 3]


def test_intraday_bars_use_the_first_or_last_bar_of_the_day() -> None:
    hour = 3_600 * 10**9
    day = local_days(["2024-01-02"])[0]
    times = np.array([day + 9 * hour, day + 12 * hour, day + 15 * hour], dtype=np.int64)
    times = np.concatenate((times, times + 24 * hour))
    assert signal_bars(times, "daily", "first", 0).tolist() == [0, 3]
    assert signal_bars(times, "daily", "last", 0).tolist() == [0, 2]
    assert signal_bars(times, "daily", "first", 1).tolist() == [1, 3]


def test_periods_before_1970_split_at_the_right_dates() -> None:
    days = ["1969-12-30", "1969-12-31", "1970-01-01", "1970-01-02"]
    assert bars(days, "monthly", "first") == [0, 2]
    assert bars(days, "quarterly", "last") == [0, 1]
    # 1969-12-29 is a Monday: one ISO week from there to 1970-01-04.
    assert np.unique(period_keys(local_days(days), "weekly")).size == 1


def test_the_local_wall_clock_decides_the_period() -> None:
    # 2024-02-01 08:30 in Seoul is 2024-01-31 23:30 UTC: the local date is what counts.
    seoul = local_days(["2024-01-31", "2024-02-01"]) + np.array([10, 8 * 60 + 30]) * 60 * 10**9
    assert signal_bars(seoul, "monthly", "first", 0).tolist() == [0, 1]


@pytest.mark.parametrize(
    ("rebalance", "on", "field"),
    [("yearly", "first", "rebalance"), ("monthly", "middle", "rebalance_on")],
)
def test_unknown_choices_name_their_field(rebalance: str, on: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        signal_bars(local_days(MONTHS), rebalance, on, 0)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_empty_calendar_has_no_signal_bars() -> None:
    assert signal_bars(np.empty(0, dtype=np.int64), "monthly", "last", 0).tolist() == []
