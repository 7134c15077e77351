"""Backups: one verified archive of the database and the data directory, and its restore.

An archive ``privatetrade-backup-<UTC timestamp>-<version>.tar.gz`` holds::

    database/privatetrade.db        a consistent SQLite snapshot (online backup API), or
    database/postgresql.dump        ``pg_dump --format=custom`` of the configured database
    data/...                        the data directory: Parquet bars, catalog.json, secret_key
    manifest.json                   format, versions, schema revision, sha256 of each member

A backup runs while the server runs. Next to the archive, ``<archive>.sha256`` holds the
archive's own checksum (``sha256sum -c`` reads it). A restore verifies everything in a
staging directory inside the target before it moves anything into place.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from privatetrade import __version__
from privatetrade.errors import DataError, InputError, PrivatetradeError
from privatetrade.files import atomic_writer, write_text_atomic
from privatetrade.settings import Settings

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "BackupError",
    "BackupResult",
    "CorruptArchiveError",
    "Manifest",
    "ManifestFile",
    "RestoreResult",
    "archive_name",
    "create_backup",
    "extract_archive",
    "libpq_url",
    "read_checksum_file",
    "restore_backup",
    "sha256_file",
]

FORMAT = "privatetrade-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
BACKUPS_DIR = "backups"
SQLITE_MEMBER = "database/privatetrade.db"
POSTGRES_MEMBER = "database/postgresql.dump"

Backend = Literal["sqlite", "postgresql"]

_CHUNK = 1 << 20
_COMPRESS_LEVEL = 6
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
_TEMP_PREFIX = ".privatetrade-"  # staging of backups and restores; never part of a backup
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_VERSION_CHARS = re.compile(r"[^A-Za-z0-9._+-]")


class BackupError(PrivatetradeError):
    """A backup or restore step failed (pg_dump, pg_restore, the database)."""


class CorruptArchiveError(DataError):
    """The archive is damaged, incomplete or not a privatetrade backup."""


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """One member of an archive.

    Attributes:
        path: Member name in the archive (``data/...`` or ``database/...``).
        size: Size in bytes.
        sha256: Hex SHA-256 of the content.
    """

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive holds; stored as ``manifest.json`` in it.

    Attributes:
        format_version: Version of the archive layout.
        app_version: privatetrade version that made the archive.
        schema_revision: Migration the database was at (None: empty database).
        backend: ``sqlite`` or ``postgresql``.
        created_at: When the backup started (UTC).
        database: Member holding the database snapshot.
        files: Every member but the manifest, with size and SHA-256.
    """

    format_version: int
    app_version: str
    schema_revision: str | None
    backend: Backend
    created_at: dt.datetime
    database: str
    files: tuple[ManifestFile, ...]

    def to_json(self) -> bytes:
        """Serialize the manifest (UTF-8 JSON, stable key order)."""
        document = {
            "format": FORMAT,
            "format_version": self.format_version,
            "app_version": self.app_version,
            "schema_revision": self.schema_revision,
            "database": {"backend": self.backend, "member": self.database},
            "created_at": _iso(self.created_at),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse and validate a manifest.

        Raises:
            CorruptArchiveError: The manifest is not a valid privatetrade manifest.
            InputError: The archive format is newer than this version can read.
        """
        try:
            document = json.loads(raw)
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise CorruptArchiveError("not a privatetrade backup (manifest format)")
            version = document["format_version"]
            if not isinstance(version, int):
                raise TypeError("format_version")
            if version > FORMAT_VERSION:
                raise InputError(
                    f"backup format {version} is newer than this privatetrade "
                    f"({__version__}) reads ({FORMAT_VERSION}): upgrade privatetrade first",
                    field="archive",
                )
            database = document["database"]
            backend = database["backend"]
            if backend not in ("sqlite", "postgresql"):
                raise ValueError(f"unknown database backend {backend!r}")
            revision = document["schema_revision"]
            files = tuple(
                ManifestFile(str(item["path"]), int(item["size"]), str(item["sha256"]))
                for item in document["files"]
            )
            manifest = cls(
                format_version=version,
                app_version=str(document["app_version"]),
                schema_revision=None if revision is None else str(revision),
                backend=backend,
                created_at=dt.datetime.fromisoformat(document["created_at"]),
                database=str(database["member"]),
                files=files,
            )
        except (InputError, CorruptArchiveError):
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptArchiveError(f"the backup manifest is malformed ({exc})") from exc
        if any(not _SHA256.match(item.sha256) for item in files):
            raise CorruptArchiveError("the backup manifest is malformed (bad sha256)")
        if not manifest.database.startswith("database/") or manifest.database not in {
            item.path for item in files
        }:
            raise CorruptArchiveError("the backup manifest names no database member")
        return manifest


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


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """A finished restore.

    Attributes:
        data_dir: The restored data directory.
        manifest: The restored archive's manifest.
        revision: Schema revision of the database after the upgrade.
    """

    data_dir: Path
    manifest: Manifest
    revision: str | None


# ---------------------------------------------------------------------- helpers


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def archive_name(created_at: dt.datetime, version: str) -> str:
    """Return ``privatetrade-backup-<UTC timestamp>-<version>.tar.gz``.

    Args:
        created_at: When the backup started (aware).
        version: The privatetrade version (characters unsafe in file names become ``_``).
    """
    stamp = created_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"privatetrade-backup-{stamp}-{_UNSAFE_VERSION_CHARS.sub('_', version)}.tar.gz"


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(archive: Path) -> Path:
    """Return ``<archive>.sha256``, where the archive's checksum is kept."""
    return archive.with_name(archive.name + ".sha256")


def read_checksum_file(path: Path) -> str:
    """Read the hex SHA-256 from a ``sha256sum``-style line (``<hex>  <name>``).

    Raises:
        CorruptArchiveError: The file holds no SHA-256.
    """
    words = path.read_text(encoding="utf-8", errors="replace").split()
    digest = words[0].lower() if words else ""
    if not _SHA256.match(digest):
        raise CorruptArchiveError(f"checksum file {path} holds no sha256")
    return digest


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """Turn a SQLAlchemy PostgreSQL URL into a libpq URL for pg_dump and pg_restore.

    The driver suffix (``+psycopg``) is dropped and the password moves out of the URL
    (so it never shows in a process list) into ``PGPASSWORD``.

    Args:
        url: E.g. ``postgresql+psycopg://user:secret@host:5432/db``.

    Returns:
        The libpq URL and the environment variables to run the client with.
    """
    parsed = make_url(url)
    environment = {} if parsed.password is None else {"PGPASSWORD": str(parsed.password)}
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), environment


