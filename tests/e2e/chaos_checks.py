"""What the chaos tests check after a storm: every job accounted for, once, and downloadable.

The durability ledger reads the job and artifact rows straight from the database (the
API shows neither ``lost_attempts`` nor where artifacts live) and the artifact folders
from the data directory; the downloads go through the API like any client's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
from argon2 import PasswordHasher
from server import FINAL_STATES, ServerProcess

from polling import poll
from privatetrade.engine.result import EQUITY_COLUMNS, TRADE_COLUMNS

ARTIFACT_NAMES = frozenset({"result.json", "trades.csv", "equity.csv"})
MAX_ATTEMPTS = 3  # the default PRIVATETRADE_MAX_ATTEMPTS
_RUN_KEY = b'"run":'


# ---------------------------------------------------------------------- waiting


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids: Iterable[int], timeout: float = 10.0) -> None:
    """Wait until none of ``pids`` runs any more."""
    pending = set(pids)
    poll(lambda: True if not any(alive(pid) for pid in pending) else None, timeout, "exit")


def child_pids(server: ServerProcess) -> set[int]:
    """The server's descendants (worker processes, the resource tracker)."""
    assert server.process is not None
    try:
        children = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    return {child.pid for child in children}


def worker_pid(job: dict[str, Any]) -> int:
    """The pid in a job's ``worker`` field (``host:pid``)."""
    host, _, pid = str(job["worker"]).rpartition(":")
    assert host, job["worker"]
    return int(pid)


