"""Job control end to end: cancel within a second, time limits, idle worker deaths.

Real ``privatetrade serve`` processes on SQLite and PostgreSQL, with a symbol of
1,000,000 minute bars (``LONG``, conftest's ``huge_data_dir``): a run spends seconds
serializing its result, a step that checks no cancel token, so only the dispatcher's
kill can stop it in time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from server import ServerProcess, submit, wait_for

from polling import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HUGE_SPEC = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
SHORT_SPEC = {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
CANCEL_WITHIN = dt.timedelta(seconds=1.5)
FINAL_TIMEOUT = 180.0  # fresh workers warm up first; the machine may be busy
# Far below a million-bar run (seconds of serializing alone), far above AAPL's run even
# on a loaded machine: the limit applies to every backtest of that server.
LIMIT_SECONDS = 3
LIMIT = dt.timedelta(seconds=LIMIT_SECONDS)


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()
        process.kill()


def start_server(
    servers: list[ServerProcess], data_dir: Path, database_url: str | None, **env: str
) -> ServerProcess:
    process = ServerProcess(data_dir, database_url=database_url, env=env)
    servers.append(process)
    return process.start()


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/backtests/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_stage(client: httpx.Client, job_id: str, stages: set[str]) -> dict[str, Any]:
    """Wait until the running job reports one of ``stages``."""

    def check() -> dict[str, Any] | None:
        job = job_of(client, job_id)
        assert job["state"] in {"queued", "running"}, job
        return job if job["state"] == "running" and job["stage"] in stages else None

    return poll(check, 120.0, f"job {job_id} in stage {stages}")


def timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def lost_attempts(data_dir: Path, database_url: str | None, job_ids: list[str]) -> list[int]:
    engine = sa.create_engine(database_url or f"sqlite+pysqlite:///{data_dir / 'privatetrade.db'}")
    try:
        with engine.connect() as connection:
            rows = dict(
                connection.execute(
                    sa.text("SELECT id, lost_attempts FROM jobs WHERE id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)
                    ),
                    {"ids": job_ids},
                ).all()
            )
    finally:
        engine.dispose()
    return [int(rows[job_id]) for job_id in job_ids]


def worker_processes(server: ServerProcess) -> list[psutil.Process]:
    """The server's worker processes (not the multiprocessing resource tracker)."""
    assert server.process is not None
    children = psutil.Process(server.process.pid).children(recursive=True)
    return [p for p in children if "spawn_main" in " ".join(p.cmdline())]


def running(process: psutil.Process) -> bool:
    """True while it runs (a zombie counts as dead; a reused pid is another process)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def log_events(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    events = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == name:
                events.append(event)
    return events


# ---------------------------------------------------------------------- cancel


@pytest.mark.parametrize("stages", [{"loading", "simulating"}, {"saving"}], ids=["early", "saving"])
def test_cancel_stops_a_million_bar_job_within_a_second(
    servers: list[ServerProcess],
    huge_data_dir_copy: Path,
    database_url: str | None,
    stages: set[str],
) -> None:
    server = start_server(servers, huge_data_dir_copy, database_url, PRIVATETRADE_WORKERS="1")
    with server.client() as client:
        job_id = submit(client, HUGE_SPEC)["id"]
        wait_stage(client, job_id, stages)

        response = client.post(f"/api/backtests/{job_id}/cancel")
        answered = dt.datetime.now(dt.UTC)
        assert response.status_code == 202, response.text
        assert response.json()["cancel_requested"] is True

        done = wait_for(client, job_id, timeout=10.0)
        assert done["state"] == "cancelled", done
        assert done["attempt"] == 1
        assert done["summary"] is None
        assert timestamp(done["finished_at"]) - answered <= CANCEL_WITHIN, done

        # The worker is free again: the next job runs and succeeds.
        after = submit(client, SHORT_SPEC)["id"]
        assert wait_for(client, after, timeout=FINAL_TIMEOUT)["state"] == "succeeded"
        assert job_of(client, job_id)["state"] == "cancelled"
    assert lost_attempts(huge_data_dir_copy, database_url, [job_id]) == [0]


# ---------------------------------------------------------------------- time limit


def test_job_over_its_time_limit_fails_once_and_frees_its_worker(
    servers: list[ServerProcess], huge_data_dir_copy: Path, database_url: str | None
) -> None:
    server = start_server(
        servers,
        huge_data_dir_copy,
        database_url,
        PRIVATETRADE_WORKERS="1",
        PRIVATETRADE_JOB_TIME_LIMITS=json.dumps({"backtest": LIMIT_SECONDS}),
    )
    with server.client() as client:
        job_id = submit(client, HUGE_SPEC)["id"]
        done = wait_for(client, job_id, timeout=FINAL_TIMEOUT)
        assert done["state"] == "failed", done
        assert done["reason"] == "time_limit"
        assert f"time limit of {LIMIT_SECONDS} s" in done["error"]
        assert done["attempt"] == 1
        assert done["summary"] is None
        # Stopped at the limit (plus the watch interval and the grace), not at the end.
        ran = timestamp(done["finished_at"]) - timestamp(done["started_at"])
        assert LIMIT <= ran <= LIMIT + dt.timedelta(seconds=2), done

        # The same (only) worker slot runs the next job; the failed one never runs again.
        after = submit(client, SHORT_SPEC)["id"]
        assert wait_for(client, after, timeout=FINAL_TIMEOUT)["state"] == "succeeded"
        final = job_of(client, job_id)
        assert (final["state"], final["attempt"]) == ("failed", 1)
        assert client.get(f"/api/backtest/result/{job_id}").status_code == 409
    assert lost_attempts(huge_data_dir_copy, database_url, [job_id, after]) == [0, 0]
    assert [e["job_id"] for e in log_events(server, "job.started")].count(job_id) == 1


# ---------------------------------------------------------------------- idle workers


def test_idle_worker_deaths_cost_no_job_an_attempt(
    servers: list[ServerProcess], data_dir: Path, database_url: str | None
) -> None:
    server = start_server(servers, data_dir, database_url)  # two worker processes
    workers = poll(
        lambda: found if len(found := worker_processes(server)) == 2 else None,
        30.0,
        "two worker processes",
    )
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
    poll(
        lambda: True if not any(running(worker) for worker in workers) else None,
        30.0,
        "the killed workers to exit",
    )

    with server.client() as client:
        job_ids = [submit(client, SHORT_SPEC)["id"] for _ in range(3)]
        finals = [wait_for(client, job_id, timeout=FINAL_TIMEOUT) for job_id in job_ids]
        assert [job["state"] for job in finals] == ["succeeded"] * 3, finals
        assert [job["attempt"] for job in finals] == [1, 1, 1]
        # Both dead processes were replaced; the pool is whole again.
        executor = client.get("/api/health").json()["executor"]
        assert executor["workers"] == 2
        assert executor["detail"] == "2 worker restarts"
    assert lost_attempts(data_dir, database_url, job_ids) == [0, 0, 0]
    replaced = {worker.pid for worker in worker_processes(server)}
    assert len(replaced) == 2
    assert not replaced & {worker.pid for worker in workers}
