"""``/api/backtests``: submit, list, follow (SSE), cancel and delete backtests."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ConfigDict

from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.specs import BacktestSpec
from privatetrade.web.deps import Owner, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.schemas import JobList, JobOut

router = APIRouter(
    prefix="/api/backtests",
    tags=["backtests"],
    responses=problem_responses(UNAVAILABLE),
)
_EVENT_POLL_S = 0.1
_NOT_FOUND = problem_responses({404: "No such backtest", **INVALID})


class BacktestCreate(BacktestSpec):
    """A backtest to run. Only ``symbol`` is required; everything else has a default."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
            ]
        },
    )


def job_or_404(services: SystemDep, owner: Owner, job_id: str) -> Job:
    """Return the caller's job or answer 404 (also for another owner's job)."""
    job = services.submissions.get(job_id, owner)
    if job is None:
        raise ProblemError(404, f"no backtest with id {job_id!r}")
    return job


OwnedJob = Annotated[Job, Depends(job_or_404)]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=problem_responses(
        {
            400: "The body cannot be read (not UTF-8)",
            413: "Request body too large",
            **INVALID,
            429: "Too many active backtests; retry later",
        }
    ),
)
def submit_backtest(
    body: BacktestCreate,
    response: Response,
    services: SystemDep,
    owner: Owner,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue a backtest; answer 202 with its id and a Location header.

    The spec is checked completely first (symbol, date range, bar limit, strategy
    parameters, costs); an error names the offending field. Repeating a request
    with the same ``Idempotency-Key`` returns the same job.
    """
    spec = BacktestSpec.model_validate(body.model_dump())
    submission = services.jobs.submit(owner, spec, idempotency_key=idempotency_key)
    job = submission.job
    response.headers["Location"] = f"/api/backtests/{job.id}"
    if not submission.created:
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, services.submissions.clock())


@router.get("", response_model=JobList, responses=problem_responses(INVALID))
def list_backtests(
    services: SystemDep,
    owner: Owner,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    strategy: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    sort: Literal["created_at", "finished_at", "symbol", "strategy", "state"] = "created_at",
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """List the caller's backtests, newest first by default; filter and page."""
    page = services.submissions.page(
        owner,
        symbol=symbol,
        strategy=strategy,
        states=state or (),
        sort=sort,
        descending=order == "desc",
        offset=offset,
        limit=limit,
    )
    now = services.submissions.clock()
    return JobList(
        items=[JobOut.of(job, now) for job in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get("/{job_id}", response_model=JobOut, responses=_NOT_FOUND)
def get_backtest(job: OwnedJob, services: SystemDep) -> JobOut:
    """Return a backtest's state, progress, stage, time left, timestamps and error."""
    return JobOut.of(job, services.submissions.clock())


@router.get("/{job_id}/events", response_class=EventSourceResponse, responses=_NOT_FOUND)
async def backtest_events(
    job: OwnedJob, services: SystemDep, owner: Owner
) -> AsyncIterable[ServerSentEvent]:
    """Stream ``state`` and ``progress`` events (Server-Sent Events) until a final state."""
    repository = services.submissions
    last_state: JobState | None = None
    last_progress: tuple[float, str] | None = None
    current: Job | None = job
    while current is not None:
        now = repository.clock()
        payload = JobOut.of(current, now).model_dump(mode="json")
        if current.state != last_state:
            last_state = current.state
            last_progress = (current.progress, current.stage)
            yield ServerSentEvent(event="state", data=payload, id=str(current.attempt))
        elif (current.progress, current.stage) != last_progress:
            last_progress = (current.progress, current.stage)
            yield ServerSentEvent(event="progress", data=payload, id=str(current.attempt))
        if current.state.final:
            return
        await services.events.wait(job.id, _EVENT_POLL_S)
        current = await anyio.to_thread.run_sync(repository.get, job.id, owner)
    yield ServerSentEvent(event="deleted", data={"id": job.id})


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={**_NOT_FOUND, **problem_responses({409: "The backtest already ended"})},
)
def cancel_backtest(job: OwnedJob, services: SystemDep, owner: Owner) -> JobOut:
    """Cancel a queued backtest, or ask a running one to stop (it ends ``cancelled``)."""
    if job.state.final:
        raise ProblemError(409, f"the backtest already ended: {job.state}", state=job.state.value)
    updated = services.submissions.request_cancel(job.id, owner)
    if updated is None:
        raise ProblemError(404, f"no backtest with id {job.id!r}")
    return JobOut.of(updated, services.submissions.clock())


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_NOT_FOUND,
)
def delete_backtest(job: OwnedJob, services: SystemDep, owner: Owner) -> Response:
    """Delete a backtest and its result (a running one is stopped)."""
    services.jobs.delete(job.id, owner)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
