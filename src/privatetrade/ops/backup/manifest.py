"""The backup archive format: its layout, ``manifest.json`` and checksums.

An archive ``privatetrade-backup-<UTC timestamp>-<version>.tar.gz`` holds::

    database/privatetrade.db        a consistent SQLite snapshot (online backup API), or
    database/postgresql.dump        ``pg_dump --format=custom`` of the configured database
    data/...                        the data directory: Parquet bars, catalog.json, secret_key
    manifest.json                   format, versions, schema revision, sha256 of each member

Next to the archive, ``<archive>.sha256`` holds the archive's own checksum
(``sha256sum -c`` reads it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from privatetrade import __version__
from privatetrade.errors import DataError, InputError, PrivatetradeError

__all__ = [
    "BACKUPS_DIR",
    "CHUNK_SIZE",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "POSTGRES_MEMBER",
    "SQLITE_MEMBER",
    "TEMP_PREFIX",
    "Backend",
    "BackupError",
    "CorruptArchiveError",
    "Manifest",
    "ManifestFile",
    "archive_name",
    "checksum_path",
    "read_checksum_file",
    "sha256_file",
]

FORMAT = "privatetrade-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
BACKUPS_DIR = "backups"
SQLITE_MEMBER = "database/privatetrade.db"
POSTGRES_MEMBER = "database/postgresql.dump"

Backend = Literal["sqlite", "postgresql"]

CHUNK_SIZE = 1 << 20
TEMP_PREFIX = ".privatetrade-"  # staging of backups and restores; never part of a backup
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
        while chunk := handle.read(CHUNK_SIZE):
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
