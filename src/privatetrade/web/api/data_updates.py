"""``/api/data/updates``: fetch new bars from the data provider as a job (administrators).

A ``data_update`` job brings stored symbols up to date (or fetches new codes) symbol by
symbol; follow it at ``/api/jobs/{id}`` (and ``/events``), read each symbol's outcome in
its ``outcomes.json`` artifact. The scheduled daily updates are listed here too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import ConfigDict

from privatetrade.domain.data_updates import SCHEDULE_OWNER, DataUpdateSpec
from privatetrade.domain.kinds import JobKind
from privatetrade.observability.data_updates import data_update_report
from privatetrade.web.auth import AdminUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, problem_responses
from privatetrade.web.schemas import JobList, JobOut

router = APIRouter(
    prefix="/api/data/updates",
    tags=["data"],
    responses=problem_responses({403: "Not an administrator", **UNAVAILABLE}),
)


class DataUpdateCreate(DataUpdateSpec):
    """A data update to run; every field is optional.

    The default updates every stored symbol fetched from the configured provider, each
    in the series it stores.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"symbols": ["005930", "000660"], "series": ["adjusted"]},
                {"symbols": ["AAPL"], "provider": "yfinance", "start": "2015-01-01"},
            ]
        },
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=problem_responses(
        {
            400: "The body cannot be read (not UTF-8)",
            409: "No data provider is configured, or its extra is not installed",
            413: "Request body too large",
            **INVALID,
            429: "Too many active jobs; retry later",
        }
    ),
)
def submit_data_update(
    body: DataUpdateCreate,
    response: Response,
    services: SystemDep,
    admin: AdminUser,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue a data update; answer 202 with the job and its Location (``/api/jobs/{id}``).

    Checked first: the provider (the configured one unless named; 409 without one),
    each code (stored, or a KRX code / US ticker the provider can fetch; 422 naming
    ``symbols``), and that an update of every stored symbol has something to update.
    """
    spec = DataUpdateSpec.model_validate(body.model_dump())
    submission = services.jobs.submit(
        admin.id, spec, kind=JobKind.DATA_UPDATE, idempotency_key=idempotency_key
    )
    job = submission.job
    response.headers["Location"] = f"/api/jobs/{job.id}"
    if not submission.created:
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, services.submissions.clock())


@router.get("", response_model=JobList, responses=problem_responses(INVALID))
def list_data_updates(
    services: SystemDep,
    admin: AdminUser,
    owner: Literal["me", "schedule"] = "me",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """List data updates, newest first: the caller's, or (``owner=schedule``) the scheduled ones."""
    page = services.submissions.page(
        admin.id if owner == "me" else SCHEDULE_OWNER,
        kinds=(JobKind.DATA_UPDATE,),
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


@router.get("/schedule")
def get_update_schedule(admin: AdminUser, services: SystemDep) -> list[dict[str, Any]]:
    """Each market's scheduled daily update: on or off, next run, last outcome.

    The same figures as the status page and the ``privatetrade_data_update_*`` metrics.
    """
    return data_update_report(services.data_update_status())
