"""``GET /api/health`` and ``GET /metrics``."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from privatetrade import __version__
from privatetrade.observability.metrics import CONTENT_TYPE_LATEST
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import UNAVAILABLE, problem_responses
from privatetrade.web.schemas import ExecutorOut, HealthOut

router = APIRouter(tags=["operations"])


@router.get(
    "/api/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database is unreachable"}},
)
async def get_health(services: SystemDep) -> JSONResponse:
    """Report whether the service can work: database, executor, version and uptime."""
    # Cheap answers stay on the event loop; anything that may block goes to a thread.
    database_ok = services.recent_database_check()
    if database_ok is None:
        database_ok = await anyio.to_thread.run_sync(services.database_ok)
    if services.settings.executor == "local":
        executor = services.executor.state()
    else:
        executor = await anyio.to_thread.run_sync(services.executor.state)
    status = "ok" if database_ok and executor.healthy else "degraded"
    if not database_ok:
        status = "unavailable"
    body = HealthOut(
        status=status,
        version=__version__,
        database="ok" if database_ok else "unreachable",
        database_backend=services.engine.dialect.name,
        executor=ExecutorOut(
            kind=executor.kind,
            healthy=executor.healthy,
            workers=executor.workers,
            busy=executor.busy,
            detail=executor.detail,
        ),
        uptime_seconds=round(services.uptime(), 3),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if database_ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}},
        **problem_responses(UNAVAILABLE),
    },
)
def get_metrics(services: SystemDep) -> Response:
    """Prometheus metrics of the service."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
