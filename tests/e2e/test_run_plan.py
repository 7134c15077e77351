"""One run plan: the CLI and the API produce the same result for the same spec.

Both resolve the request with ``privatetrade.plans.backtest``; before that plan existed
the CLI defaulted the capital by cost preset and the API by currency, and the API
dropped ``risk_free_rate`` on its way to the engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess, submit, wait_for

from privatetrade.engine.costs import CostModel

# (API body, CLI arguments): the same spec spelled both ways.
SAME_SPECS = [
    pytest.param(
        {"symbol": "AAPL", "costs": "zero", "start": "2005-01-01", "end": "2008-12-31"},
        ["AAPL", "--costs", "zero", "--start", "2005-01-01", "--end", "2008-12-31"],
        id="us-zero-costs-default-capital",
    ),
    pytest.param(
        {
            "symbol": "DEMO01",
            "strategy": "rsi_reversion",
            "start": "2021-01-01",
            "stops": {"stop_loss": 0.05, "trailing_stop": 0.1},
        },
        [
            "DEMO01",
            "--strategy",
            "rsi_reversion",
            "--start",
            "2021-01-01",
            "--stop-loss",
            "0.05",
            "--trailing-stop",
            "0.1",
        ],
        id="krx-auto-costs-stops",
    ),
    pytest.param(
        {
            "symbol": "ibm",
            "params": {"fast": 8, "slow": 40},
            "costs": "us",
            "capital": 250000,
            "sizing": {"mode": "fraction", "value": 0.5},
            "risk_free_rate": 0.04,
            "benchmark": "msft",
            "fill_at": "close",
            "end": "2010-12-31",
        },
        [
            "ibm",
            "-p",
            "fast=8",
            "-p",
            "slow=40",
            "--costs",
            "us",
            "--cash",
            "250000",
            "--sizing",
            "fraction",
            "--sizing-value",
            "0.5",
            "--risk-free-rate",
            "0.04",
            "--benchmark",
            "msft",
            "--fill-at",
            "close",
            "--end",
            "2010-12-31",
        ],
        id="us-everything-lowercase-codes",
    ),
    pytest.param(
        {"symbol": "DEMO03", "costs": "krx", "sizing": {"mode": "shares", "value": 7}},
        ["DEMO03", "--costs", "krx", "--sizing", "shares", "--sizing-value", "7"],
        id="krx-preset-share-sizing",
    ),
    pytest.param(
        {
            "symbol": "DEMO02",
            "costs": CostModel.krx(
                "KOSDAQ",
                commission_rate=0.0005,
                min_commission=100.0,
                slippage=3.0,
                sell_tax=({"since": "1900-01-01", "rate": 0.0025},),
            ).model_dump(mode="json"),
        },
        [
            "DEMO02",
            "--commission",
            "0.0005",
            "--min-commission",
            "100",
            "--slippage",
            "3",
            "--tax",
            "0.0025",
        ],
        id="krx-auto-costs-with-overrides",
    ),
    pytest.param(
        {
            "symbol": "AAPL",
            "costs": CostModel.us(
                commission_rate=0.0002, slippage=2.0, slippage_unit="ticks"
            ).model_dump(mode="json"),
        },
        ["AAPL", "--costs", "us", "--commission", "0.0002", "--slippage-ticks", "2"],
        id="us-costs-slippage-in-ticks",
    ),
]


@pytest.fixture(scope="module")
def api(module_server: ServerProcess) -> ServerProcess:
    return module_server


@pytest.fixture
def client(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client() as http:
        yield http


def api_document(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    job = submit(client, body)
    assert wait_for(client, job["id"])["state"] == "succeeded"
    response = client.get(f"/api/backtest/result/{job['id']}")
    assert response.status_code == 200
    return dict(response.json())


def cli_document(data_dir: Path, arguments: list[str], out: Path) -> dict[str, Any]:
    env = {**os.environ, "PRIVATETRADE_DATA_DIR": str(data_dir)}
    completed = subprocess.run(
        [sys.executable, "-m", "privatetrade", "backtest", *arguments, "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return dict(json.loads(out.read_text()))


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what identifies the run (ids, timestamps, versions)."""
    return {key: value for key, value in document.items() if key not in {"run", "app_version"}}


@pytest.mark.parametrize(("body", "arguments"), SAME_SPECS)
def test_cli_and_api_give_the_same_result_document(
    api: ServerProcess,
    client: httpx.Client,
    tmp_path: Path,
    body: dict[str, Any],
    arguments: list[str],
) -> None:
    from_api = api_document(client, body)
    from_cli = cli_document(api.data_dir, arguments, tmp_path / "result.json")
    assert comparable(from_cli) == comparable(from_api)
    # Codes are stored as the catalog spells them, whatever the request said.
    assert from_api["run"]["request"]["symbol"] == body["symbol"].upper()
    assert from_api["data"]["symbol"] == body["symbol"].upper()


def test_default_capital_follows_the_currency_on_every_path(
    api: ServerProcess, client: httpx.Client, tmp_path: Path
) -> None:
    for symbol, capital in (("AAPL", 100_000.0), ("DEMO02", 10_000_000.0)):
        for costs in ("zero", "auto"):
            from_api = api_document(client, {"symbol": symbol, "costs": costs})
            from_cli = cli_document(
                api.data_dir, [symbol, "--costs", costs], tmp_path / f"{symbol}-{costs}.json"
            )
            for document in (from_api, from_cli):
                assert document["spec"]["settings"]["initial_cash"] == capital, (symbol, costs)


def test_risk_free_rate_reaches_sharpe_sortino_and_alpha(client: httpx.Client) -> None:
    body = {"symbol": "MSFT", "benchmark": "IBM", "end": "2009-12-31"}
    without = api_document(client, body)["metrics"]
    with_rate = api_document(client, {**body, "risk_free_rate": 0.05})["metrics"]
    assert with_rate["total_return"] == without["total_return"]
    for metric in ("sharpe", "sortino"):
        assert with_rate[metric] < without[metric], metric
    assert with_rate["alpha"] != without["alpha"]


def test_an_empty_range_names_the_stored_range_on_both_paths(
    api: ServerProcess, client: httpx.Client
) -> None:
    message = (
        "no bars of GOOG between 2020-01-01 and the last bar; stored: 2004-08-19 to 2013-03-01"
    )
    response = client.post("/api/backtests", json={"symbol": "goog", "start": "2020-01-01"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == "start"
    assert problem["detail"] == message
    env = {**os.environ, "PRIVATETRADE_DATA_DIR": str(api.data_dir)}
    completed = subprocess.run(
        [sys.executable, "-m", "privatetrade", "backtest", "goog", "--start", "2020-01-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == f"error: {message}\n"


def test_an_unknown_cost_preset_is_named_in_plain_words(client: httpx.Client) -> None:
    response = client.post("/api/backtests", json={"symbol": "AAPL", "costs": "kr"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == "costs"
    assert "unknown cost preset 'kr'; use auto, krx, us, zero or a cost model object" in (
        response.text
    )
    assert "CostModel" not in response.text
