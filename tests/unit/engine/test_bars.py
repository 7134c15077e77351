"""Validation of user bars by ``prepare_bars``: every rejection names its row and reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from builders import daily_times
from privatetrade.engine.bars import PreparedBars, prepare_bars
from privatetrade.errors import DataError

NS_PER_HOUR = 3_600 * 10**9
N = 6


def columns() -> dict[str, np.ndarray]:
    """Six valid daily bars from 2024-01-02, stamped 06:00 UTC (15:00 in Seoul)."""
    open_ = np.array([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    close = open_ + 0.5
    return {
        "time": daily_times(N, "2024-01-02"),
        "open": open_,
        "high": close + 1.0,
        "low": open_ - 1.0,
        "close": close,
        "volume": np.full(N, 1_000.0),
    }


def as_frame(data: dict[str, np.ndarray], tz: str = "Asia/Seoul") -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(data["time"], unit="ns", utc=True)).tz_convert(tz)
    return pd.DataFrame({k: v for k, v in data.items() if k != "time"}, index=index)


def prepare(data: dict[str, np.ndarray], kind: str) -> PreparedBars:
    if kind == "mapping":
        return prepare_bars(data, tz="Asia/Seoul")
    return prepare_bars(as_frame(data))


KINDS = pytest.mark.parametrize("kind", ["mapping", "frame"])


# ------------------------------------------------------------------- valid input


@KINDS
def test_valid_bars_are_returned_as_arrays(kind: str) -> None:
    data = columns()
    prepared = prepare(data, kind)
    assert len(prepared) == N
    assert prepared.tz == "Asia/Seoul"
    bars = prepared.bars
    np.testing.assert_array_equal(bars.time, data["time"])
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(bars, name), data[name])
        assert getattr(bars, name).dtype == np.float64
    # Seoul is UTC+9 all year: 06:00 UTC is 15:00 on the same day.
    np.testing.assert_array_equal(prepared.local_time_ns, data["time"] + 9 * NS_PER_HOUR)


def test_frame_local_times_follow_daylight_saving() -> None:
    # New York switched to UTC-4 on 2024-03-10: 15:00 UTC is 10:00 then 11:00 local.
    utc = pd.DatetimeIndex(["2024-03-08 15:00", "2024-03-11 15:00"], tz="UTC")
    frame = pd.DataFrame(
        {"open": [10.0, 11.0], "high": [11.0, 12.0], "low": [9.0, 10.0], "close": [10.5, 11.5]},
        index=utc.tz_convert("America/New_York"),
    )
    prepared = prepare_bars(frame)
    assert prepared.tz == "America/New_York"
    offsets = (prepared.local_time_ns - prepared.bars.time) // NS_PER_HOUR
    assert offsets.tolist() == [-5, -4]


def test_mapping_local_times_follow_daylight_saving() -> None:
    time = np.array(["2024-03-08T15:00", "2024-03-11T15:00"], dtype="datetime64[ns]")
    prepared = prepare_bars(
        {"time": time, "open": [10, 11], "high": [11, 12], "low": [9, 10], "close": [10, 11]},
        tz="America/New_York",
    )
    assert ((prepared.local_time_ns - prepared.bars.time) // NS_PER_HOUR).tolist() == [-5, -4]


def test_datetime64_and_int64_times_are_the_same() -> None:
    data = columns()
    as_int = prepare_bars(data, tz="Asia/Seoul")
    as_datetime = prepare_bars(
        data | {"time": data["time"].astype("datetime64[ns]")}, tz="Asia/Seoul"
    )
    np.testing.assert_array_equal(as_int.bars.time, as_datetime.bars.time)
    np.testing.assert_array_equal(as_int.local_time_ns, as_datetime.local_time_ns)


@KINDS
def test_column_names_are_case_insensitive(kind: str) -> None:
    data = columns()
    renamed = {
        "time": data["time"],
        "Open": data["open"],
        "HIGH": data["high"],
        "low": data["low"],
        "Close": data["close"],
        "VoLuMe": data["volume"],
    }
    if kind == "mapping":
        prepared = prepare_bars(renamed, tz="Asia/Seoul")
    else:
        prepared = prepare_bars(as_frame(renamed))
    np.testing.assert_array_equal(prepared.bars.high, data["high"])
    np.testing.assert_array_equal(prepared.bars.close, data["close"])
    np.testing.assert_array_equal(prepared.bars.volume, data["volume"])


@KINDS
def test_missing_volume_is_filled_with_zeros(kind: str) -> None:
    data = columns()
    del data["volume"]
    prepared = prepare(data, kind)
    np.testing.assert_array_equal(prepared.bars.volume, np.zeros(N))


def test_prepared_bars_pass_through() -> None:
    prepared = prepare_bars(columns(), tz="Asia/Seoul")
    assert prepare_bars(prepared) is prepared


# ------------------------------------------------------------- invalid bar values


def set_value(name: str, row: int, value: float) -> Callable[[dict[str, np.ndarray]], None]:
    def change(data: dict[str, np.ndarray]) -> None:
        data[name] = data[name].copy()
        data[name][row] = value

    return change


def copy_time(row: int, source: int) -> Callable[[dict[str, np.ndarray]], None]:
    def change(data: dict[str, np.ndarray]) -> None:
        data["time"] = data["time"].copy()
        data["time"][row] = data["time"][source]

    return change


def earlier_time(row: int) -> Callable[[dict[str, np.ndarray]], None]:
    def change(data: dict[str, np.ndarray]) -> None:
        data["time"] = data["time"].copy()
        data["time"][row] = data["time"][row - 1] - NS_PER_HOUR

    return change


INVALID = [
    # (change, row, reason); base bars: open 100..105, close open+0.5, high close+1, low open-1
    pytest.param(set_value("close", 2, np.nan), 2, "not finite", id="nan-close"),
    pytest.param(set_value("open", 0, np.nan), 0, "not finite", id="nan-open-row0"),
    pytest.param(set_value("high", 4, np.inf), 4, "not finite", id="inf-high"),
    pytest.param(set_value("volume", 1, np.nan), 1, "not finite", id="nan-volume"),
    pytest.param(set_value("open", 3, 0.0), 3, "prices must be positive", id="zero-open"),
    pytest.param(set_value("low", 1, -1.0), 1, "prices must be positive", id="negative-low"),
    # row 2: open 102, close 102.5 -> a high of 102.4 is below the body
    pytest.param(set_value("high", 2, 102.4), 2, "high is below max(open, close)", id="high"),
    # row 5: open 105, close 105.5 -> a low of 105.2 is above the body
    pytest.param(set_value("low", 5, 105.2), 5, "low is above min(open, close)", id="low"),
    pytest.param(copy_time(3, 2), 3, "duplicate timestamp", id="duplicate-time"),
    pytest.param(earlier_time(2), 2, "not increasing", id="decreasing-time"),
    pytest.param(set_value("volume", 4, -5.0), 4, "volume is negative", id="negative-volume"),
]


@KINDS
@pytest.mark.parametrize(("change", "row", "reason"), INVALID)
def test_invalid_bar_is_rejected_with_its_row_and_reason(
    kind: str, change: Callable[[dict[str, np.ndarray]], None], row: int, reason: str
) -> None:
    data = columns()
    change(data)
    with pytest.raises(DataError) as caught:
        prepare(data, kind)
    message = str(caught.value)
    assert f"bad bar at row {row} " in message
    assert reason in message
    assert caught.value.row == row


def test_the_first_bad_row_is_reported() -> None:
    data = columns()
    set_value("volume", 4, -1.0)(data)
    set_value("high", 2, 100.0)(data)
    with pytest.raises(DataError, match=r"row 2 .*high is below") as caught:
        prepare_bars(data, tz="Asia/Seoul")
    assert caught.value.row == 2


def test_message_names_the_bar_time_in_exchange_time() -> None:
    data = columns()
    set_value("close", 2, np.nan)(data)
    # Row 2 is 2024-01-04 06:00 UTC = 15:00 in Seoul.
    with pytest.raises(DataError, match=r"row 2 \(2024-01-04T15:00:00\+09:00\)"):
        prepare_bars(data, tz="Asia/Seoul")


# --------------------------------------------------------------- invalid structure


def test_tz_naive_frame_is_rejected() -> None:
    frame = as_frame(columns()).tz_localize(None)
    with pytest.raises(DataError, match="timezone-aware") as caught:
        prepare_bars(frame)
    assert caught.value.row is None


def test_frame_without_a_datetime_index_is_rejected() -> None:
    frame = as_frame(columns()).reset_index(drop=True)
    with pytest.raises(DataError, match="DatetimeIndex"):
        prepare_bars(frame)


@pytest.mark.parametrize(
    ("data", "tz", "message"),
    [
        pytest.param(columns(), None, "need a time zone", id="no-tz"),
        pytest.param(columns(), "Mars/Olympus", "unknown time zone", id="unknown-tz"),
        pytest.param(
            {k: v for k, v in columns().items() if k != "time"}, "UTC", "no 'time'", id="no-time"
        ),
        pytest.param(
            {k: v for k, v in columns().items() if k != "close"},
            "UTC",
            "no 'close' column",
            id="no-close",
        ),
        pytest.param(
            {k: v for k, v in columns().items() if k != "high"},
            "UTC",
            "no 'high' column",
            id="no-high",
        ),
        pytest.param(
            columns() | {"open": np.array(["a"] * N)}, "UTC", "'open' is not numeric", id="text"
        ),
        pytest.param(columns() | {"low": np.ones(N - 1)}, "UTC", "same length", id="length"),
        pytest.param(
            columns() | {"time": np.arange(N, dtype=np.float64)},
            "UTC",
            "'time' must be datetime64 or int64",
            id="float-time",
        ),
        pytest.param(
            {k: v[:0] for k, v in columns().items()},
            "UTC",
            "no bars: the data is empty",
            id="empty",
        ),
    ],
)
def test_malformed_mapping_is_rejected(data: dict[str, Any], tz: str | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        prepare_bars(data, tz=tz)


def test_other_input_types_are_rejected() -> None:
    with pytest.raises(DataError, match="DataFrame or a mapping"):
        prepare_bars([[1.0, 2.0, 0.5, 1.5]])


def test_array_input_in_a_daylight_saving_zone_gets_exact_local_times() -> None:
    # New York midnights in winter, summer and winter: -05:00, -04:00, -05:00. A summer
    # bar between two winter ones must not inherit the winter offset.
    index = pd.DatetimeIndex(["2020-01-01", "2021-07-01", "2022-01-01"]).tz_localize(
        "America/New_York"
    )
    utc = index.tz_convert("UTC").tz_localize(None).to_numpy()
    ones = np.ones(3)
    prepared = prepare_bars(
        {"time": utc, "open": ones, "high": ones, "low": ones, "close": ones},
        tz="America/New_York",
    )
    local = prepared.local_time_ns.astype("datetime64[ns]").astype(str).tolist()
    assert [day[:19] for day in local] == [
        "2020-01-01T00:00:00",
        "2021-07-01T00:00:00",
        "2022-01-01T00:00:00",
    ]