def _backend(url: str) -> Backend:
    name = make_url(url).get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise InputError(f"backups support SQLite and PostgreSQL, not {name}", field="database_url")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise InputError("backups need a SQLite database file", field="database_url")
    return Path(database).expanduser().resolve()


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[0]


def _run_client(arguments: list[str], environment: dict[str, str]) -> None:
    try:
        completed = subprocess.run(
            arguments,
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BackupError(
            f"{arguments[0]} not found: install the PostgreSQL client tools "
            "(the same major version as the server or newer)"
        ) from exc
    if completed.returncode != 0:
        raise BackupError(f"{arguments[0]} failed: {_first_line(completed.stderr)}")


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class _HashingReader:
    """Read from a file and hash what was read."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


class _HashingWriter:
    """Write to a file and hash what was written."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()


# ---------------------------------------------------------------------- backup


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
    backend = _backend(url)
    excluded = {data_dir / BACKUPS_DIR, target}
    live = [data_dir / "privatetrade.db"]  # the default SQLite file, even when unused
    if backend == "sqlite":
        database_path = _sqlite_path(url)
        live.append(database_path)
    excluded.update(Path(f"{path}{suffix}") for path in live for suffix in _SQLITE_SUFFIXES)
    created_at = clock()
    with tempfile.TemporaryDirectory(prefix=f"{_TEMP_PREFIX}backup-", dir=target) as scratch:
        if backend == "sqlite":
            member = SQLITE_MEMBER
            snapshot = Path(scratch) / "privatetrade.db"
            revision = _snapshot_sqlite(database_path, snapshot)
        else:
            member = POSTGRES_MEMBER
            snapshot = Path(scratch) / "postgresql.dump"
            revision = _dump_postgres(url, snapshot)
        sources = [(member, snapshot), *_data_files(data_dir, excluded)]
        path = _free_path(target, archive_name(created_at, __version__))
        with atomic_writer(path) as raw:
            hashing = _HashingWriter(raw)
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
                    if (entry := _add_file(tar, name, source)) is not None
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
                _add_bytes(tar, MANIFEST_NAME, manifest.to_json(), created_at)
        digest = hashing.digest.hexdigest()
    write_text_atomic(checksum_path(path), f"{digest}  {path.name}\n")
    _fsync_dir(target)
    return BackupResult(path=path, sha256=digest, manifest=manifest)


def _free_path(directory: Path, name: str) -> Path:
    path = directory / name
    stem = name.removesuffix(".tar.gz")
    number = 2
    while path.exists():
        path = directory / f"{stem}-{number}.tar.gz"
        number += 1
    return path


def _snapshot_sqlite(source: Path, snapshot: Path) -> str | None:
    """Copy a live SQLite database with the online backup API; return its revision."""
    if not source.is_file():
        raise BackupError(
            f"no database at {source}: start the server or run `privatetrade db upgrade` first"
        )
    live = sqlite3.connect(source, timeout=30.0)
    try:
        copy = sqlite3.connect(snapshot)
        try:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the SQLite database {source}: {exc}") from exc
    finally:
        live.close()
    return _revision(f"sqlite+pysqlite:///{snapshot}")


def _dump_postgres(url: str, dump: Path) -> str | None:
    """Dump the configured PostgreSQL database (custom format); return its revision."""
    revision = _revision(url)
    address, environment = libpq_url(url)
    _run_client(
        ["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={address}"], environment
    )
    return revision


def _revision(url: str) -> str | None:
    from privatetrade.db import migrate

    engine = create_engine(url)
    try:
        return migrate.current_revision(engine)
    except SQLAlchemyError as exc:
        raise BackupError(
            f"cannot read the database {_safe_url(url)}: {_first_line(str(exc))}"
        ) from exc
    finally:
        engine.dispose()


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
            if here / name not in excluded and not name.startswith(_TEMP_PREFIX)
        )
        for name in sorted(names):
            path = here / name
            if path in excluded or _is_scratch(name):
                continue
            found.append(("data/" + path.relative_to(data_dir).as_posix(), path))
    found.sort(key=lambda item: (item[0] != "data/catalog.json", item[0]))
    yield from found


