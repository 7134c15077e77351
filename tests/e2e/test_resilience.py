"""Resilience end to end: cancel, killed workers, a killed server, on SQLite and PostgreSQL.

Every test runs real ``privatetrade serve`` processes on a data directory with a
long synthetic symbol (``LONG``, minute bars) whose backtest takes a few seconds,
so a job can be observed, cancelled or have its worker killed while it runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from server import ServerProcess, submit, wait_for

from polling import poll

pytestmark = pytest.mark.e2e

LONG_BARS = 200_000  # a few seconds per run: long enough to act on, short enough to wait for
LONG_SPEC = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
SHORT_SPEC = {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
FINAL_TIMEOUT = 120.0


# ---------------------------------------------------------------------- data


def build_long_symbol(data_dir: Path, bars: int = LONG_BARS) -> None:
    """Add ``LONG``: a deterministic random walk of minute bars (UTC stamps)."""
    import numpy as np
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    rng = np.random.default_rng(20240601)
    index = pd.date_range("2015-01-02 14:30", periods=bars, freq="min", tz="UTC")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": np.full(bars, 1_000.0),
        },
        index=index,
    )
    symbol = SymbolInfo(
        code="LONG",
        name="Long synthetic",
        market=Market.NYSE,
        currency="USD",
        tick_table="none",
        source="test",
        synthetic=True,
    )
    MarketData(data_dir).save_bars(symbol, frame)


@pytest.fixture(scope="module")
def long_template(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample data plus ``LONG``, built once for this module.

    Half the bars of conftest's ``long_data_dir``: every test here waits for several
    long runs, and a run of 200,000 bars is still seconds long.
    """
    target = tmp_path_factory.mktemp("long-data") / "data"
    shutil.copytree(sample_data_dir, target)
    build_long_symbol(target)
    return target


@pytest.fixture
def long_dir(tmp_path: Path, long_template: Path) -> Path:
    """A private copy of the long data directory for one test."""
    target = tmp_path / "data"
    shutil.copytree(long_template, target)
    return target


@pytest.fixture
def servers(database_url: str | None) -> Iterator[list[ServerProcess]]:
    """Servers a test starts; each is stopped (or killed) before its database is dropped."""
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()
        process.kill()  # also reaps worker processes a stuck server left behind


def start_server(
    servers: list[ServerProcess],
    data_dir: Path,
    database_url: str | None,
    **env: str,
) -> ServerProcess:
    process = ServerProcess(data_dir, database_url=database_url, env=env)
    servers.append(process)
    return process.start()


