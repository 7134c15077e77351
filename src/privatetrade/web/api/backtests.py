"""``/api/backtests``: submit, list, follow (SSE), cancel and delete backtests."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

import anyio
from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ConfigDict

from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.limits import MAX_DATE, MIN_DATE
from privatetrade.errors import InputError
from privatetrade.system import System
from privatetrade.web.api.rules import resolve_saved_rules
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
ListSort = Literal[
    "created_at",
    "finished_at",
    "symbol",
    "strategy",
    "state",
    "total_return",
    "sharpe",
    "max_drawdown",
]
# A calendar day, YYYY-MM-DD only (a plain ``date`` would also take "0" as 1970-01-01).
CreatedDay = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description=f"A day, YYYY-MM-DD, from {MIN_DATE} to {MAX_DATE}",
        json_schema_extra={"format": "date"},
    ),
]


def parse_day(text: str | None, field: str) -> dt.date | None:
    """Return the day ``text`` names (YYYY-MM-DD), None for none.

    Raises:
        InputError: No such day, or outside ``MIN_DATE..MAX_DATE`` (``field`` names it).
    """
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{field}: no such day {text!r} (YYYY-MM-DD)", field=field) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise InputError(f"{field}: {day} is outside {MIN_DATE}..{MAX_DATE}", field=field)
    return day


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def created_range(
    created_from: dt.date | None, created_to: dt.date | None, tz: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the UTC instants of the start of ``created_from`` and of the day after ``created_to``.

    The days are calendar days in the time zone ``tz`` (IANA name, e.g. ``Asia/Seoul``).

    Raises:
        InputError: ``tz`` is no known time zone (``field="tz"``), or ``created_to`` is
            before ``created_from`` (``field="created_to"``).
    """
    if tz not in _time_zones():
        raise InputError(
            f"unknown time zone {tz!r}; use an IANA name such as Asia/Seoul", field="tz"
        )
    if created_from is not None and created_to is not None and created_to < created_from:
        raise InputError(
            f"created_to ({created_to}) is before created_from ({created_from})", field="created_to"
        )
    zone = ZoneInfo(tz)

    def instant(day: dt.date | None) -> dt.datetime | None:
        if day is None:
            return None
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)

    after_last = None if created_to is None else created_to + dt.timedelta(days=1)
    return instant(created_from), instant(after_last)


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
    spec = resolve_saved_rules(spec, services, owner)
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
    sort: ListSort = "created_at",
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    created_from: CreatedDay = None,
    created_to: CreatedDay = None,
    tz: Annotated[str, Query(min_length=1, max_length=64)] = "UTC",
) -> JobList:
    """List the caller's backtests, newest first by default; filter and page.

    ``sort`` also takes ``total_return``, ``sharpe`` and ``max_drawdown`` (from the
    summary of succeeded runs; runs without one come last). ``created_from`` and
    ``created_to`` keep runs submitted on those days or between them (inclusive),
    calendar days in the time zone ``tz`` (default UTC). Other kinds of jobs (data
    updates) are not listed here.
    """
    start, before = created_range(
        parse_day(created_from, "created_from"), parse_day(created_to, "created_to"), tz
    )
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
        created_from=start,
        created_before=before,
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
