"""Finished jobs' artifacts: record them when a job succeeds, read them for downloads."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import Engine, delete, insert, select, update

from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.engine import read_tx, write_tx
from privatetrade.db.jobs.rows import (
    Clock,
    JobTable,
    current_attempt,
    ended,
    owned,
    to_job,
    utc_now,
)
from privatetrade.db.notifications import queue_job_endings
from privatetrade.db.schema import artifacts, jobs
from privatetrade.domain.artifacts import ArtifactInfo
from privatetrade.domain.jobs import Job, JobState
from privatetrade.errors import ConflictError, NotFoundError

__all__ = ["JobResults", "OpenArtifact", "StoredArtifact"]

_INFO_COLUMNS = (
    artifacts.c.name,
    artifacts.c.media_type,
    artifacts.c.size,
    artifacts.c.sha256,
    artifacts.c.location,
)


@dataclass(frozen=True, slots=True)
class OpenArtifact:
    """One artifact of a succeeded job, open for reading (close ``stream`` when done)."""

    job: Job
    info: ArtifactInfo
    stream: BinaryIO


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    """One artifact of a succeeded job, with its bytes."""

    job: Job
    info: ArtifactInfo
    content: bytes


class JobResults(JobTable):
    """Records and reads the artifacts of succeeded jobs."""

    def __init__(
        self, engine: Engine, files: ArtifactFiles | None = None, clock: Clock = utc_now
    ) -> None:
        super().__init__(engine, clock)
        self.files = files

    def finish_succeeded(
        self,
        job_id: str,
        attempt: int,
        infos: Sequence[ArtifactInfo],
        summary: Mapping[str, Any],
    ) -> bool:
        """Record the (already durable) artifacts and mark the job succeeded, atomically.

        Nothing is written unless ``attempt`` is still the current, uncancelled attempt;
        the artifacts are visible exactly when the state says succeeded. The transaction
        holds only metadata, so it is short whatever the documents' size.
        """
        now = self.clock()
        with write_tx(self.engine) as connection:
            row = connection.execute(
                select(jobs.c.id).where(
                    *current_attempt(job_id, attempt), jobs.c.cancel_requested.is_(False)
                )
            ).first()
            if row is None:
                return False
            connection.execute(delete(artifacts).where(artifacts.c.job_id == job_id))
            if infos:  # an empty executemany is an SQL error
                connection.execute(
                    insert(artifacts),
                    [_artifact_row(job_id, attempt, info, now) for info in infos],
                )
            connection.execute(
                update(jobs)
                .where(*current_attempt(job_id, attempt))
                .values(
                    state=JobState.SUCCEEDED.value,
                    progress=1.0,
                    stage="done",
                    heartbeat_at=now,
                    summary=dict(summary),
                    **ended(now),
                )
            )
            queue_job_endings(connection, [job_id], now)  # the owner's notifications
        return True

    def artifact_infos(
        self, job_id: str, owner: str | None = None
    ) -> tuple[Job, list[ArtifactInfo]]:
        """Return the job and the artifacts it has (none unless it succeeded).

        One statement reads both, so they agree on every backend (under PostgreSQL's
        read committed, two statements could see a commit in between).

        Raises:
            NotFoundError: No such job (for this owner).
        """
        query = (
            select(jobs, *_INFO_COLUMNS)
            .outerjoin(artifacts, artifacts.c.job_id == jobs.c.id)
            .where(*owned(job_id, owner))
            .order_by(artifacts.c.name)
        )
        with read_tx(self.engine) as connection:
            rows = connection.execute(query).all()
        if not rows:
            raise NotFoundError(f"no job with id {job_id!r}")
        infos = [
            ArtifactInfo(*(row._mapping[column] for column in _INFO_COLUMNS))
            for row in rows
            if row._mapping[artifacts.c.sha256] is not None
        ]
        return to_job(rows[0]), infos

    def artifact(self, job_id: str, name: str, owner: str | None = None) -> StoredArtifact:
        """Return one artifact of a succeeded job with its bytes.

        Raises:
            NotFoundError: No such job (for this owner), or the job has no such artifact.
            ConflictError: The job has not succeeded (``state`` says where it is).
        """
        opened = self.open_artifact(job_id, name, owner)
        with opened.stream:
            return StoredArtifact(opened.job, opened.info, opened.stream.read())

    def open_artifact(self, job_id: str, name: str, owner: str | None = None) -> OpenArtifact:
        """Open one artifact of a succeeded job for streaming; the caller closes ``stream``.

        Raises:
            NotFoundError: No such job (for this owner), or the job has no such artifact.
            ConflictError: The job has not succeeded (``state`` says where it is).
        """
        query = (
            select(jobs, *_INFO_COLUMNS, artifacts.c.content)
            .outerjoin(artifacts, (artifacts.c.job_id == jobs.c.id) & (artifacts.c.name == name))
            .where(*owned(job_id, owner))
        )
        with read_tx(self.engine) as connection:
            row = connection.execute(query).first()
        if row is None:
            raise NotFoundError(f"no job with id {job_id!r}")
        job = to_job(row)
        if job.state != JobState.SUCCEEDED:
            raise ConflictError(
                f"the job is {job.state}; its results exist once it has succeeded",
                state=job.state.value,
            )
        values = row._mapping
        if values["sha256"] is None:
            raise NotFoundError(f"job {job_id} has no artifact {name!r}")
        info = ArtifactInfo(
            name=name,
            media_type=values["media_type"],
            size=values["size"],
            sha256=values["sha256"],
            location=values["location"],
        )
        content = values["content"]
        if content is not None:
            return OpenArtifact(job, info, io.BytesIO(bytes(content)))
        if self.files is None:
            raise RuntimeError("this repository has no artifact folder to read files from")
        return OpenArtifact(job, info, self.files.open(info))


def _artifact_row(job_id: str, attempt: int, info: ArtifactInfo, now: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "name": info.name,
        "attempt": attempt,
        "media_type": info.media_type,
        "size": info.size,
        "sha256": info.sha256,
        "location": info.location,
        "content": None,
        "created_at": now,
    }
