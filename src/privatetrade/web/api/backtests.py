"""``/api/backtests``: submit, list, follow (SSE), cancel and delete backtests."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ConfigDict

from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.specs import BacktestSpec
from privatetrade.system import System
from privatetrade.web.deps import Owner, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.schemas import JobList, JobOut

router = APIRouter(
    prefix="/api/backtests",
    tags=["backtests"],
    responses=problem_responses(UNAVAILABLE),
)
_EVENT_POLL_S = 0.1
_RETRY_MS = 1000  # how long a client waits before reconnecting a broken event stream
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
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
    """List the caller's backtests, newest first by default; filter and page.

    Other kinds of jobs (data updates) are not listed here.
    """
    page = services.submissions.page(
        owner,
        symbol=symbol,
        strategy=strategy,
        states=state or (),
        kinds=(JobKind.BACKTEST,),
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
    job: OwnedJob,
    services: SystemDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Stream ``state`` and ``progress`` events (Server-Sent Events) until a final state.

    Each event has the job as data and an id that grows strictly from event to event:
    the job's last change, in microseconds since 1970 (one more than the previous id
    when that is not larger). A client that reconnects with ``Last-Event-ID`` (browsers
    do so by themselves) gets the job's current state as a ``state`` event if the job
    changed after that id, then the stream goes on; it never gets an older event again,
    nor an id at or below the one it sent. The stream starts with ``retry: 1000``.
    """
    async for event in job_events(job, services, last_event_id):
        yield event


async def job_events(
    job: Job, services: System, last_event_id: str | None
) -> AsyncIterable[ServerSentEvent]:
    """The event stream of ``job`` (any kind), as :func:`backtest_events` describes it."""
    repository = services.submissions
    resumed_at = _event_id_value(last_event_id)
    last_id = resumed_at or 0
    shown: tuple[JobState, float, str] | None = None  # what the client has
    if resumed_at is not None and _changed_at(job) <= resumed_at:
        shown = (job.state, job.progress, job.stage)
    yield ServerSentEvent(retry=_RETRY_MS)
    current: Job | None = job
    while current is not None:
        view = (current.state, current.progress, current.stage)
        if view != shown:
            name = "state" if shown is None or shown[0] != current.state else "progress"
            shown, last_id = view, max(_changed_at(current), last_id + 1)
            payload = JobOut.of(current, repository.clock()).model_dump(mode="json")
            yield ServerSentEvent(event=name, data=payload, id=str(last_id))
        if current.state.final:
            return
        await services.events.wait(job.id, _EVENT_POLL_S)
        current = await anyio.to_thread.run_sync(repository.get, job.id, job.owner)
    deleted_id = max(_microseconds(repository.clock()), last_id + 1)
    yield ServerSentEvent(event="deleted", data={"id": job.id}, id=str(deleted_id))


def _event_id_value(header: str | None) -> int | None:
    """The number in a ``Last-Event-ID`` header (None if absent or not one of ours)."""
    if header is None or not (header.isascii() and header.isdigit()) or len(header) > 19:
        return None
    return int(header)


def _changed_at(job: Job) -> int:
    return _microseconds(job.updated_at or job.created_at)


def _microseconds(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


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
