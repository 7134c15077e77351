"""The on-disk cache of upstream calendars gives exactly what exchange_calendars gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from privatetrade.data import calendar
from privatetrade.data.calendar import CalendarName, session_close


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PRIVATETRADE_CACHE_DIR", str(tmp_path))
    calendar._upstream.cache_clear()
    calendar._all_sessions.cache_clear()
    yield tmp_path
    calendar._upstream.cache_clear()
    calendar._all_sessions.cache_clear()


def test_cached_sessions_and_closes_equal_the_upstream_calendar(cache_dir: Path) -> None:
    built = calendar._upstream(CalendarName.XNYS)
    (path,) = (cache_dir / "calendars").glob("XNYS-*.npz")
    calendar._upstream.cache_clear()
    cached = calendar._upstream(CalendarName.XNYS)
    np.testing.assert_array_equal(cached.sessions, built.sessions)
    np.testing.assert_array_equal(cached.closes_ns, built.closes_ns)
    assert cached.regular_close_seconds == built.regular_close_seconds == 16 * 3600

    upstream = calendar._exchange_calendar(CalendarName.XNYS)
    expected = np.asarray(upstream.sessions.values).astype("datetime64[D]")
    np.testing.assert_array_equal(cached.sessions, expected)
    # Early closes survive the round trip: the day after Thanksgiving closes at 13:00 ET.
    assert session_close("XNYS", dt.date(2024, 11, 29)) == dt.datetime(
        2024, 11, 29, 18, tzinfo=dt.UTC
    )
    assert session_close("XNYS", dt.date(2024, 7, 1)) == dt.datetime(2024, 7, 1, 20, tzinfo=dt.UTC)
    for day in (dt.date(2024, 11, 29), dt.date(2024, 3, 8), dt.date(2024, 3, 11)):
        assert session_close("XNYS", day) == upstream.closes.loc[str(day)].to_pydatetime()
    assert path.stat().st_size > 0


def test_a_damaged_cache_file_is_rebuilt(cache_dir: Path) -> None:
    first = calendar._upstream(CalendarName.XNYS)
    (path,) = (cache_dir / "calendars").glob("XNYS-*.npz")
    path.write_bytes(b"not a numpy archive")
    calendar._upstream.cache_clear()
    again = calendar._upstream(CalendarName.XNYS)
    np.testing.assert_array_equal(again.sessions, first.sessions)
    assert calendar._read_cached(path) is not None  # rewritten whole


def test_an_unwritable_cache_directory_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    monkeypatch.setenv("PRIVATETRADE_CACHE_DIR", str(blocked))
    calendar._upstream.cache_clear()
    try:
        sessions = calendar._upstream(CalendarName.XNYS).sessions
        assert np.datetime64("2024-12-24") in sessions
        assert np.datetime64("2024-12-25") not in sessions
    finally:
        calendar._upstream.cache_clear()
