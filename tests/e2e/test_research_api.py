"""Optimizations and walk-forwards through the real server: submit, follow, download, check.

The server runs with a combination limit of 3,000 for everyone and 20,000 for ``alice``,
so the limit is checked per user before anything is queued.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess

from polling import poll

pytestmark = pytest.mark.e2e

FINAL = {"succeeded", "failed", "cancelled"}
GRID = {"fast": {"start": 5, "stop": 50, "step": 5}, "slow": {"start": 20, "stop": 200, "step": 10}}


@pytest.fixture(scope="module")
def research_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("research") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    env = {
        "PRIVATETRADE_MAX_COMBINATIONS": "3000",
        "PRIVATETRADE_COMBINATION_LIMITS": json.dumps({"Alice": 20_000}),
    }
    process = ServerProcess(data_dir, env=env).start()
    try:
        yield process
    finally:
        process.stop()


def final_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in FINAL else None

    return poll(ended, timeout, f"job {job_id} to end")


def artifact(client: httpx.Client, job_id: str, name: str) -> bytes:
    response = client.get(f"/api/jobs/{job_id}/artifacts/{name}")
    assert response.status_code == 200, response.text
    return response.content


def problem_field(response: httpx.Response) -> tuple[str | None, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    field = body.get("field") or (body.get("errors") or [{}])[0].get("field")
    return field, body["detail"]


def expected_grid() -> list[tuple[int, int]]:
    """The grid by hand: every fast < slow pair of the two ranges."""
    fast = range(5, 51, 5)
    slow = range(20, 201, 10)
    return [(f, s) for f, s in itertools.product(fast, slow) if f < s]


def test_sweep_runs_every_combination_and_reports_the_best(research_server: ServerProcess) -> None:
    with research_server.client() as client:
        response = client.post(
            "/api/sweeps",
            json={"symbol": "DEMO01", "strategy": "sma_cross", "space": GRID, "costs": "krx"},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        assert response.headers["location"] == f"/api/jobs/{job_id}"
        job = final_job(client, job_id)
        assert job["state"] == "succeeded", job
        assert job["kind"] == "sweep"
        document = json.loads(artifact(client, job_id, "result.json"))
        rows = list(csv.DictReader(io.StringIO(artifact(client, job_id, "table.csv").decode())))

    pairs = expected_grid()
    assert document["combinations"] == len(pairs) == len(rows)
    assert sorted((int(r["fast"]), int(r["slow"])) for r in rows) == sorted(pairs)
    eligible = [r for r in rows if r["eligible"] == "True"]
    best_row = max(eligible, key=lambda r: float(r["sharpe"]))
    assert document["best"]["params"] == {
        "fast": int(best_row["fast"]),
        "slow": int(best_row["slow"]),
    }
    assert document["best"]["metrics"]["sharpe"] == pytest.approx(float(best_row["sharpe"]))
    assert document["top"][0]["rank"] == 1
    assert document["top"][0]["params"] == document["best"]["params"]
    report = document["report"]
    assert 0.0 <= report["deflated_sharpe"] <= 1.0
    assert 0.0 <= report["pbo"]["pbo"] <= 1.0
    for finding in report["findings"]:
        assert finding["message_en"]
        assert finding["message_ko"]
    summary = job["summary"]
    assert summary["combinations"] == len(pairs)
    assert summary["best"]["params"] == document["best"]["params"]


def test_the_best_combination_backtested_in_full_has_the_same_metrics(
    research_server: ServerProcess,
) -> None:
    with research_server.client() as client:
        sweep = client.post(
            "/api/sweeps", json={"symbol": "DEMO02", "space": GRID, "objective": "cagr"}
        ).json()
        assert final_job(client, sweep["id"])["state"] == "succeeded"
        document = json.loads(artifact(client, sweep["id"], "result.json"))
        submitted = client.post(f"/api/sweeps/{sweep['id']}/backtests", json={"rank": 1})
        assert submitted.status_code == 202, submitted.text
        backtest = final_job(client, submitted.json()["id"])
        assert backtest["kind"] == "backtest"
        assert backtest["state"] == "succeeded"
        result = client.get(f"/api/backtest/result/{backtest['id']}").json()
    best = document["best"]
    params = result["spec"]["params"]
    assert params == {**params, **best["params"]}
    for name in ("cagr", "sharpe", "total_return", "max_drawdown"):
        assert result["metrics"][name] == pytest.approx(best["metrics"][name], rel=1e-9, abs=1e-12)
    assert result["metrics"]["trade_count"] == best["metrics"]["trade_count"]


def test_heatmap_of_two_parameters(research_server: ServerProcess) -> None:
    with research_server.client() as client:
        sweep = client.post("/api/sweeps", json={"symbol": "DEMO01", "space": GRID}).json()
        assert final_job(client, sweep["id"])["state"] == "succeeded"
        heatmap = client.get(
            f"/api/sweeps/{sweep['id']}/heatmap", params={"x": "fast", "y": "slow"}
        )
        assert heatmap.status_code == 200, heatmap.text
        body = heatmap.json()
        rows = list(
            csv.DictReader(io.StringIO(artifact(client, sweep["id"], "table.csv").decode()))
        )
        wrong = client.get(f"/api/sweeps/{sweep['id']}/heatmap", params={"x": "fast", "y": "nope"})
    assert body["x_values"] == list(range(5, 51, 5))
    assert body["y_values"] == list(range(20, 201, 10))
    by_pair = {(int(r["fast"]), int(r["slow"])): r for r in rows}
    for i, slow in enumerate(body["y_values"]):
        for j, fast in enumerate(body["x_values"]):
            row = by_pair.get((fast, slow))
            if row is None or row["eligible"] != "True":
                assert body["z"][i][j] is None
            else:
                assert body["z"][i][j] == pytest.approx(float(row["sharpe"]))
    assert problem_field(wrong)[0] == "y"


def test_combination_limit_is_per_user_and_checked_before_queueing(
    research_server: ServerProcess,
) -> None:
    big = {
        "fast": {"start": 1, "stop": 100, "step": 1},
        "slow": {"start": 2, "stop": 120, "step": 1},
    }
    alice = research_server.create_user("alice")
    bob = research_server.create_user("bob")
    with research_server.client(bob) as client:
        field, detail = problem_field(
            client.post("/api/sweeps", json={"symbol": "DEMO01", "space": big})
        )
        assert field == "space"
        assert "3,000" in detail
        field, detail = problem_field(
            client.post(
                "/api/sweeps",
                json={"symbol": "DEMO01", "space": big, "method": "random", "samples": 5000},
            )
        )
        assert field == "samples"
        assert "3,000" in detail
        assert client.get("/api/sweeps").json()["total"] == 0
    with research_server.client(alice) as client:
        accepted = client.post(
            "/api/sweeps",
            json={"symbol": "DEMO01", "space": big, "method": "random", "samples": 5000},
        )
        assert accepted.status_code == 202, accepted.text
        client.post(f"/api/jobs/{accepted.json()['id']}/cancel")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"space": {"fast": [0, 5]}}, "space.fast"),
        ({"space": {"nope": [1, 2]}}, "space.nope"),
        ({"space": {"fast": [50]}, "params": {"slow": 20}}, "space"),
        ({"space": {"fast": {"start": 9, "stop": 1, "step": 1}}}, "space.fast"),
        ({"objective": "luck"}, "objective"),
        ({"method": "tpe", "samples": 0}, "samples"),
        ({"symbol": "NOPE99"}, "symbol"),
    ],
)
def test_bad_sweeps_name_the_field(
    research_server: ServerProcess, body: dict[str, Any], field: str
) -> None:
    with research_server.client() as client:
        response = client.post("/api/sweeps", json={"symbol": "DEMO01", **body})
    got, _ = problem_field(response)
    assert got == field or (got or "").startswith(field)


def test_walk_forward_stitches_out_of_sample_windows(research_server: ServerProcess) -> None:
    with research_server.client() as client:
        response = client.post(
            "/api/walkforwards",
            json={
                "symbol": "DEMO01",
                "space": {"fast": [5, 10, 20], "slow": [30, 60, 120]},
                "in_sample": "24m",
                "out_of_sample": "12m",
            },
        )
        assert response.status_code == 202, response.text
        job = final_job(client, response.json()["id"])
        assert job["state"] == "succeeded", job
        document = json.loads(artifact(client, job["id"], "result.json"))
        equity = list(
            csv.DictReader(io.StringIO(artifact(client, job["id"], "equity.csv").decode()))
        )
        too_long = client.post(
            "/api/walkforwards",
            json={"symbol": "DEMO01", "in_sample": "600m", "out_of_sample": "6m"},
        )
    windows = document["windows"]
    assert len(windows) >= 5
    for previous, current in itertools.pairwise(windows):
        assert previous["out_of_sample"]["end"] < current["out_of_sample"]["start"]
        assert current["in_sample"]["end"] < current["out_of_sample"]["start"]
    assert len(equity) == sum(w["out_of_sample"]["bars"] for w in windows)
    assert equity[0]["time"] == windows[0]["out_of_sample"]["start"]
    assert "walk_forward_efficiency" in document["report"]
    assert problem_field(too_long)[0] == "in_sample"


def test_other_users_cannot_see_or_reuse_a_sweep(research_server: ServerProcess) -> None:
    with research_server.client() as owner:
        sweep = owner.post("/api/sweeps", json={"symbol": "DEMO01", "space": GRID}).json()
        final_job(owner, sweep["id"])
    carol = research_server.create_user("carol")
    with research_server.client(carol) as stranger:
        assert stranger.get(f"/api/jobs/{sweep['id']}").status_code == 404
        heatmap = stranger.get(
            f"/api/sweeps/{sweep['id']}/heatmap", params={"x": "fast", "y": "slow"}
        )
        assert heatmap.status_code == 404
        rerun = stranger.post(f"/api/sweeps/{sweep['id']}/backtests", json={"rank": 1})
        assert rerun.status_code == 404
        assert stranger.get("/api/sweeps").json()["total"] == 0


def test_tpe_trials_are_bounded(research_server: ServerProcess) -> None:
    with research_server.client() as client:
        response = client.post(
            "/api/sweeps",
            json={"symbol": "DEMO01", "method": "tpe", "samples": 2001, "space": GRID},
        )
    field, detail = problem_field(response)
    assert field == "samples"
    assert "2,000" in detail
