"""Start the real server (``privatetrade serve``) as a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

FINAL_STATES = {"succeeded", "failed", "cancelled"}
TEST_SECRET_KEY = "e2e-tests-secret-key-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One ``privatetrade serve`` process on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.token: str | None = None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PRIVATETRADE_DATA_DIR": str(self.data_dir),
                "PRIVATETRADE_PORT": str(self.port),
                "PRIVATETRADE_WORKERS": "2",
                "PRIVATETRADE_LEASE_SECONDS": "2",
                "PRIVATETRADE_SECRET_KEY": TEST_SECRET_KEY,
            }
        )
        if self.database_url:
            env["PRIVATETRADE_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "privatetrade", "serve"],
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy(timeout)
        if self.token is None:
            self.token = self.create_token("admin")
        return self

    def accounts(self) -> Any:
        """The account service of this server's database (same secret key)."""
        from privatetrade.accounts.service import AccountService
        from privatetrade.db.engine import create_db_engine
        from privatetrade.db.users import UserRepository

        url = self.database_url or f"sqlite+pysqlite:///{self.data_dir / 'privatetrade.db'}"
        key = self.environment()["PRIVATETRADE_SECRET_KEY"]
        return AccountService(UserRepository(create_db_engine(url)), key)

    def create_user(self, username: str, password: str = "correct horse battery") -> str:
        """Create a user and return an API token of theirs."""
        self.accounts().create_user(username, password)
        return self.create_token(username)

    def create_token(self, username: str, name: str = "tests") -> str:
        accounts = self.accounts()
        secret, _token = accounts.create_token(accounts.user(username), name)
        return str(secret)

    def wait_healthy(self, timeout: float) -> None:
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

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        """Kill the server (SIGKILL); its worker processes are killed too."""
        if self.process is None:
            return
        children = _children(self.process.pid)
        self.process.kill()
        self.process.wait(10)
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client authenticated as admin (or with ``token``)."""
        bearer = token or self.token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.Client(base_url=self.url, timeout=30.0, headers=headers)

    def anonymous(self) -> httpx.Client:
        """An HTTP client without credentials."""
        return httpx.Client(base_url=self.url, timeout=30.0)


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def submit(client: httpx.Client, body: Mapping[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post("/api/backtests", json=dict(body), headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_for(
    client: httpx.Client, job_id: str, states: set[str] | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """Poll a job until it reaches one of ``states`` (default: any final state)."""
    wanted = states or FINAL_STATES
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/backtests/{job_id}").json()
        if job.get("state") in wanted:
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} still {job.get('state')} after {timeout}s")
