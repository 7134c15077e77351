"""Reading files of bars: strict dates, and every bad row cited where it is in the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.files import BarsFileError, parse_bars_file, read_bars_file
from privatetrade.engine.kernels.validate import first_invalid_bar_nb
from privatetrade.errors import InputError

HEADER = "date,open,high,low,close,volume"
ROW = "100,110,95,105,10"


def csv_file(path: Path, *lines: str, newline: str = "\n") -> Path:
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def problems(path: Path, **options: object) -> list[str]:
    parsed = parse_bars_file(path, tz="Asia/Seoul", **options)  # type: ignore[arg-type]
    return [str(problem) for problem in parsed.problems]


def test_a_month_first_date_is_refused_without_a_date_format(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "us.csv", HEADER, f"01/02/2010,{ROW}", f"01/04/2010,{ROW}")
    with pytest.raises(BarsFileError) as caught:
        read_bars_file(path, tz="America/New_York")
    message = str(caught.value)
    assert message.startswith(f"{path}: line 2: date '01/02/2010' is not in a recognized form")
    assert "--date-format" in message
    assert caught.value.problems[0].line == 2


@pytest.mark.parametrize(
    ("date_format", "first"),
    [("%m/%d/%Y", dt.date(2010, 1, 2)), ("%d/%m/%Y", dt.date(2010, 2, 1))],
)
def test_a_date_format_says_which_day_is_meant(
    tmp_path: Path, date_format: str, first: dt.date
) -> None:
    path = csv_file(tmp_path / "us.csv", HEADER, f"01/02/2010,{ROW}", f"01/04/2010,{ROW}")
    frame = read_bars_file(path, tz="America/New_York", date_format=date_format)
    assert frame.index[0].date() == first


@pytest.mark.parametrize("written", ["2024-03-05", "20240305", "2024.03.05", "2024/03/05"])
def test_year_first_dates_are_read_without_a_format(tmp_path: Path, written: str) -> None:
    later = written.replace("05", "06")
    path = csv_file(tmp_path / "d.csv", HEADER, f"{written},{ROW}", f"{later},{ROW}")
    frame = read_bars_file(path, tz="Asia/Seoul")
    assert [stamp.date() for stamp in frame.index] == [dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    assert str(frame.index.tz) == "Asia/Seoul"


@pytest.mark.parametrize(
    ("first", "other", "expected"),
    [
        ("2024-01-02", "2024-01", "line 3: date '2024-01' does not match"),
        ("20240102", "2024013", "line 3: date '2024013' does not match"),
        ("2024-01-02", "01/03/2024", "line 3: date '01/03/2024' does not match"),
        ("2024-01-02", "", "line 3: the date is missing"),
    ],
)
def test_every_date_must_be_written_like_the_first(
    tmp_path: Path, first: str, other: str, expected: str
) -> None:
    path = csv_file(tmp_path / "d.csv", HEADER, f"{first},{ROW}", f"{other},{ROW}")
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(expected)


def test_iso_timestamps_with_offsets_are_placed_in_the_exchange_zone(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "t.csv",
        HEADER,
        f"2024-01-02T09:00:00+09:00,{ROW}",
        f"2024-01-03T00:00:00Z,{ROW}",
        f"2024-01-04T09:30:00+0900,{ROW}",
    )
    frame = read_bars_file(path, tz="Asia/Seoul")
    assert [stamp.isoformat() for stamp in frame.index] == [
        "2024-01-02T09:00:00+09:00",
        "2024-01-03T09:00:00+09:00",
        "2024-01-04T09:30:00+09:00",
    ]


def test_a_time_the_clock_skipped_is_cited(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "dst.csv", HEADER, f"2024-03-08 02:30:00,{ROW}", f"2024-03-10 02:30:00,{ROW}"
    )
    parsed = parse_bars_file(path, tz="America/New_York")
    found = [str(problem) for problem in parsed.problems]
    assert len(found) == 1
    assert found[0].startswith("line 3: 2024-03-10 02:30:00 does not exist or is ambiguous")


def test_arguments_are_checked(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "a.csv", HEADER, f"2024-01-02,{ROW}")
    with pytest.raises(InputError) as bad_format:
        read_bars_file(path, tz="Asia/Seoul", date_format="mixed")
    assert bad_format.value.field == "date_format"
    with pytest.raises(InputError) as bad_zone:
        read_bars_file(path, tz="Mars/Olympus")
    assert bad_zone.value.field == "tz"
    with pytest.raises(InputError) as bad_field:
        read_bars_file(path, tz="Asia/Seoul", columns={"price": "close"})
    assert bad_field.value.field == "mapping"


def test_lines_count_blank_lines_cells_spanning_lines_and_crlf(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "messy.csv",
        "date,open,high,low,close,volume,note",
        f'2024-01-02,{ROW},"two\r\nlines"',  # lines 2-3
        "",  # line 4
        "   ",  # line 5
        f"2024-01-03,{ROW},ok",  # line 6
        "2024-01-04,100,110,95,105,-1,neg",  # line 7
        newline="\r\n",
    )
    assert problems(path) == ["line 7: volume is negative: -1"]


def test_numbers_with_thousands_separators_and_a_bad_cell(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "k.csv",
        HEADER,
        '2024-01-02,"78,200","79,800","78,200","79,600","17,142,847"',
        '2024-01-03,"78,500","78,800","77,000",77.0.1,"21,753,644"',
        '2024-01-04,"78,500","78,800","77,000",n/a,"21,753,644"',  # pandas reads n/a as missing
    )
    assert problems(path) == ["line 3: close '77.0.1' is not a number"]
    good = csv_file(tmp_path / "g.csv", HEADER, '2024-01-02,"78,200","79,800","78,200","79,600",1')
    assert read_bars_file(good, tz="Asia/Seoul")["open"].iloc[0] == 78_200


def test_parquet_problems_cite_the_row_number(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-03"]),
            "open": [1.0, 1.0, 1.0],
            "high": [1.0, 1.0, 1.0],
            "low": [1.0, 1.0, 1.0],
            "close": [1.0, 1.0, 1.0],
        }
    )
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    assert problems(path) == ["row 3: duplicate date 2024-01-03 (also on row 2)"]


def test_a_file_sorted_newest_first_is_read_in_date_order(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "desc.csv",
        "일자,시가,고가,저가,종가,거래량",
        f"20240104,{ROW}",
        f"20240103,{ROW}",
        f"20240102,{ROW}",
    )
    parsed = parse_bars_file(path, tz="Asia/Seoul")
    assert parsed.frame is not None
    assert [stamp.day for stamp in parsed.frame.index] == [2, 3, 4]
    assert parsed.lines(3) == [4, 3, 2]


def test_the_message_counts_the_problems_it_does_not_show(tmp_path: Path) -> None:
    rows = [f"2024-01-{day:02d},100,90,95,105,10" for day in range(2, 20)]  # high below open
    path = csv_file(tmp_path / "many.csv", HEADER, *rows)
    with pytest.raises(BarsFileError) as caught:
        read_bars_file(path, tz="Asia/Seoul")
    assert str(caught.value).endswith(
        "line 2: high is below the open: high 90, open 100 (and 17 more problems)"
    )
    assert len(caught.value.problems) == 10
    assert caught.value.total == 18


def test_the_first_bad_row_is_the_one_the_engine_would_reject(tmp_path: Path) -> None:
    """Files that parse are accepted by the bar store: the row checks mirror the kernel's."""
    rng = np.random.default_rng(16)
    outcomes = set()
    for _ in range(300):
        n = 12
        close = rng.uniform(50, 150, n)
        open_ = close * rng.uniform(0.95, 1.05, n)
        high = np.maximum(open_, close) * rng.uniform(1.0, 1.03, n)
        low = np.minimum(open_, close) * rng.uniform(0.97, 1.0, n)
        volume = rng.uniform(0, 1000, n)
        days = np.arange(n) + 19_000
        for _ in range(int(rng.integers(0, 3))):
            _break(rng, rng.integers(0, n), (open_, high, low, close, volume), days)
        cells = zip(open_, high, low, close, volume, strict=True)
        lines = [HEADER] + [
            ",".join([str(np.datetime64(int(day), "D")), *(repr(float(x)) for x in row)])
            for day, row in zip(days, cells, strict=True)
        ]
        expected = _kernel_first_bad(days, open_, high, low, close, volume)
        path = csv_file(tmp_path / "random.csv", *lines)
        parsed = parse_bars_file(path, tz="UTC")
        found = parsed.problems[0].line if parsed.problems else None
        assert found == (None if expected < 0 else expected + 2), "\n".join(lines)
        outcomes.add(found is None)
    assert outcomes == {True, False}  # good and broken files both came up


def _break(
    rng: np.random.Generator, i: int, columns: tuple[np.ndarray, ...], days: np.ndarray
) -> None:
    open_, high, low, close, volume = columns
    kind = int(rng.integers(0, 7))
    if kind == 0:
        high[i] = min(open_[i], close[i]) * 0.99
    elif kind == 1:
        low[i] = max(open_[i], close[i]) * 1.01
    elif kind == 2:
        low[i] = -1.0
    elif kind == 3:
        volume[i] = -5.0
    elif kind == 4:
        close[i] = np.nan
    elif kind == 5 and i > 0:
        days[i] = days[i - 1]
    elif i > 0:
        days[i] = days[i - 1] - 3


def _kernel_first_bad(days: np.ndarray, *columns: np.ndarray) -> int:
    time = (days.astype("datetime64[D]").astype("datetime64[ns]")).astype(np.int64)
    row, _ = first_invalid_bar_nb(time, *(np.asarray(c, dtype=np.float64) for c in columns))
    return int(row)
