"""The jobs table, split by caller.

- :class:`JobSubmissions` (users: submit, read, list, cancel, delete),
- :class:`JobQueue` (dispatchers and workers: claims, leases, attempts, endings),
- :class:`JobResults` (workers record artifacts; downloads read them).

:class:`JobRepository` combines the three for tools and tests that need all of them.
"""

from __future__ import annotations

from sqlalchemy import Engine

from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.jobs.queue import JobQueue
from privatetrade.db.jobs.results import JobResults, OpenArtifact, StoredArtifact
from privatetrade.db.jobs.rows import Clock, utc_now
from privatetrade.db.jobs.submission import JobSubmissions, SortField

__all__ = [
    "Clock",
    "JobQueue",
    "JobRepository",
    "JobResults",
    "JobSubmissions",
    "OpenArtifact",
    "SortField",
    "StoredArtifact",
    "utc_now",
]


class JobRepository(JobSubmissions, JobQueue, JobResults):
    """Every operation on jobs (submission, queue and results) on one engine."""

    def __init__(
        self, engine: Engine, clock: Clock = utc_now, *, files: ArtifactFiles | None = None
    ) -> None:
        JobResults.__init__(self, engine, files, clock)
