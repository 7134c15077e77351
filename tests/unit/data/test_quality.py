"""The per-symbol data-quality report, on small hand-made frames."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.calendar import CalendarName
from privatetrade.data.quality import QualityIssue, quality_report
from privatetrade.data.symbols import Market
from privatetrade.errors import DataError, InputError

D = dt.date
WEEK = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-07"]  # 06-06 is Memorial Day


def bars(
    dates: Sequence[str],
    closes: Sequence[float],
    *,
    opens: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    volume: Sequence[float] | None = None,
    tz: str = "Asia/Seoul",
) -> pd.DataFrame:
    """Daily bars at local midnight; opens default to closes, highs/lows hug the body."""
    close = np.asarray(closes, dtype=float)
    open_ = close if opens is None else np.asarray(opens, dtype=float)
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) if highs is None else highs,
            "low": np.minimum(open_, close) if lows is None else lows,
            "close": close,
            "volume": np.full(len(close), 1_000.0) if volume is None else volume,
        },
        index=pd.DatetimeIndex(pd.to_datetime(list(dates)), name="time").tz_localize(tz),
    )


def test_clean_krx_bars_are_ok() -> None:
    report = quality_report(bars(WEEK, [10_000, 10_050, 9_990, 10_100]), "KOSPI", symbol="X")
    assert report.ok
    assert report.problems == ()
    assert (report.first_bar, report.last_bar, report.bar_count) == (
        D(2024, 6, 3),
        D(2024, 6, 7),
        4,
    )
    assert report.calendar is CalendarName.XKRX
    assert report.unchecked_bars == 0


def test_missing_session() -> None:
    report = quality_report(bars(["2024-06-03", "2024-06-05"], [10_000, 10_000]), Market.KOSDAQ)
    assert report.missing_sessions == QualityIssue(1, (D(2024, 6, 4),))
    assert report.problems == ("missing_sessions",)
    assert not report.ok


@pytest.mark.parametrize(
    "dates",
    [
        ["2024-06-05", "2024-06-06", "2024-06-07"],  # Memorial Day
        ["2024-09-13", "2024-09-17", "2024-09-19"],  # Chuseok
        ["2026-06-02", "2026-06-03", "2026-06-04"],  # closed by our override (elections)
        ["2024-06-07", "2024-06-08", "2024-06-10"],  # a Saturday
    ],
)
def test_bar_on_a_non_session(dates: list[str]) -> None:
    report = quality_report(bars(dates, [10_000] * 3), "KOSPI")
    assert report.non_session_bars == QualityIssue(1, (D.fromisoformat(dates[1]),))
    assert report.missing_sessions.count == 0
    assert report.problems == ("non_session_bars",)


def test_zero_volume_is_a_note_not_a_problem() -> None:
    report = quality_report(bars(WEEK, [10_000] * 4, volume=[5, 0, 7, 0]), "KOSPI")
    assert report.zero_volume == QualityIssue(2, (D(2024, 6, 4), D(2024, 6, 7)))
    assert report.ok


@pytest.mark.parametrize(
    ("second_close", "jump"),
    [
        (13_000, False),  # +30%: the limit
        (13_010, False),  # within one tick of it (adjusted data may round)
        (13_020, True),  # beyond: a corporate action or bad data
        (7_000, False),
        (6_990, False),
        (6_980, True),
    ],
)
def test_jump_beyond_the_daily_limit(second_close: float, jump: bool) -> None:
    frame = bars(["2024-06-03", "2024-06-04"], [10_000, second_close], opens=[10_000] * 2)
    report = quality_report(frame, "KOSPI")
    assert report.jumps.count == int(jump)
    assert report.jumps.examples == ((D(2024, 6, 4),) if jump else ())


@pytest.mark.parametrize(("day", "jump"), [("2015-06-12", True), ("2015-06-15", False)])
def test_the_limit_was_15_percent_before_2015_06_15(day: str, jump: bool) -> None:
    frame = bars(["2015-06-11", day], [10_000, 11_600], opens=[10_000] * 2)
    assert quality_report(frame, "KOSPI").jumps.count == int(jump)


def test_konex_kept_the_15_percent_limit() -> None:
    frame = bars(["2024-06-03", "2024-06-04"], [10_000, 11_600], opens=[10_000] * 2)
    assert quality_report(frame, "KONEX").jumps.count == 1
    assert quality_report(frame, "KOSDAQ").jumps.count == 0


def test_us_jumps_above_50_percent() -> None:
    days = ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"]
    report = quality_report(
        bars(days, [100.0, 140.0, 224.0, 100.123], tz="America/New_York"), "NASDAQ"
    )
    assert report.jumps.examples == (D(2024, 7, 3), D(2024, 7, 5))
    assert report.off_grid.count == 0  # no tick grid check outside KRX
    assert report.calendar is CalendarName.XNYS
    assert report.ok is False


def test_us_bar_on_independence_day() -> None:
    days = ["2024-07-03", "2024-07-04", "2024-07-05"]
    report = quality_report(bars(days, [100.0] * 3, tz="America/New_York"), "NYSE")
    assert report.non_session_bars.examples == (D(2024, 7, 4),)


@pytest.mark.parametrize(
    ("market", "day", "price", "off"),
    [
        ("KOSPI", "2024-06-03", 10_001, True),  # tick 10
        ("KOSPI", "2024-06-03", 10_010, False),
        ("KOSPI", "2023-01-20", 15_010, True),  # old table: 10,000-50,000 ticks 50
        ("KOSPI", "2023-01-26", 15_010, False),  # unified table since 2023-01-25: ticks 10
        ("KOSPI", "2022-06-03", 120_100, True),  # old KOSPI: 100,000-500,000 ticks 500
        ("KOSDAQ", "2022-06-03", 120_100, False),  # old KOSDAQ: 100 from 50,000 up
        ("KOSPI", "2024-06-03", 1_999, False),  # the band edge: below 2,000 ticks are 1
        ("KOSPI", "2024-06-03", 2_001, True),  # from 2,000 ticks are 5
    ],
)
def test_prices_off_the_tick_grid(market: str, day: str, price: float, off: bool) -> None:
    report = quality_report(bars([day], [price]), market)
    assert report.off_grid.count == int(off)
    assert report.ok is not off


@pytest.mark.parametrize(
    ("day", "off_grid", "half_tick"),
    [
        ("2025-02-28", 1, 0),  # before midpoint orders: off the grid
        ("2025-03-04", 0, 1),  # from 2025-03-04 a half tick is allowed
    ],
)
def test_half_ticks_are_allowed_from_2025_03_04(day: str, off_grid: int, half_tick: int) -> None:
    frame = bars([day], [10_005], opens=[10_010], highs=[10_010], lows=[10_000])
    report = quality_report(frame, "KOSDAQ")
    assert (report.off_grid.count, report.half_tick.count) == (off_grid, half_tick)


def test_a_quarter_tick_is_off_the_grid_even_after_2025_03_04() -> None:
    report = quality_report(bars(["2025-03-04"], [10_002.5]), "KOSPI")
    assert (report.off_grid.count, report.half_tick.count) == (1, 0)


@pytest.mark.parametrize(
    ("flat", "up", "down"),
    [
        (13_000, 1, 0),  # one price all day at the upper limit
        (12_990, 0, 0),  # a tick below it: an ordinary one-price day
        (7_000, 0, 1),
        (7_010, 0, 0),
    ],
)
def test_limit_locked_days_are_noted(flat: float, up: int, down: int) -> None:
    report = quality_report(bars(["2024-06-03", "2024-06-04"], [10_000, flat]), "KOSPI")
    assert (report.limit_up_locked.count, report.limit_down_locked.count) == (up, down)
    assert report.ok


def test_old_tick_table_limit_is_truncated_to_the_grid() -> None:
    # 10,050 × 30% = 3,015 -> 3,000 on the 50-won grid of 2022: the limit is 13,050.
    report = quality_report(bars(["2022-06-03", "2022-06-07"], [10_050, 13_050]), "KOSPI")
    assert report.limit_up_locked.count == 1


def test_days_are_read_in_the_exchange_zone_and_order() -> None:
    utc = bars(WEEK, [10_000, 10_050, 9_990, 10_100]).tz_convert("UTC")
    assert quality_report(utc, "KOSPI").ok
    report = quality_report(utc.iloc[::-1], "KOSPI")
    assert report.ok
    assert report.first_bar == D(2024, 6, 3)


def test_bars_outside_the_calendar_are_counted_unchecked() -> None:
    frame = bars(["1999-12-28", "2000-01-04", "2000-01-05"], [10_000] * 3)
    report = quality_report(frame, "KOSPI")
    assert report.unchecked_bars == 1
    assert report.ok
    other = quality_report(frame, Market.OTHER)
    assert (other.calendar, other.unchecked_bars) == (None, 3)


def test_empty_frame() -> None:
    report = quality_report(bars([], []), "KOSPI")
    assert (report.bar_count, report.first_bar, report.ok) == (0, None, True)


def test_to_dict_is_json_ready() -> None:
    frame = bars(["2024-06-03", "2024-06-05"], [10_000, 10_001], volume=[0, 1])
    document = quality_report(frame, "KOSPI", symbol="DEMO01", max_examples=1).to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["ok"] is False
    assert document["problems"] == ["missing_sessions", "off_grid"]
    assert document["missing_sessions"] == {"count": 1, "examples": ["2024-06-04"]}
    assert document["zero_volume"] == {"count": 1, "examples": ["2024-06-03"]}
    assert (document["symbol"], document["market"], document["calendar"]) == (
        "DEMO01",
        "KOSPI",
        "XKRX",
    )


def test_examples_are_capped() -> None:
    frame = bars(WEEK, [10_000] * 4, volume=[0] * 4)
    report = quality_report(frame, "KOSPI", max_examples=2)
    assert report.zero_volume == QualityIssue(4, (D(2024, 6, 3), D(2024, 6, 4)))


def test_bad_input_is_rejected() -> None:
    frame = bars(WEEK, [10_000] * 4)
    with pytest.raises(DataError, match="timezone-aware"):
        quality_report(frame.tz_localize(None), "KOSPI")
    with pytest.raises(DataError, match="'volume'"):
        quality_report(frame.drop(columns=["volume"]), "KOSPI")
    with pytest.raises(InputError, match="unknown market"):
        quality_report(frame, "MOON")
