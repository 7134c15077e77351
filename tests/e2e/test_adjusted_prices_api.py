"""The API's backtests run on adjusted prices by default and carry the data's warnings.

One real server (``privatetrade serve``, SQLite, two workers) on the sample data plus
AAPL stored as a raw-only and as an adjusted-only symbol. The result documents come from
the workers, so the warnings are the run plan's as the worker made them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess, submit, wait_for

from privatetrade.data.market_data import MarketData
from privatetrade.data.sample import load_sample_bars
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo

AROUND_SPLIT = {
    "symbol": "AAPL",
    "strategy": "buy_and_hold",
    "stops": {"stop_loss": 0.2},
    "start": "2005-01-03",
    "end": "2005-12-30",
}
SPLIT_WARNING = "possible 2:1 split on 2005-02-28 in raw prices"


def store_only(data: MarketData, code: str, kind: PriceKind) -> None:
    symbol = SymbolInfo(
        code=code, name=code, market=Market.NASDAQ, currency="USD", tick_table="us",
        source="import",
    )  # fmt: skip
    data.save_bars(symbol, load_sample_bars("AAPL"), kind=kind)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("adjusted-api") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    data = MarketData(data_dir)
    store_only(data, "RAWAAPL", PriceKind.RAW)
    store_only(data, "ADJONLY", PriceKind.ADJUSTED)
    process = ServerProcess(data_dir).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client() as http:
        yield http


def document(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    job = submit(client, body)
    assert wait_for(client, job["id"], timeout=120)["state"] == "succeeded"
    response = client.get(f"/api/backtest/result/{job['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def exits_on(result: dict[str, Any], day: str) -> list[str]:
    return [t["exit_reason"] for t in result["trades"] if t["exit_time"].startswith(day)]


def test_a_submitted_backtest_uses_adjusted_prices(client: httpx.Client) -> None:
    result = document(client, AROUND_SPLIT)
    closes = load_sample_bars("AAPL").loc["2005-01-03":"2005-12-30", "adj_close"]
    assert result["run"]["request"]["adjusted"] is True
    assert result["data"]["adjusted"] is True
    assert result["metrics"]["buy_and_hold_return"] == pytest.approx(
        closes.iloc[-1] / closes.iloc[0] - 1, rel=1e-9
    )
    assert exits_on(result, "2005-02-28") == []
    assert not [w for w in result["warnings"] if "split" in w]


def test_a_raw_backtest_warns_of_the_split(client: httpx.Client) -> None:
    result = document(client, {**AROUND_SPLIT, "adjusted": False})
    assert result["run"]["request"]["adjusted"] is False
    assert result["data"]["adjusted"] is False
    assert exits_on(result, "2005-02-28") == ["stop_loss"]
    assert result["warnings"][0].startswith(SPLIT_WARNING)


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"adjusted": "sometimes"}, "adjusted", "valid boolean"),
        ({"symbol": "ADJONLY", "adjusted": False}, "adjusted", "no raw prices stored for ADJONLY"),
        ({"benchmark": "ADJONLY", "adjusted": False}, "benchmark", "no raw prices stored"),
    ],
)
def test_a_wrong_price_choice_is_422(
    client: httpx.Client, body: dict[str, Any], field: str, detail: str
) -> None:
    response = client.post("/api/backtests", json={"symbol": "AAPL", **body})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field, response.text
    assert detail in response.text


def test_a_symbol_with_only_raw_prices_runs_and_says_so(client: httpx.Client) -> None:
    result = document(client, {**AROUND_SPLIT, "symbol": "RAWAAPL"})
    assert result["data"]["adjusted"] is False
    assert result["warnings"][0].startswith("no adjusted prices are stored for RAWAAPL")
    assert any(w.startswith(SPLIT_WARNING) for w in result["warnings"])


def test_the_schema_says_the_default(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    field = schema["components"]["schemas"]["BacktestCreate"]["properties"]["adjusted"]
    assert (field["type"], field["default"]) == ("boolean", True)
