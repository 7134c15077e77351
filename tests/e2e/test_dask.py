"""The Dask executor end to end: a real scheduler, two real workers, a real server.

A job run on the Dask cluster must give the same engine result, byte for byte, as
the same spec run by the local process pool.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from server import ServerProcess, free_port, submit, wait_for

from databases import postgres_database

pytestmark = [pytest.mark.dask, pytest.mark.e2e]

DASK = str(Path(sys.executable).parent / "dask")
SPECS: list[dict[str, Any]] = [
    {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}},
    {"symbol": "DEMO01", "strategy": "rsi_reversion"},
    {"symbol": "MSFT", "strategy": "macd_cross", "benchmark": "IBM", "fill_at": "close"},
]
FINAL_TIMEOUT = 120.0


@dataclass
class DaskCluster:
    """A scheduler and its worker processes (each ``dask worker`` is a nanny)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    nannies: list[subprocess.Popen[bytes]]
    logs: Path
    extra_pids: set[int] = field(default_factory=set)

    def worker_pids(self) -> set[int]:
        """Pids of the processes that run tasks (the nannies' children)."""
        pids: set[int] = set()
        for nanny in self.nannies:
            try:
                pids.update(c.pid for c in psutil.Process(nanny.pid).children(recursive=True))
            except psutil.NoSuchProcess:
                continue
        return pids

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"== {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


