"""Universe scans survive a server restart: finished chunks of symbols are not run again.

120 symbols of 150,000 minute bars run in four chunks of 30 on one worker, long
enough to kill the server after the first chunk.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from scan_universe import add_slow_universe, slow_codes
from server import ServerProcess

from polling import poll

pytestmark = pytest.mark.e2e

COUNT = 120
FINAL = {"succeeded", "failed", "cancelled"}
BODY = {"symbols": slow_codes(COUNT), "strategy": "rsi_reversion"}


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()
        process.kill()


@pytest.fixture
def scan_dir(tmp_path: Path, sample_data_dir: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(sample_data_dir, target)
    add_slow_universe(target, COUNT)
    return target


def start(servers: list[ServerProcess], data_dir: Path) -> ServerProcess:
    process = ServerProcess(data_dir, workers=1)
    servers.append(process)
    return process.start()


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_server_restart_resumes_a_scan_from_its_finished_chunks(
    servers: list[ServerProcess], scan_dir: Path
) -> None:
    first = start(servers, scan_dir)
    with first.client() as client:
        job_id = client.post("/api/scans", json=BODY).json()["id"]

        def after_a_chunk() -> dict[str, Any] | None:
            job = job_of(client, job_id)
            assert job["state"] not in FINAL, job
            done = (job.get("summary") or {}).get("done", 0)
            return job if job["state"] == "running" and 0 < done < COUNT else None

        worker = int(str(poll(after_a_chunk, 120.0, "a chunk")["worker"]).rpartition(":")[2])
    first.kill()  # the server dies mid-scan; its worker follows it
    poll(lambda: None if _alive(worker) else True, 10.0, "the worker to end")
    chunks = scan_dir / "artifacts" / job_id / "scratch" / "scan-chunks"
    kept = sorted(chunks.glob("*.json"))
    assert 1 <= len(kept) < 4
    second = start(servers, scan_dir)
    with second.client() as client:
        job = poll(
            lambda: (lambda j: j if j["state"] in FINAL else None)(job_of(client, job_id)),
            180.0,
            "the scan to end",
        )
        document = client.get(f"/api/jobs/{job_id}/artifacts/ranking.json").json()
    assert job["state"] == "succeeded", job
    assert job["attempt"] == 2
    assert document["resumed_chunks"] == len(kept)
    assert sorted(row["symbol"] for row in document["rows"]) == slow_codes(COUNT)
    assert document["counts"]["evaluated"] == COUNT
    assert not (scan_dir / "artifacts" / job_id / "scratch").exists()
