"""Backups end to end: ``privatetrade backup`` while a job runs, ``privatetrade restore``.

The backup is taken by a separate process while the server runs a long backtest; the
archive is restored into a fresh data directory (and, on PostgreSQL, a fresh database),
and a new server started on it serves the same results byte for byte, accepts the same
API token and finishes the job that was running at backup time.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from server import ServerProcess, submit, wait_for

from databases import postgres_database

pytestmark = pytest.mark.e2e

LONG_SPEC = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
SHORT_SPECS = [
    {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}},
    {"symbol": "MSFT", "strategy": "ema_cross", "params": {"fast": 5, "slow": 20}},
    {"symbol": "IBM", "strategy": "rsi_reversion", "params": {}},
]
FINAL_TIMEOUT = 180.0


# ---------------------------------------------------------------------- helpers


def privatetrade(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "privatetrade", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def settings_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PRIVATETRADE_")}
    env["PRIVATETRADE_DATA_DIR"] = str(data_dir)
    if database_url:
        env["PRIVATETRADE_DATABASE_URL"] = database_url
    return env


def take_backup(env: dict[str, str], to: Path) -> Path:
    completed = privatetrade("backup", "--to", str(to), env=env)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    archive = Path(lines[0])
    digest = lines[1].removeprefix("sha256 ")
    assert archive.is_file()
    assert archive.parent == to
    assert archive.name.startswith("privatetrade-backup-")
    assert archive.name.endswith(".tar.gz")
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest
    assert Path(f"{archive}.sha256").read_text().split() == [digest, archive.name]
    return archive


def database_of(data_dir: Path, database_url: str | None) -> str:
    return database_url or f"sqlite+pysqlite:///{data_dir / 'privatetrade.db'}"


def stored_job(url: str, job_id: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT state, attempt FROM jobs WHERE id = :id"), {"id": job_id}
            ).one()
        return {"state": row.state, "attempt": row.attempt}
    finally:
        engine.dispose()


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def fresh_database(database_url: str | None) -> Iterator[str | None]:
    """A second, empty database of the same backend (None: SQLite in the data dir)."""
    if database_url is None:
        yield None
        return
    with postgres_database() as url:
        yield url


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its content."""
    return {
        item.relative_to(path).as_posix(): item.read_bytes()
        for item in sorted(path.rglob("*"))
        if item.is_file()
    }


def one_error_line(completed: subprocess.CompletedProcess[str]) -> str:
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------------- round trip


