"""SIGTERM: in-flight requests finish, no job is lost, running jobs resume on restart.

The server exits 0 and leaves nothing behind: no process, no semaphore the resource
tracker would report as leaked, no temporary folder.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from server import ServerProcess, submit, wait_for


def test_sigterm_under_load_drops_no_request(long_data_dir_copy: Path) -> None:
    server = ServerProcess(long_data_dir_copy, env={"PRIVATETRADE_WORKERS": "1"}).start()
    with server.client() as client:
        done = submit(client, {"symbol": "AAPL", "params": {"fast": 10, "slow": 30}})
        assert wait_for(client, done["id"])["state"] == "succeeded"
        expected = client.get(f"/api/backtest/result/{done['id']}").content
        long_job = submit(client, {"symbol": "LONG", "params": {"fast": 10, "slow": 30}})
        wait_for(client, long_job["id"], {"running"})

    complete: list[int] = []
    broken: list[str] = []
    refused_after_term: list[str] = []
    terminated = threading.Event()

    def hammer() -> None:
        with server.client() as own:
            while True:
                try:
                    response = own.get(f"/api/backtest/result/{done['id']}")
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                    # After shutdown began, a request the server has not read finds the
                    # door closed (refused, or an idle keep-alive connection reset without
                    # any answer: nothing was processed, a client may retry it). What
                    # must not happen is an answered request cut short or failed.
                    (refused_after_term if terminated.is_set() else broken).append(repr(exc))
                    return
                if response.status_code == 200 and response.content == expected:
                    complete.append(1)
                else:
                    broken.append(f"{response.status_code} {len(response.content)} bytes")

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    assert server.process is not None
    terminated.set()
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    # A graceful stop ends with exit code 0.
    assert server.process.wait(30) == 0
    log = server.log_path.read_text()
    assert '"event": "jobs.requeued_on_shutdown"' in log
    assert '"event": "server.stopped"' in log
    assert broken == []
    assert len(complete) > 50
    assert len(refused_after_term) == len(threads)

    # The running job was handed back to the queue, not lost, and finishes after a restart.
    restarted = ServerProcess(long_data_dir_copy, env={"PRIVATETRADE_WORKERS": "1"})
    restarted.token = server.token
    restarted.start()
    try:
        with restarted.client() as client:
            final = wait_for(client, long_job["id"], timeout=180)
            assert final["state"] == "succeeded", final
            assert final["attempt"] == 2
            assert client.get(f"/api/backtest/result/{done['id']}").content == expected
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    ("processes", "workers"), [pytest.param(1, 2, id="one process"), pytest.param(2, 1, id="two")]
)
def test_sigterm_exits_0_and_leaves_no_worker_resource_behind(
    long_data_dir_copy: Path, processes: int, workers: int
) -> None:
    server = ServerProcess(
        long_data_dir_copy,
        workers=workers,
        env={"PRIVATETRADE_SERVER_PROCESSES": str(processes)},
    ).start()
    try:
        server.wait_workers_ready()
        with server.client() as client:
            busy = submit(client, {"symbol": "LONG", "params": {"fast": 10, "slow": 30}})
            wait_for(client, busy["id"], {"running"})
            # One worker runs the long job, the other is idle (in the other process).
            assert client.get("/api/backtests", params={"state": "running"}).json()["total"] == 1
        children = server.children()
        assert len(children) > processes * workers  # workers, resource tracker(s)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == []  # every worker and tracker ended with the server
    finally:
        server.stop()
    output = server.log_path.read_text(errors="replace")
    assert '"event": "server.stopped"' in output
    assert "resource_tracker" not in output
    assert "leaked" not in output
    assert list(server.temp_dir.iterdir()) == []  # e.g. the metrics folder of two processes
