"""SIGTERM: in-flight requests finish, no job is lost, running jobs resume on restart."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
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
    # uvicorn re-raises SIGTERM after its graceful shutdown, so supervisors see the signal.
    assert server.process.wait(30) in {0, -signal.SIGTERM}
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
