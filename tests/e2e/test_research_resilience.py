"""Optimizations survive lost workers and server restarts: finished chunks are not run again.

A Bollinger-band sweep of 3,000 combinations (signals computed in Python per
combination, about a millisecond each) runs in four chunks of 815 on one worker, long
enough to interrupt it after its first chunk.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from server import ServerProcess

from polling import poll

pytestmark = pytest.mark.e2e

SPEC: dict[str, Any] = {
    "symbol": "DEMO01",
    "strategy": "bollinger_reversion",
    "space": {
        "period": {"start": 5, "stop": 34, "step": 1},
        "k": {"start": 1.0, "stop": 5.95, "step": 0.05},
    },
}
TOTAL = 30 * 100
FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()
        process.kill()


@pytest.fixture
def research_dir(tmp_path: Path, sample_data_dir: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(sample_data_dir, target)
    return target


def start(servers: list[ServerProcess], data_dir: Path) -> ServerProcess:
    process = ServerProcess(data_dir, workers=1)
    servers.append(process)
    return process.start()


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def after_first_chunk(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """Wait until at least one chunk finished and the search is still running."""

    def check() -> dict[str, Any] | None:
        job = job_of(client, job_id)
        assert job["state"] not in FINAL, job
        done = (job.get("summary") or {}).get("done", 0)
        return job if job["state"] == "running" and 0 < done < TOTAL else None

    return poll(check, 120.0, f"sweep {job_id} to finish a chunk")


def succeeded(client: httpx.Client, job_id: str) -> dict[str, Any]:
    job = poll(
        lambda: (lambda j: j if j["state"] in FINAL else None)(job_of(client, job_id)),
        180.0,
        f"sweep {job_id} to end",
    )
    assert job["state"] == "succeeded", job
    return job


def check_complete(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """Every combination exactly once; return the result document."""
    document: dict[str, Any] = client.get(f"/api/jobs/{job_id}/artifacts/result.json").json()
    table = client.get(f"/api/jobs/{job_id}/artifacts/table.csv").text
    rows = list(csv.DictReader(io.StringIO(table)))
    pairs = {(row["period"], row["k"]) for row in rows}
    assert document["combinations"] == len(rows) == len(pairs) == TOTAL
    return document


def test_a_killed_worker_costs_only_its_unfinished_chunk(
    servers: list[ServerProcess], research_dir: Path
) -> None:
    server = start(servers, research_dir)
    with server.client() as client:
        job_id = client.post("/api/sweeps", json=SPEC).json()["id"]
        running = after_first_chunk(client, job_id)
        pid = int(str(running["worker"]).rpartition(":")[2])
        assert server.process is not None
        children = {c.pid for c in psutil.Process(server.process.pid).children(recursive=True)}
        assert pid in children
        os.kill(pid, signal.SIGKILL)
        job = succeeded(client, job_id)
        document = check_complete(client, job_id)
    assert job["attempt"] == 2
    assert document["resumed_chunks"] >= 1


def test_a_server_restart_resumes_from_the_finished_chunks(
    servers: list[ServerProcess], research_dir: Path
) -> None:
    first = start(servers, research_dir)
    with first.client() as client:
        job_id = client.post("/api/sweeps", json=SPEC).json()["id"]
        worker = int(str(after_first_chunk(client, job_id)["worker"]).rpartition(":")[2])
    first.kill()  # the server dies mid-search; its worker follows it
    poll(
        lambda: None if psutil.pid_exists(worker) and _alive(worker) else True, 10.0, "worker gone"
    )
    kept = list((research_dir / "artifacts" / job_id / "scratch" / "chunks").glob("*.npz"))
    assert 1 <= len(kept) < 4
    second = start(servers, research_dir)
    with second.client() as client:
        succeeded(client, job_id)
        document = check_complete(client, job_id)
    assert document["resumed_chunks"] == len(kept)
    scratch = research_dir / "artifacts" / job_id / "scratch"
    assert not scratch.exists()  # the finished job keeps only its artifacts


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_cancel_stops_the_rest_of_a_sweep(servers: list[ServerProcess], research_dir: Path) -> None:
    server = start(servers, research_dir)
    with server.client() as client:
        job_id = client.post("/api/sweeps", json=SPEC).json()["id"]
        after_first_chunk(client, job_id)
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
        job = poll(
            lambda: (lambda j: j if j["state"] in FINAL else None)(job_of(client, job_id)),
            60.0,
            "cancel",
        )
        assert job["state"] == "cancelled"
        assert client.get(f"/api/jobs/{job_id}/artifacts/result.json").status_code == 409