def _is_scratch(name: str) -> bool:
    return name.startswith(_TEMP_PREFIX) or name.endswith((".lock", ".tmp"))


def _add_file(tar: tarfile.TarFile, name: str, source: Path) -> ManifestFile | None:
    """Add one file, hashing it as it is read; None when it vanished meanwhile."""
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None
        info = tarfile.TarInfo(name)
        info.size = status.st_size
        info.mtime = int(status.st_mtime)
        info.mode = stat.S_IMODE(status.st_mode)
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    return ManifestFile(path=name, size=info.size, sha256=reader.digest.hexdigest())


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes, moment: dt.datetime) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(moment.timestamp())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(content))


# ---------------------------------------------------------------------- verify


def _member_path(name: str, *, is_file: bool) -> PurePosixPath:
    path = PurePosixPath(name)
    parts = path.parts
    if (
        not parts
        or (is_file and len(parts) < 2 and name != MANIFEST_NAME)
        or path.is_absolute()
        or any(part in {"", ".", ".."} for part in parts)
        or "\\" in name
        or (parts[0] not in {"data", "database"} and name != MANIFEST_NAME)
        or (parts[0] == "data" and len(parts) > 1 and parts[1] == BACKUPS_DIR)
        or any(part.startswith(_TEMP_PREFIX) for part in parts)
    ):
        raise CorruptArchiveError(f"unexpected member {name!r} in the archive")
    return path


