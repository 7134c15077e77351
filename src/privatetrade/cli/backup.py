"""Command line: ``privatetrade backup`` and ``privatetrade restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from privatetrade.settings import Settings

__all__ = ["backup", "restore"]


def backup(
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", metavar="DIR", help="Directory of the archive (default: <data dir>/backups)."
        ),
    ] = None,
) -> None:
    """Back up the database and the data directory into one archive.

    The server may keep running. Prints the archive's path and its SHA-256 (also
    written to <archive>.sha256).
    """
    from privatetrade.ops.backup import create_backup

    result = create_backup(Settings(), to)
    manifest = result.manifest
    typer.echo(
        f"backed up {len(manifest.files) - 1} data files and the {manifest.backend} database "
        f"(schema {manifest.schema_revision or 'empty'})",
        err=True,
    )
    typer.echo(str(result.path))
    typer.echo(f"sha256 {result.sha256}")


def restore(
    archive: Annotated[Path, typer.Argument(help="A privatetrade-backup-*.tar.gz archive.")],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Restore into this data directory (default: configured).",
        ),
    ] = None,
    force_version: Annotated[
        bool,
        typer.Option("--force-version", help="Restore an archive of another privatetrade version."),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Replace a non-empty data directory or database."),
    ] = False,
) -> None:
    """Restore a backup into an empty data directory and database.

    Stop the server first. The archive is verified before anything changes; the
    database is then migrated to this version's schema.
    """
    from privatetrade.ops.backup import restore_backup

    result = restore_backup(
        archive, Settings(), data_dir=data_dir, force_version=force_version, replace=yes
    )
    manifest = result.manifest
    typer.echo(
        f"restored {archive.name} (privatetrade {manifest.app_version}, {manifest.backend}, "
        f"made {manifest.created_at:%Y-%m-%d %H:%M:%S} UTC) into {result.data_dir}; "
        f"database at schema {result.revision or 'empty'}"
    )
