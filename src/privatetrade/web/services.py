"""The objects one server process shares between requests, built from Settings."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from privatetrade.accounts.keys import resolve_secret_key
from privatetrade.accounts.service import AccountService, LoginPolicy
from privatetrade.data.market_data import MarketData
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobRepository
from privatetrade.db.users import UserRepository
from privatetrade.domain.jobs import Job
from privatetrade.jobs.dispatcher import Dispatcher
from privatetrade.jobs.executors import Executor, create_executor
from privatetrade.jobs.service import JobService
from privatetrade.settings import Settings
from privatetrade.web.events import JobEvents
from privatetrade.web.metrics import ServiceMetrics
from privatetrade.web.status import CpuSampler, status_report

__all__ = ["Services", "build_services"]

_DATABASE_CHECK_INTERVAL_S = 0.5


@dataclass
class Services:
    """Everything a request handler may need."""

    settings: Settings
    engine: Engine
    repository: JobRepository
    market_data: MarketData
    jobs: JobService
    executor: Executor
    dispatcher: Dispatcher
    metrics: ServiceMetrics
    events: JobEvents
    accounts: AccountService
    cpu: CpuSampler = field(default_factory=CpuSampler)
    started_monotonic: float = field(default_factory=time.monotonic)
    _database_checked: tuple[float, bool] = (float("-inf"), False)

    def recent_database_check(self) -> bool | None:
        """The last database check if it is fresh, else None (without blocking)."""
        checked_at, ok = self._database_checked
        if time.monotonic() - checked_at < _DATABASE_CHECK_INTERVAL_S:
            return ok
        return None

    def database_ok(self) -> bool:
        """True when the database answered a trivial query (checked at most every 0.5 s)."""
        checked_at, ok = self._database_checked
        now = time.monotonic()
        if now - checked_at < _DATABASE_CHECK_INTERVAL_S:
            return ok
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            ok = True
        except Exception:
            ok = False
        self._database_checked = (now, ok)
        return ok

    def status(self) -> dict[str, Any]:
        """The status report (see :func:`privatetrade.web.status.status_report`)."""
        return status_report(self, self.cpu)

    def uptime(self) -> float:
        """Seconds since this process started serving."""
        return time.monotonic() - self.started_monotonic


def build_services(settings: Settings) -> Services:
    """Create the engine, repository, executor, dispatcher and metrics (not started)."""
    url = settings.resolved_database_url
    engine = create_db_engine(
        url, pool_size=settings.db_pool_size, pool_timeout=settings.db_pool_timeout
    )
    repository = JobRepository(engine)
    market_data = MarketData(settings.data_dir)
    executor = create_executor(
        settings.executor,
        workers=settings.workers,
        database_url=url,
        data_dir=str(settings.data_dir),
        scheduler=settings.dask_scheduler,
    )
    dispatcher = Dispatcher(
        repository,
        executor,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        max_running_per_owner=settings.max_running_jobs,
    )
    jobs = JobService(
        repository,
        market_data,
        max_bars=settings.max_bars,
        max_active_jobs=settings.max_active_jobs,
        on_submitted=dispatcher.wake,
    )
    metrics = ServiceMetrics(repository, settings.data_dir)
    events = JobEvents()

    def on_finished(job: Job) -> None:
        events.notify(job.id)
        metrics.observe_job(job)

    dispatcher.on_finished = on_finished
    accounts = AccountService(
        UserRepository(engine),
        resolve_secret_key(settings.secret(), settings.host, settings.data_dir),
        LoginPolicy(
            session_lifetime=dt.timedelta(hours=settings.session_hours),
            max_failures_per_user=settings.max_failed_logins,
        ),
    )
    return Services(
        settings,
        engine,
        repository,
        market_data,
        jobs,
        executor,
        dispatcher,
        metrics,
        events,
        accounts,
    )
