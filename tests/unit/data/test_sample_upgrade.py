"""ensure_samples: the synthetic demo data is installed once, and replaced when outdated.

A data directory from before SYNTHETIC_VERSION 2 holds the old demo bars (highs unrelated
to the closes) and no index; ``.samples.version`` records what is installed. The upgrade
rewrites the ``synthetic`` symbols only: a user's own symbols, also under a sample code,
are never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo, SymbolKind
from privatetrade.data.synthetic import SYNTHETIC_CODES, SYNTHETIC_VERSION, synthetic_bars
from privatetrade.data.synthetic_index import SYNTHETIC_INDEX_CODE, synthetic_index_bars

VERSION_FILE = ".samples.version"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("samples") / "data"
    MarketData(path).ensure_samples()
    return path


@pytest.fixture
def data_dir(installed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(installed, copy)
    return copy


def old_style(frame: pd.DataFrame) -> pd.DataFrame:
    """Bars as version 1 might have left them: different highs and lows."""
    changed = frame.copy()
    changed["high"] = changed[["open", "close"]].max(axis=1) * 1.05
    changed["low"] = changed[["open", "close"]].min(axis=1) * 0.95
    return changed


def stamps(data_dir: Path, code: str) -> list[int]:
    return [path.stat().st_mtime_ns for path in sorted((data_dir / "bars" / code).iterdir())]


def test_a_fresh_install_has_stocks_index_both_series_and_the_version(installed: Path) -> None:
    data = MarketData(installed)
    assert (installed / VERSION_FILE).read_text().strip() == str(SYNTHETIC_VERSION)
    for code in SYNTHETIC_CODES:
        symbol = data.catalog.get(code)
        assert symbol.adjusted == ("raw", "adjusted")  # no corporate actions: equal series
        raw = data.store.read(code, kind=PriceKind.RAW)
        assert raw.equals(data.store.read(code, kind=PriceKind.ADJUSTED))
        assert raw.to_numpy().tobytes() == synthetic_bars(code).to_numpy().tobytes()
    index = data.catalog.get(SYNTHETIC_INDEX_CODE)
    assert (index.kind, index.bar_count, index.adjusted) == (
        SymbolKind.INDEX,
        len(synthetic_index_bars()),
        ("raw", "adjusted"),
    )
    assert data.catalog.get("AAPL").source == "sample"


def test_installed_data_is_left_alone(data_dir: Path) -> None:
    before = {code: stamps(data_dir, code) for code in (*SYNTHETIC_CODES, "AAPL")}
    MarketData(data_dir).ensure_samples()
    assert {code: stamps(data_dir, code) for code in before} == before


def test_an_older_version_is_replaced_without_touching_the_users_symbols(data_dir: Path) -> None:
    data = MarketData(data_dir)
    # the state version 1 left: old demo bars, raw only, no index, no version file
    for code in SYNTHETIC_CODES:
        data.store.delete(code)
        data.store.write(code, old_style(synthetic_bars(code)), source="synthetic")
        data.refresh(data.catalog.get(code))
    data.delete(SYNTHETIC_INDEX_CODE)
    (data_dir / VERSION_FILE).unlink()
    # the user's data: a symbol of their own, and their own bars under DEMO06 and AAPL
    mine = SymbolInfo("MINE01", "내 종목", Market.KOSDAQ, source="import")
    data.save_bars(mine, old_style(synthetic_bars("DEMO01")))
    replaced = SymbolInfo("DEMO06", "내가 가져온 종목", Market.KOSDAQ, source="import")
    data.store.delete("DEMO06")
    data.save_bars(replaced, old_style(synthetic_bars("DEMO06")))
    fetched = SymbolInfo("AAPL", "Apple Inc.", Market.NASDAQ, currency="USD", source="fdr")
    aapl = data.store.read("AAPL", kind=PriceKind.RAW).iloc[:10]
    data.store.delete("AAPL")
    data.save_bars(fetched, aapl)
    kept = {code: stamps(data_dir, code) for code in ("MINE01", "DEMO06", "AAPL")}

    upgraded = MarketData(data_dir)
    upgraded.ensure_samples()

    assert (data_dir / VERSION_FILE).read_text().strip() == str(SYNTHETIC_VERSION)
    for code in SYNTHETIC_CODES[:-1]:
        stored = upgraded.store.read(code, kind=PriceKind.RAW)
        assert stored.to_numpy().tobytes() == synthetic_bars(code).to_numpy().tobytes(), code
        assert upgraded.catalog.get(code).adjusted == ("raw", "adjusted")
    assert upgraded.catalog.get(SYNTHETIC_INDEX_CODE).is_index
    assert {code: stamps(data_dir, code) for code in kept} == kept
    assert upgraded.catalog.get("DEMO06").name == "내가 가져온 종목"
    assert upgraded.catalog.get("AAPL").source == "fdr"
    assert upgraded.catalog.get("AAPL").bar_count == 10
    assert upgraded.catalog.get("MINE01").source == "import"


def test_a_missing_sample_symbol_comes_back(data_dir: Path) -> None:
    data = MarketData(data_dir)
    data.delete("DEMO03")
    untouched = stamps(data_dir, "DEMO01")
    MarketData(data_dir).ensure_samples()
    assert MarketData(data_dir).catalog.get("DEMO03").bar_count == len(synthetic_bars("DEMO03"))
    assert stamps(data_dir, "DEMO01") == untouched
