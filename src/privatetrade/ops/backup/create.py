"""``privatetrade backup``: one archive of the database and the data directory.

A backup runs while the server runs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from privatetrade import __version__
from privatetrade.errors import InputError
from privatetrade.files import atomic_writer, write_text_atomic
from privatetrade.ops.backup.archive import HashingWriter, add_bytes, add_file, fsync_dir
from privatetrade.ops.backup.database import (
    backend_of,
    dump_postgres,
    snapshot_sqlite,
    sqlite_path,
)
from privatetrade.ops.backup.manifest import (
    BACKUPS_DIR,
    FORMAT_VERSION,
    MANIFEST_NAME,
    POSTGRES_MEMBER,
    SQLITE_MEMBER,
    TEMP_PREFIX,
    Manifest,
    archive_name,
    checksum_path,
)
from privatetrade.settings import Settings

__all__ = ["BackupResult", "create_backup"]

_COMPRESS_LEVEL = 6
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A written backup.

    Attributes:
        path: The archive.
        sha256: Hex SHA-256 of the archive (also in ``<path>.sha256``).
        manifest: What the archive holds.
    """

    path: Path
    sha256: str
    manifest: Manifest


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_backup(
    settings: Settings,
    destination: Path | None = None,
    *,
    clock: Callable[[], dt.datetime] = _utcnow,
) -> BackupResult:
    """Write a backup archive of the configured database and data directory.

    Safe while the server runs: SQLite is copied with the online backup API (one
    consistent snapshot) and PostgreSQL with ``pg_dump`` (one transaction); data files
    are written atomically by privatetrade, so each is read whole.

    Args:
        settings: Where the data directory and the database are.
        destination: Directory of the archive (default ``<data_dir>/backups``).
        clock: Returns the current UTC time (tests pass a fixed one).

    Returns:
        The archive's path, checksum and manifest.

    Raises:
        InputError: The data directory is missing or the database is not supported.
        BackupError: The database could not be copied (no SQLite file, pg_dump failed).
    """
    data_dir = settings.data_dir.expanduser().resolve()
    if not data_dir.is_dir():
        raise InputError(f"data directory {data_dir} does not exist", field="data_dir")
    target = (destination or data_dir / BACKUPS_DIR).expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    backend = backend_of(url)
    excluded = {data_dir / BACKUPS_DIR, target}
    live = [data_dir / "privatetrade.db"]  # the default SQLite file, even when unused
    if backend == "sqlite":
        database_path = sqlite_path(url)
        live.append(database_path)
    excluded.update(Path(f"{path}{suffix}") for path in live for suffix in _SQLITE_SUFFIXES)
    created_at = clock()
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}backup-", dir=target) as scratch:
        if backend == "sqlite":
            member = SQLITE_MEMBER
            snapshot = Path(scratch) / "privatetrade.db"
            revision = snapshot_sqlite(database_path, snapshot)
        else:
            member = POSTGRES_MEMBER
            snapshot = Path(scratch) / "postgresql.dump"
            revision = dump_postgres(url, snapshot)
        sources = [(member, snapshot), *_data_files(data_dir, excluded)]
        path = _free_path(target, archive_name(created_at, __version__))
        with atomic_writer(path) as raw:
            hashing = HashingWriter(raw)
            with (
                gzip.GzipFile(
                    filename="",
                    mode="wb",
                    compresslevel=_COMPRESS_LEVEL,
                    fileobj=hashing,
                    mtime=int(created_at.timestamp()),
                ) as compressed,
                tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                files = [
                    entry
                    for name, source in sources
                    if (entry := add_file(tar, name, source)) is not None
                ]
                manifest = Manifest(
                    format_version=FORMAT_VERSION,
                    app_version=__version__,
                    schema_revision=revision,
                    backend=backend,
                    created_at=created_at,
                    database=member,
                    files=tuple(files),
                )
                add_bytes(tar, MANIFEST_NAME, manifest.to_json(), created_at)
        digest = hashing.digest.hexdigest()
    write_text_atomic(checksum_path(path), f"{digest}  {path.name}\n")
    fsync_dir(target)
    return BackupResult(path=path, sha256=digest, manifest=manifest)


def _free_path(directory: Path, name: str) -> Path:
    path = directory / name
    stem = name.removesuffix(".tar.gz")
    number = 2
    while path.exists():
        path = directory / f"{stem}-{number}.tar.gz"
        number += 1
    return path


def _data_files(data_dir: Path, excluded: set[Path]) -> Iterator[tuple[str, Path]]:
    """Yield ``(member name, path)`` of the data directory's files, catalog first.

    Skipped: the live SQLite files, backup directories, lock files and the temporary
    files of atomic writes and of backups and restores in progress.
    """
    found: list[tuple[str, Path]] = []
    for root, directories, names in os.walk(data_dir):
        here = Path(root)
        directories[:] = sorted(
            name
            for name in directories
            if here / name not in excluded and not name.startswith(TEMP_PREFIX)
        )
        for name in sorted(names):
            path = here / name
            if path in excluded or _is_scratch(name):
                continue
            found.append(("data/" + path.relative_to(data_dir).as_posix(), path))
    found.sort(key=lambda item: (item[0] != "data/catalog.json", item[0]))
    yield from found


def _is_scratch(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) or name.endswith((".lock", ".tmp"))
