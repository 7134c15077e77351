"""The job service: check a spec with its kind, enforce limits, create the row, wake the dispatcher.

Everything a submission can get wrong is found here, before anything is queued.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.jobs import JobSubmissions
from privatetrade.domain.jobs import Job
from privatetrade.domain.kinds import JobKind, JobSpec
from privatetrade.errors import LimitExceededError, NotFoundError
from privatetrade.jobs.kinds import KindContext, handler_for

__all__ = ["JobService", "Submission"]


@dataclass(frozen=True, slots=True)
class Submission:
    """The outcome of a submit: the job, and False when an idempotent repeat."""

    job: Job
    created: bool


class JobService:
    """Submits jobs after checking them completely; deletes them with their artifacts."""

    def __init__(
        self,
        submissions: JobSubmissions,
        files: ArtifactFiles,
        context: KindContext,
        *,
        max_active_jobs: int,
        on_submitted: Callable[[], None] = lambda: None,
    ) -> None:
        self.submissions = submissions
        self.files = files
        self.context = context
        self.max_active_jobs = max_active_jobs
        self.on_submitted = on_submitted

    def check(self, spec: JobSpec, kind: JobKind = JobKind.BACKTEST) -> JobSpec:
        """Check everything about a spec that can be checked without running it.

        Returns the spec normalized (e.g. symbol codes as the catalog spells them).

        Raises:
            InputError: Naming the spec field (``symbol``, ``params.fast``, ``costs``...).
        """
        checked: JobSpec = handler_for(kind).check(spec, self.context)
        return checked

    def submit(
        self,
        owner: str,
        spec: JobSpec,
        *,
        kind: JobKind = JobKind.BACKTEST,
        idempotency_key: str | None = None,
        max_combinations: int | None = None,
    ) -> Submission:
        """Check, enforce the owner's limits, and queue the job.

        ``max_combinations`` is the owner's limit on an optimization's combinations
        (None: the service's context decides).

        Raises:
            InputError: The spec is invalid.
            LimitExceededError: Too many active jobs.
            IdempotencyConflictError: The key was used with another spec.
        """
        handler = handler_for(kind)
        context = self.context
        if max_combinations is not None:
            context = dataclasses.replace(context, max_combinations=max_combinations)
        checked = handler.check(spec, context)
        if idempotency_key is not None:
            existing = self.submissions.find_idempotent(owner, idempotency_key, checked, kind=kind)
            if existing is not None:
                return Submission(existing, False)
        if self.submissions.count_active(owner) >= self.max_active_jobs:
            raise LimitExceededError(
                f"{self.max_active_jobs} jobs are already queued or running; "
                "wait for some to finish"
            )
        job, created = self.submissions.create(
            uuid.uuid4().hex,
            owner,
            checked,
            idempotency_key=idempotency_key,
            kind=kind,
            labels=handler.labels(checked),
        )
        if created:
            self.on_submitted()
        return Submission(job, created)

    def delete(self, job_id: str, owner: str | None) -> None:
        """Delete a job, its artifact rows and files (a running attempt is stopped).

        Raises:
            NotFoundError: No such job (for this owner).
        """
        if not self.submissions.delete(job_id, owner):
            raise NotFoundError(f"no backtest with id {job_id!r}")
        self.files.remove_job(job_id)
