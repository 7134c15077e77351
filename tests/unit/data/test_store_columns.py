"""``BarStore.read_columns``: the bars of ``read`` as arrays, the same days, the same numbers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.store import BarStore, PriceKind
from privatetrade.engine.bars import prepare_bars
from privatetrade.errors import DataError


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> BarStore:
    """Hourly US bars across both 2021 clock changes, and daily Seoul bars."""
    folder = tmp_path_factory.mktemp("columns")
    bars = BarStore(folder)
    for code, tz, freq, start in (
        ("NYC", "America/New_York", "h", "2021-03-10 09:00"),
        ("SEOUL", "Asia/Seoul", "B", "2021-01-04"),
    ):
        index = pd.date_range(start, periods=6_000, freq=freq, tz=tz, name="time")
        close = 100.0 + np.arange(len(index)) % 17
        frame = pd.DataFrame(
            {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 5.0},
            index=index,
        )
        bars.write(code, frame, kind=PriceKind.ADJUSTED, source="test")
    return bars


@pytest.mark.parametrize("code", ["NYC", "SEOUL"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, None),
        (dt.date(2021, 3, 14), dt.date(2021, 3, 14)),  # the spring-forward day
        (dt.date(2021, 11, 7), dt.date(2021, 11, 8)),  # the fall-back day
        (dt.date(2022, 2, 1), None),
        (None, dt.date(2021, 6, 30)),
        (dt.date(2040, 1, 1), None),  # nothing
    ],
)
def test_the_columns_are_the_frame_of_read(
    store: BarStore, code: str, start: dt.date | None, end: dt.date | None
) -> None:
    frame = store.read(code, start, end, kind=PriceKind.ADJUSTED)
    columns, tz = store.read_columns(code, start, end, kind=PriceKind.ADJUSTED)
    assert tz == str(frame.index.tz)
    assert np.array_equal(columns["time"], frame.index.as_unit("ns").asi8)
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(columns[name], frame[name].to_numpy())
    if len(frame):
        from_columns = prepare_bars(columns, tz=tz)
        from_frame = prepare_bars(frame)
        assert np.array_equal(from_columns.local_time_ns, from_frame.local_time_ns)


def test_a_missing_series_is_a_data_error(store: BarStore) -> None:
    with pytest.raises(DataError, match="no raw bars stored for NYC"):
        store.read_columns("NYC", kind=PriceKind.RAW)
