"""Start the real server (``privatetrade serve``) as a subprocess for the service benchmarks.

A trimmed copy of the end-to-end tests' process code (benchmarks do not import from tests):
a free loopback port, the settings as environment variables, a wait for ``/api/health``,
and a stop that also ends the worker processes. The server's JSON log lines go to a file,
which :func:`log_events` reads back (the worker logs ``job.succeeded`` with ``seconds``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One ``privatetrade serve`` process (default local executor) on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    def environment(self) -> dict[str, str]:
        """The server's environment: ours plus the ``PRIVATETRADE_*`` settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVATETRADE_")}
        env.update(
            {
                "PRIVATETRADE_DATA_DIR": str(self.data_dir),
                "PRIVATETRADE_PORT": str(self.port),
                "PRIVATETRADE_WORKERS": str(self.workers),
                "PRIVATETRADE_LOG_JSON": "true",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> ServerProcess:
        """Start the server and wait until ``/api/health`` answers 200."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "privatetrade", "serve"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_end_with_parent if sys.platform == "linux" else None,
            )
        self._wait_healthy(timeout)
        self.token = self._create_token()
        return self

    def _create_token(self) -> str:
        """An API token of the admin user (``privatetrade tokens create``)."""
        completed = subprocess.run(
            [sys.executable, "-m", "privatetrade", "tokens", "create", "admin", "--name", "bench"],
            env=self.environment(),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return completed.stdout.strip()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not healthy after {timeout}s:\n{self.log_tail()}")

    def wait_workers_ready(self, timeout: float = 60.0) -> None:
        """Wait until every worker process has started and warmed up (``job.started`` works).

        The pool spawns its processes at start-up and warms them in the background; a
        tiny backtest per worker, run to the end, makes sure the timed runs see warm workers.
        """
        body = {
            "symbol": "AAPL",
            "strategy": "sma_cross",
            "params": {"fast": 2, "slow": 5},
            "start": "2013-01-01",
            "end": "2013-12-31",
        }
        with self.client() as client:
            ids = [client.post("/api/backtests", json=body).json()["id"] for _ in range(4)]
            for job_id in ids:
                wait_final(client, job_id, timeout=timeout)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The server's process id and those of its children (the worker processes)."""
        if self.process is None:
            return []
        import psutil

        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        return [self.process.pid, *(child.pid for child in children)]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the server (it closes its pool); SIGKILL it and its children if need be."""
        if self.process is None:
            return
        children = self.pids()[1:]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in children:  # worker processes that outlived the server
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client for this server (keep-alive connections)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _end_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark dies, even by SIGKILL (Linux prctl)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass(frozen=True)
class Usage:
    """CPU time of a process and how long its threads waited for a CPU (Linux schedstat)."""

    at: float
    cpu_seconds: float
    run_queue_ns: dict[int, int]

    def until(self, later: Usage) -> tuple[float, float, float]:
        """Return (seconds elapsed, CPU seconds used, seconds its threads waited for a CPU).

        The wait counts threads alive at the end (a thread that exited in between is missed).
        """
        waited = sum(ns - self.run_queue_ns.get(tid, 0) for tid, ns in later.run_queue_ns.items())
        return later.at - self.at, later.cpu_seconds - self.cpu_seconds, waited / 1e9


def usage(pid: int) -> Usage:
    """Snapshot the CPU time and run-queue waits of process ``pid`` (all its threads)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    waits = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                waits[int(tid)] = int(fields[1])
    return Usage(time.monotonic(), times.user + times.system, waits)


def wait_final(
    client: httpx.Client, job_id: str, timeout: float = 120.0, interval: float = 0.05
) -> dict[str, Any]:
    """Poll a job until it reaches a final state; return its last JSON."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/backtests/{job_id}").json()
        if job.get("state") in FINAL_STATES:
            return job
        time.sleep(interval)
    raise TimeoutError(f"job {job_id} still {job.get('state')} after {timeout}s")


def log_events(log_path: Path, *names: str) -> Iterator[dict[str, Any]]:
    """The server's JSON log lines whose ``event`` is one of ``names`` (all when none)."""
    wanted = set(names)
    with log_path.open(errors="replace") as lines:
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not wanted or record.get("event") in wanted:
                yield record
