"""``/api/jobs/{id}/artifacts``: every kind's named result documents, listed and downloaded.

Backtests keep their own URLs (``/api/backtest/result/{id}``, ``.../trades.csv``); these
routes serve any job kind's artifacts without a route per document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from privatetrade.errors import ConflictError, NotFoundError
from privatetrade.web.api.downloads import download_responses, streamed_attachment
from privatetrade.web.deps import Owner, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=problem_responses(UNAVAILABLE))
_ERRORS = problem_responses(
    {404: "No such job or artifact", 409: "The job has not succeeded (yet)", **INVALID}
)
ArtifactName = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
JobId = Annotated[str, Path(max_length=64)]


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
def list_artifacts(job_id: JobId, services: SystemDep, owner: Owner) -> ArtifactList:
    """List a job's artifacts: name, media type, size, SHA-256 and download URL."""
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
    job_id: JobId, name: ArtifactName, services: SystemDep, owner: Owner
) -> Response:
    """Download one artifact, exactly as the job stored it."""
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