def extract_archive(archive: Path, into: Path) -> Manifest:
    """Extract an archive into a new directory and verify every member.

    Every member must be a regular file listed in the manifest with its size and
    SHA-256, every listed file must be present, and the gzip stream must be whole.

    Args:
        archive: The ``.tar.gz`` file.
        into: A directory that does not exist yet.

    Returns:
        The verified manifest.

    Raises:
        CorruptArchiveError: Anything does not match.
    """
    into.mkdir()
    seen: dict[str, ManifestFile] = {}
    try:
        with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as compressed:
            with tarfile.open(fileobj=compressed, mode="r|") as tar:
                for member in tar:
                    if member.isdir():
                        _member_path(member.name, is_file=False)
                        continue
                    if not member.isfile():
                        raise CorruptArchiveError(
                            f"unexpected member {member.name!r} in the archive (not a file)"
                        )
                    name = _member_path(member.name, is_file=True).as_posix()
                    if name in seen:
                        raise CorruptArchiveError(f"member {name!r} appears twice")
                    seen[name] = _extract_member(tar, member, name, into)
            while compressed.read(_CHUNK):  # the gzip trailer checks the whole stream
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptArchiveError(f"{archive.name} is corrupted ({exc})") from exc
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise CorruptArchiveError(f"{archive.name} holds clashing members ({exc})") from exc
    if MANIFEST_NAME not in seen:
        raise CorruptArchiveError(f"{archive.name} is incomplete or not a backup (no manifest)")
    manifest = Manifest.from_json((into / MANIFEST_NAME).read_bytes())
    del seen[MANIFEST_NAME]
    listed = {item.path: item for item in manifest.files}
    if missing := sorted(set(listed) - set(seen)):
        raise CorruptArchiveError(f"{archive.name} is incomplete: {missing[0]} is missing")
    if extra := sorted(set(seen) - set(listed)):
        raise CorruptArchiveError(f"{archive.name} holds {extra[0]}, not in its manifest")
    for name, actual in seen.items():
        if actual != listed[name]:
            raise CorruptArchiveError(f"{archive.name} is corrupted: {name} fails its checksum")
    return manifest


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, into: Path
) -> ManifestFile:
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - regular files always have content
        raise CorruptArchiveError(f"member {name!r} has no content")
    path = into / name
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with source, open(path, "xb") as target:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
        target.flush()
        os.fsync(target.fileno())
    os.chmod(path, stat.S_IMODE(member.mode) & 0o777 or 0o600)
    return ManifestFile(path=name, size=size, sha256=digest.hexdigest())


# ---------------------------------------------------------------------- restore


class _UndoFailedError(BackupError):
    """A failed restore could not put the previous content back (it is kept aside)."""


class _Moves:
    """Renames that can be undone, newest first."""

    def __init__(self) -> None:
        self._done: list[tuple[Path, Path]] = []

    def move(self, source: Path, target: Path) -> None:
        if target.exists() or target.is_symlink():
            raise BackupError(f"cannot restore: {target} is in the way")
        os.rename(source, target)
        self._done.append((source, target))

    def rollback(self) -> list[Path]:
        """Undo the renames; return the paths that could not be put back."""
        stuck = []
        for source, target in reversed(self._done):
            try:
                os.rename(target, source)
            except OSError:
                stuck.append(source)
        self._done.clear()
        return stuck


def restore_backup(
    archive: Path,
    settings: Settings,
    *,
    data_dir: Path | None = None,
    force_version: bool = False,
    replace: bool = False,
) -> RestoreResult:
    """Restore an archive into a data directory and the configured database.

    All or nothing: the archive is extracted and verified in a staging directory inside
    the target first; only then do the files move into place (the previous content is
    kept aside until the end) and does ``pg_restore`` run in a single transaction.
    Afterwards the database is migrated to this version's newest schema.

    Args:
        archive: The ``.tar.gz`` written by :func:`create_backup`.
        settings: The configuration (the database URL; the data directory by default).
        data_dir: Restore into this data directory instead of the configured one.
        force_version: Restore an archive made by another privatetrade version.
        replace: Replace a non-empty data directory or database (``--yes``); a
            ``backups`` directory in the target is kept.

    Returns:
        Where the data went and the database's schema revision after the upgrade.

    Raises:
        CorruptArchiveError: The archive fails its checksums or is malformed.
        InputError: The archive does not fit (version, schema, backend) or the target
            is not empty without ``replace``.
        BackupError: pg_restore failed, or the restore finished but the upgrade failed.
    """
    archive = archive.expanduser().resolve()
    if not archive.is_file():
        raise InputError(f"no backup archive at {archive}", field="archive")
    target = (data_dir or settings.data_dir).expanduser().resolve()
    url = settings.model_copy(update={"data_dir": target}).resolved_database_url
    backend = _backend(url)
    _check_target_dir(target, replace)
    if archive.is_relative_to(target) and not archive.is_relative_to(target / BACKUPS_DIR):
        raise InputError(
            f"the archive is inside the data directory {target}: move it out (or into its "
            f"{BACKUPS_DIR} directory, which a restore keeps) first",
            field="archive",
        )
    database_path = _sqlite_path(url) if backend == "sqlite" else None
    if database_path is not None and not database_path.is_relative_to(target):
        raise InputError(
            f"the SQLite database {database_path} is outside the data directory {target}: "
            "restore places it in the data directory (unset PRIVATETRADE_DATABASE_URL)",
            field="database_url",
        )
    if backend == "postgresql":
        _check_postgres_target(url, replace)
    sums = checksum_path(archive)
    if sums.is_file() and read_checksum_file(sums) != sha256_file(archive):
        raise CorruptArchiveError(f"{archive.name} is corrupted: it does not match {sums.name}")

    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}restore-", dir=target))
    try:
        unpacked = staging / "archive"
        manifest = extract_archive(archive, unpacked)
        _check_compatible(manifest, backend, force_version)
        incoming = unpacked / "data"
        incoming.mkdir(exist_ok=True)
        if database_path is not None:
            placed = incoming / database_path.relative_to(target)
            if placed.exists():
                raise CorruptArchiveError(f"{archive.name} holds a file where the database goes")
            placed.parent.mkdir(parents=True, exist_ok=True)
            os.rename(unpacked / manifest.database, placed)
        _swap_in(target, staging, incoming, url if backend == "postgresql" else None, unpacked)
    except _UndoFailedError:
        raise  # keep the staging directory: it holds the previous content
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with suppress(OSError):
                target.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    _fsync_dir(target)
    return RestoreResult(data_dir=target, manifest=manifest, revision=_upgrade(url))