def count_jobs(client: httpx.Client, states: Iterable[str]) -> int:
    """How many of the caller's jobs are in one of ``states``."""
    response = client.get("/api/backtests", params={"state": list(states), "limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def jobs_in(client: httpx.Client, state: str) -> list[dict[str, Any]]:
    """Up to 200 of the caller's jobs in ``state``."""
    response = client.get("/api/backtests", params={"state": state, "limit": 200})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def wait_all_final(
    client: httpx.Client, job_ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    """Wait until every job reached a final state; return them by id."""
    deadline = time.monotonic() + timeout
    finals: dict[str, dict[str, Any]] = {}
    for job_id in job_ids:
        while job_id not in finals:
            job = client.get(f"/api/backtests/{job_id}").json()
            if job.get("state") in FINAL_STATES:
                finals[job_id] = job
            elif time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.get('state')} after {timeout}s")
            else:
                time.sleep(0.05)
    return finals


def listed_ids(client: httpx.Client) -> list[str]:
    """Every job id the caller's listing shows, page by page."""
    ids: list[str] = []
    while True:
        response = client.get("/api/backtests", params={"offset": len(ids), "limit": 200})
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["items"]]
        if not page["items"] or len(ids) >= page["total"]:
            return ids


# ---------------------------------------------------------------------- the database


@dataclass(frozen=True, slots=True)
class JobRow:
    state: str
    attempt: int
    lost_attempts: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    name: str
    attempt: int
    sha256: str
    size: int
    location: str | None


def database(data_dir: Path, database_url: str | None) -> sa.Engine:
    return sa.create_engine(database_url or f"sqlite+pysqlite:///{data_dir / 'privatetrade.db'}")


def read_rows(
    data_dir: Path, database_url: str | None
) -> tuple[dict[str, JobRow], dict[str, list[ArtifactRow]]]:
    """Every job row and the artifact rows of each job."""
    engine = database(data_dir, database_url)
    try:
        with engine.connect() as connection:
            job_rows = connection.execute(
                sa.text("SELECT id, state, attempt, lost_attempts, reason FROM jobs")
            ).all()
            artifact_rows = connection.execute(
                sa.text("SELECT job_id, name, attempt, sha256, size, location FROM artifacts")
            ).all()
    finally:
        engine.dispose()
    jobs = {row[0]: JobRow(*row[1:]) for row in job_rows}
    artifacts: dict[str, list[ArtifactRow]] = {}
    for row in artifact_rows:
        artifacts.setdefault(row[0], []).append(ArtifactRow(*row[1:]))
    return jobs, artifacts


def set_cheap_password_hash(
    data_dir: Path, database_url: str | None, username: str, password: str
) -> None:
    """Store ``password`` for ``username`` hashed with cheap argon2 parameters.

    The server verifies with the parameters stored in the hash: a login then costs
    milliseconds of CPU, and its time is that of the server and the database.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)
    engine = database(data_dir, database_url)
    try:
        with engine.begin() as connection:
            changed = connection.execute(
                sa.text("UPDATE users SET password_hash = :hash WHERE username = :name"),
                {"hash": cheap, "name": username},
            ).rowcount
    finally:
        engine.dispose()
    assert changed == 1, username


def states_now(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """Each job's state as stored (what a killed server left behind)."""
    jobs, _ = read_rows(data_dir, database_url)
    return {job_id: row.state for job_id, row in jobs.items()}


# ---------------------------------------------------------------------- the ledger


@dataclass(frozen=True, slots=True)
class Ledger:
    """The accounting of one storm, for the assertions specific to a test."""

    jobs: dict[str, JobRow]
    states: Counter[str]

    @property
    def lost_attempts(self) -> int:
        return sum(row.lost_attempts for row in self.jobs.values())


def check_ledger(
    server: ServerProcess,
    database_url: str | None,
    submitted: list[str],
    *,
    logs: Iterable[Path],
) -> Ledger:
    """0 lost, 0 duplicated, every success downloadable, failures only ``worker_lost``.

    Every job must already be final. Checks the listing, the rows, the artifact files,
    every download and the workers' ``job.succeeded`` events.
    """
    with server.client() as client:
        listed = listed_ids(client)
        assert sorted(listed) == sorted(submitted), "the listing lost or invented jobs"
        jobs, artifacts = read_rows(server.data_dir, database_url)
        assert sorted(jobs) == sorted(submitted), "the jobs table lost or invented jobs"
        for job_id, row in jobs.items():
            assert row.state in {"succeeded", "failed"}, (job_id, row)
            if row.state == "failed":
                assert (row.reason, row.lost_attempts) == ("worker_lost", MAX_ATTEMPTS), row
                assert job_id not in artifacts, f"failed job {job_id} has artifacts"
                continue
            assert row.attempt >= 1, (job_id, row)
            recorded = check_recorded_once(server.data_dir, job_id, row, artifacts.get(job_id, []))
            check_downloads(client, job_id, row.attempt, recorded)
    folders = {entry.name for entry in (server.data_dir / "artifacts").iterdir()}
    assert folders <= set(submitted), f"artifacts of unknown jobs: {folders - set(submitted)}"
    check_one_success_each(jobs, logs)
    return Ledger(jobs, Counter(row.state for row in jobs.values()))


def check_recorded_once(
    data_dir: Path, job_id: str, job: JobRow, rows: list[ArtifactRow]
) -> dict[str, ArtifactRow]:
    """One row per artifact, all from the job's current attempt, in one folder on disk.

    The job's folder holds nothing else: whatever a killed attempt left was removed
    when a later attempt succeeded.
    """
    by_name = {row.name: row for row in rows}
    assert len(by_name) == len(rows), (job_id, rows)
    assert set(by_name) == ARTIFACT_NAMES, (job_id, rows)
    folders = set()
    for row in rows:
        assert row.attempt == job.attempt, (job_id, job, row)
        assert row.location is not None, (job_id, row)
        owner, folder, name = row.location.split("/")
        assert (owner, name) == (job_id, row.name), row
        assert folder.startswith(f"{job.attempt}-"), row
        folders.add(folder)
        assert (data_dir / "artifacts" / row.location).stat().st_size == row.size, row
    assert len(folders) == 1, (job_id, folders)
    on_disk = sorted(entry.name for entry in (data_dir / "artifacts" / job_id).iterdir())
    assert on_disk == sorted(folders), f"{job_id}: leftover artifact folders {on_disk}"
    return by_name


def check_one_success_each(jobs: dict[str, JobRow], logs: Iterable[Path]) -> None:
    """No job's work was completed twice: at most one success event, from its last attempt.

    (At most: a worker killed between recording its success and logging it logs none.)
    """
    successes = [e for e in log_events(logs) if e.get("event") == "job.succeeded"]
    counts = Counter(event["job_id"] for event in successes)
    assert max(counts.values(), default=0) <= 1, counts.most_common(3)
    for event in successes:
        row = jobs[event["job_id"]]
        assert (row.state, row.attempt) == ("succeeded", event["attempt"]), (event, row)


def log_events(paths: Iterable[Path]) -> list[dict[str, Any]]:
    events = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return events


# ---------------------------------------------------------------------- downloads


def check_downloads(
    client: httpx.Client, job_id: str, attempt: int, rows: dict[str, ArtifactRow]
) -> None:
    """The result document and both CSVs download intact (checksums of the recorded rows)."""
    response = client.get(f"/api/backtest/result/{job_id}")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["etag"] == f'"{rows["result.json"].sha256}"'
    run, stored = split_run(response.content)
    assert (run["id"], run["attempt"], run["status"]) == (job_id, attempt, "succeeded"), run
    assert hashlib.sha256(stored).hexdigest() == rows["result.json"].sha256
    document = json.loads(response.content)
    assert document["run"] == run
    assert document["metrics"], document.keys()
    check_csv(client, f"/api/backtests/{job_id}/trades.csv", TRADE_COLUMNS, rows["trades.csv"])
    check_csv(client, f"/api/backtests/{job_id}/equity.csv", EQUITY_COLUMNS, rows["equity.csv"])


def check_csv(client: httpx.Client, path: str, columns: tuple[str, ...], row: ArtifactRow) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    content = response.content
    assert (len(content), hashlib.sha256(content).hexdigest()) == (row.size, row.sha256), path
    header = next(csv.reader(io.StringIO(content[:4096].decode().split("\n", 1)[0])))
    assert tuple(header) == columns, (path, header)


def split_run(downloaded: bytes) -> tuple[dict[str, Any], bytes]:
    """The download's ``run`` section and the stored document it was inserted into."""
    start = downloaded.index(b",") + 1
    assert downloaded[start : start + len(_RUN_KEY)] == _RUN_KEY, downloaded[:200]
    head = downloaded[start + len(_RUN_KEY) : start + len(_RUN_KEY) + 65_536].decode(
        errors="ignore"
    )
    run, end = json.JSONDecoder().raw_decode(head)
    after = start + len(_RUN_KEY) + len(head[:end].encode())
    assert downloaded[after : after + 1] == b",", downloaded[after - 20 : after + 20]
    return dict(run), downloaded[:start] + downloaded[after + 1 :]


class WriteLockProbe:
    """Times how long taking SQLite's write lock takes (an empty write transaction).

    Any transaction writing (a result document, once) holds that one lock; the probe
    waits for it like every login and submit does, without their other costs.
    """

    def __init__(self, data_dir: Path) -> None:
        self.connection = sqlite3.connect(
            data_dir / "privatetrade.db", timeout=60.0, isolation_level=None
        )

    def seconds(self) -> float:
        started = time.perf_counter()
        self.connection.execute("BEGIN IMMEDIATE")
        waited = time.perf_counter() - started
        self.connection.execute("COMMIT")
        return waited

    def close(self) -> None:
        self.connection.close()
