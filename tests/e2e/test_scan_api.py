"""Universe scans through the real server: submit, follow, rank, open a row, cancel.

The module's server holds the sample data (three KOSPI and three KOSDAQ synthetic
stocks, five US stocks) plus 120 symbols of 150,000 minute bars (``SLOW000`` ...), a
scan of which runs for seconds; its symbol limit is 150.
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
SLOW_COUNT = 120
SCAN = {"market": "KOSDAQ", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20}}


@pytest.fixture(scope="module")
def scan_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("scans") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    add_slow_universe(data_dir, SLOW_COUNT)
    process = ServerProcess(data_dir, env={"PRIVATETRADE_MAX_UNIVERSE_SYMBOLS": "150"}).start()
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
    response = client.post("/api/scans", json=body)
    assert response.status_code == 202, response.text
    job = dict(response.json())
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    return job


def problem_field(response: httpx.Response) -> tuple[str | None, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    return body.get("field"), body["detail"]


def test_a_market_scan_ranks_every_stock_and_links_each_row_to_its_backtest(
    scan_server: ServerProcess,
) -> None:
    with scan_server.client() as client:
        job = final_job(client, submitted(client, SCAN)["id"])
        assert job["state"] == "succeeded", job
        assert job["kind"] == "scan"
        document = client.get(f"/api/jobs/{job['id']}/artifacts/ranking.json").json()
        table = client.get(f"/api/jobs/{job['id']}/artifacts/ranking.csv").text
        by_return = client.get(
            f"/api/scans/{job['id']}/ranking", params={"sort": "total_return", "order": "asc"}
        ).json()
        opened = client.post(f"/api/scans/{job['id']}/backtests", json={"symbol": "demo04"})
        assert opened.status_code == 202, opened.text
        backtest = final_job(client, opened.json()["id"])
        again = client.post(f"/api/scans/{job['id']}/backtests", json={"symbol": "DEMO04"})
        result = client.get(f"/api/backtest/result/{backtest['id']}").json()
        listed = client.get("/api/scans", params={"symbol": "KOSDAQ"}).json()

    rows = document["rows"]
    assert {row["symbol"] for row in rows} == {"DEMO02", "DEMO04", "DEMO06"}
    sharpes = [row["sharpe"] for row in rows]
    assert sharpes == sorted(sharpes, reverse=True)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    assert document["kind"] == "scan"
    assert document["counts"] == {"symbols": 3, "evaluated": 3, "failed": 0}
    assert document["universe"] == {"market": "KOSDAQ", "symbols": 3, "currency": "KRW"}
    assert [r["symbol"] for r in csv.DictReader(io.StringIO(table))] == [r["symbol"] for r in rows]
    returns = [row["total_return"] for row in by_return["rows"]]
    assert returns == sorted(returns)
    assert by_return["sort"] == "total_return"
    assert job["summary"]["evaluated"] == 3
    assert job["summary"]["best"][0]["symbol"] == rows[0]["symbol"]
    assert listed["total"] >= 1
    assert job["id"] in {item["id"] for item in listed["items"]}

    # The row's figures are the full backtest's metrics.
    assert backtest["state"] == "succeeded", backtest
    row = next(row for row in rows if row["symbol"] == "DEMO04")
    metrics = result["metrics"]
    for name in ("total_return", "cagr", "sharpe", "max_drawdown", "win_rate", "sortino"):
        assert metrics[name] == pytest.approx(row[name], rel=1e-9, abs=1e-12), name
    assert metrics["trade_count"] == row["trades"]
    assert result["run"]["request"]["symbol"] == "DEMO04"
    assert result["run"]["request"]["benchmark"] == "DEMOIDX"  # the market's index
    # Asking again reuses the backtest made before.
    assert again.status_code == 202
    assert again.json()["id"] == backtest["id"]
    assert again.headers["idempotent-replayed"] == "true"


def test_bad_scans_name_the_field(scan_server: ServerProcess) -> None:
    cases = [
        ({"symbols": ["DEMO01", "AAPL"]}, "symbols", "one quote currency"),
        ({"symbols": ["DEMO01", "NOPE99"]}, "symbols", "NOPE99"),
        ({"symbols": ["DEMO01", "DEMOIDX"]}, "symbols", "index"),
        ({"market": "KONEX"}, "market", "KONEX"),
        ({"market": "KOSPI", "symbols": ["DEMO01"]}, "symbols", "not both"),
        ({"market": "KOSPI", "sort": "luck"}, "sort", ""),
        ({"market": "KOSPI", "params": {"fast": 0}}, "params.fast", "fast"),
        ({"symbols": slow_codes(SLOW_COUNT) + _made_up(40)}, "symbols", "the limit is 150"),
    ]
    with scan_server.client() as client:
        for body, field, words in cases:
            got, detail = problem_field(client.post("/api/scans", json=body))
            assert got == field, (body, detail)
            assert words in detail, (body, detail)


def _made_up(count: int) -> list[str]:
    """Unknown codes: the limit is checked before the codes are looked up."""
    return [f"ZZ{index:03d}" for index in range(count)]


def test_ranking_and_row_requests_are_checked(scan_server: ServerProcess) -> None:
    with scan_server.client() as client:
        job = final_job(client, submitted(client, {**SCAN, "market": "KOSPI"})["id"])
        assert job["state"] == "succeeded", job
        bad_sort = client.get(f"/api/scans/{job['id']}/ranking", params={"sort": "luck"})
        not_in_scan = client.post(f"/api/scans/{job['id']}/backtests", json={"symbol": "DEMO02"})
        best = client.post(f"/api/scans/{job['id']}/backtests")
        ranking = client.get(f"/api/scans/{job['id']}/ranking").json()
        page = client.get(
            f"/api/scans/{job['id']}/ranking", params={"offset": 1, "limit": 1}
        ).json()
        not_a_scan = client.get(f"/api/scans/{best.json()['id']}/ranking")
    assert bad_sort.status_code == 422
    assert bad_sort.json()["field"] == "sort"
    assert problem_field(not_in_scan) == ("symbol", "DEMO02 is not in this scan")
    assert best.status_code == 202
    assert best.json()["spec"]["symbol"] == ranking["rows"][0]["symbol"]
    assert page["rows"] == ranking["rows"][1:2]
    assert page["total"] == 3
    assert not_a_scan.status_code == 404


def test_a_long_scan_reports_progress_and_stops_when_cancelled(
    scan_server: ServerProcess,
) -> None:
    body = {"symbols": slow_codes(SLOW_COUNT), "strategy": "rsi_reversion"}
    with scan_server.client() as client:
        job_id = submitted(client, body)["id"]

        def partly_done() -> dict[str, Any] | None:
            job = job_of(client, job_id)
            assert job["state"] not in FINAL, job
            summary = job.get("summary") or {}
            done = summary.get("done", 0)
            return job if job["state"] == "running" and 0 < done < SLOW_COUNT else None

        running = poll(partly_done, 120.0, "the scan to finish a chunk")
        assert running["summary"]["total"] == SLOW_COUNT
        assert running["summary"]["best"]["symbol"].startswith("SLOW")
        assert 0.0 < running["progress"] < 1.0
        assert running["stage"] == "scanning"
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
        job = final_job(client, job_id, 60.0)
        ranking = client.get(f"/api/scans/{job_id}/ranking")
        artifact = client.get(f"/api/jobs/{job_id}/artifacts/ranking.json")
    assert job["state"] == "cancelled"
    assert ranking.status_code == 409
    assert artifact.status_code == 409


def test_another_user_sees_no_scan_of_mine(scan_server: ServerProcess) -> None:
    with scan_server.client() as owner:
        job = final_job(owner, submitted(owner, SCAN)["id"])
    mallory = scan_server.create_user("mallory")
    with scan_server.client(mallory) as stranger:
        assert stranger.get(f"/api/jobs/{job['id']}").status_code == 404
        assert stranger.get(f"/api/scans/{job['id']}/ranking").status_code == 404
        rerun = stranger.post(f"/api/scans/{job['id']}/backtests", json={"symbol": "DEMO02"})
        assert rerun.status_code == 404
        assert stranger.get("/api/scans").json()["total"] == 0
        artifact = stranger.get(f"/api/jobs/{job['id']}/artifacts/ranking.json")
        assert artifact.status_code == 404
    assert job["state"] == "succeeded"
