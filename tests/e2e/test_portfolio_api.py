"""Portfolio backtests through the real server: submit, follow, download, check, cancel.

The module's server holds the sample data (three KOSPI and three KOSDAQ synthetic
stocks, the synthetic index DEMOIDX, five US stocks) plus ten symbols of 150,000
minute bars (``SLOW000`` ...), a portfolio of which runs for seconds.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scan_universe import add_slow_universe, slow_codes
from server import ServerProcess

from polling import poll

pytestmark = pytest.mark.e2e

FINAL = {"succeeded", "failed", "cancelled"}
KOSPI = ["DEMO01", "DEMO03", "DEMO05"]


@pytest.fixture(scope="module")
def portfolio_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("portfolios") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    add_slow_universe(data_dir, 10)
    process = ServerProcess(data_dir).start()
    try:
        yield process
    finally:
        process.stop()


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def final_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    return poll(
        lambda: (lambda job: job if job["state"] in FINAL else None)(job_of(client, job_id)),
        timeout,
        f"job {job_id} to end",
    )


def submitted(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/portfolios", json=body)
    assert response.status_code == 202, response.text
    job = dict(response.json())
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    return job


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_equal_weight_portfolio_runs_and_downloads(portfolio_server: ServerProcess) -> None:
    body = {
        "market": "KOSPI",
        "start": "2018-01-01",
        "rule": {"rule": "equal_weight", "rebalance": "quarterly"},
        "benchmark": "DEMOIDX",
    }
    with portfolio_server.client() as client:
        job = final_job(client, submitted(client, body)["id"])
        assert job["state"] == "succeeded", job
        artifacts = client.get(f"/api/jobs/{job['id']}/artifacts").json()
        document = client.get(f"/api/jobs/{job['id']}/artifacts/result.json").json()
        csvs = {
            name: client.get(f"/api/jobs/{job['id']}/artifacts/{name}").text
            for name in ("equity.csv", "holdings.csv", "trades.csv", "contribution.csv")
        }
        not_a_backtest = client.get(f"/api/backtest/result/{job['id']}")
        listed = client.get("/api/portfolios", params={"symbol": "KOSPI"}).json()
        scans = client.get("/api/scans").json()

    assert job["kind"] == "portfolio"
    assert {item["name"] for item in artifacts["items"]} == {
        "result.json", "equity.csv", "holdings.csv", "trades.csv", "fills.csv", "contribution.csv",
    }  # fmt: skip
    assert document["kind"] == "portfolio"
    assert document["schema_version"] == "1.1"
    assert document["spec"]["symbols"] == KOSPI  # DEMOIDX is an index, not a stock
    assert document["spec"]["benchmark"] == "DEMOIDX"
    assert document["benchmark"] is not None
    assert document["data"]["first"].startswith("2018-01-02")
    assert len(document["rebalances"]) >= 30  # quarterly over eight years
    equity = rows(csvs["equity.csv"])
    assert len(equity) == document["data"]["bars"]
    assert float(equity[-1]["equity"]) == pytest.approx(job["summary"]["final_equity"])
    holdings = rows(csvs["holdings.csv"])
    assert list(holdings[0]) == ["time", *KOSPI]
    assert {row["symbol"] for row in rows(csvs["contribution.csv"])} == set(KOSPI)
    assert job["summary"]["symbols"] == 3
    assert job["summary"]["total_return"] == pytest.approx(document["metrics"]["total_return"])
    assert not_a_backtest.status_code == 404
    assert job["id"] in {item["id"] for item in listed["items"]}
    assert job["id"] not in {item["id"] for item in scans["items"]}


def test_a_one_symbol_signals_portfolio_equals_its_backtest(
    portfolio_server: ServerProcess,
) -> None:
    """Same capital default, same auto costs (KOSDAQ), same fills: the same final equity."""
    strategy = {"strategy": "sma_cross", "params": {"fast": 10, "slow": 40}}
    body = {
        "symbols": ["DEMO02"],
        "rule": {"rule": "signals", **strategy, "max_positions": 1, "position_size": "all_in"},
    }
    with portfolio_server.client() as client:
        book = final_job(client, submitted(client, body)["id"])
        single = client.post("/api/backtests", json={"symbol": "DEMO02", **strategy}).json()
        single = final_job(client, single["id"])
        document = client.get(f"/api/jobs/{book['id']}/artifacts/result.json").json()
        result = client.get(f"/api/backtest/result/{single['id']}").json()
    assert book["state"] == single["state"] == "succeeded"
    assert book["summary"]["final_equity"] == pytest.approx(
        single["summary"]["final_equity"], rel=1e-12
    )
    assert len(document["trades"]) == len(result["trades"])
    assert document["metrics"]["sharpe"] == pytest.approx(result["metrics"]["sharpe"], rel=1e-9)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbols": ["DEMO01", "AAPL"]}, "symbols"),
        ({"symbols": ["DEMO01", "NOPE99"]}, "symbols"),
        ({"symbols": ["DEMO01"], "end": "2010-01-01"}, "symbols"),
        ({"market": "KONEX"}, "market"),
        ({"symbols": ["DEMO01"], "market": "KOSPI"}, "symbols"),
        ({"symbols": KOSPI, "rule": {"rule": "top_n_momentum"}}, "rule.top"),
        ({"symbols": KOSPI, "rule": {"rule": "equal_weight", "top": 2}}, "rule.top"),
        (
            {"symbols": KOSPI, "rule": {"rule": "fixed_weights", "weights": {"XX": 0.5}}},
            "rule.weights",
        ),
        (
            {
                "symbols": KOSPI,
                "rule": {"rule": "signals", "strategy": "sma_cross", "params": {"fast": 0}},
            },
            "rule.params.fast",
        ),
        ({"symbols": KOSPI, "rule": {"rule": "signals", "strategy": "nope"}}, "rule.strategy"),
        ({"symbols": KOSPI, "stops": {"stop_loss": 0.1}}, "stops"),
        ({"symbols": KOSPI, "benchmark": "NOPE99"}, "benchmark"),
        ({"symbols": KOSPI, "capital": -1}, "capital"),
    ],
)
def test_bad_portfolios_name_the_field(
    portfolio_server: ServerProcess, body: dict[str, Any], field: str
) -> None:
    with portfolio_server.client() as client:
        response = client.post("/api/portfolios", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field, response.json()


def test_a_running_portfolio_reports_its_stage_and_stops_when_cancelled(
    portfolio_server: ServerProcess,
) -> None:
    body = {"symbols": slow_codes(10), "rule": {"rule": "equal_weight", "rebalance": "daily"}}
    with portfolio_server.client() as client:
        job_id = submitted(client, body)["id"]

        def running() -> dict[str, Any] | None:
            job = job_of(client, job_id)
            assert job["state"] not in FINAL, job
            return job if job["state"] == "running" else None

        seen = poll(running, 60.0, "the portfolio to start")
        assert seen["stage"] in {"starting", "loading", "simulating", "saving"}
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
        job = final_job(client, job_id, 60.0)
        artifact = client.get(f"/api/jobs/{job_id}/artifacts/result.json")
    assert job["state"] == "cancelled", job
    assert artifact.status_code == 409


def test_another_user_sees_no_portfolio_of_mine(portfolio_server: ServerProcess) -> None:
    with portfolio_server.client() as owner:
        job = final_job(owner, submitted(owner, {"symbols": KOSPI})["id"])
    stranger_token = portfolio_server.create_user("trudy")
    with portfolio_server.client(stranger_token) as stranger:
        assert stranger.get(f"/api/jobs/{job['id']}").status_code == 404
        assert stranger.get(f"/api/jobs/{job['id']}/artifacts/result.json").status_code == 404
        assert stranger.post(f"/api/jobs/{job['id']}/cancel").status_code == 404
        assert stranger.get("/api/portfolios").json()["total"] == 0
    assert job["state"] == "succeeded"


def test_a_momentum_portfolio_started_mid_data_is_invested_from_its_start(
    portfolio_server: ServerProcess,
) -> None:
    """The 60-bar ranking reads the bars before ``start``: no 60 sessions in cash."""
    body = {
        "market": "KOSDAQ",
        "start": "2019-07-01",
        "rule": {"rule": "top_n_momentum", "top": 2, "lookback": 60},
    }
    with portfolio_server.client() as client:
        job = final_job(client, submitted(client, body)["id"])
        document = client.get(f"/api/jobs/{job['id']}/artifacts/result.json").json()
    assert job["state"] == "succeeded", job
    assert document["data"]["first"].startswith("2019-07-01")
    assert document["data"]["history_bars"] == 61
    assert job["summary"]["bars"] == document["data"]["bars"]
    assert document["rebalances"][0]["signal_time"].startswith("2019-07-01")
    assert document["fills"][0]["time"].startswith("2019-07-02")
    exposure = document["equity"]["exposure"]
    assert exposure[0] == 0.0  # nothing decided before start fills at its open
    assert min(exposure[1:5]) > 0.9
    assert document["warnings"] == []
