"""``/api/sweeps`` and ``/api/walkforwards``: parameter optimization and walk-forward analysis.

Both are jobs: submit here (202, ``Location: /api/jobs/{id}``), follow at
``/api/jobs/{id}`` and ``/events`` (progress = finished combinations; the summary
carries the best combination so far), cancel at ``/api/jobs/{id}/cancel``, download
``result.json``, ``table.csv``/``table.parquet`` (sweeps) or ``windows.csv`` and
``equity.csv`` (walk-forwards) at ``/api/jobs/{id}/artifacts/{name}``. A sweep's
heatmap of two parameters and the full backtest of any combination are here too.
"""

from __future__ import annotations

import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.research import SweepSpec, WalkForwardSpec
from privatetrade.domain.specs import ParamName, ParamValue
from privatetrade.engine.columns import SweepMetric
from privatetrade.errors import ConflictError, InputError, NotFoundError
from privatetrade.web.api.jobs import JobId
from privatetrade.web.api.rules import resolve_saved_rules
from privatetrade.web.auth import CurrentUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.schemas import JobList, JobOut

router = APIRouter(tags=["research"], responses=problem_responses(UNAVAILABLE))

_SUBMIT_ERRORS = problem_responses(
    {
        400: "The body cannot be read (not UTF-8)",
        413: "Request body too large",
        **INVALID,
        429: "Too many active jobs; retry later",
    }
)
_JOB_ERRORS = problem_responses(
    {404: "No such job (of this kind)", 409: "The job has not succeeded", **INVALID}
)


class SweepCreate(SweepSpec):
    """An optimization to run: a backtest's fields plus the search.

    Only ``symbol`` is required: without ``space`` the strategy's default grid is searched.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "symbol": "DEMO01",
                    "strategy": "sma_cross",
                    "space": {
                        "fast": {"start": 5, "stop": 50, "step": 1},
                        "slow": {"start": 20, "stop": 200, "step": 5},
                    },
                    "objective": "sharpe",
                },
                {"symbol": "AAPL", "strategy": "rsi_reversion", "method": "tpe", "samples": 200},
            ]
        },
    )


class WalkForwardCreate(WalkForwardSpec):
    """A walk-forward to run: an optimization plus its windows (``24m``, ``6m``, ``500b``)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "symbol": "DEMO01",
                    "strategy": "sma_cross",
                    "space": {"fast": [5, 10, 20], "slow": [30, 60, 120]},
                    "in_sample": "24m",
                    "out_of_sample": "6m",
                }
            ]
        },
    )


def _submit(
    services: SystemDep,
    user: CurrentUser,
    spec: SweepSpec,
    kind: JobKind,
    response: Response,
    idempotency_key: str | None,
) -> JobOut:
    spec = resolve_saved_rules(spec, services, user.id)
    submission = services.jobs.submit(
        user.id,
        spec,
        kind=kind,
        idempotency_key=idempotency_key,
        max_combinations=services.settings.combination_limit(user.username),
    )
    job = submission.job
    response.headers["Location"] = f"/api/jobs/{job.id}"
    if not submission.created:
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, services.submissions.clock())


@router.post(
    "/api/sweeps",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=_SUBMIT_ERRORS,
)
def submit_sweep(
    body: SweepCreate,
    response: Response,
    services: SystemDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue an optimization; answer 202 with the job (follow it at ``/api/jobs/{id}``).

    Checked first, like a backtest (symbol, dates, costs, fixed ``params``), then the
    search: every value of ``space`` within the parameter's bounds (422 naming
    ``space.<name>``), at least one valid combination, and the number of
    combinations within your limit (422 naming ``space``, or ``samples`` for random
    and tpe, with the limit in the message).
    """
    spec = SweepSpec.model_validate(body.model_dump())
    return _submit(services, user, spec, JobKind.SWEEP, response, idempotency_key)


@router.post(
    "/api/walkforwards",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=_SUBMIT_ERRORS,
)
def submit_walk_forward(
    body: WalkForwardCreate,
    response: Response,
    services: SystemDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue a walk-forward analysis; answer 202 with the job.

    Checked as an optimization, plus the windows: at least one in-sample and
    out-of-sample window must fit the data (422 naming ``in_sample``); the limit
    counts the combinations of every window together.
    """
    spec = WalkForwardSpec.model_validate(body.model_dump())
    return _submit(services, user, spec, JobKind.WALKFORWARD, response, idempotency_key)


