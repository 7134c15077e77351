"""``/api/scans``: universe scans (one strategy and parameter set on every symbol, ranked).

A scan is a job: submit here (202, ``Location: /api/jobs/{id}``), follow at
``/api/jobs/{id}`` and ``/events`` (progress = finished symbols; the summary carries
``{done, total, failed, best}`` while it runs), cancel at ``/api/jobs/{id}/cancel``,
download ``ranking.json`` and ``ranking.csv`` at ``/api/jobs/{id}/artifacts/{name}``.
The ranking, sorted as asked, and the full backtest of any row are here too.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.scan import ScanSort, ScanSpec
from privatetrade.domain.specs import SymbolCode
from privatetrade.errors import ConflictError, InputError, NotFoundError
from privatetrade.web.api.jobs import JobId
from privatetrade.web.api.rules import resolve_saved_rules
from privatetrade.web.auth import CurrentUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.schemas import JobList, JobOut

router = APIRouter(tags=["scans"], responses=problem_responses(UNAVAILABLE))

SUBMIT_ERRORS = problem_responses(
    {
        400: "The body cannot be read (not UTF-8)",
        413: "Request body too large",
        **INVALID,
        429: "Too many active jobs; retry later",
    }
)
_JOB_ERRORS = problem_responses({404: "No such scan", 409: "The scan has not succeeded", **INVALID})
LINK_KEY = "scan-row"
"""Idempotency-Key prefix of the backtests opened from ranking rows (reused by spec)."""


class ScanCreate(ScanSpec):
    """A scan to run: ``symbols`` or ``market``, then a backtest's settings and ``sort``."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "market": "KOSDAQ",
                    "start": "2016-01-01",
                    "strategy": "sma_cross",
                    "params": {"fast": 5, "slow": 20},
                    "sort": "sharpe",
                },
                {"symbols": ["DEMO01", "DEMO02", "DEMO03"], "strategy": "rsi_reversion"},
            ]
        },
    )


def submit_job(
    services: SystemDep,
    user: CurrentUser,
    spec: Any,
    kind: JobKind,
    response: Response,
    idempotency_key: str | None,
) -> JobOut:
    """Queue a job of ``kind`` for the caller; set ``Location`` (shared by scans and portfolios).

    A saved rule strategy named in ``rules.saved`` is resolved to its document first.
    """
    spec = resolve_saved_rules(spec, services, user.id)
    submission = services.jobs.submit(user.id, spec, kind=kind, idempotency_key=idempotency_key)
    job = submission.job
    response.headers["Location"] = f"/api/jobs/{job.id}"
    if not submission.created:
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, services.submissions.clock())


