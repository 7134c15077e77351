"""``/api/jobs/{id}``: any kind of job followed, cancelled, its artifacts listed and downloaded.

Backtests keep their own URLs (``/api/backtests/{id}``, ``/api/backtest/result/{id}``,
``.../trades.csv``); these routes serve every job kind (data updates too) without a
route per kind or document. A caller sees their own jobs; administrators also see the
scheduled data updates (owned by ``system``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from privatetrade.domain.data_updates import SCHEDULE_OWNER
from privatetrade.domain.jobs import Job
from privatetrade.domain.users import User
from privatetrade.errors import ConflictError, NotFoundError
from privatetrade.system import System
from privatetrade.web.api.backtests import job_events
from privatetrade.web.api.downloads import download_responses, streamed_attachment
from privatetrade.web.deps import CurrentUser, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.schemas import JobOut

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=problem_responses(UNAVAILABLE))
_ERRORS = problem_responses(
    {404: "No such job or artifact", 409: "The job has not succeeded (yet)", **INVALID}
)
_JOB_ERRORS = problem_responses({404: "No such job", **INVALID})
ArtifactName = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
JobId = Annotated[str, Path(max_length=64)]


def reader_owner(services: System, user: User, job_id: str) -> str:
    """The owner whose job ``job_id`` the caller reads: their own, or the schedule's (admins)."""
    if user.is_admin and services.submissions.get(job_id, SCHEDULE_OWNER) is not None:
        return SCHEDULE_OWNER
    return user.id


def _visible_job(job_id: JobId, services: SystemDep, user: CurrentUser) -> Job:
    """The job the caller may see, or 404 (resolved before a response starts streaming)."""
    job = services.submissions.get(job_id, reader_owner(services, user, job_id))
    if job is None:
        raise ProblemError(404, f"no job with id {job_id!r}")
    return job


VisibleJob = Annotated[Job, Depends(_visible_job)]


@router.get("/{job_id}", response_model=JobOut, responses=_JOB_ERRORS)
def get_job(job: VisibleJob, services: SystemDep) -> JobOut:
    """Return a job of any kind: state, progress, stage, time left, summary and error.

    A data update's summary counts its symbols by outcome (``updated``, ``up_to_date``,
    ``failed``); its ``outcomes.json`` artifact has each symbol's outcome.
    """
    return JobOut.of(job, services.submissions.clock())


@router.get("/{job_id}/events", response_class=EventSourceResponse, responses=_JOB_ERRORS)
async def get_job_events(
    job: VisibleJob,
    services: SystemDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Stream a job's ``state`` and ``progress`` events until it ends.

    The same stream as ``GET /api/backtests/{id}/events`` (ids, ``Last-Event-ID``,
    ``retry``), for any kind of job.
    """
    async for event in job_events(job, services, last_event_id):
        yield event


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={**_JOB_ERRORS, **problem_responses({409: "The job already ended"})},
)
def cancel_job(job: VisibleJob, services: SystemDep) -> JobOut:
    """Cancel a queued job, or ask a running one to stop (a data update stops between symbols)."""
    if job.state.final:
        raise ProblemError(409, f"the job already ended: {job.state}", state=job.state.value)
    updated = services.submissions.request_cancel(job.id, job.owner)
    if updated is None:
        raise ProblemError(404, f"no job with id {job.id!r}")
    return JobOut.of(updated, services.submissions.clock())


class ArtifactOut(BaseModel):
    """One artifact of a succeeded job."""

    name: str
    media_type: str
    size: int
    sha256: str
    url: str


class ArtifactList(BaseModel):
    """The artifacts of a job (empty until it succeeded)."""

    job_id: str
    kind: str
    state: str
    items: list[ArtifactOut]


@router.get("/{job_id}/artifacts", response_model=ArtifactList, responses=_ERRORS)
def list_artifacts(job_id: JobId, services: SystemDep, user: CurrentUser) -> ArtifactList:
    """List a job's artifacts: name, media type, size, SHA-256 and download URL."""
    owner = reader_owner(services, user, job_id)
    try:
        job, infos = services.results.artifact_infos(job_id, owner)
    except NotFoundError:
        raise ProblemError(404, f"no job with id {job_id!r}") from None
    return ArtifactList(
        job_id=job.id,
        kind=job.kind.value,
        state=job.state.value,
        items=[
            ArtifactOut(
                name=info.name,
                media_type=info.media_type,
                size=info.size,
                sha256=info.sha256,
                url=f"/api/jobs/{job.id}/artifacts/{info.name}",
            )
            for info in infos
        ],
    )


@router.get(
    "/{job_id}/artifacts/{name}",
    response_class=Response,
    responses=download_responses(_ERRORS, "application/json", "text/csv", "*/*"),
)
def download_artifact(
    job_id: JobId, name: ArtifactName, services: SystemDep, user: CurrentUser
) -> Response:
    """Download one artifact, exactly as the job stored it."""
    owner = reader_owner(services, user, job_id)
    try:
        opened = services.results.open_artifact(job_id, name, owner)
    except NotFoundError as exc:
        raise ProblemError(404, str(exc)) from None
    except ConflictError as exc:
        raise ProblemError(409, str(exc), state=exc.state) from None
    return streamed_attachment(
        opened.stream,
        opened.info.size,
        media_type=opened.info.media_type,
        filename=f"privatetrade-{opened.job.id[:8]}-{name}",
        etag=opened.info.sha256,
    )