def _spawn(args: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def _terminate(groups: list[list[subprocess.Popen[bytes]]], leftovers: set[int]) -> None:
    """Terminate each group (then kill what is left), one group after the other."""
    for processes in groups:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
    for pid in leftovers:  # worker processes whose nanny did not take them down
        try:
            child = psutil.Process(pid)
            if child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
        except psutil.NoSuchProcess:
            continue


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """``dask scheduler`` plus two single-threaded ``dask worker`` processes on loopback."""
    from distributed import Client

    root = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _spawn(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        root / "scheduler.log",
        root,
    )
    nannies: list[subprocess.Popen[bytes]] = []
    cluster = DaskCluster(address, scheduler, nannies, root)
    try:
        for index in range(2):
            nannies.append(
                _spawn(
                    [
                        DASK,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--local-directory",
                        str(root / f"worker-{index}"),
                    ],
                    root / f"worker-{index}.log",
                    root,
                )
            )
        deadline = time.monotonic() + 90.0
        workers = 0
        while time.monotonic() < deadline:
            for process in [scheduler, *nannies]:
                assert process.poll() is None, f"dask process exited:\n{cluster.log_tail()}"
            try:
                with Client(address, timeout="5s") as client:
                    workers = len(client.scheduler_info(n_workers=-1)["workers"])
            except OSError:
                workers = 0
            if workers == 2:
                break
            time.sleep(0.5)
        assert workers == 2, f"scheduler reports {workers} workers:\n{cluster.log_tail()}"
        cluster.extra_pids = cluster.worker_pids()
        assert len(cluster.extra_pids) >= 2, cluster.extra_pids
        yield cluster
    finally:
        _terminate([nannies, [scheduler]], cluster.extra_pids | cluster.worker_pids())


@pytest.fixture
def servers(database_url: str | None) -> Iterator[list[ServerProcess]]:
    """Servers a test starts; all are stopped before their databases are dropped."""
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()
        process.kill()


def start(
    servers: list[ServerProcess], data_dir: Path, database_url: str | None, **env: str
) -> ServerProcess:
    process = ServerProcess(data_dir, database_url=database_url, env=env)
    servers.append(process)
    return process.start()


def dask_env(cluster: DaskCluster) -> dict[str, str]:
    return {"PRIVATETRADE_EXECUTOR": "dask", "PRIVATETRADE_DASK_SCHEDULER": cluster.address}


def engine_document(response: httpx.Response) -> bytes:
    """The downloaded document with its ``run`` section cut out, byte for byte."""
    body = response.content
    run = response.json()["run"]
    section = b'"run":' + json.dumps(run, ensure_ascii=False, separators=(",", ":")).encode()
    assert body.count(section + b",") == 1
    return body.replace(section + b",", b"", 1)


def run_all(
    server: ServerProcess, specs: list[dict[str, Any]], cluster: DaskCluster
) -> list[dict[str, Any]]:
    """Submit every spec at once; wait until all succeeded; return the jobs in order."""
    with server.client() as client:
        ids = [submit(client, spec)["id"] for spec in specs]
        jobs = [wait_for(client, job_id, timeout=FINAL_TIMEOUT) for job_id in ids]
    failed = [job for job in jobs if job["state"] != "succeeded"]
    assert not failed, f"{failed}\n{server.log_tail()}\n{cluster.log_tail()}"
    return jobs


def test_dask_and_local_pool_give_byte_identical_results(
    dask_cluster: DaskCluster,
    data_dir: Path,
    tmp_path: Path,
    database_url: str | None,
    servers: list[ServerProcess],
) -> None:
    local_dir = tmp_path / "local-data"
    shutil.copytree(data_dir, local_dir)
    with ExitStack() as stack:
        # The local-pool server gets its own database (two dispatchers on one queue would
        # share the jobs between the executors).
        local_url = None if database_url is None else stack.enter_context(postgres_database())
        on_dask = start(servers, data_dir, database_url, **dask_env(dask_cluster))
        on_local = start(servers, local_dir, local_url)
        try:
            dask_jobs = run_all(on_dask, SPECS, dask_cluster)
            local_jobs = run_all(on_local, SPECS, dask_cluster)
            dask_workers = dask_cluster.worker_pids()
            for dask_job, local_job in zip(dask_jobs, local_jobs, strict=True):
                # The Dask job really ran in a Dask worker process, the local one did not.
                assert int(dask_job["worker"].rpartition(":")[2]) in dask_workers, dask_job
                assert int(local_job["worker"].rpartition(":")[2]) not in dask_workers
                with on_dask.client() as dask_client, on_local.client() as local_client:
                    from_dask = dask_client.get(f"/api/backtest/result/{dask_job['id']}")
                    from_local = local_client.get(f"/api/backtest/result/{local_job['id']}")
                assert from_dask.status_code == from_local.status_code == 200
                assert from_dask.json()["run"]["id"] == dask_job["id"]
                engine_dask, engine_local = engine_document(from_dask), engine_document(from_local)
                assert engine_dask == engine_local
                assert from_dask.headers["etag"] == from_local.headers["etag"]
                assert from_dask.headers["etag"] == f'"{hashlib.sha256(engine_dask).hexdigest()}"'
            # Different specs give different documents (the comparison is not vacuous).
            assert len({job["summary"]["final_equity"] for job in dask_jobs}) == len(SPECS)
        finally:
            for process in servers:
                process.stop()


def test_dask_health_and_many_concurrent_jobs(
    dask_cluster: DaskCluster,
    data_dir: Path,
    database_url: str | None,
    servers: list[ServerProcess],
) -> None:
    server = start(servers, data_dir, database_url, **dask_env(dask_cluster))
    with server.client() as client:
        health = client.get("/api/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["executor"]["kind"] == "dask"
        assert body["executor"]["healthy"] is True
        assert body["executor"]["workers"] == 2
        assert body["executor"]["detail"] == dask_cluster.address

    specs = [
        {"symbol": symbol, "strategy": strategy}
        for symbol in ("AAPL", "IBM", "DEMO02", "DEMO03")
        for strategy in ("sma_cross", "momentum")
    ]
    jobs = run_all(server, specs, dask_cluster)
    assert all(job["attempt"] == 1 for job in jobs)
    used = {int(job["worker"].rpartition(":")[2]) for job in jobs}
    assert used <= dask_cluster.worker_pids()
    assert len(used) == 2, f"all jobs ran on one worker: {used}"
    with server.client() as client:
        for job in jobs:
            assert client.get(f"/api/backtest/result/{job['id']}").status_code == 200
        # The tasks' completions reach the server just after the jobs' rows say succeeded.
        deadline = time.monotonic() + 15.0
        while (busy := client.get("/api/health").json()["executor"]["busy"]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert busy == 0


SWEEP: dict[str, Any] = {
    "symbol": "DEMO01",
    "strategy": "bollinger_reversion",
    "space": {
        "period": {"start": 5, "stop": 24, "step": 1},
        "k": {"start": 1.0, "stop": 4.95, "step": 0.05},
    },
}


def test_a_sweep_in_chunks_on_dask_equals_the_local_pool(
    dask_cluster: DaskCluster, data_dir: Path, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """1,600 combinations in two chunks as Dask tasks: the same table as the local pool."""
    local_dir = tmp_path / "local-data"
    shutil.copytree(data_dir, local_dir)
    on_dask = start(servers, data_dir, None, **dask_env(dask_cluster))
    on_local = start(servers, local_dir, None)
    outputs = []
    for server in (on_dask, on_local):
        with server.client() as client:
            job_id = client.post("/api/sweeps", json=SWEEP).json()["id"]
            job = wait_for(client, job_id, timeout=FINAL_TIMEOUT)
            assert job["state"] == "succeeded", f"{job}\n{server.log_tail()}"
            table = client.get(f"/api/jobs/{job_id}/artifacts/table.csv").content
            document = client.get(f"/api/jobs/{job_id}/artifacts/result.json").json()
            outputs.append((job, table, document))
    (dask_job, dask_table, dask_doc), (_, local_table, local_doc) = outputs
    assert int(dask_job["worker"].rpartition(":")[2]) in dask_cluster.worker_pids()
    assert (dask_doc["executor"], local_doc["executor"]) == ("dask", "local")
    assert dask_table == local_table
    assert dask_table.count(b"\n") == 1 + 20 * 80
    for key in ("best", "top", "report", "combinations"):
        assert dask_doc[key] == local_doc[key]
