"""API schemas: what the JSON API accepts and returns (separate from domain and rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.kinds import JobKind

__all__ = [
    "BarsOut",
    "ExecutorOut",
    "HealthOut",
    "JobList",
    "JobOut",
    "Problem",
    "StrategyOut",
    "SymbolOut",
]


class Problem(BaseModel):
    """An error, as RFC 9457 problem details.

    ``detail`` is an English sentence; ``code`` names the kind of error for programs
    (stable across releases) and ``params`` holds the values the detail mentions.
    """

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str = Field(
        description="The kind of error, e.g. invalid_input, greater_than_equal, too_many_bars"
    )
    params: dict[str, str | int | float] | None = Field(
        default=None, description="The values the detail mentions, by name"
    )
    field: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Each invalid field: field, message, code and params"
    )
    state: str | None = None
    request_id: str | None = None


class ExecutorOut(BaseModel):
    """The executor's state."""

    kind: str
    healthy: bool
    workers: int
    busy: int
    detail: str


class HealthOut(BaseModel):
    """Health of the service."""

    status: Literal["ok", "degraded", "unavailable"]
    version: str
    database: Literal["ok", "unreachable"]
    database_backend: str
    executor: ExecutorOut
    uptime_seconds: float


class SymbolOut(BaseModel):
    """A symbol of the catalog."""

    code: str
    name: str
    name_en: str | None
    market: str
    currency: str
    lot_size: int
    status: str
    source: str
    synthetic: bool
    first_bar: dt.date | None
    last_bar: dt.date | None
    bar_count: int
    adjusted: list[str]
    kind: Literal["stock", "index"] = Field(
        "stock", description="``index``: index points, a benchmark only (not tradable)"
    )
    default_benchmark: str | None = Field(
        None,
        description="The stored index of the stock's market, offered as the benchmark "
        "(KOSPI, KOSDAQ, SPX, or the synthetic DEMOIDX); null for an index or when none "
        "is stored",
    )


class BarsOut(BaseModel):
    """Bars of one symbol, as columns."""

    code: str
    adjusted: bool
    timezone: str
    time: list[str]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]


class StrategyOut(BaseModel):
    """A registered strategy with its parameters' JSON Schema."""

    name: str
    title: str
    description: str
    parameters_schema: dict[str, Any]
    defaults: dict[str, Any]


class JobOut(BaseModel):
    """A job (a backtest, or another kind) as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    kind: str = Field(
        "backtest",
        description="``backtest``, ``data_update``, ``sweep``, ``walkforward``, ``scan`` or "
        "``portfolio``",
    )
    state: JobState
    progress: float = Field(ge=0.0, le=1.0)
    stage: str
    seconds_left: float | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    attempt: int
    cancel_requested: bool
    error: str | None
    reason: str | None
    worker: str | None
    spec: dict[str, Any]
    summary: dict[str, Any] | None = Field(
        description="Key figures once succeeded; while a sweep or walk-forward runs, "
        "{done, total, best}: combinations finished and the best so far; while a scan "
        "runs, {done, total, failed, best}: symbols finished and the best so far"
    )
    links: dict[str, str]

    @classmethod
    def of(cls, job: Job, now: dt.datetime) -> JobOut:
        """Map a domain job to its API shape."""
        return cls(
            id=job.id,
            owner=job.owner,
            kind=job.kind.value,
            state=job.state,
            progress=job.progress,
            stage=job.stage,
            seconds_left=job.seconds_left(now),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            duration_seconds=job.duration_seconds,
            attempt=job.attempt,
            cancel_requested=job.cancel_requested,
            error=job.error,
            reason=job.reason.value if job.reason else None,
            worker=job.worker,
            spec=job.spec.model_dump(mode="json"),
            summary=job.summary,
            links=_links(job.id) if job.kind == JobKind.BACKTEST else _job_links(job.id),
        )


def _job_links(job_id: str) -> dict[str, str]:
    """Where any kind of job is followed and its results are listed."""
    return {
        "self": f"/api/jobs/{job_id}",
        "events": f"/api/jobs/{job_id}/events",
        "cancel": f"/api/jobs/{job_id}/cancel",
        "artifacts": f"/api/jobs/{job_id}/artifacts",
    }


def _links(job_id: str) -> dict[str, str]:
    return {
        "self": f"/api/backtests/{job_id}",
        "events": f"/api/backtests/{job_id}/events",
        "result": f"/api/backtest/result/{job_id}",
        "trades_csv": f"/api/backtests/{job_id}/trades.csv",
        "equity_csv": f"/api/backtests/{job_id}/equity.csv",
    }


class JobList(BaseModel):
    """One page of jobs."""

    items: list[JobOut]
    total: int
    offset: int
    limit: int
