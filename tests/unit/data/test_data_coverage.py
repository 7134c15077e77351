"""CoverageIndex: stored symbols with cached quality summaries, checked in the background."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.coverage import CoverageIndex, QualitySummary, findings
from privatetrade.data.market_data import MarketData
from privatetrade.data.quality import quality_report
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo

# KRX sessions of January 2024 (the 1st is a holiday) and a Saturday.
SESSIONS = pd.to_datetime(
    ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]
)
SATURDAY = pd.Timestamp("2024-01-06")


def krx_bars(
    days: pd.DatetimeIndex, close: float = 10_050.0, tz: str = "Asia/Seoul"
) -> pd.DataFrame:
    index = pd.DatetimeIndex(days).tz_localize(tz).rename("time")
    n = len(index)
    return pd.DataFrame(
        {
            "open": np.full(n, 10_000.0),
            "high": np.full(n, 10_200.0),
            "low": np.full(n, 9_900.0),
            "close": np.full(n, close),
            "volume": np.full(n, 1_000.0),
        },
        index=index,
    )


def symbol(code: str) -> SymbolInfo:
    return SymbolInfo(code=code, name=code, market=Market.KOSPI, source="import")


@pytest.fixture
def data(tmp_path: Path) -> MarketData:
    return MarketData(tmp_path / "data")


def test_a_stored_symbol_waits_for_its_check_then_lists_its_summary(data: MarketData) -> None:
    bars = krx_bars(SESSIONS.append(pd.DatetimeIndex([SATURDAY])).sort_values())
    data.save_bars(symbol("KQA"), bars)
    data.save_bars(symbol("KQB"), krx_bars(SESSIONS))
    index = CoverageIndex(data)

    before = index.stored()
    assert before.pending == 2
    assert [item.quality for item in before.items] == [None, None]

    assert index.check_pending(wait_seconds=120)
    after = index.stored()
    assert after.pending == 0
    listed = {item.symbol.code: item for item in after.items}
    expected = quality_report(bars, Market.KOSPI, symbol="KQA")
    assert listed["KQA"].quality == QualitySummary.of(expected, PriceKind.RAW)
    assert listed["KQA"].quality.problems == ("non_session_bars",)
    assert listed["KQA"].quality.counts["non_session_bars"] == 1
    assert listed["KQB"].quality is not None
    assert listed["KQB"].quality.ok
    assert listed["KQA"].series == ("raw",)
    assert listed["KQA"].updated_at is not None
    assert listed["KQA"].updated_at.tzinfo is dt.UTC

    # Another index of the same directory (another process) reads the cache.
    assert CoverageIndex(data).stored().pending == 0


def test_a_write_to_the_bars_makes_the_summary_stale(data: MarketData) -> None:
    data.save_bars(symbol("KQC"), krx_bars(SESSIONS))
    index = CoverageIndex(data)
    assert index.check_pending(wait_seconds=120)
    assert index.stored().items[0].quality.ok  # type: ignore[union-attr]

    data.save_bars(symbol("KQC"), krx_bars(SESSIONS, close=10_005.0))  # off the tick grid
    assert index.stored().pending == 1
    assert index.check_pending(wait_seconds=120)
    quality = index.stored().items[0].quality
    assert quality is not None
    assert quality.problems == ("off_grid",)


def test_filters_keep_matching_symbols(data: MarketData) -> None:
    data.save_bars(symbol("KQD"), krx_bars(SESSIONS, close=10_005.0))
    data.save_bars(
        SymbolInfo(code="USX", name="Example Corp", market=Market.NYSE, source="import"),
        krx_bars(SESSIONS, tz="America/New_York"),  # NYSE sessions too
    )
    data.catalog.upsert([SymbolInfo(code="LISTED", name="Not stored", market=Market.KOSPI)])
    index = CoverageIndex(data)
    assert index.check_pending(wait_seconds=120)
    codes = [item.symbol.code for item in index.stored().items]
    assert codes == ["KQD", "USX"]  # a catalog entry without bars is not listed
    assert [i.symbol.code for i in index.stored(query="example").items] == ["USX"]
    assert [i.symbol.code for i in index.stored(market=Market.KOSPI).items] == ["KQD"]
    assert [i.symbol.code for i in index.stored(problems_only=True).items] == ["KQD"]


def test_a_damaged_cache_entry_is_checked_again(data: MarketData) -> None:
    data.save_bars(symbol("KQE"), krx_bars(SESSIONS))
    index = CoverageIndex(data)
    assert index.check_pending(wait_seconds=120)
    cache = index.cache_dir / "KQE.json"
    cache.write_text("{not json", encoding="utf-8")
    assert index.stored().pending == 1
    assert index.check_pending(wait_seconds=120)
    assert json.loads(cache.read_text(encoding="utf-8"))["summary"]["ok"] is True
    index.forget("KQE")
    assert not cache.exists()


def test_the_report_of_adjusted_prices_leaves_the_tick_grid_out(data: MarketData) -> None:
    adjusted = krx_bars(SESSIONS, close=10_005.0)  # off the grid, as adjusted prices are
    data.save_bars(symbol("KQF"), adjusted, kind=PriceKind.ADJUSTED)
    index = CoverageIndex(data)
    kind, report = index.report("KQF")
    assert kind is PriceKind.ADJUSTED
    assert report.off_grid.count > 0
    assert "off_grid" not in {finding.name for finding in findings(report, kind)}
    summary = index.coverage("KQF").quality
    assert summary is not None
    assert summary.series == "adjusted"
    assert summary.ok
    assert "off_grid" not in summary.counts


def test_findings_put_problems_first_with_their_days(data: MarketData) -> None:
    bars = krx_bars(SESSIONS.append(pd.DatetimeIndex([SATURDAY])).sort_values())
    bars.loc[bars.index[-1], "volume"] = 0.0
    report = quality_report(bars, Market.KOSPI, symbol="KQG")
    found = findings(report, PriceKind.RAW)
    assert [(f.name, f.problem, f.count) for f in found] == [
        ("non_session_bars", True, 1),
        ("zero_volume", False, 1),
    ]
    assert found[0].examples == (dt.date(2024, 1, 6),)
