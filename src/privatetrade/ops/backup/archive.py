"""Reading and writing archive members: hashed on the way in, verified on the way out."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os
import stat
import tarfile
import zlib
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from privatetrade.ops.backup.manifest import (
    BACKUPS_DIR,
    CHUNK_SIZE,
    MANIFEST_NAME,
    TEMP_PREFIX,
    CorruptArchiveError,
    Manifest,
    ManifestFile,
)

__all__ = ["HashingWriter", "add_bytes", "add_file", "extract_archive", "fsync_dir"]


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk (best effort: errors are ignored)."""
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


class HashingWriter:
    """Write to a file and hash what was written."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        """Hash ``data`` and write it; return the count written."""
        self.digest.update(data)
        return self._handle.write(data)

    def flush(self) -> None:
        """Flush the underlying file."""
        self._handle.flush()


def add_file(tar: tarfile.TarFile, name: str, source: Path) -> ManifestFile | None:
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


def add_bytes(tar: tarfile.TarFile, name: str, content: bytes, moment: dt.datetime) -> None:
    """Add a file with ``content`` as member ``name``, dated ``moment``."""
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(moment.timestamp())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(content))


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
        or any(part.startswith(TEMP_PREFIX) for part in parts)
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
            while compressed.read(CHUNK_SIZE):  # the gzip trailer checks the whole stream
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
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
        target.flush()
        os.fsync(target.fileno())
    os.chmod(path, stat.S_IMODE(member.mode) & 0o777 or 0o600)
    return ManifestFile(path=name, size=size, sha256=digest.hexdigest())
