"""Artifacts: the named documents a finished job leaves (result JSON, CSV exports, ...)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Artifact", "ArtifactInfo"]


@dataclass(frozen=True, slots=True)
class Artifact:
    """One document produced by a job.

    Attributes:
        name: File-like name, unique within the job (``result.json``, ``trades.csv``).
        media_type: MIME type served with it.
        content: The bytes, exactly as downloaded.
    """

    name: str
    media_type: str
    content: bytes

    def info(self, location: str | None) -> ArtifactInfo:
        """Describe this artifact as stored at ``location``."""
        return ArtifactInfo(
            name=self.name,
            media_type=self.media_type,
            size=len(self.content),
            sha256=hashlib.sha256(self.content).hexdigest(),
            location=location,
        )


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What the database records about a stored artifact.

    Attributes:
        name: The artifact's name.
        media_type: MIME type.
        size: Bytes.
        sha256: Hex digest of the bytes (the download's ETag).
        location: Path of the file relative to the artifacts folder, or None when
            the bytes are stored in the database row.
    """

    name: str
    media_type: str
    size: int
    sha256: str
    location: str | None