# ---------------------------------------------------------------------- helpers


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/backtests/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_running(
    client: httpx.Client, job_id: str, attempt: int | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """Wait until the job runs (its ``attempt``-th attempt, if given) on a known worker."""

    def check() -> dict[str, Any] | None:
        job = job_of(client, job_id)
        assert job["state"] not in {"succeeded", "failed", "cancelled"}, job
        running = job["state"] == "running" and job["worker"]
        if running and (attempt is None or job["attempt"] == attempt):
            return job
        return None

    return poll(check, timeout, f"job {job_id} running (attempt {attempt})")


def worker_pid(job: dict[str, Any]) -> int:
    host, _, pid = str(job["worker"]).rpartition(":")
    assert host, job["worker"]
    return int(pid)


def child_pids(server: ServerProcess) -> set[int]:
    assert server.process is not None
    return {child.pid for child in psutil.Process(server.process.pid).children(recursive=True)}


def kill_worker(server: ServerProcess, job: dict[str, Any]) -> int:
    """SIGKILL the worker process running ``job`` (it must be one of this server's children)."""
    pid = worker_pid(job)
    children = child_pids(server)
    assert pid in children, f"worker {pid} is not a child of the server: {children}"
    os.kill(pid, signal.SIGKILL)
    poll(lambda: True if not alive(pid) else None, 10.0, f"pid {pid} to exit")
    return pid


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def download(client: httpx.Client, job_id: str) -> httpx.Response:
    response = client.get(f"/api/backtest/result/{job_id}")
    assert response.status_code == 200, response.text[:500]
    return response


def engine_part(response: httpx.Response) -> bytes:
    """The downloaded document without its per-run ``run`` section, re-serialized canonically."""
    document = response.json()
    document.pop("run")
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def assert_no_result(client: httpx.Client, job_id: str, state: str) -> None:
    response = client.get(f"/api/backtest/result/{job_id}")
    assert response.status_code == 409, response.text
    assert response.json()["state"] == state


def log_events(*servers: ServerProcess) -> list[dict[str, Any]]:
    events = []
    for process in servers:
        for line in process.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return events


def db_url(data_dir: Path, database_url: str | None) -> str:
    return database_url or f"sqlite+pysqlite:///{data_dir / 'privatetrade.db'}"


# ---------------------------------------------------------------------- cancel


def test_cancel_running_and_queued_jobs(
    servers: list[ServerProcess], long_dir: Path, database_url: str | None
) -> None:
    server = start_server(servers, long_dir, database_url, PRIVATETRADE_WORKERS="1")
    with server.client() as client:
        running = submit(client, LONG_SPEC)
        queued = submit(client, LONG_SPEC)
        wait_running(client, running["id"])

        # The only worker is busy: the second job waits in the queue, and a cancel ends it now.
        assert job_of(client, queued["id"])["state"] == "queued"
        response = client.post(f"/api/backtests/{queued['id']}/cancel")
        assert response.status_code == 202, response.text
        assert response.json()["state"] == "cancelled"
        assert response.json()["attempt"] == 0

        # The running one is asked to stop and ends cancelled, without a result.
        response = client.post(f"/api/backtests/{running['id']}/cancel")
        assert response.status_code == 202, response.text
        assert response.json()["state"] == "running"
        assert response.json()["cancel_requested"] is True
        done = wait_for(client, running["id"], timeout=FINAL_TIMEOUT)
        assert done["state"] == "cancelled", done
        assert done["attempt"] == 1
        assert done["summary"] is None
        assert_no_result(client, running["id"], "cancelled")

        # The freed worker runs the next job; the cancelled queued job never ran.
        after = submit(client, SHORT_SPEC)
        assert wait_for(client, after["id"], timeout=FINAL_TIMEOUT)["state"] == "succeeded"
        never = job_of(client, queued["id"])
        assert never["state"] == "cancelled", never
        assert (never["attempt"], never["started_at"], never["worker"]) == (0, None, None)
        assert_no_result(client, queued["id"], "cancelled")
        response = client.post(f"/api/backtests/{queued['id']}/cancel")
        assert response.status_code == 409  # already ended
    started = [e["job_id"] for e in log_events(server) if e.get("event") == "job.started"]
    assert queued["id"] not in started
    assert started.count(running["id"]) == 1


# ---------------------------------------------------------------------- killed workers


def test_killed_worker_is_retried_and_other_jobs_are_unaffected(
    servers: list[ServerProcess], long_dir: Path, database_url: str | None
) -> None:
    server = start_server(servers, long_dir, database_url)  # two worker processes
    with server.client() as client:
        victim = submit(client, LONG_SPEC)
        bystander = submit(client, LONG_SPEC)
        first = wait_running(client, victim["id"], attempt=1)
        other = wait_running(client, bystander["id"], attempt=1)
        assert worker_pid(first) != worker_pid(other)

        killed = kill_worker(server, first)

        retried = wait_running(client, victim["id"], attempt=2)
        assert worker_pid(retried) != killed
        done = wait_for(client, victim["id"], timeout=FINAL_TIMEOUT)
        assert done["state"] == "succeeded", done
        assert done["attempt"] == 2
        assert (done["reason"], done["error"]) == (None, None)

        # The job on the other worker process never noticed.
        unaffected = wait_for(client, bystander["id"], timeout=FINAL_TIMEOUT)
        assert unaffected["state"] == "succeeded", unaffected
        assert unaffected["attempt"] == 1
        assert unaffected["worker"] == other["worker"]

        # The retried job's result downloads and equals the undisturbed run's, byte for byte.
        retried_result = download(client, victim["id"])
        assert retried_result.json()["run"]["attempt"] == 2
        plain_result = download(client, bystander["id"])
        assert retried_result.headers["etag"] == plain_result.headers["etag"]
        assert engine_part(retried_result) == engine_part(plain_result)

        # The pool replaced the dead process and keeps working.
        executor = client.get("/api/health").json()["executor"]
        assert executor["kind"] == "local"
        assert executor["workers"] == 2
        assert executor["detail"] == "1 worker restarts"
        after = submit(client, SHORT_SPEC)
        assert wait_for(client, after["id"], timeout=FINAL_TIMEOUT)["state"] == "succeeded"


def test_job_whose_worker_dies_three_times_fails_worker_lost(
    servers: list[ServerProcess], long_dir: Path, database_url: str | None
) -> None:
    server = start_server(servers, long_dir, database_url, PRIVATETRADE_MAX_ATTEMPTS="3")
    killed: list[int] = []
    with server.client() as client:
        job = submit(client, LONG_SPEC)
        for attempt in (1, 2, 3):
            running = wait_running(client, job["id"], attempt=attempt)
            assert worker_pid(running) not in killed
            killed.append(kill_worker(server, running))
        done = wait_for(client, job["id"], timeout=FINAL_TIMEOUT)
        assert done["state"] == "failed", done
        assert done["reason"] == "worker_lost"
        assert done["attempt"] == 3
        assert "lost 3 times" in done["error"]
        assert_no_result(client, job["id"], "failed")

        # Three crashes later the pool still runs jobs.
        assert client.get("/api/health").json()["executor"]["detail"] == "3 worker restarts"
        after = submit(client, SHORT_SPEC)
        assert wait_for(client, after["id"], timeout=FINAL_TIMEOUT)["state"] == "succeeded"
        assert job_of(client, job["id"])["state"] == "failed"  # final: never retried again


# ---------------------------------------------------------------------- restart


def test_server_killed_with_running_and_queued_jobs_loses_nothing(
    servers: list[ServerProcess], long_dir: Path, database_url: str | None
) -> None:
    first = start_server(servers, long_dir, database_url)
    with first.client() as client:
        running = [submit(client, LONG_SPEC)["id"] for _ in range(2)]
        queued = [submit(client, spec)["id"] for spec in (SHORT_SPEC, LONG_SPEC)]
        workers = [worker_pid(wait_running(client, job_id)) for job_id in running]
        for job_id in queued:
            assert job_of(client, job_id)["state"] == "queued"
    first.kill()
    poll(lambda: True if not any(alive(pid) for pid in workers) else None, 10.0, "workers gone")
    submitted = running + queued

    engine = sa.create_engine(db_url(long_dir, database_url))
    try:
        with engine.connect() as connection:
            states = dict(connection.execute(sa.text("SELECT id, state FROM jobs")).all())
        assert states == {**dict.fromkeys(running, "running"), **dict.fromkeys(queued, "queued")}

        second = start_server(servers, long_dir, database_url)
        with second.client() as client:
            finals = {
                job_id: wait_for(client, job_id, timeout=FINAL_TIMEOUT) for job_id in submitted
            }
            for job in finals.values():
                assert job["state"] == "succeeded", job
            # Interrupted jobs ran again (a second attempt), queued ones ran once.
            assert [finals[job_id]["attempt"] for job_id in running] == [2, 2]
            assert [finals[job_id]["attempt"] for job_id in queued] == [1, 1]
            etags = {job_id: download(client, job_id).headers["etag"] for job_id in submitted}
            long_jobs = [job_id for job_id in submitted if job_id != queued[0]]
            assert len({etags[job_id] for job_id in long_jobs}) == 1

        with engine.connect() as connection:
            job_rows = connection.execute(sa.text("SELECT id, attempt FROM jobs")).all()
            artifact_rows = connection.execute(
                sa.text("SELECT job_id, name, attempt, sha256 FROM artifacts")
            ).all()
    finally:
        engine.dispose()

    # None lost, none duplicated: exactly the submitted jobs, one set of artifacts each,
    # from the attempt that finished, and one completed execution per job in the logs.
    assert sorted(job_id for job_id, _ in job_rows) == sorted(submitted)
    documents = {job_id: sha for job_id, name, _, sha in artifact_rows if name == "result.json"}
    assert sorted(documents) == sorted(submitted)
    assert Counter(job_id for job_id, *_ in artifact_rows) == dict.fromkeys(submitted, 3)
    attempts = dict(job_rows)
    for job_id, _name, attempt, _sha in artifact_rows:
        assert attempt == attempts[job_id]
    for job_id, sha in documents.items():
        assert etags[job_id] == f'"{sha}"'
    succeeded = Counter(
        e["job_id"] for e in log_events(first, second) if e.get("event") == "job.succeeded"
    )
    assert succeeded == dict.fromkeys(submitted, 1)
    recovered = [e["count"] for e in log_events(second) if e.get("event") == "jobs.recovered"]
    assert sum(recovered) == len(running)  # both interrupted jobs, once each


# ---------------------------------------------------------------------- two servers, one queue


def test_late_loss_report_from_a_paused_server_leaves_the_new_attempt_alone(
    servers: list[ServerProcess], long_dir: Path, database_url: str | None
) -> None:
    """Server a stalls past its lease; b takes the job over; a's late loss report is void."""
    one = start_server(servers, long_dir, database_url)
    two = start_server(servers, long_dir, database_url)  # same queue (same database)
    with one.client() as client:
        job_id = submit(client, {**LONG_SPEC, "params": {"fast": 5, "slow": 50}})["id"]
        first = wait_running(client, job_id, attempt=1)
    owner, rescuer = (one, two) if worker_pid(first) in child_pids(one) else (two, one)
    assert owner.process is not None
    os.kill(owner.process.pid, signal.SIGSTOP)  # the server stalls; its worker runs on
    try:
        kill_worker(owner, first)  # ... and dies while nobody is watching
        with rescuer.client() as client:
            second = wait_running(client, job_id, attempt=2)  # after a's lease expired
        assert worker_pid(second) in child_pids(rescuer)
    finally:
        os.kill(owner.process.pid, signal.SIGCONT)
    # a wakes up, sees its worker process gone and reports the loss of attempt 1.
    poll(
        lambda: (
            True if any(e.get("event") == "job.worker_lost" for e in log_events(owner)) else None
        ),
        30.0,
        "the stalled server to notice its dead worker",
    )
    with rescuer.client() as client:
        done = wait_for(client, job_id, timeout=FINAL_TIMEOUT)
        assert done["state"] == "succeeded", done
        assert done["attempt"] == 2  # the loss was counted once; attempt 2 was not disturbed
        assert done["worker"] == second["worker"]
        assert download(client, job_id).json()["run"]["attempt"] == 2
    engine = sa.create_engine(db_url(long_dir, database_url))
    try:
        with engine.connect() as connection:
            lost = connection.execute(
                sa.text("SELECT lost_attempts FROM jobs WHERE id = :id"), {"id": job_id}
            ).scalar_one()
    finally:
        engine.dispose()
    assert lost == 1
