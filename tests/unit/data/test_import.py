"""Importing the user's files: good files in, broken files rejected whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from privatetrade.data.market_data import MarketData
from privatetrade.data.symbols import Market
from privatetrade.errors import DataError

GOOD_ROWS = [
    ("2024-01-02", 78200, 79800, 78200, 79600, 17142847),
    ("2024-01-03", 78500, 78800, 77000, 77000, 21753644),
    ("2024-01-04", 76100, 77300, 76100, 76600, 15324439),
    ("2024-01-05", 76700, 77100, 76400, 76600, 11304316),
]


def write_csv(path: Path, rows: list[tuple[object, ...]], *, header: str, encoding: str) -> Path:
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def data(tmp_path: Path) -> MarketData:
    return MarketData(tmp_path / "data")


def test_english_csv_is_imported_in_the_market_time_zone(tmp_path: Path, data: MarketData) -> None:
    path = write_csv(
        tmp_path / "a.csv", GOOD_ROWS, header="Date,Open,High,Low,Close,Volume", encoding="utf-8"
    )
    symbol = data.import_file(path, "MYCO", name="My company", market=Market.KOSPI).symbol
    assert symbol.bar_count == 4
    assert symbol.first_bar == dt.date(2024, 1, 2)
    assert symbol.tick_table == "krx"
    bars = data.store.read("MYCO")
    assert str(bars.index.tz) == "Asia/Seoul"
    assert bars["close"].tolist() == [79600, 77000, 76600, 76600]
    assert data.catalog.get("MYCO").name == "My company"


def test_korean_cp949_csv_with_thousands_separators(tmp_path: Path, data: MarketData) -> None:
    rows = [
        (d, f'"{o:,}"', f'"{h:,}"', f'"{lo:,}"', f'"{c:,}"', f'"{v:,}"')
        for d, o, h, lo, c, v in GOOD_ROWS
    ]
    path = write_csv(
        tmp_path / "k.csv", rows, header="일자,시가,고가,저가,종가,거래량", encoding="cp949"
    )
    symbol = data.import_file(path, "KRCSV", name="한글파일", market=Market.KOSDAQ).symbol
    assert symbol.bar_count == 4
    assert data.store.read("KRCSV")["volume"].iloc[0] == 17142847


def test_parquet_with_a_column_mapping(tmp_path: Path, data: MarketData) -> None:
    frame = pd.DataFrame(GOOD_ROWS, columns=["day", "o", "h", "l", "c", "v"])
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    mapping = {"time": "day", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
    result = data.import_file(
        path, "PQ", market=Market.KOSPI, columns=mapping, date_format="%Y-%m-%d"
    )
    assert result.symbol.bar_count == 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows: [*rows[:2], (rows[2][0], "nan", *rows[2][2:]), *rows[3:]], "line 4: open"),
        (lambda rows: [rows[1], rows[0], *rows[2:]], "line 3: dates are not in order"),
        (lambda rows: [rows[0], rows[0], *rows[1:]], "line 3: duplicate"),
        (
            lambda rows: [*rows[:1], (rows[1][0], -5, *rows[1][2:]), *rows[2:]],
            "line 3: open is not positive",
        ),
        (
            lambda rows: [*rows[:1], (rows[1][0], "abc", *rows[1][2:]), *rows[2:]],
            "line 3: open 'abc' is not a number",
        ),
    ],
)
def test_broken_files_are_rejected_and_nothing_is_stored(
    tmp_path: Path, data: MarketData, mutate: object, message: str
) -> None:
    rows = mutate(list(GOOD_ROWS))  # type: ignore[operator]
    path = write_csv(
        tmp_path / "b.csv", rows, header="date,open,high,low,close,volume", encoding="utf-8"
    )
    with pytest.raises(DataError, match=message):
        data.import_file(path, "BROKEN", market=Market.KOSPI)
    assert not data.store.exists("BROKEN")
    assert "BROKEN" not in data.catalog


def test_missing_column_is_named(tmp_path: Path, data: MarketData) -> None:
    rows = [row[:4] + row[5:] for row in GOOD_ROWS]
    path = write_csv(tmp_path / "m.csv", rows, header="date,open,high,low,volume", encoding="utf-8")
    with pytest.raises(DataError, match="no close column"):
        data.import_file(path, "MISSING", market=Market.KOSPI)


def test_a_failed_reimport_keeps_the_previous_bars(tmp_path: Path, data: MarketData) -> None:
    good = write_csv(
        tmp_path / "g.csv", GOOD_ROWS, header="date,open,high,low,close,volume", encoding="utf-8"
    )
    data.import_file(good, "KEEP", market=Market.KOSPI)
    bad_rows = [*GOOD_ROWS, ("2024-01-08", 1, 0.5, 2, 1, 10)]
    bad = write_csv(
        tmp_path / "x.csv", bad_rows, header="date,open,high,low,close,volume", encoding="utf-8"
    )
    with pytest.raises(DataError, match="line 6"):
        data.import_file(bad, "KEEP", mode="replace")
    assert len(data.store.read("KEEP")) == 4
    assert data.catalog.get("KEEP").bar_count == 4