def _list(
    services: SystemDep,
    user: CurrentUser,
    kind: JobKind,
    symbol: str | None,
    state: list[JobState] | None,
    offset: int,
    limit: int,
) -> JobList:
    page = services.submissions.page(
        user.id,
        symbol=symbol,
        states=state or (),
        kinds=(kind,),
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


@router.get("/api/sweeps", response_model=JobList, responses=problem_responses(INVALID))
def list_sweeps(
    services: SystemDep,
    user: CurrentUser,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """List your optimizations, newest first."""
    return _list(services, user, JobKind.SWEEP, symbol, state, offset, limit)


@router.get("/api/walkforwards", response_model=JobList, responses=problem_responses(INVALID))
def list_walk_forwards(
    services: SystemDep,
    user: CurrentUser,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """List your walk-forward analyses, newest first."""
    return _list(services, user, JobKind.WALKFORWARD, symbol, state, offset, limit)


def _owned_sweep(services: SystemDep, user: CurrentUser, job_id: str) -> Job:
    job = services.submissions.get(job_id, None if user.is_admin else user.id)
    if job is None or job.kind != JobKind.SWEEP:
        raise ProblemError(404, f"no optimization with id {job_id!r}")
    return job


def _artifact(services: SystemDep, job: Job, name: str) -> bytes:
    try:
        return services.results.artifact(job.id, name, job.owner).content
    except NotFoundError as exc:
        raise ProblemError(404, str(exc)) from None
    except ConflictError as exc:
        raise ProblemError(409, str(exc), state=exc.state) from None


class Heatmap(BaseModel):
    """A metric over two searched parameters (rows: ``y`` values; columns: ``x`` values)."""

    x: str
    y: str
    metric: str
    mode: Literal["best", "mean", "max"]
    x_values: list[Any]
    y_values: list[Any]
    z: list[list[float | None]]
    fixed: dict[str, Any]


MetricName = SweepMetric


@router.get("/api/sweeps/{job_id}/heatmap", response_model=Heatmap, responses=_JOB_ERRORS)
def sweep_heatmap(
    job_id: JobId,
    services: SystemDep,
    user: CurrentUser,
    x: Annotated[str | None, Query(max_length=64)] = None,
    y: Annotated[str | None, Query(max_length=64)] = None,
    metric: MetricName | None = None,
    mode: Literal["best", "mean", "max"] = "best",
) -> Heatmap:
    """A metric (the objective by default) over parameters ``x`` and ``y``.

    ``x`` and ``y`` default to the first and second searched parameters (a sweep of one
    parameter has no heatmap: 422 naming ``y``).

    ``best``: the other searched parameters fixed at the best combination's values;
    ``mean``/``max``: averaged over them / their best. Only eligible combinations count.
    """
    import pandas as pd

    from privatetrade.research.documents import heatmap

    job = _owned_sweep(services, user, job_id)
    document = json.loads(_artifact(services, job, "result.json"))
    frame = pd.read_parquet(io.BytesIO(_artifact(services, job, "table.parquet")))
    names = list(document["space"]["axes"])
    x = x or names[0]
    y = y or next((name for name in names if name != x), x)
    best = document.get("best")
    try:
        values = heatmap(
            frame,
            names,
            x,
            y,
            metric or document["objective"],
            mode=mode,
            best_params=None if best is None else best["params"],
        )
    except InputError as exc:
        raise ProblemError(422, str(exc), field=exc.field) from None
    return Heatmap.model_validate(values)


class CombinationChoice(BaseModel):
    """Which combination of an optimization to backtest in full: a rank or parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank: Annotated[int, Field(ge=1, le=200)] | None = Field(
        None, description="Rank in the result's top table (1 = the best)"
    )
    params: dict[ParamName, ParamValue] | None = Field(
        None, max_length=32, description="Searched parameters of the combination"
    )


@router.post(
    "/api/sweeps/{job_id}/backtests",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={**_JOB_ERRORS, **_SUBMIT_ERRORS},
)
def backtest_combination(
    job_id: JobId,
    response: Response,
    services: SystemDep,
    user: CurrentUser,
    body: CombinationChoice | None = None,
) -> JobOut:
    """Submit the full backtest of one combination: by rank, by its parameters, or the best.

    Without a body, the best combination (rank 1). The backtest uses the optimization's
    symbol, dates and settings; it is a normal backtest job (``/api/backtests/{id}``,
    result at ``/api/backtest/result/{id}``).
    """
    job = _owned_sweep(services, user, job_id)
    spec = job.spec
    assert isinstance(spec, SweepSpec)
    params = _chosen_params(services, job, body or CombinationChoice(rank=1))
    submission = services.jobs.submit(user.id, spec.backtest_spec(params))
    created = submission.job
    response.headers["Location"] = f"/api/backtests/{created.id}"
    return JobOut.of(created, services.submissions.clock())


def _chosen_params(services: SystemDep, job: Job, body: CombinationChoice) -> dict[str, Any]:
    if (body.rank is None) == (body.params is None):
        raise ProblemError(422, "give either rank or params", field="rank")
    if body.params is not None:
        return dict(body.params)
    document = json.loads(_artifact(services, job, "result.json"))
    top = document.get("top") or []
    if body.rank is None or body.rank > len(top):
        raise ProblemError(
            422, f"rank {body.rank} is beyond the {len(top)} combinations kept", field="rank"
        )
    params: dict[str, Any] = top[body.rank - 1]["params"]
    return params
