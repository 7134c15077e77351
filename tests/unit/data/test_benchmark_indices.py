"""Index symbols: codes and provider codes, the default benchmark of a market, not tradable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from privatetrade.data.catalog import SymbolCatalog
from privatetrade.data.indices import (
    BENCHMARK_INDICES,
    find_index,
    market_index,
    provider_index,
    provider_index_code,
    require_tradable,
)
from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo, SymbolKind
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import InputError, ProviderError
from privatetrade.plans.backtest import execute_plan, plan_backtest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("indices") / "data"
    MarketData(path).ensure_samples()
    return path


@pytest.fixture
def data(installed: Path, tmp_path: Path) -> MarketData:
    shutil.copytree(installed, tmp_path / "data")
    return MarketData(tmp_path / "data")


def store_index(data: MarketData, code: str) -> SymbolInfo:
    """Store an index fetched from a provider (its points: the demo index's, relabeled)."""
    listing = find_index(code)
    assert listing is not None
    return data.save_bars(listing.symbol("fdr"), data.store.read("DEMOIDX", kind=PriceKind.RAW))


# ---------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("KOSPI", "KOSPI"), ("ks11", "KOSPI"), ("^KS11", "KOSPI"), ("KQ11", "KOSDAQ"),
        ("kospi200", "KOSPI200"), ("KPI200", "KOSPI200"), ("^KS200", "KOSPI200"),
        ("SPX", "SPX"), ("us500", "SPX"), ("^gspc", "SPX"),
    ],
)  # fmt: skip
def test_an_index_is_found_by_its_code_and_the_providers_codes(typed: str, stored: str) -> None:
    listing = find_index(typed)
    assert listing is not None
    assert listing.code == stored


def test_every_index_maps_to_each_provider_that_has_it() -> None:
    expected = {
        "KOSPI": {"fdr": "KS11", "yfinance": "^KS11", "pykrx": "1001"},
        "KOSDAQ": {"fdr": "KQ11", "yfinance": "^KQ11", "pykrx": "2001"},
        "KOSPI200": {"fdr": "KS200", "yfinance": "^KS200", "pykrx": "1028"},
        "SPX": {"fdr": "US500", "yfinance": "^GSPC"},
    }
    assert {listing.code: dict(listing.provider_codes) for listing in BENCHMARK_INDICES} == expected
    for listing in BENCHMARK_INDICES:
        for provider, code in listing.provider_codes:
            assert provider_index_code(listing, provider) == code
            assert provider_index(provider, code) is listing
    spx = find_index("SPX")
    assert spx is not None
    with pytest.raises(ProviderError, match="pykrx has no SPX index: use fdr, yfinance"):
        provider_index_code(spx, "pykrx")
    assert find_index("005930") is None
    assert find_index("DEMOIDX") is None  # the demo index is generated, never fetched


def test_index_entries_are_indices_of_their_market() -> None:
    kospi, spx = find_index("KOSPI"), find_index("SPX")
    assert kospi is not None
    assert spx is not None
    symbol = kospi.symbol("pykrx")
    assert (symbol.code, symbol.name, symbol.market, symbol.currency) == (
        "KOSPI", "코스피", Market.KOSPI, "KRW",
    )  # fmt: skip
    assert (symbol.kind, symbol.tick_table, symbol.source) == (SymbolKind.INDEX, "none", "pykrx")
    assert (spx.symbol("fdr").market, spx.symbol("fdr").timezone) == (
        Market.NYSE, "America/New_York",
    )  # fmt: skip


# ---------------------------------------------------------------- the catalog


