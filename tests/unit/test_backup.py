"""Backup archives: manifest, checksums, verification and all-or-nothing restores (SQLite)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import stat
import tarfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from privatetrade import __version__
from privatetrade.db import migrate
from privatetrade.db.engine import create_db_engine
from privatetrade.db.schema import users
from privatetrade.errors import DataError, InputError
from privatetrade.ops.backup import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    BackupResult,
    CorruptArchiveError,
    Manifest,
    ManifestFile,
    archive_name,
    create_backup,
    extract_archive,
    libpq_url,
    read_checksum_file,
    restore_backup,
    sha256_file,
)
from privatetrade.settings import Settings

NOW = dt.datetime(2026, 3, 1, 12, 30, 45, tzinfo=dt.UTC)


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=None)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{data_dir / 'privatetrade.db'}"


def make_data_dir(path: Path, *, revision: str = "head") -> Path:
    """A data directory with a few data files, scratch files and a SQLite database."""
    (path / "bars" / "AAPL").mkdir(parents=True)
    (path / "bars" / "AAPL" / "raw.parquet").write_bytes(os.urandom(3000))
    (path / "catalog.json").write_text('{"symbols": []}')
    (path / "secret_key").write_text("k" * 48)
    (path / "secret_key").chmod(0o600)
    (path / "catalog.lock").write_text("")
    (path / ".catalog.json.abc.tmp").write_text("half written")
    (path / "backups").mkdir()
    (path / "backups" / "old.tar.gz").write_bytes(b"an older backup")
    engine = create_db_engine(sqlite_url(path))
    migrate.upgrade(engine, revision)
    if revision == "head":
        with engine.begin() as connection:
            connection.execute(
                sa.insert(users).values(id="u1", username="alice", role="admin", created_at=NOW)
            )
    engine.dispose()
    return path


def backup_of(data_dir: Path, to: Path | None = None) -> BackupResult:
    return create_backup(settings_for(data_dir), to, clock=lambda: NOW)


def usernames(data_dir: Path) -> list[str]:
    connection = sqlite3.connect(data_dir / "privatetrade.db")
    try:
        return [row[0] for row in connection.execute("SELECT username FROM users")]
    finally:
        connection.close()


def rewrite(
    archive: Path,
    target: Path,
    edit: Callable[[list[tuple[tarfile.TarInfo, bytes]]], list[tuple[tarfile.TarInfo, bytes]]],
) -> Path:
    """Copy an archive's members through ``edit`` (no checksum file is written)."""
    with tarfile.open(archive, "r:gz") as source:
        members = []
        for member in source.getmembers():
            handle = source.extractfile(member)
            assert handle is not None
            members.append((member, handle.read()))
    with tarfile.open(target, "w:gz") as copy:
        for member, content in edit(members):
            member.size = len(content)
            copy.addfile(member, io.BytesIO(content))
    return target


# ---------------------------------------------------------------------- names, urls


def test_archive_name_has_the_utc_time_and_the_version() -> None:
    seoul = dt.timezone(dt.timedelta(hours=9))
    moment = dt.datetime(2026, 3, 1, 21, 30, 45, tzinfo=seoul)
    assert archive_name(moment, "1.2.3") == "privatetrade-backup-20260301T123045Z-1.2.3.tar.gz"
    assert archive_name(NOW, "0.1.dev3+g1a/b") == (
        "privatetrade-backup-20260301T123045Z-0.1.dev3+g1a_b.tar.gz"
    )


def test_libpq_url_drops_the_driver_and_moves_the_password_out() -> None:
    url, env = libpq_url("postgresql+psycopg://pt:s%40cret@db.local:5433/privatetrade")
    assert url == "postgresql://pt@db.local:5433/privatetrade"
    assert env == {"PGPASSWORD": "s@cret"}
    url, env = libpq_url("postgresql+psycopg://postgres@127.0.0.1/test?sslmode=require")
    assert url == "postgresql://postgres@127.0.0.1/test?sslmode=require"
    assert env == {}


# ---------------------------------------------------------------------- manifest


def manifest() -> Manifest:
    return Manifest(
        format_version=FORMAT_VERSION,
        app_version="1.2.3",
        schema_revision="0002",
        backend="sqlite",
        created_at=NOW,
        database="database/privatetrade.db",
        files=(
            ManifestFile("database/privatetrade.db", 10, "a" * 64),
            ManifestFile("data/catalog.json", 2, "b" * 64),
        ),
    )


