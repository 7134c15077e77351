"""No process of an installation outlives its server, even a server killed with SIGKILL.

Worker processes notice their parent's death (parent-death signal, and a pipe only
the parent holds) and exit; so do the server processes under uvicorn's supervisor
(``PRIVATETRADE_SERVER_PROCESSES`` > 1). The multiprocessing resource tracker exits
once nobody holds its pipe. With PostgreSQL, their connections close with them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from server import ServerProcess, submit

pytestmark = pytest.mark.e2e

HUGE_SPEC = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
GONE_WITHIN_SECONDS = 5.0


def installation_processes(data_dir: Path, known: list[psutil.Process]) -> set[int]:
    """Live processes among ``known``, plus any whose command line or environment names
    ``data_dir`` (zombies waiting for a reaper count as gone, reused pids are others)."""
    marker = str(data_dir)
    found = {process.pid for process in known if running(process)}
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        with suppress(psutil.Error):
            if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid in found:
                continue
            cmdline = " ".join(process.info["cmdline"] or [])
            if marker in cmdline or any(marker in value for value in process.environ().values()):
                found.add(process.pid)
    return found


def running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe(pids: set[int]) -> list[str]:
    described = []
    for pid in sorted(pids):
        try:
            described.append(f"{pid}: {' '.join(psutil.Process(pid).cmdline())}")
        except psutil.Error:
            described.append(f"{pid}: (gone)")
    return described


def installation_connections(database_url: str) -> list[int]:
    """Client ports of the sessions on the test database, except this test process's own."""
    own = {
        connection.laddr.port
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr
    }
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            ports = connection.execute(
                sa.text(
                    "SELECT client_port FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
            return sorted(port for port in ports if port not in own)
    finally:
        engine.dispose()


@pytest.fixture
def leftovers() -> Iterator[list[psutil.Process]]:
    """Processes the test saw; any still running at the end are killed (none leaks)."""
    seen: list[psutil.Process] = []
    yield seen
    for process in seen:
        with suppress(psutil.Error):
            if process.is_running():  # not a reused pid
                process.kill()


@pytest.mark.parametrize(
    "env",
    [
        {"PRIVATETRADE_WORKERS": "2"},
        # uvicorn's supervisor and two server processes with a worker each
        {"PRIVATETRADE_SERVER_PROCESSES": "2", "PRIVATETRADE_WORKERS": "1"},
    ],
    ids=["one-server-process", "two-server-processes"],
)
def test_killed_server_leaves_no_process_behind(
    huge_data_dir_copy: Path,
    database_url: str | None,
    env: dict[str, str],
    leftovers: list[psutil.Process],
) -> None:
    server = ServerProcess(huge_data_dir_copy, database_url=database_url, env=env).start()
    assert server.process is not None
    try:
        with server.client() as client:
            job_ids = [submit(client, HUGE_SPEC)["id"] for _ in range(2)]
            deadline = time.monotonic() + 180.0
            while time.monotonic() < deadline:
                jobs = [client.get(f"/api/backtests/{job_id}").json() for job_id in job_ids]
                if all(job["state"] == "running" for job in jobs):
                    break
                time.sleep(0.05)
            assert all(job["state"] == "running" for job in jobs), jobs
        children = psutil.Process(server.process.pid).children(recursive=True)
        pids = {child.pid for child in children}
        workers = {int(str(job["worker"]).rpartition(":")[2]) for job in jobs}
        leftovers.extend(children)
        assert len(workers) == 2  # both busy, on their own processes
        assert workers <= pids
        assert len(children) >= 3  # the two workers and a resource tracker (or more)

        server.process.kill()
        server.process.wait(10)
        killed_at = time.monotonic()
        remaining = installation_processes(huge_data_dir_copy, children)
        while remaining and time.monotonic() - killed_at < GONE_WITHIN_SECONDS:
            time.sleep(0.05)
            remaining = installation_processes(huge_data_dir_copy, children)
        for pid in remaining:
            with suppress(psutil.Error):
                leftovers.append(psutil.Process(pid))
        assert not remaining, describe(remaining)
    finally:
        server.kill()
    if database_url is not None:  # the workers' connections closed with them
        deadline = time.monotonic() + GONE_WITHIN_SECONDS
        while installation_connections(database_url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert installation_connections(database_url) == []
