"""The Parquet bar store: round trip, ranges, atomic writes, merge, delete."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.sample import load_sample_bars
from privatetrade.data.store import BarStore, PriceKind
from privatetrade.errors import DataError, InputError

OHLCV = ["open", "high", "low", "close", "volume"]


@pytest.fixture
def msft() -> pd.DataFrame:
    return load_sample_bars("MSFT")[OHLCV]


def test_round_trip_is_exact_and_keeps_the_time_zone(tmp_path: Path, msft: pd.DataFrame) -> None:
    store = BarStore(tmp_path)
    coverage = store.write("MSFT", msft, source="sample")
    assert coverage.bar_count == len(msft)
    assert coverage.first_bar == dt.date(2000, 3, 1)
    assert coverage.timezone == "America/New_York"
    back = store.read("MSFT")
    pd.testing.assert_frame_equal(
        back, msft, check_freq=False, check_names=False, check_index_type=False
    )
    assert str(back.index.tz) == "America/New_York"


def test_read_by_local_date_range(tmp_path: Path, msft: pd.DataFrame) -> None:
    store = BarStore(tmp_path)
    store.write("MSFT", msft, source="sample")
    part = store.read("MSFT", dt.date(2010, 1, 4), dt.date(2010, 1, 8))
    assert [d.date().isoformat() for d in part.index] == [
        "2010-01-04", "2010-01-05", "2010-01-06", "2010-01-07", "2010-01-08",
    ]  # fmt: skip


def test_raw_and_adjusted_are_kept_apart(tmp_path: Path, msft: pd.DataFrame) -> None:
    store = BarStore(tmp_path)
    store.write("MSFT", msft, source="sample")
    halved = msft.copy()
    halved[["open", "high", "low", "close"]] /= 2
    store.write("MSFT", halved, kind=PriceKind.ADJUSTED, source="sample")
    assert store.read("MSFT")["close"].iloc[0] == msft["close"].iloc[0]
    assert store.read("MSFT", kind=PriceKind.ADJUSTED)["close"].iloc[0] == (
        msft["close"].iloc[0] / 2
    )


def test_invalid_bars_are_rejected_and_old_data_kept(tmp_path: Path, msft: pd.DataFrame) -> None:
    store = BarStore(tmp_path)
    store.write("MSFT", msft, source="sample")
    broken = msft.copy()
    broken.iloc[10, broken.columns.get_loc("low")] = -1.0
    with pytest.raises(DataError, match="row 10"):
        store.write("MSFT", broken, source="sample")
    pd.testing.assert_frame_equal(
        store.read("MSFT"), msft, check_freq=False, check_names=False, check_index_type=False
    )
    assert [p.name for p in store.path("MSFT").parent.iterdir()] == ["raw.parquet"]


def _write_forever(root: str, ready: multiprocessing.synchronize.Event) -> None:
    store = BarStore(Path(root))
    frame = load_sample_bars("IBM")[OHLCV]
    big = pd.concat([frame] * 1)
    ready.set()
    while True:
        store.write("MSFT", big, source="loop")


def test_killing_a_writer_mid_write_leaves_a_readable_file(
    tmp_path: Path, msft: pd.DataFrame
) -> None:
    store = BarStore(tmp_path)
    store.write("MSFT", msft, source="sample")
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=_write_forever, args=(str(tmp_path), ready))
    writer.start()
    assert ready.wait(60)
    for _ in range(20):
        frame = store.read("MSFT")  # never a torn file, whichever version it is
        assert len(frame) in {len(msft), len(load_sample_bars("IBM"))}
    os.kill(writer.pid, 9)  # type: ignore[arg-type]
    writer.join(10)
    frame = store.read("MSFT")
    assert len(frame) in {len(msft), len(load_sample_bars("IBM"))}
    assert np.isfinite(frame.to_numpy()).all()


def test_merge_adds_new_bars_and_new_values_win(tmp_path: Path, msft: pd.DataFrame) -> None:
    store = BarStore(tmp_path)
    store.write("MSFT", msft.iloc[:100], source="sample")
    update = msft.iloc[90:120].copy()
    update.loc[update.index[0], ["open", "high", "low", "close"]] = 1.0
    coverage = store.merge("MSFT", update, source="sample")
    assert coverage.bar_count == 120
    assert store.read("MSFT")["close"].iloc[90] == 1.0


def test_delete_and_codes(tmp_path: Path, msft: pd.DataFrame) -> None:
    store = BarStore(tmp_path)
    store.write("MSFT", msft, source="sample")
    assert store.codes() == ["MSFT"]
    assert store.delete("MSFT")
    assert not store.delete("MSFT")
    with pytest.raises(DataError, match="no raw bars"):
        store.read("MSFT")


@pytest.mark.parametrize("code", ["../etc", "", "a/b", "x" * 40])
def test_unsafe_codes_are_rejected(tmp_path: Path, code: str) -> None:
    with pytest.raises(InputError):
        BarStore(tmp_path).path(code)


def test_coverage_comes_from_metadata_or_from_the_bars(tmp_path: Path, msft: pd.DataFrame) -> None:
    import pyarrow.parquet as pq

    store = BarStore(tmp_path)
    written = store.write("MSFT", msft, source="sample")
    assert store.coverage("MSFT") == written
    # A file without the coverage keys (an older format) is measured from its bars.
    path = store.path("MSFT")
    table = pq.read_table(path)
    kept = {k: v for k, v in table.schema.metadata.items() if k in (b"timezone", b"source")}
    pq.write_table(table.replace_schema_metadata(kept), path)
    assert store.coverage("MSFT") == written
