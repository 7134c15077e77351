"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import structlog
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from privatetrade import __version__
from privatetrade.jobs.lifeline import exit_with_spawning_parent
from privatetrade.observability.windows import WarningCounter
from privatetrade.settings import Settings
from privatetrade.system import System, build_system
from privatetrade.web.api import (
    accounts,
    analysis,
    backtests,
    data,
    data_imports,
    data_updates,
    health,
    jobs,
    notifications,
    portfolios,
    research,
    results,
    rules,
    scans,
    status,
    strategies,
    symbols,
)
from privatetrade.web.auth import require_user
from privatetrade.web.context import attach_system
from privatetrade.web.docs import install_docs
from privatetrade.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from privatetrade.web.problems import install_problem_handlers, problem_responses
from privatetrade.web.security import SecuredFastAPI
from privatetrade.web.ui import accounts as ui_accounts
from privatetrade.web.ui import assets as ui_assets
from privatetrade.web.ui import data_pages as ui_data_pages
from privatetrade.web.ui import errors as ui_errors
from privatetrade.web.ui import favicon as ui_favicon
from privatetrade.web.ui import notification_pages as ui_notification_pages
from privatetrade.web.ui import pages as ui_pages
from privatetrade.web.ui import portfolio_pages as ui_portfolio_pages
from privatetrade.web.ui import research_pages as ui_research_pages
from privatetrade.web.ui import rule_pages as ui_rule_pages

__all__ = ["create_app"]

log = structlog.get_logger("privatetrade.server")
_STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, *, migrate_on_start: bool = True) -> FastAPI:
    """Create the app: database migrated, workers warmed, dispatcher running on start."""
    settings = settings or Settings()
    services = build_system(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(_start, services, migrate_on_start)
        # Everything loaded so far lives as long as the process: keep it out of the
        # garbage collector's full passes (they took 50-200 ms with numba and pandas loaded).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(_stop, services)

    # Security headers outermost; Swagger UI and ReDoc served from the installed
    # fastapi_offline package (no CDN) under a strict CSP (web/docs.py).
    app = SecuredFastAPI(
        title="privatetrade",
        docs_url=None,
        redoc_url=None,
        version=__version__,
        description="Self-hosted stock backtesting: submit backtests, follow them, "
        "download their results.",
        lifespan=lifespan,
        responses=problem_responses({500: "Internal error; the server log has the details"}),
    )
    attach_system(app, services)
    data.attach_coverage(app, services)
    install_problem_handlers(app)
    ui_errors.install_page_error_handlers(app)
    app.include_router(health.router)
    # Everything else needs a signed-in user (session cookie or Bearer token).
    signed_in = [Depends(require_user)]
    unauthorized = problem_responses({401: "Not signed in (no or an invalid token/session)"})
    for module in (
        symbols,
        strategies,
        backtests,
        results,
        analysis,
        jobs,
        research,
        scans,
        portfolios,
        rules,
        data,
        data_imports,
        data_updates,
    ):
        app.include_router(module.router, dependencies=signed_in, responses=unauthorized)
    app.include_router(accounts.router)
    app.include_router(notifications.router)
    app.include_router(status.router)
    app.include_router(ui_accounts.router)
    app.include_router(ui_notification_pages.router)
    app.include_router(ui_pages.router)
    app.include_router(ui_research_pages.router)
    app.include_router(ui_portfolio_pages.router)
    app.include_router(ui_rule_pages.router)
    app.include_router(ui_data_pages.router)
    app.include_router(ui_assets.router)
    app.include_router(ui_favicon.router)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits=dict.fromkeys(data_imports.IMPORT_PATHS, data_imports.UPLOAD_BODY_BYTES),
    )
    app.add_middleware(RequestContextMiddleware, metrics=services.metrics)
    return app


def _start(system: System, migrate_on_start: bool) -> None:
    exit_with_spawning_parent()  # one of several server processes: end with the supervisor
    logging.getLogger().addHandler(WarningCounter(system.metrics.windows))
    system.start(migrate=migrate_on_start)


def _stop(system: System) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, WarningCounter)]:
        root.removeHandler(handler)
    system.stop()


def create_app_from_env() -> FastAPI:
    """App factory for uvicorn's ``--factory``: settings from the environment."""
    from privatetrade.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings, migrate_on_start=False)
