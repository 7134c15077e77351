"""The real server (``privatetrade serve``) as a subprocess, for e2e tests and benchmarks.

End-to-end tests import it as ``server`` (``tests/e2e`` is on their path); benchmarks put
the repository root on ``sys.path`` and import ``tests.e2e.server``. One process per
:class:`ServerProcess`: a free loopback port, the settings as ``PRIVATETRADE_*``
environment variables (none inherited from the caller's environment), a temporary
directory of its own (``TMPDIR``) next to its data directory, a wait for ``/api/health``,
an admin API token, JSON log lines in a file, and a stop that also ends any process the
server leaves behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import psutil

    from privatetrade.accounts.service import AccountService

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
TEST_SECRET_KEY = "e2e-tests-secret-key-0123456789abcdef0123456789"
# A year of daily AAPL bars: a job of a few milliseconds.
SMALL_BODY = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "params": {"fast": 2, "slow": 5},
    "start": "2013-01-01",
    "end": "2013-12-31",
}


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One ``privatetrade serve`` process on a free loopback port.

    Args:
        data_dir: The server's data directory (``PRIVATETRADE_DATA_DIR``).
        database_url: A database other than the SQLite file in ``data_dir``.
        workers: Worker processes of the local executor.
        env: More settings (``PRIVATETRADE_*``); they win over the defaults here.
        log_path: Where the server's output goes (default: next to ``data_dir``).
        end_with_parent: Linux: the server gets SIGTERM when the process that started
            it dies, even by SIGKILL (for benchmarks run by hand; do not use it when
            other threads may start processes at the same time).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        end_with_parent: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.workers = workers
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or data_dir.parent / f"server-{self.port}.log"
        # The server's TMPDIR: what it writes there stays with the test, even after a kill.
        self.temp_dir = data_dir.parent / f"server-{self.port}-tmp"
        self.end_with_parent = end_with_parent and sys.platform == "linux"
        self.process: subprocess.Popen[bytes] | None = None
        self.token: str | None = None

    def environment(self) -> dict[str, str]:
        """The server's environment: ours without ``PRIVATETRADE_*``, plus its settings."""
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("PRIVATETRADE_")
        }
        env.update(
            {
                "PRIVATETRADE_DATA_DIR": str(self.data_dir),
                "PRIVATETRADE_PORT": str(self.port),
                "PRIVATETRADE_WORKERS": str(self.workers),
                "PRIVATETRADE_LEASE_SECONDS": "2",
                "PRIVATETRADE_SECRET_KEY": TEST_SECRET_KEY,
                "PRIVATETRADE_LOG_JSON": "true",
                "TMPDIR": str(self.temp_dir),
            }
        )
        if self.database_url:
            env["PRIVATETRADE_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server, wait until ``/api/health`` answers 200, make an admin token."""
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "privatetrade", "serve"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_end_with_parent if self.end_with_parent else None,
            )
        self.wait_healthy(timeout)
        if self.token is None:
            self.token = self.create_token("admin")
        return self

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ accounts

    def accounts(self) -> AccountService:
        """The account service of this server's database (same secret key)."""
        from privatetrade.accounts.service import AccountService
        from privatetrade.db.engine import create_db_engine
        from privatetrade.db.users import UserRepository

        url = self.database_url or f"sqlite+pysqlite:///{self.data_dir / 'privatetrade.db'}"
        key = self.environment()["PRIVATETRADE_SECRET_KEY"]
        return AccountService(UserRepository(create_db_engine(url)), key)

    @contextmanager
    def _accounts(self) -> Iterator[AccountService]:
        accounts = self.accounts()
        try:
            yield accounts
        finally:
            accounts.repository.engine.dispose()

    def create_user(self, username: str, password: str = "correct horse battery") -> str:
        """Create a user and return an API token of theirs."""
        with self._accounts() as accounts:
            accounts.create_user(username, password)
        return self.create_token(username)

    def create_token(self, username: str, name: str = "tests") -> str:
        """Return a new API token of ``username``."""
        with self._accounts() as accounts:
            secret, _token = accounts.create_token(accounts.user(username), name)
        return str(secret)

    # ------------------------------------------------------------------ waiting

    def wait_healthy(self, timeout: float) -> None:
        """Wait until ``/api/health`` answers 200 (fail at once if the server exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not healthy after {timeout}s: {self.log_tail()}")

    def wait_workers_ready(self, timeout: float = 60.0) -> None:
        """Run a tiny backtest per worker (and some), so later jobs find warm workers.

        The pool starts its processes with the server and warms them in the background;
        timed runs must not measure that.
        """
        with self.client() as client:
            ids = [submit(client, SMALL_BODY)["id"] for _ in range(2 * self.workers)]
            for job_id in ids:
                wait_for(client, job_id, timeout=timeout)

    # ------------------------------------------------------------------ its log

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_events(self, *names: str) -> Iterator[dict[str, Any]]:
        """The server's JSON log records whose ``event`` is one of ``names`` (all when none)."""
        wanted = set(names)
        with self.log_path.open(errors="replace") as lines:
            for line in lines:
                if not line.startswith("{"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not wanted or record.get("event") in wanted:
                    yield record

    # ------------------------------------------------------------------ stopping

    def children(self) -> list[psutil.Process]:
        """The server's descendant processes (workers, the resource tracker ...)."""
        import psutil

        if self.process is None:
            return []
        try:
            return list(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.Error:
            return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Send ``sig`` (a graceful stop), SIGKILL after ``timeout``; end what it left behind."""
        if self.process is None:
            return
        children = self.children()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        _kill(children)

    def kill(self) -> None:
        """Kill the server (SIGKILL) and every process it started."""
        if self.process is None:
            return
        children = self.children()
        self.process.kill()
        self.process.wait(10)
        _kill(children)

    # ------------------------------------------------------------------ clients

    def client(self, token: str | None = None, *, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client authenticated as admin (or with ``token``), keep-alive."""
        bearer = token or self.token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def anonymous(self) -> httpx.Client:
        """An HTTP client without credentials."""
        return httpx.Client(base_url=self.url, timeout=30.0)


def _kill(processes: list[psutil.Process]) -> None:
    import psutil

    for process in processes:
        with suppress(psutil.Error):  # gone already (psutil never kills a reused pid)
            process.kill()


def _end_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def submit(client: httpx.Client, body: Mapping[str, Any], **headers: str) -> dict[str, Any]:
    """Submit a backtest; assert it was accepted; return the job."""
    response = client.post("/api/backtests", json=dict(body), headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_for(
    client: httpx.Client,
    job_id: str,
    states: set[str] | frozenset[str] | None = None,
    timeout: float = 60.0,
    interval: float = 0.05,
) -> dict[str, Any]:
    """Poll a job until it reaches one of ``states`` (default: any final state)."""
    wanted = states or FINAL_STATES
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/backtests/{job_id}").json()
        if job.get("state") in wanted:
            return job
        time.sleep(interval)
    raise TimeoutError(f"job {job_id} still {job.get('state')} after {timeout}s")