def list_jobs(
    services: SystemDep,
    user: CurrentUser,
    kind: JobKind,
    symbol: str | None,
    state: list[JobState] | None,
    offset: int,
    limit: int,
) -> JobList:
    """One page of the caller's jobs of ``kind``, newest first."""
    page = services.submissions.page(
        user.id, symbol=symbol, states=state or (), kinds=(kind,), offset=offset, limit=limit
    )
    now = services.submissions.clock()
    return JobList(
        items=[JobOut.of(job, now) for job in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


def owned_job(services: SystemDep, user: CurrentUser, job_id: str, kind: JobKind) -> Job:
    """The caller's job ``job_id`` of ``kind`` (administrators: anyone's), else 404."""
    job = services.submissions.get(job_id, None if user.is_admin else user.id)
    if job is None or job.kind != kind:
        raise ProblemError(404, f"no {kind.value} with id {job_id!r}")
    return job


def artifact_bytes(services: SystemDep, job: Job, name: str) -> bytes:
    """A succeeded job's artifact (404 when gone, 409 while the job has not succeeded)."""
    try:
        return services.results.artifact(job.id, name, job.owner).content
    except NotFoundError as exc:
        raise ProblemError(404, str(exc)) from None
    except ConflictError as exc:
        raise ProblemError(409, str(exc), state=exc.state) from None


@router.post(
    "/api/scans",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=SUBMIT_ERRORS,
)
def submit_scan(
    body: ScanCreate,
    response: Response,
    services: SystemDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue a universe scan; answer 202 with the job (follow it at ``/api/jobs/{id}``).

    Checked first: the universe (every code known and tradable, one quote currency,
    at most the server's symbol limit: 422 naming ``symbols``; a market without
    stocks with prices over the period: 422 naming ``market``), the strategy and its
    parameters (``params.<name>``) and the settings, as for a backtest.
    """
    spec = ScanSpec.model_validate(body.model_dump())
    return submit_job(services, user, spec, JobKind.SCAN, response, idempotency_key)


@router.get("/api/scans", response_model=JobList, responses=problem_responses(INVALID))
def list_scans(
    services: SystemDep,
    user: CurrentUser,
    symbol: Annotated[
        str | None, Query(max_length=32, description="The label: a market or the first symbol")
    ] = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """List your scans, newest first."""
    return list_jobs(services, user, JobKind.SCAN, symbol, state, offset, limit)


class ScanRow(BaseModel):
    """One symbol of a scan: its backtest's key figures, or why it could not run."""

    rank: int
    symbol: str
    name: str
    market: str
    adjusted: bool | None
    first: str | None = Field(description="First bar's local date in the period")
    last: str | None = Field(description="Last bar's local date in the period")
    bars: int
    total_return: float | None
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float | None
    win_rate: float | None
    profit_factor: float | None
    return_over_drawdown: float | None
    trades: int | None
    final_equity: float | None
    error: str | None = Field(description="Why the symbol could not be backtested (else null)")


class ScanRanking(BaseModel):
    """A page of a scan's ranking."""

    job_id: str
    sort: str
    order: Literal["asc", "desc"]
    total: int
    failed: int
    offset: int
    limit: int
    rows: list[ScanRow]


@router.get("/api/scans/{job_id}/ranking", response_model=ScanRanking, responses=_JOB_ERRORS)
def scan_ranking(
    job_id: JobId,
    services: SystemDep,
    user: CurrentUser,
    sort: ScanSort | None = None,
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Query(ge=0, le=2_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=2_000)] = 2_000,
) -> ScanRanking:
    """The scan's rows sorted by ``sort`` (the scan's own by default), ``desc`` = highest first.

    ``max_drawdown`` is negative: ``desc`` puts the shallowest first. Rows without a
    value come after those with one, rows with an ``error`` last; ``rank`` numbers
    the rows in this order.
    """
    from privatetrade.research.scan import rank_rows

    job = owned_job(services, user, job_id, JobKind.SCAN)
    document = json.loads(artifact_bytes(services, job, "ranking.json"))
    chosen = sort or document["sort"]
    try:
        ranked = rank_rows(document["rows"], chosen, order)
    except InputError as exc:
        raise ProblemError(422, str(exc), field=exc.field) from None
    return ScanRanking(
        job_id=job.id,
        sort=chosen,
        order=order,
        total=len(ranked),
        failed=sum(row["error"] is not None for row in ranked),
        offset=offset,
        limit=limit,
        rows=[ScanRow.model_validate(row) for row in ranked[offset : offset + limit]],
    )


class ScanRowChoice(BaseModel):
    """Which row of a scan to backtest in full."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: SymbolCode = Field(description="The row's symbol")


@router.post(
    "/api/scans/{job_id}/backtests",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={**_JOB_ERRORS, **SUBMIT_ERRORS},
)
def backtest_row(
    job_id: JobId,
    response: Response,
    services: SystemDep,
    user: CurrentUser,
    body: ScanRowChoice | None = None,
) -> JobOut:
    """Submit (or reuse) the full backtest of one row: the scan's settings on that symbol.

    Without a body, the first row of the scan's own ranking. The backtest's benchmark
    is the stored index of the symbol's market (as the backtest form offers it); its
    metrics equal the row's. Asking again for the same row (of this or another scan
    with the same settings) answers the backtest made before, while it is queued,
    running or succeeded (``Idempotent-Replayed: true``).
    It is a normal backtest job (``/api/backtests/{id}``, result at
    ``/api/backtest/result/{id}``). 422 naming ``symbol`` when the symbol is not in the
    scan or could not be backtested.
    """
    job = owned_job(services, user, job_id, JobKind.SCAN)
    spec = job.spec
    assert isinstance(spec, ScanSpec)
    document = json.loads(artifact_bytes(services, job, "ranking.json"))
    rows = document["rows"]
    row = _row_of(rows, body.symbol if body is not None else rows[0]["symbol"])
    benchmark = services.market_data.market_index(_market(row["market"]))
    backtest = spec.backtest_spec(row["symbol"], benchmark=benchmark)
    prefix = f"{LINK_KEY}:{backtest.fingerprint()}:"
    reused = services.submissions.latest_keyed(
        user.id, prefix, states=(JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
    )
    if reused is not None:
        response.headers["Idempotent-Replayed"] = "true"
        created = reused
    else:
        key = prefix + uuid.uuid4().hex[:12]
        created = services.jobs.submit(user.id, backtest, idempotency_key=key).job
    response.headers["Location"] = f"/api/backtests/{created.id}"
    return JobOut.of(created, services.submissions.clock())


def _row_of(rows: list[dict[str, Any]], symbol: str) -> dict[str, Any]:
    wanted = symbol.upper()
    for row in rows:
        if str(row["symbol"]).upper() == wanted:
            if row["error"] is not None:
                raise ProblemError(
                    422,
                    f"{row['symbol']} could not be backtested: {row['error']}",
                    field="symbol",
                    code="scan_row_failed",
                    params={"symbol": row["symbol"]},
                )
            return row
    raise ProblemError(
        422,
        f"{symbol} is not in this scan",
        field="symbol",
        code="not_in_scan",
        params={"symbol": symbol},
    )


def _market(name: str) -> Any:
    from privatetrade.data.symbols import Market

    try:
        return Market(name)
    except ValueError:
        return Market.OTHER
