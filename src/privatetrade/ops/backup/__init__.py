"""Backups: one verified archive of the database and the data directory, and its restore.

An archive ``privatetrade-backup-<UTC timestamp>-<version>.tar.gz`` holds::

    database/privatetrade.db        a consistent SQLite snapshot (online backup API), or
    database/postgresql.dump        ``pg_dump --format=custom`` of the configured database
    data/...                        the data directory: Parquet bars, catalog.json, secret_key
    manifest.json                   format, versions, schema revision, sha256 of each member

A backup runs while the server runs. Next to the archive, ``<archive>.sha256`` holds the
archive's own checksum (``sha256sum -c`` reads it). A restore verifies everything in a
staging directory inside the target before it moves anything into place.

Modules: :mod:`~privatetrade.ops.backup.manifest` (archive format, manifest, checksums),
:mod:`~privatetrade.ops.backup.archive` (writing and verifying members),
:mod:`~privatetrade.ops.backup.database` (SQLite snapshot, ``pg_dump``, ``pg_restore``),
:mod:`~privatetrade.ops.backup.create` and :mod:`~privatetrade.ops.backup.restore`.
"""

from privatetrade.ops.backup.archive import extract_archive
from privatetrade.ops.backup.create import BackupResult, create_backup
from privatetrade.ops.backup.database import libpq_url
from privatetrade.ops.backup.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    BackupError,
    CorruptArchiveError,
    Manifest,
    ManifestFile,
    archive_name,
    checksum_path,
    read_checksum_file,
    sha256_file,
)
from privatetrade.ops.backup.restore import RestoreResult, restore_backup

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
    "checksum_path",
    "create_backup",
    "extract_archive",
    "libpq_url",
    "read_checksum_file",
    "restore_backup",
    "sha256_file",
]
