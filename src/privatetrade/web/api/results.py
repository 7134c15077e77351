"""Result downloads: ``GET /api/backtest/result/{id}`` (the seed's path) and CSV exports."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from privatetrade import __version__
from privatetrade.db.jobs import OpenArtifact, StoredArtifact
from privatetrade.domain.jobs import Job
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import ConflictError, DataError, InputError, NotFoundError
from privatetrade.plans.result_analysis import analyse_result
from privatetrade.system import System
from privatetrade.web.api.downloads import attachment, download_responses, streamed_attachment
from privatetrade.web.api.symbols import bars_out
from privatetrade.web.deps import Owner, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.report import render_report
from privatetrade.web.ui.i18n import preferences

router = APIRouter(tags=["results"], responses=problem_responses(UNAVAILABLE))

_ERRORS = problem_responses(
    {404: "No such backtest", 409: "The backtest has not succeeded (yet)", **INVALID}
)
_DOCUMENT_PREFIX = b'{"schema_version":'
_HEAD_BYTES = 256


def finished_artifact(services: System, owner: str, job_id: str, name: str) -> StoredArtifact:
    """Return the named artifact of the caller's succeeded backtest (404 / 409 otherwise)."""
    opened = _opened(services, owner, job_id, name)
    with opened.stream:
        return StoredArtifact(opened.job, opened.info, opened.stream.read())


def _opened(services: System, owner: str, job_id: str, name: str) -> OpenArtifact:
    """The named artifact of the caller's succeeded backtest, open (404 / 409 otherwise).

    Only backtests: another kind's job (a portfolio's ``result.json`` is no backtest
    document) is not found here; its artifacts are at ``/api/jobs/{id}/artifacts``.
    """
    job = services.submissions.get(job_id, owner)
    if job is None or job.kind != JobKind.BACKTEST:
        raise ProblemError(404, f"no backtest with id {job_id!r}")
    try:
        return services.results.open_artifact(job_id, name, owner)
    except NotFoundError:
        raise ProblemError(404, f"no backtest with id {job_id!r}") from None
    except ConflictError as exc:
        raise ProblemError(
            409,
            f"the backtest is {exc.state}; its result exists once it has succeeded",
            state=exc.state,
        ) from None


def _filename(job: Job, extension: str) -> str:
    spec = job.spec
    label = f"{spec.symbol}-{spec.strategy}" if isinstance(spec, BacktestSpec) else job.kind.value
    return f"privatetrade-{label}-{job.id[:8]}{extension}"


def run_metadata(job: Job) -> dict[str, object]:
    """The ``run`` section of the result document."""
    return {
        "id": job.id,
        "owner": job.owner,
        "status": job.state.value,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "duration_seconds": job.duration_seconds,
        "attempt": job.attempt,
        "app_version": __version__,
        "request": job.spec.model_dump(mode="json"),
    }


def _with_run(stored: StoredArtifact) -> bytes:
    """Insert the run metadata after ``schema_version`` without re-parsing the document."""
    document = stored.content
    run = json.dumps(run_metadata(stored.job), ensure_ascii=False, separators=(",", ":"))
    end = document.find(b",", len(_DOCUMENT_PREFIX))
    if not document.startswith(_DOCUMENT_PREFIX) or end < 0:
        parsed = json.loads(document)
        merged = {"schema_version": parsed.pop("schema_version", None), "run": None, **parsed}
        merged["run"] = json.loads(run)
        return json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode()
    return document[: end + 1] + b'"run":' + run.encode() + b"," + document[end + 1 :]