def test_backup_while_a_job_runs_then_restore(
    long_data_dir_copy: Path, database_url: str | None, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    with ExitStack() as stack:
        old = ServerProcess(long_data_dir_copy, database_url=database_url).start()
        stack.callback(old.kill)
        stack.callback(old.stop)
        with old.client() as client:
            done = [submit(client, spec)["id"] for spec in SHORT_SPECS]
            for job_id in done:
                assert wait_for(client, job_id, timeout=FINAL_TIMEOUT)["state"] == "succeeded"
            bodies = {job_id: download(client, job_id) for job_id in done}
            long_id = submit(client, LONG_SPEC)["id"]
            wait_for(client, long_id, {"running"}, timeout=FINAL_TIMEOUT)

            archive = take_backup(settings_env(long_data_dir_copy, database_url), backups)

            # The snapshot was taken while the job ran; the live job goes on meanwhile.
            assert wait_for(client, long_id, timeout=FINAL_TIMEOUT)["state"] == "succeeded"
            old_long = download(client, long_id)
        old.stop()

        restored = tmp_path / "restored"
        new_url = stack.enter_context(fresh_database(database_url))
        completed = privatetrade("restore", str(archive), env=settings_env(restored, new_url))
        assert completed.returncode == 0, completed.stderr
        assert "restored" in completed.stdout

        snapshot = stored_job(database_of(restored, new_url), long_id)
        assert snapshot["state"] in {"queued", "running"}, snapshot
        assert (restored / "bars" / "LONG" / "raw.parquet").is_file()
        assert not (restored / "backups").exists()

        new = ServerProcess(restored, database_url=new_url)
        new.token = old.token  # the admin token made before the backup must still work
        new.start()
        stack.callback(new.kill)
        stack.callback(new.stop)
        with new.client() as client:
            for job_id, body in bodies.items():
                assert download(client, job_id) == body
            listed = client.get("/api/backtests")
            assert listed.status_code == 200, listed.text
            with new.client(token="pt_not-a-real-token") as stranger:
                assert stranger.get("/api/backtests").status_code == 401

            # The job that ran at backup time is recovered and runs again to success.
            final = wait_for(client, long_id, timeout=FINAL_TIMEOUT)
            assert final["state"] == "succeeded", final
            assert engine_part(download(client, long_id)) == engine_part(old_long)
        new.stop()


def download(client: httpx.Client, job_id: str) -> bytes:
    response = client.get(f"/api/backtest/result/{job_id}")
    assert response.status_code == 200, response.text[:500]
    return response.content


def engine_part(body: bytes) -> bytes:
    """A result document without its per-attempt ``run`` section."""
    document = json.loads(body)
    document.pop("run")
    return json.dumps(document, sort_keys=True).encode()


# ---------------------------------------------------------------------- refusals


@pytest.fixture
def archive(data_dir: Path, tmp_path: Path) -> Path:
    """A backup of a data directory with an up-to-date SQLite database and an admin."""
    env = settings_env(data_dir, None)
    env["PRIVATETRADE_SECRET_KEY"] = "backup-tests-secret-key-0123456789abcdef"
    completed = privatetrade(
        "users", "create", "bob", "--password-stdin", env=env, stdin="correct horse battery\n"
    )
    assert completed.returncode == 0, completed.stderr
    return take_backup(env, tmp_path / "backups")


def rewrite(archive: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Copy an archive with an edited manifest, and write a matching checksum file."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as copy:
        for member in source.getmembers():
            handle = source.extractfile(member)
            assert handle is not None
            content = handle.read()
            if member.name == "manifest.json":
                manifest = json.loads(content)
                edit(manifest)
                content = json.dumps(manifest).encode()
                member.size = len(content)
            copy.addfile(member, io.BytesIO(content))
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    Path(f"{target}.sha256").write_text(f"{digest}  {target.name}\n")
    return target


def test_a_corrupted_archive_is_refused_and_changes_nothing(archive: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken" / archive.name
    broken.parent.mkdir()
    content = bytearray(archive.read_bytes())
    content[len(content) // 2] ^= 0xFF
    broken.write_bytes(bytes(content))
    Path(f"{broken}.sha256").write_bytes(Path(f"{archive}.sha256").read_bytes())

    absent = tmp_path / "absent"
    completed = privatetrade("restore", str(broken), env=settings_env(absent, None))
    assert completed.returncode == 2
    assert "corrupted" in one_error_line(completed)
    assert not absent.exists()

    occupied = tmp_path / "occupied"
    (occupied / "bars").mkdir(parents=True)
    (occupied / "catalog.json").write_text("{}")
    (occupied / "bars" / "keep.txt").write_text("keep me")
    before = tree(occupied)
    completed = privatetrade("restore", str(broken), "--yes", env=settings_env(occupied, None))
    assert completed.returncode == 2
    assert "corrupted" in one_error_line(completed)
    assert tree(occupied) == before
    assert sorted(path.name for path in occupied.iterdir()) == ["bars", "catalog.json"]

    # Without the checksum file the member hashes and the gzip check still catch it.
    Path(f"{broken}.sha256").unlink()
    completed = privatetrade("restore", str(broken), "--yes", env=settings_env(occupied, None))
    assert completed.returncode == 2
    one_error_line(completed)
    assert tree(occupied) == before


def test_another_version_needs_force_version(archive: Path, tmp_path: Path) -> None:
    def other_version(manifest: dict[str, Any]) -> None:
        manifest["app_version"] = "0.0.1+elsewhere"

    edited = rewrite(archive, tmp_path / "edited.tar.gz", other_version)
    target = tmp_path / "restored"
    env = settings_env(target, None)

    completed = privatetrade("restore", str(edited), env=env)
    assert completed.returncode == 2
    line = one_error_line(completed)
    assert "0.0.1+elsewhere" in line
    assert "--force-version" in line
    assert not target.exists()

    completed = privatetrade("restore", str(edited), "--force-version", env=env)
    assert completed.returncode == 0, completed.stderr
    env["PRIVATETRADE_SECRET_KEY"] = "backup-tests-secret-key-0123456789abcdef"
    users = privatetrade("users", "list", env=env)
    assert users.returncode == 0, users.stderr
    assert "bob" in users.stdout
    current = privatetrade("db", "current", env=env)
    head = current.stdout.split()
    assert head[0] == head[-1].rstrip(")"), current.stdout


def test_a_newer_schema_is_refused_even_with_force_version(archive: Path, tmp_path: Path) -> None:
    def newer_schema(manifest: dict[str, Any]) -> None:
        manifest["schema_revision"] = "9999"

    edited = rewrite(archive, tmp_path / "newer.tar.gz", newer_schema)
    target = tmp_path / "restored"
    completed = privatetrade(
        "restore", str(edited), "--force-version", env=settings_env(target, None)
    )
    assert completed.returncode == 2
    assert "9999" in one_error_line(completed)
    assert not target.exists()
