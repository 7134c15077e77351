"""Preview before import, the quality summary of an import, replace and merge."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from krx_files import HOLIDAYS_2024, krx_sessions_2024, write_krx_csv
from privatetrade.data.imports import (
    QUALITY_CHECKS,
    ImportMode,
    ImportModeError,
    preview_import,
)
from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market
from privatetrade.errors import InputError


@pytest.fixture
def data(tmp_path: Path) -> MarketData:
    return MarketData(tmp_path / "data")


def stored_days(data: MarketData, code: str) -> list[dt.date]:
    return [stamp.date() for stamp in data.store.read(code).index]


def test_preview_reads_a_krx_file_with_holidays_and_off_tick_prices_and_writes_nothing(
    tmp_path: Path, data: MarketData
) -> None:
    made = write_krx_csv(
        tmp_path / "krx.csv",
        krx_sessions_2024(112),
        holidays=HOLIDAYS_2024,
        off_tick_every=10,
    )
    preview = preview_import(made.path, symbol="mine", market=Market.KOSPI, data=data)

    assert preview.ok
    assert preview.errors == ()
    assert preview.symbol == "MINE"
    assert preview.bar_count == len(made.days) == 120
    assert (preview.first_bar, preview.last_bar) == (made.days[0], made.days[-1])
    assert preview.columns == ("date", "open", "high", "low", "close", "volume")
    assert preview.mapping == {field: field for field in preview.columns if field != "date"} | {
        "time": "date"
    }
    assert preview.missing_fields == ()
    assert preview.date_format == "%Y-%m-%d"
    assert [row.line for row in preview.rows] == list(range(2, 12))
    assert preview.rows[0].time.date() == made.days[0]
    assert preview.head[0][0] == made.days[0].isoformat()
    assert preview.quality is not None
    assert preview.quality.non_session_bars.count == len(HOLIDAYS_2024)
    assert preview.quality.off_grid.count == len(made.off_tick_days) > 0
    findings = {finding.name: finding for finding in preview.findings}
    assert [finding.name for finding in preview.findings[:5]] == list(QUALITY_CHECKS)
    assert findings["non_session_bars"].examples == HOLIDAYS_2024[:5]
    assert findings["off_grid"].examples == made.off_tick_days[:5]
    assert findings["missing_sessions"].count == 0
    assert findings["jumps"].count == 0
    assert findings["zero_volume"].count == 0
    assert (preview.symbol_exists, preview.stored, preview.needs_mode) == (False, None, False)
    assert not data.store.exists("MINE")
    assert "MINE" not in data.catalog

    document = json.loads(json.dumps(preview.to_dict()))
    assert document["ok"] is True
    assert document["rows"][0]["line"] == 2
    assert document["quality"]["non_session_bars"]["count"] == 8
    assert document["findings"][0]["name"] == "non_session_bars"


def test_preview_of_a_broken_file_lists_its_errors_with_line_numbers(
    tmp_path: Path, data: MarketData
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(
        "date,open,high,low,close,volume\n"
        "2024-01-02,100,110,95,105,10\n"
        "2024-01-03,100,90,95,105,10\n"  # line 3: high below the body
        "2024-01-04,100,110,95,105,10\n"
        "\n"  # a blank line counts as a line
        "2024-01-04,100,110,95,105,10\n"  # line 6: repeats line 4's date
        "2024-01-05,100,110,-95,105,10\n",  # line 7: negative low
        encoding="utf-8",
    )
    preview = preview_import(path, symbol="BROKEN", market=Market.KOSPI, data=data)

    assert not preview.ok
    assert [(error.line, error.unit) for error in preview.errors] == [
        (3, "line"),
        (6, "line"),
        (7, "line"),
    ]
    assert "high is below" in preview.errors[0].message
    assert "duplicate date 2024-01-04 (also on line 4)" in preview.errors[1].message
    assert preview.errors[2].column == "low"
    assert preview.error_count == 3
    assert (preview.rows, preview.bar_count, preview.quality, preview.findings) == ((), 0, None, ())
    assert preview.columns[0] == "date"
    document = json.loads(json.dumps(preview.to_dict()))
    assert document["errors"][1]["line"] == 6
    assert document["errors"][1]["text"].startswith("line 6: ")
    assert not data.store.exists("BROKEN")


def test_preview_of_a_file_without_the_needed_columns_names_them(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("when,open,high,low,last\n2024-01-02,1,1,1,1\n", encoding="utf-8")
    preview = preview_import(path, symbol="X")
    assert preview.missing_fields == ("time", "close", "volume")
    assert [error.line for error in preview.errors] == [None, None]
    assert "no time column" in preview.errors[0].message
    assert preview.symbol_exists is None  # no data directory to compare with
    mapped = preview_import(path, symbol="X", mapping={"time": "when", "close": "last"})
    assert mapped.ok
    assert mapped.mapping["close"] == "last"
    assert mapped.missing_fields == ("volume",)
    volume = next(finding for finding in mapped.findings if finding.name == "zero_volume")
    assert not volume.checked


def test_preview_of_a_stored_symbol_says_the_import_needs_a_mode(
    tmp_path: Path, data: MarketData
) -> None:
    made = write_krx_csv(tmp_path / "a.csv", krx_sessions_2024(30))
    data.import_file(made.path, "MINE", market=Market.KOSDAQ)
    preview = preview_import(made.path, symbol="MINE", data=data)
    assert preview.symbol_exists is True
    assert preview.needs_mode
    assert preview.stored is not None
    assert preview.stored.bar_count == 30
    assert preview.market is Market.KOSDAQ  # the stored symbol's market
    adjusted = preview_import(made.path, symbol="MINE", adjusted=True, data=data)
    assert adjusted.symbol_exists is True
    assert not adjusted.needs_mode  # no adjusted series is stored yet


def test_reimport_without_a_mode_is_refused_and_changes_nothing(
    tmp_path: Path, data: MarketData
) -> None:
    first = write_krx_csv(tmp_path / "a.csv", krx_sessions_2024(30), base=50_000)
    data.import_file(first.path, "MINE", market=Market.KOSPI)
    stored_file = data.store.path("MINE")
    before = (stored_file.read_bytes(), data.catalog.get("MINE"))
    second = write_krx_csv(tmp_path / "b.csv", krx_sessions_2024(20, skip=40))

    with pytest.raises(ImportModeError) as caught:
        data.import_file(second.path, "MINE")

    assert isinstance(caught.value, InputError)
    assert caught.value.field == "mode"
    assert "30 raw bars" in str(caught.value)
    assert (stored_file.read_bytes(), data.catalog.get("MINE")) == before


def test_replace_makes_the_file_the_stored_series(tmp_path: Path, data: MarketData) -> None:
    first = write_krx_csv(tmp_path / "a.csv", krx_sessions_2024(30))
    data.import_file(first.path, "MINE", market=Market.KOSPI)
    second = write_krx_csv(tmp_path / "b.csv", krx_sessions_2024(20, skip=25), base=90_000)

    result = data.import_file(second.path, "MINE", mode="replace")

    assert result.mode is ImportMode.REPLACE
    assert (result.stored_before, result.file_bars, result.overwritten) == (30, 20, 5)
    assert stored_days(data, "MINE") == list(second.days)
    assert data.store.read("MINE")["open"].iloc[0] == 90_000
    assert result.symbol.bar_count == 20
    assert result.symbol.source == "import"
    assert result.quality.bar_count == 20


def test_merge_adds_the_file_and_its_bars_win_on_equal_dates(
    tmp_path: Path, data: MarketData
) -> None:
    sessions = krx_sessions_2024(50)
    first = write_krx_csv(tmp_path / "a.csv", sessions[:40], base=50_000)
    data.import_file(first.path, "MINE", market=Market.KOSPI)
    second = write_krx_csv(tmp_path / "b.csv", sessions[30:], base=80_000)

    result = data.import_file(second.path, "MINE", mode=ImportMode.MERGE)

    assert result.mode is ImportMode.MERGE
    assert (result.file_bars, result.overwritten, result.new_dates) == (20, 10, 10)
    assert stored_days(data, "MINE") == sessions
    stored = data.store.read("MINE")
    assert stored["open"].iloc[29] == pd.read_csv(first.path)["open"].iloc[29]
    assert stored["open"].iloc[30] == 80_000  # the file's bar won
    assert result.symbol.bar_count == 50
    assert result.quality.bar_count == 50  # the report is of the stored series
    assert result.quality.jumps.count == 1  # 50,000 -> 80,000 where the file starts
    assert result.to_dict()["new_dates"] == 10


def test_modes_and_markets_are_checked(tmp_path: Path, data: MarketData) -> None:
    made = write_krx_csv(tmp_path / "a.csv", krx_sessions_2024(10))
    data.import_file(made.path, "MINE", market=Market.KOSPI)
    with pytest.raises(InputError, match="unknown import mode 'append'") as bad_mode:
        data.import_file(made.path, "MINE", mode="append")
    assert bad_mode.value.field == "mode"
    with pytest.raises(InputError, match="stored as a KOSPI symbol") as bad_market:
        data.import_file(made.path, "MINE", market=Market.NYSE, mode="replace")
    assert bad_market.value.field == "market"


def test_the_import_result_carries_the_quality_summary(tmp_path: Path, data: MarketData) -> None:
    made = write_krx_csv(
        tmp_path / "krx.csv", krx_sessions_2024(112), holidays=HOLIDAYS_2024, off_tick_every=10
    )
    result = data.import_file(made.path, "MINE", market=Market.KOSPI)

    assert result.mode is None
    assert result.kind is PriceKind.RAW
    findings = {finding.name: finding for finding in result.findings}
    assert findings["non_session_bars"].count == 8
    assert findings["non_session_bars"].problem
    assert findings["off_grid"].count == len(made.off_tick_days)
    assert not result.quality.ok
    document = json.loads(json.dumps(result.to_dict()))
    assert document["findings"][0] == {
        "name": "non_session_bars",
        "count": 8,
        "examples": [day.isoformat() for day in HOLIDAYS_2024[:5]],
        "problem": True,
        "checked": True,
    }


def test_adjusted_prices_are_not_checked_against_the_tick_grid(
    tmp_path: Path, data: MarketData
) -> None:
    made = write_krx_csv(tmp_path / "adj.csv", krx_sessions_2024(30), off_tick_every=3)
    result = data.import_file(made.path, "MINE", market=Market.KOSPI, adjusted=True)
    assert result.kind is PriceKind.ADJUSTED
    off_grid = next(finding for finding in result.findings if finding.name == "off_grid")
    assert (off_grid.checked, off_grid.count) == (False, 0)
    assert data.store.exists("MINE", PriceKind.ADJUSTED)
    assert not data.store.exists("MINE", PriceKind.RAW)
