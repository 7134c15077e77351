"""The market's index as the default benchmark, through the real server's API.

The offline data has the synthetic index DEMOIDX; fetched indices (KOSPI, KOSDAQ, SPX)
take over once stored. An index is a benchmark: the API refuses it as the symbol.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server import ServerProcess, submit, wait_for

from privatetrade.data.indices import find_index
from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with module_server.client() as authenticated:
        yield authenticated


def describe(client: httpx.Client, code: str) -> dict[str, object]:
    response = client.get(f"/api/symbols/{code}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def store_index(data_dir: Path, code: str) -> None:
    """Store a fetched index (its points: the demo index's, relabeled) as the CLI would."""
    listing = find_index(code)
    assert listing is not None
    data = MarketData(data_dir)
    data.save_bars(listing.symbol("fdr"), data.store.read("DEMOIDX", kind=PriceKind.RAW))


def test_offline_krx_stocks_get_the_synthetic_index(client: httpx.Client) -> None:
    for code in ("DEMO01", "DEMO02"):
        symbol = describe(client, code)
        assert (symbol["kind"], symbol["default_benchmark"]) == ("stock", "DEMOIDX")
    index = describe(client, "DEMOIDX")
    assert (index["kind"], index["default_benchmark"], index["synthetic"]) == (
        "index",
        None,
        True,
    )
    assert describe(client, "AAPL")["default_benchmark"] is None  # no US index stored
    hits = client.get("/api/symbols", params={"q": "DEMO0"}).json()
    assert {hit["default_benchmark"] for hit in hits} == {"DEMOIDX"}


def test_an_index_is_refused_as_the_symbol_and_used_as_the_benchmark(
    client: httpx.Client,
) -> None:
    refused = client.post("/api/backtests", json={"symbol": "DEMOIDX"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["field"] == "symbol"
    assert "market index" in problem["detail"]
    assert "benchmark=DEMOIDX" in problem["detail"]

    job = submit(client, {"symbol": "DEMO03", "strategy": "buy_and_hold", "benchmark": "DEMOIDX"})
    done = wait_for(client, job["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    result = client.get(f"/api/backtest/result/{job['id']}").json()
    assert result["run"]["request"]["benchmark"] == "DEMOIDX"
    assert result["spec"]["benchmark"] == "DEMOIDX"
    # the benchmark starts at the initial cash and follows DEMOIDX's closes
    closes = client.get("/api/symbols/DEMOIDX/bars").json()["close"]
    cash = result["spec"]["settings"]["initial_cash"]
    assert result["benchmark"][0] == pytest.approx(cash)
    assert result["benchmark"][-1] == pytest.approx(cash * closes[-1] / closes[0])


def test_fetched_indices_become_the_defaults(
    client: httpx.Client, module_server: ServerProcess
) -> None:
    store_index(module_server.data_dir, "KOSPI")
    assert describe(client, "DEMO01")["default_benchmark"] == "KOSPI"  # KOSPI stock
    assert describe(client, "DEMO02")["default_benchmark"] == "KOSPI"  # KOSDAQ: no KOSDAQ yet
    store_index(module_server.data_dir, "KOSDAQ")
    store_index(module_server.data_dir, "SPX")
    assert describe(client, "DEMO02")["default_benchmark"] == "KOSDAQ"
    assert describe(client, "DEMO01")["default_benchmark"] == "KOSPI"
    assert describe(client, "MSFT")["default_benchmark"] == "SPX"
    assert describe(client, "IBM")["default_benchmark"] == "SPX"
    assert describe(client, "KOSPI")["kind"] == "index"
