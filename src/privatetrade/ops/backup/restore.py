"""``privatetrade restore``: a verified archive back into a data directory and database.

A restore verifies everything in a staging directory inside the target before it
moves anything into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from privatetrade import __version__
from privatetrade.errors import InputError
from privatetrade.ops.backup.archive import extract_archive, fsync_dir
from privatetrade.ops.backup.database import (
    backend_of,
    check_postgres_target,
    known_revisions,
    pg_restore,
    sqlite_path,
    upgrade_schema,
)
from privatetrade.ops.backup.manifest import (
    BACKUPS_DIR,
    POSTGRES_MEMBER,
    TEMP_PREFIX,
    Backend,
    BackupError,
    CorruptArchiveError,
    Manifest,
    checksum_path,
    read_checksum_file,
    sha256_file,
)
from privatetrade.settings import Settings

__all__ = ["RestoreResult", "restore_backup"]


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
    backend = backend_of(url)
    _check_target_dir(target, replace)
    if archive.is_relative_to(target) and not archive.is_relative_to(target / BACKUPS_DIR):
        raise InputError(
            f"the archive is inside the data directory {target}: move it out (or into its "
            f"{BACKUPS_DIR} directory, which a restore keeps) first",
            field="archive",
        )
    database_path = sqlite_path(url) if backend == "sqlite" else None
    if database_path is not None and not database_path.is_relative_to(target):
        raise InputError(
            f"the SQLite database {database_path} is outside the data directory {target}: "
            "restore places it in the data directory (unset PRIVATETRADE_DATABASE_URL)",
            field="database_url",
        )
    if backend == "postgresql":
        check_postgres_target(url, replace)
    sums = checksum_path(archive)
    if sums.is_file() and read_checksum_file(sums) != sha256_file(archive):
        raise CorruptArchiveError(f"{archive.name} is corrupted: it does not match {sums.name}")

    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}restore-", dir=target))
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
    fsync_dir(target)
    return RestoreResult(data_dir=target, manifest=manifest, revision=upgrade_schema(url))


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
    known, head = known_revisions()
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
            pg_restore(postgres_url, unpacked / POSTGRES_MEMBER)
    except BaseException as exc:
        if stuck := moves.rollback():
            raise _UndoFailedError(
                f"the restore failed ({exc}) and {stuck[0]} could not be put back: the "
                f"previous content is in {previous}"
            ) from exc
        raise
