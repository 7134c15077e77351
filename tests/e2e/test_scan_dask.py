"""A universe scan on the Dask executor: chunks of symbols as tasks, the local pool's ranking.

The cluster is test_dask.py's: a real ``dask scheduler`` and two single-threaded
``dask worker`` processes. The job runs in a Dask worker, which submits its chunks of
symbols as tasks to the same cluster; each task reads its symbols' bars itself.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from scan_universe import add_slow_universe, slow_codes
from server import ServerProcess, wait_for
from test_dask import (  # noqa: F401 - the module-scoped cluster fixture
    FINAL_TIMEOUT,
    DaskCluster,
    dask_cluster,
    dask_env,
    start,
)

pytestmark = [pytest.mark.dask, pytest.mark.e2e]

SYMBOLS = 24


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()
        process.kill()


def test_a_scan_in_chunks_on_dask_equals_the_local_pool(
    dask_cluster: DaskCluster,  # noqa: F811
    data_dir: Path,
    tmp_path: Path,
    servers: list[ServerProcess],
) -> None:
    add_slow_universe(data_dir, SYMBOLS, bars=20_000)
    local_dir = tmp_path / "local-data"
    shutil.copytree(data_dir, local_dir)
    on_dask = start(servers, data_dir, None, **dask_env(dask_cluster))
    on_local = start(servers, local_dir, None)
    body = {"symbols": [*slow_codes(SYMBOLS), "AAPL"], "strategy": "rsi_reversion"}
    outputs = []
    for server in (on_dask, on_local):
        with server.client() as client:
            response = client.post("/api/scans", json=body)
            assert response.status_code == 202, response.text
            job = wait_for(client, response.json()["id"], timeout=FINAL_TIMEOUT)
            assert job["state"] == "succeeded", f"{job}\n{server.log_tail()}"
            table = client.get(f"/api/jobs/{job['id']}/artifacts/ranking.csv").content
            document = client.get(f"/api/jobs/{job['id']}/artifacts/ranking.json").json()
            outputs.append((job, table, document))
    (dask_job, dask_table, dask_doc), (_, local_table, local_doc) = outputs
    assert int(dask_job["worker"].rpartition(":")[2]) in dask_cluster.worker_pids()
    assert (dask_doc["executor"], local_doc["executor"]) == ("dask", "local")
    assert dask_table == local_table
    assert dask_doc["rows"] == local_doc["rows"]
    assert dask_doc["counts"] == {"symbols": SYMBOLS + 1, "evaluated": SYMBOLS + 1, "failed": 0}
    assert dask_table.count(b"\n") == 1 + SYMBOLS + 1


def test_the_scan_command_on_dask_gives_the_local_ranking(
    dask_cluster: DaskCluster,  # noqa: F811
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``privatetrade scan --executor dask``: chunks as tasks of the cluster, same CSV."""
    from typer.testing import CliRunner

    from privatetrade.cli.context import system
    from privatetrade.cli.main import app

    add_slow_universe(data_dir, 12, bars=20_000)
    monkeypatch.setenv("PRIVATETRADE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PRIVATETRADE_DASK_SCHEDULER", dask_cluster.address)
    codes = ",".join(slow_codes(12))
    tables = {}
    for executor in ("local", "dask"):
        system.cache_clear()
        out_csv, out_json = tmp_path / f"{executor}.csv", tmp_path / f"{executor}.json"
        result = CliRunner().invoke(
            app,
            ["scan", "--symbols", codes, "--strategy", "rsi_reversion", "--executor", executor,
             "--csv", str(out_csv), "--json", str(out_json)],
        )  # fmt: skip
        assert result.exception is None, result.exception
        assert result.exit_code == 0, result.output
        tables[executor] = out_csv.read_bytes()
        assert json.loads(out_json.read_text())["executor"] == executor
    system.cache_clear()
    assert tables["dask"] == tables["local"]
    assert tables["local"].count(b"\n") == 1 + 12