def test_the_kind_round_trips_and_old_catalogs_read_as_stocks(tmp_path: Path) -> None:
    catalog = SymbolCatalog(tmp_path)
    kospi = find_index("KOSPI")
    assert kospi is not None
    catalog.upsert([kospi.symbol("fdr"), SymbolInfo("005930", "삼성전자", Market.KOSPI)])
    again = SymbolCatalog(tmp_path)
    assert again.get("KOSPI").kind == SymbolKind.INDEX
    assert again.get("005930").kind == SymbolKind.STOCK
    document: dict[str, Any] = json.loads((tmp_path / "catalog.json").read_text())
    assert {item["code"]: item["kind"] for item in document["symbols"]} == {
        "KOSPI": "index", "005930": "stock",
    }  # fmt: skip
    for item in document["symbols"]:
        del item["kind"]  # a catalog written before indices existed
    (tmp_path / "catalog.json").write_text(json.dumps(document))
    assert SymbolCatalog(tmp_path).get("005930").kind == SymbolKind.STOCK


def test_an_index_is_found_by_name_and_stored_as_both_series(data: MarketData) -> None:
    saved = store_index(data, "KOSPI")
    assert saved.adjusted == ("raw", "adjusted")
    raw = data.store.read("KOSPI", kind=PriceKind.RAW)
    assert raw.equals(data.store.read("KOSPI", kind=PriceKind.ADJUSTED))
    assert [hit.symbol.code for hit in data.search("코스피")] == ["KOSPI"]
    assert "DEMOIDX" in [hit.symbol.code for hit in data.search("합성 KOSPI")]


# ---------------------------------------------------------------- the default benchmark


def test_the_demo_index_is_the_krx_default_until_kospi_is_stored(data: MarketData) -> None:
    assert data.market_index(Market.KOSPI) == "DEMOIDX"
    assert data.market_index(Market.KOSDAQ) == "DEMOIDX"
    assert data.market_index(Market.KONEX) == "DEMOIDX"
    assert data.market_index(Market.NASDAQ) is None  # no US index stored
    assert data.market_index(Market.OTHER) is None

    store_index(data, "KOSPI")
    assert data.market_index(Market.KOSPI) == "KOSPI"
    assert data.market_index(Market.KOSDAQ) == "KOSPI"
    store_index(data, "KOSDAQ")
    assert data.market_index(Market.KOSDAQ) == "KOSDAQ"
    assert data.market_index(Market.KOSPI) == "KOSPI"

    store_index(data, "SPX")
    for market in (Market.NYSE, Market.NASDAQ, Market.AMEX):
        assert data.market_index(market) == "SPX"


def test_only_an_index_with_bars_counts(data: MarketData) -> None:
    kospi = find_index("KOSPI")
    assert kospi is not None
    data.catalog.upsert([kospi.symbol("fdr")])  # listed, nothing stored
    assert market_index(data.catalog, Market.KOSPI) == "DEMOIDX"
    # a stock that happens to be called SPX is no index
    data.save_bars(SymbolInfo("SPX", "Not an index", Market.NYSE), data.bars("AAPL"))
    assert market_index(data.catalog, Market.NYSE) is None


# ---------------------------------------------------------------- not tradable


def test_an_index_is_a_benchmark_not_a_backtest(data: MarketData) -> None:
    body = {"strategy": "buy_and_hold"}
    with pytest.raises(InputError, match=r"DEMOIDX .* is a market index") as caught:
        plan_backtest(BacktestSpec.model_validate({**body, "symbol": "DEMOIDX"}), data)
    assert caught.value.field == "symbol"
    with pytest.raises(InputError, match="benchmark=DEMOIDX"):
        require_tradable(data.symbol("DEMOIDX"))
    require_tradable(data.symbol("DEMO01"))  # stocks pass

    spec = BacktestSpec.model_validate({**body, "symbol": "DEMO01", "benchmark": "DEMOIDX"})
    result = execute_plan(plan_backtest(spec, data))
    assert result.benchmark_name == "DEMOIDX"
    assert result.benchmark_close is not None
    closes = pd.Series(result.benchmark_close)
    assert closes.iloc[0] == pytest.approx(data.bars("DEMOIDX")["close"].iloc[0])
