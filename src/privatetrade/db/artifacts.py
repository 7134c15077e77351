"""Artifact files: a job's documents, written durably *before* the job is marked succeeded.

Large documents never pass through a database transaction: a worker writes them to
``<data_dir>/artifacts/<job id>/<attempt>-<token>/`` (each file fsynced, written under a
staging name and renamed into place), then one short transaction records their names and
checksums and marks the job succeeded. A crash in between leaves an unreferenced folder
that the next success of that job, or its deletion, removes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from privatetrade.domain.artifacts import Artifact, ArtifactInfo
from privatetrade.errors import NotFoundError

__all__ = ["ArtifactFiles", "StagedArtifacts"]

_STAGING_PREFIX = ".staging-"


@dataclass(frozen=True, slots=True)
class StagedArtifacts:
    """Artifacts written durably for one attempt, not yet recorded in the database."""

    job_id: str
    folder: str
    infos: tuple[ArtifactInfo, ...]


class ArtifactFiles:
    """The artifacts folder of one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ArtifactFiles:
        """Return the store at ``<data_dir>/artifacts``."""
        return cls(Path(data_dir) / "artifacts")

    def write(self, job_id: str, attempt: int, artifacts: Sequence[Artifact]) -> StagedArtifacts:
        """Write the artifacts of one attempt durably; return what to record.

        Raises:
            OSError: The disk is full or not writable (nothing is left behind).
        """
        _check_name(job_id)
        folder = f"{attempt}-{uuid.uuid4().hex[:12]}"
        job_dir = self.root / job_id
        staging = job_dir / f"{_STAGING_PREFIX}{folder}"
        staging.mkdir(parents=True)
        try:
            for artifact in artifacts:
                _check_name(artifact.name)
                _write_durably(staging / artifact.name, artifact.content)
            _fsync_dir(staging)
            staging.rename(job_dir / folder)
            _fsync_dir(job_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        infos = tuple(artifact.info(f"{job_id}/{folder}/{artifact.name}") for artifact in artifacts)
        return StagedArtifacts(job_id, folder, infos)

    def read(self, info: ArtifactInfo) -> bytes:
        """Return the bytes of a file artifact.

        Raises:
            NotFoundError: The file is gone (its job was deleted meanwhile).
        """
        with self.open(info) as handle:
            return handle.read()

    def open(self, info: ArtifactInfo) -> BinaryIO:
        """Open a file artifact for reading (it stays readable if the job is deleted meanwhile).

        Raises:
            NotFoundError: The file is gone (its job was deleted meanwhile).
        """
        if info.location is None:
            raise NotFoundError(f"artifact {info.name} is stored in the database")
        try:
            return (self.root / info.location).open("rb")
        except FileNotFoundError as exc:
            raise NotFoundError(f"artifact {info.name} no longer exists") from exc

    def discard(self, staged: StagedArtifacts) -> None:
        """Remove artifacts that were not recorded (the attempt was superseded or cancelled)."""
        shutil.rmtree(self.root / staged.job_id / staged.folder, ignore_errors=True)
        self._remove_if_empty(staged.job_id)

    def keep_only(self, staged: StagedArtifacts) -> None:
        """Remove every other folder of the job (left by crashed or superseded attempts)."""
        job_dir = self.root / staged.job_id
        for entry in _entries(job_dir):
            if entry.name != staged.folder:
                shutil.rmtree(entry, ignore_errors=True)

    def scratch_dir(self, job_id: str) -> Path:
        """A folder of the job that outlives its attempts (removed once one succeeded)."""
        _check_name(job_id)
        return self.root / job_id / "scratch"

    def remove_job(self, job_id: str) -> None:
        """Remove every artifact file of a deleted job."""
        _check_name(job_id)
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def _remove_if_empty(self, job_id: str) -> None:
        with contextlib.suppress(OSError):
            (self.root / job_id).rmdir()


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\\" in name or len(name) > 64:
        raise ValueError(f"not a safe artifact or job name: {name!r}")


def _write_durably(path: Path, content: bytes) -> None:
    with path.open("xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