def test_manifest_round_trips_through_json() -> None:
    original = manifest()
    document = json.loads(original.to_json())
    assert document["format"] == "privatetrade-backup"
    assert document["created_at"] == "2026-03-01T12:30:45Z"
    assert document["database"] == {"backend": "sqlite", "member": "database/privatetrade.db"}
    assert Manifest.from_json(original.to_json()) == original


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d.update(format="tarball"), CorruptArchiveError),
        (lambda d: d.pop("files"), CorruptArchiveError),
        (lambda d: d["files"][0].update(sha256="xyz"), CorruptArchiveError),
        (lambda d: d["database"].update(backend="mysql"), CorruptArchiveError),
        (lambda d: d["database"].update(member="database/other.db"), CorruptArchiveError),
        (lambda d: d["database"].update(member="data/catalog.json"), CorruptArchiveError),
        (lambda d: d.update(created_at="yesterday"), CorruptArchiveError),
        (lambda d: d.update(format_version=FORMAT_VERSION + 1), InputError),
    ],
)
def test_malformed_or_newer_manifests_are_refused(
    edit: Callable[[dict[str, object]], object], error: type[Exception]
) -> None:
    document = json.loads(manifest().to_json())
    edit(document)
    with pytest.raises(error):
        Manifest.from_json(json.dumps(document).encode())
    with pytest.raises(CorruptArchiveError):
        Manifest.from_json(b"not json")
    assert issubclass(CorruptArchiveError, DataError)  # the CLI exits 2


def test_checksum_file_is_sha256sum_compatible(tmp_path: Path) -> None:
    path = tmp_path / "x.sha256"
    path.write_text(f"{'C' * 64}  x.tar.gz\n")
    assert read_checksum_file(path) == "c" * 64
    path.write_text("nothing here\n")
    with pytest.raises(CorruptArchiveError):
        read_checksum_file(path)


# ---------------------------------------------------------------------- backup