def _check_target_dir(target: Path, replace: bool) -> None:
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} is not a directory", field="data_dir")
    if replace or not target.exists():
        return
    if any(entry.name != BACKUPS_DIR for entry in target.iterdir()):
        raise InputError(
            f"data directory {target} is not empty: pass --yes to replace its content",
            field="data_dir",
        )


def _check_postgres_target(url: str, replace: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except SQLAlchemyError as exc:
        raise BackupError(
            f"cannot connect to the database {_safe_url(url)} (it must exist): "
            f"{_first_line(str(exc))}"
        ) from exc
    finally:
        engine.dispose()
    if tables and not replace:
        raise InputError(
            f"database {_safe_url(url)} is not empty ({len(tables)} tables): "
            "pass --yes to replace its content",
            field="database_url",
        )


def _known_revisions() -> tuple[set[str], str | None]:
    from privatetrade.db import migrate

    engine = create_engine("sqlite://")
    try:
        return {item.id for item in migrate.history(engine)}, migrate.head_revision(engine)
    finally:
        engine.dispose()


def _check_compatible(manifest: Manifest, backend: Backend, force_version: bool) -> None:
    if manifest.backend != backend:
        raise InputError(
            f"the archive holds a {manifest.backend} database but the configured database "
            f"is {backend}",
            field="database_url",
        )
    if manifest.app_version != __version__ and not force_version:
        raise InputError(
            f"the archive was made by privatetrade {manifest.app_version}, this is "
            f"{__version__}: pass --force-version to restore it anyway",
            field="archive",
        )
    known, head = _known_revisions()
    if manifest.schema_revision is not None and manifest.schema_revision not in known:
        raise InputError(
            f"the archive's database is at schema revision {manifest.schema_revision}, "
            f"newer than this version's head {head}: upgrade privatetrade first",
            field="archive",
        )


def _swap_in(
    target: Path, staging: Path, incoming: Path, postgres_url: str | None, unpacked: Path
) -> None:
    """Move the old content aside and the new into place; undo it all on a failure."""
    previous = staging / "previous"
    previous.mkdir()
    moves = _Moves()
    try:
        for entry in sorted(target.iterdir()):
            if entry.name != BACKUPS_DIR and entry != staging:
                moves.move(entry, previous / entry.name)
        for entry in sorted(incoming.iterdir()):
            moves.move(entry, target / entry.name)
        if postgres_url is not None:
            _pg_restore(postgres_url, unpacked / POSTGRES_MEMBER)
    except BaseException as exc:
        if stuck := moves.rollback():
            raise _UndoFailedError(
                f"the restore failed ({exc}) and {stuck[0]} could not be put back: the "
                f"previous content is in {previous}"
            ) from exc
        raise


def _pg_restore(url: str, dump: Path) -> None:
    address, environment = libpq_url(url)
    _run_client(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={address}",
            str(dump),
        ],
        environment,
    )


def _upgrade(url: str) -> str | None:
    from privatetrade.db import migrate
    from privatetrade.db.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        return migrate.current_revision(engine)
    except SQLAlchemyError as exc:
        raise BackupError(
            "the backup was restored but upgrading its schema failed "
            f"({_first_line(str(exc))}): run `privatetrade db upgrade`"
        ) from exc
    finally:
        engine.dispose()
