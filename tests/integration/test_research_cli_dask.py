"""``privatetrade optimize --executor dask`` on a real Dask scheduler and worker.

The scheduler and a worker run as ``dask`` processes on loopback; the command runs in
this process (Typer's test runner) and must give the local executor's table, byte for
byte, with its combinations cut into several chunks run as Dask tasks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polling import poll
from privatetrade.cli.context import system
from privatetrade.cli.main import app
from privatetrade.data.market_data import MarketData
from privatetrade.research.optimize import chunk_size_for

pytestmark = pytest.mark.dask

DASK = str(Path(sys.executable).parent / "dask")
START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(args: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    with log.open("ab") as out:
        return subprocess.Popen(
            [DASK, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _workers(address: str, processes: list[subprocess.Popen[bytes]], logs: Path) -> int | None:
    """The scheduler's worker count once it has one; fails if a dask process died."""
    from distributed import Client

    for process in processes:
        if process.poll() is not None:
            text = "\n".join(p.read_text(errors="replace") for p in logs.glob("*.log"))
            pytest.fail(f"a dask process exited:\n{text[-3000:]}")
    try:
        with Client(address, timeout="5s", set_as_default=False) as client:
            count = len(client.scheduler_info(n_workers=-1)["workers"])
    except OSError:
        return None
    return count or None


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a ``dask scheduler`` with one single-threaded ``dask worker``."""
    root = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    processes = [
        _spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
            root / "scheduler.log",
            root,
        )
    ]
    try:
        processes.append(
            _spawn(
                [
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
                    str(root / "worker"),
                ],
                root / "worker.log",
                root,
            )
        )
        poll(lambda: _workers(address, processes, root), START_TIMEOUT, "a dask worker")
        yield address
    finally:
        _stop(list(reversed(processes)))  # the worker (its nanny), then the scheduler


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("research-dask-data")
    MarketData(folder).ensure_samples()
    monkeypatch.setenv("PRIVATETRADE_DATA_DIR", str(folder))
    monkeypatch.delenv("PRIVATETRADE_EXECUTOR", raising=False)
    monkeypatch.delenv("PRIVATETRADE_MAX_COMBINATIONS", raising=False)
    system.cache_clear()
    return folder


def _run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None, result.exception
    assert result.exit_code == 0, result.output


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in document.items() if k not in ("seconds", "executor")}


def test_optimize_on_dask_gives_the_local_table(
    scheduler: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVATETRADE_DASK_SCHEDULER", scheduler)
    # All of DEMO01 (2,452 bars): 815 combinations per chunk. fast 2..40 x slow
    # 20..80 step 2 holds 39 x 31 pairs; those with fast < slow are more than 815.
    grid = ("-p", "fast=2:40:1", "-p", "slow=20:80:2")
    outputs = {}
    for executor in ("local", "dask"):
        out_json, out_csv = tmp_path / f"{executor}.json", tmp_path / f"{executor}.csv"
        _run(
            "optimize", "DEMO01", *grid, "--executor", executor,
            "--json", str(out_json), "--csv", str(out_csv),
        )  # fmt: skip
        outputs[executor] = (out_json, out_csv)
        system.cache_clear()
    local, dask = outputs["local"], outputs["dask"]
    assert json.loads(dask[0].read_text())["executor"] == "dask"
    assert json.loads(local[0].read_text())["executor"] == "local"
    assert dask[1].read_bytes() == local[1].read_bytes()
    assert _document(dask[0]) == _document(local[0])
    assert _document(local[0])["combinations"] > chunk_size_for(2_452)  # several chunks


def test_walkforward_on_dask_gives_the_local_windows(
    scheduler: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVATETRADE_DASK_SCHEDULER", scheduler)
    tables = {}
    for executor in ("local", "dask"):
        out_csv = tmp_path / f"{executor}.csv"
        _run(
            "walkforward", "DEMO01", "-p", "fast=5:20:5", "-p", "slow=30,60",
            "--in-sample", "36m", "--out-of-sample", "12m", "--executor", executor,
            "--json", str(tmp_path / f"{executor}.json"), "--csv", str(out_csv),
        )  # fmt: skip
        tables[executor] = out_csv.read_bytes()
        system.cache_clear()
    assert tables["dask"] == tables["local"]
    assert len(tables["local"].decode().splitlines()) == 1 + 7  # 2019 ... 2025: 7 windows