def test_backup_holds_a_snapshot_and_the_data_files_with_their_hashes(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    (data / "privatetrade.db-wal").write_bytes(b"live wal")  # never archived
    result = backup_of(data)

    assert result.path.parent == data / "backups"
    assert result.path.name == archive_name(NOW, __version__)
    assert result.sha256 == sha256_file(result.path)
    assert read_checksum_file(Path(f"{result.path}.sha256")) == result.sha256
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert not [p for p in result.path.parent.iterdir() if p.name.startswith(".")]

    with tarfile.open(result.path, "r:gz") as tar:
        names = tar.getnames()
        content = {
            name: handle.read() for name in names if (handle := tar.extractfile(name)) is not None
        }
        modes = {member.name: member.mode for member in tar.getmembers()}
    assert names[-1] == MANIFEST_NAME
    assert sorted(names) == sorted(
        [
            MANIFEST_NAME,
            "database/privatetrade.db",
            "data/bars/AAPL/raw.parquet",
            "data/catalog.json",
            "data/secret_key",
        ]
    )
    assert names[1] == "data/catalog.json"  # the catalog is read before the bars
    assert modes["data/secret_key"] == 0o600
    stored = Manifest.from_json(content[MANIFEST_NAME])
    assert stored == result.manifest
    assert stored.backend == "sqlite"
    assert stored.app_version == __version__
    assert stored.schema_revision == migrate.head_revision(sa.create_engine("sqlite://"))
    for item in stored.files:
        assert hashlib.sha256(content[item.path]).hexdigest() == item.sha256
        assert len(content[item.path]) == item.size
    assert content["data/catalog.json"] == (data / "catalog.json").read_bytes()

    snapshot = tmp_path / "snapshot.db"
    snapshot.write_bytes(content["database/privatetrade.db"])
    with closing(sqlite3.connect(snapshot)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert connection.execute("SELECT username FROM users").fetchall() == [("alice",)]


def test_a_second_backup_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    first, second = backup_of(data), backup_of(data)
    assert first.path != second.path
    assert second.path.name.endswith("-2.tar.gz")
    assert second.manifest.files == first.manifest.files  # the first is not inside


def test_backup_to_another_directory_inside_the_data_dir_skips_it(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    backup_of(data, data / "elsewhere")
    again = backup_of(data, data / "elsewhere")
    assert not [f for f in again.manifest.files if "elsewhere" in f.path]


def test_backup_needs_a_data_dir_and_a_database(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        backup_of(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="no database"):
        backup_of(tmp_path / "empty")


# ---------------------------------------------------------------------- restore


def test_restore_into_a_new_directory(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    result = backup_of(data)
    target = tmp_path / "restored"

    restored = restore_backup(result.path, settings_for(target))

    assert restored.data_dir == target
    assert restored.revision == result.manifest.schema_revision
    assert (target / "catalog.json").read_bytes() == (data / "catalog.json").read_bytes()
    raw = target / "bars" / "AAPL" / "raw.parquet"
    assert raw.read_bytes() == (data / "bars" / "AAPL" / "raw.parquet").read_bytes()
    assert stat.S_IMODE((target / "secret_key").stat().st_mode) == 0o600
    assert usernames(target) == ["alice"]
    assert sorted(p.name for p in target.iterdir()) == [
        "bars",
        "catalog.json",
        "privatetrade.db",
        "secret_key",
    ]


def test_an_older_schema_is_upgraded_after_the_restore(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data", revision="0001")
    result = backup_of(data)
    assert result.manifest.schema_revision == "0001"
    restored = restore_backup(result.path, settings_for(tmp_path / "restored"))
    assert restored.revision == migrate.head_revision(sa.create_engine("sqlite://"))
    assert restored.revision != "0001"


def test_a_non_empty_target_needs_replace_and_keeps_its_backups(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    archive = backup_of(data).path
    target = tmp_path / "target"
    (target / "backups").mkdir(parents=True)
    (target / "backups" / "keep.tar.gz").write_bytes(b"keep")

    restore_backup(archive, settings_for(target))  # only backups/: counts as empty
    with pytest.raises(InputError, match="--yes"):
        restore_backup(archive, settings_for(target))

    (target / "stale.txt").write_text("from before")
    restore_backup(archive, settings_for(target), replace=True)
    assert not (target / "stale.txt").exists()
    assert (target / "backups" / "keep.tar.gz").read_bytes() == b"keep"
    assert usernames(target) == ["alice"]

    # Restoring the data directory from its own backups directory works too.
    own = backup_of(target).path
    restore_backup(own, settings_for(target), replace=True)
    assert own.is_file()
    assert usernames(target) == ["alice"]


def occupied_target(tmp_path: Path, name: str = "occupied") -> tuple[Path, dict[str, bytes]]:
    target = tmp_path / name
    (target / "bars").mkdir(parents=True)
    (target / "bars" / "mine.parquet").write_bytes(b"mine")
    (target / "catalog.json").write_text("{}")
    return target, snapshot(target)


def snapshot(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_a_checksum_file_mismatch_is_refused(tmp_path: Path) -> None:
    archive = backup_of(make_data_dir(tmp_path / "data")).path
    Path(f"{archive}.sha256").write_text(f"{'0' * 64}  {archive.name}\n")
    target, before = occupied_target(tmp_path)
    with pytest.raises(CorruptArchiveError, match="does not match"):
        restore_backup(archive, settings_for(target), replace=True)
    assert snapshot(target) == before


def test_a_flipped_byte_is_caught_without_the_checksum_file(tmp_path: Path) -> None:
    archive = backup_of(make_data_dir(tmp_path / "data")).path
    Path(f"{archive}.sha256").unlink()
    content = bytearray(archive.read_bytes())
    for offset in (len(content) // 3, len(content) // 2, len(content) - 12):
        broken = bytearray(content)
        broken[offset] ^= 0x01
        archive.write_bytes(bytes(broken))
        target, before = occupied_target(tmp_path, f"occupied-{offset}")
        with pytest.raises(CorruptArchiveError):
            restore_backup(archive, settings_for(target), replace=True)
        assert snapshot(target) == before
        assert sorted(p.name for p in target.iterdir()) == ["bars", "catalog.json"]


def test_a_nonexistent_target_stays_absent_after_a_refusal(tmp_path: Path) -> None:
    archive = backup_of(make_data_dir(tmp_path / "data")).path

    def swap(
        members: list[tuple[tarfile.TarInfo, bytes]],
    ) -> list[tuple[tarfile.TarInfo, bytes]]:
        return [(m, b"tampered" if m.name == "data/catalog.json" else c) for m, c in members]

    tampered = rewrite(archive, tmp_path / "tampered.tar.gz", swap)
    target = tmp_path / "absent" / "data"
    with pytest.raises(CorruptArchiveError, match=r"data/catalog\.json fails its checksum"):
        restore_backup(tampered, settings_for(target))
    assert not target.exists()


def drop(name: str) -> Callable[..., list[tuple[tarfile.TarInfo, bytes]]]:
    return lambda members: [(m, c) for m, c in members if m.name != name]


def add(
    name: str, kind: bytes = tarfile.REGTYPE
) -> Callable[..., list[tuple[tarfile.TarInfo, bytes]]]:
    def edit(members: list[tuple[tarfile.TarInfo, bytes]]) -> list[tuple[tarfile.TarInfo, bytes]]:
        extra = tarfile.TarInfo(name)
        extra.type = kind
        extra.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        return [(extra, b"" if kind == tarfile.SYMTYPE else b"x"), *members]

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (drop("data/secret_key"), "data/secret_key is missing"),
        (drop(MANIFEST_NAME), "no manifest"),
        (add("data/extra.txt"), "not in its manifest"),
        (add("data/../../escape.txt"), "unexpected member"),
        (add("/etc/cron.d/evil"), "unexpected member"),
        (add("data/backups/x.tar.gz"), "unexpected member"),
        (add("data/link", tarfile.SYMTYPE), "not a file"),
        (add("data"), "unexpected member"),
        (add("data/catalog.json/inner"), "clashing members"),
    ],
)
def test_incomplete_or_unsafe_archives_are_refused(
    tmp_path: Path, edit: Callable[..., list[tuple[tarfile.TarInfo, bytes]]], message: str
) -> None:
    archive = backup_of(make_data_dir(tmp_path / "data")).path
    edited = rewrite(archive, tmp_path / "edited.tar.gz", edit)
    with pytest.raises(CorruptArchiveError, match=message):
        extract_archive(edited, tmp_path / "into")
    target = tmp_path / "target"
    with pytest.raises(CorruptArchiveError):
        restore_backup(edited, settings_for(target))
    assert not target.exists()
    assert not (tmp_path / "escape.txt").exists()


def test_versions_and_revisions_are_checked(tmp_path: Path) -> None:
    archive = backup_of(make_data_dir(tmp_path / "data")).path

    def manifest_edit(**changes: object) -> Callable[..., list[tuple[tarfile.TarInfo, bytes]]]:
        def edit(
            members: list[tuple[tarfile.TarInfo, bytes]],
        ) -> list[tuple[tarfile.TarInfo, bytes]]:
            out = []
            for member, content in members:
                if member.name == MANIFEST_NAME:
                    document = json.loads(content)
                    document.update(changes)
                    content = json.dumps(document).encode()
                out.append((member, content))
            return out

        return edit

    other = rewrite(archive, tmp_path / "other.tar.gz", manifest_edit(app_version="9.9.9"))
    with pytest.raises(InputError, match=r"9\.9\.9.*--force-version"):
        restore_backup(other, settings_for(tmp_path / "a"))
    assert not (tmp_path / "a").exists()
    restore_backup(other, settings_for(tmp_path / "a"), force_version=True)
    assert usernames(tmp_path / "a") == ["alice"]

    newer = rewrite(archive, tmp_path / "newer.tar.gz", manifest_edit(schema_revision="0999"))
    with pytest.raises(InputError, match="0999"):
        restore_backup(newer, settings_for(tmp_path / "b"), force_version=True)
    assert not (tmp_path / "b").exists()


def test_restore_refuses_a_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no backup archive"):
        restore_backup(tmp_path / "nope.tar.gz", settings_for(tmp_path / "t"))


def test_a_failure_while_moving_into_place_puts_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = backup_of(make_data_dir(tmp_path / "data")).path
    target, before = occupied_target(tmp_path)
    rename = os.rename

    def failing_rename(source: Path, destination: Path) -> None:
        if Path(destination) == target / "catalog.json" and "previous" not in str(source):
            raise OSError(28, "No space left on device")
        rename(source, destination)

    monkeypatch.setattr("privatetrade.ops.backup.restore.os.rename", failing_rename)
    with pytest.raises(OSError, match="No space"):
        restore_backup(archive, settings_for(target), replace=True)
    assert snapshot(target) == before
    assert sorted(p.name for p in target.iterdir()) == ["bars", "catalog.json"]


def test_an_archive_inside_the_replaced_directory_is_refused(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    inside = backup_of(data, data / "mine").path
    with pytest.raises(InputError, match="inside the data directory"):
        restore_backup(inside, settings_for(data), replace=True)
    assert inside.is_file()