@router.get(
    "/api/backtest/result/{job_id}",
    response_class=Response,
    responses=download_responses(_ERRORS, "application/json"),
)
def download_result(job_id: str, services: SystemDep, owner: Owner) -> Response:
    """Download the full result document (JSON attachment) of a succeeded backtest."""
    opened = _opened(services, owner, job_id, "result.json")
    head = opened.stream.read(_HEAD_BYTES)
    end = head.find(b",", len(_DOCUMENT_PREFIX))
    if not head.startswith(_DOCUMENT_PREFIX) or end < 0:  # not as the engine writes it
        with opened.stream:
            content = head + opened.stream.read()
        stored = StoredArtifact(opened.job, opened.info, content)
        return attachment(
            _with_run(stored),
            media_type="application/json",
            filename=_filename(stored.job, ".json"),
            etag=stored.info.sha256,
        )
    run = json.dumps(run_metadata(opened.job), ensure_ascii=False, separators=(",", ":"))
    opened.stream.seek(end + 1)
    return streamed_attachment(
        opened.stream,
        opened.info.size - (end + 1),
        media_type="application/json",
        filename=_filename(opened.job, ".json"),
        etag=opened.info.sha256,
        prefix=head[: end + 1] + b'"run":' + run.encode() + b",",
    )


_CSV = download_responses(_ERRORS, "text/csv")


def _csv(services: SystemDep, owner: str, job_id: str, name: str) -> Response:
    opened = _opened(services, owner, job_id, name)
    return streamed_attachment(
        opened.stream,
        opened.info.size,
        media_type="text/csv; charset=utf-8",
        filename=_filename(opened.job, f"-{name}"),
    )


@router.get("/api/backtests/{job_id}/trades.csv", response_class=Response, responses=_CSV)
def download_trades_csv(job_id: str, services: SystemDep, owner: Owner) -> Response:
    """Download the trades of a succeeded backtest as CSV."""
    return _csv(services, owner, job_id, "trades.csv")


@router.get("/api/backtests/{job_id}/equity.csv", response_class=Response, responses=_CSV)
def download_equity_csv(job_id: str, services: SystemDep, owner: Owner) -> Response:
    """Download the equity series (equity, cash, position, drawdown) as CSV."""
    return _csv(services, owner, job_id, "equity.csv")


def _report_bars(services: System, job: Job) -> dict[str, object] | None:
    from privatetrade.domain.specs import BacktestSpec
    from privatetrade.plans.backtest import price_series

    spec = job.spec
    if not isinstance(spec, BacktestSpec):
        return None
    try:
        symbol = services.market_data.symbol(spec.symbol)
        series = price_series(services.market_data, symbol, spec)
        if series is None:
            return None
        frame = services.market_data.bars(
            symbol.code, spec.start, spec.end, adjusted=series.adjusted
        )
    except (InputError, DataError):
        return None  # the symbol's data was removed since: chart the closes in the result
    return bars_out(symbol, frame, adjusted=series.adjusted).model_dump()


@router.get(
    "/api/backtests/{job_id}/report.html",
    response_class=Response,
    responses=download_responses(_ERRORS, "text/html"),
)
def download_report(job_id: str, request: Request, services: SystemDep, owner: Owner) -> Response:
    """Download a self-contained HTML report that opens offline.

    Metrics, the run's settings, charts (with the strategy's indicators and the trades'
    levels), yearly returns, drawdown periods and the trades.
    """
    stored = finished_artifact(services, owner, job_id, "result.json")
    job = stored.job
    code = job.spec.symbol if isinstance(job.spec, BacktestSpec) else job.kind.value
    try:
        symbol = services.market_data.symbol(code)
        name, currency = symbol.name, symbol.currency
    except InputError:
        name, currency = code, "USD"
    analysis = None
    if isinstance(job.spec, BacktestSpec):
        parsed = json.loads(stored.content)
        analysis = analyse_result(job.spec, parsed, services.market_data).to_dict()
    report = render_report(
        job=job,
        document=_with_run(stored),
        bars=_report_bars(services, job),
        analysis=analysis,
        symbol_name=name,
        currency=currency,
        prefs=preferences(request),
    )
    return attachment(
        report.html,
        media_type="text/html; charset=utf-8",
        filename=_filename(job, "-report.html"),
        headers={"Content-Security-Policy": report.content_security_policy},
    )
