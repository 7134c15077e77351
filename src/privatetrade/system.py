"""The system: every long-lived component, built from Settings in one place.

``privatetrade serve`` (through the web app's lifespan) and the CLI commands build the
same :class:`System`; the web layer receives it once (``create_app``) and hands its
parts to routes through typed dependencies. Building is cheap and starts nothing:
:meth:`System.start` migrates, installs the sample data, starts the workers and the
dispatcher; :meth:`System.stop` undoes that.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine, text

from privatetrade import __version__
from privatetrade.accounts.keys import resolve_secret_key
from privatetrade.accounts.service import AccountService, LoginPolicy
from privatetrade.data.market_data import MarketData
from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.engine import create_db_engine
from privatetrade.db.jobs import JobQueue, JobResults, JobSubmissions
from privatetrade.db.notifications import NotificationStore
from privatetrade.db.rule_strategies import RuleStrategyRepository
from privatetrade.db.users import UserRepository
from privatetrade.domain.data_updates import ScheduledUpdateStatus
from privatetrade.domain.jobs import Job
from privatetrade.domain.notifications import NotificationEvent
from privatetrade.jobs.dispatcher import Dispatcher
from privatetrade.jobs.events import JobEvents
from privatetrade.jobs.executors import Executor, create_executor
from privatetrade.jobs.kinds import KindContext
from privatetrade.jobs.scheduled_updates import ScheduledUpdates, scheduled_update_status
from privatetrade.jobs.service import JobService
from privatetrade.notifications import (
    DeliverySettings,
    NotificationDispatcher,
    NotificationService,
)
from privatetrade.notifications.sealing import Sealer
from privatetrade.notifications.senders import SmtpServer
from privatetrade.observability.alert_sources import build_alert_checker
from privatetrade.observability.alerting import AlertChecker
from privatetrade.observability.metrics import ServiceMetrics
from privatetrade.observability.notifications import NotificationMetrics
from privatetrade.observability.status import CpuSampler, StatusSources, status_report
from privatetrade.settings import Settings

__all__ = ["System", "build_system"]

_DATABASE_CHECK_INTERVAL_S = 0.5
log = structlog.get_logger("privatetrade.server")


@dataclass
class System:
    """Everything a server process (or a CLI command) works with."""

    settings: Settings
    engine: Engine
    submissions: JobSubmissions
    queue: JobQueue
    results: JobResults
    files: ArtifactFiles
    market_data: MarketData
    jobs: JobService
    executor: Executor
    dispatcher: Dispatcher
    metrics: ServiceMetrics
    events: JobEvents
    accounts: AccountService
    rule_strategies: RuleStrategyRepository
    scheduled_updates: ScheduledUpdates | None = None
    notifications: NotificationService | None = None
    notifier: NotificationDispatcher | None = None
    alerting: AlertChecker | None = None
    cpu: CpuSampler = field(default_factory=CpuSampler)
    started_monotonic: float = field(default_factory=time.monotonic)
    _database_checked: tuple[float, bool] = (float("-inf"), False)

    def start(self, *, migrate: bool = True) -> None:
        """Migrate the database, create the admin, install samples, start the workers."""
        from privatetrade.db import migrate as migrations

        if migrate:
            migrations.upgrade(self.engine)
        admin = self.accounts.bootstrap(self.settings.admin_password_text())
        if admin is not None:
            log.info("accounts.admin_created", user_id=admin.id)
        self.market_data.ensure_samples()
        self.executor.start()
        self.dispatcher.start()
        if self.notifier is not None:
            self.notifier.start()
        self._start_scheduled_updates()
        if self.alerting is not None:
            self.alerting.start()
        state = self.executor.state()
        log.info(
            "server.started",
            version=__version__,
            database=self.engine.dialect.name,
            executor=state.kind,
            workers=state.workers,
        )

    def _start_scheduled_updates(self) -> None:
        settings = self.settings
        if settings.data_provider:
            _check_provider(settings.data_provider)
        if self.scheduled_updates is not None:
            self.scheduled_updates.start()
            log.info(
                "data_update.schedule_started",
                provider=settings.data_provider,
                delay_minutes=settings.update_delay_minutes,
            )
        elif settings.scheduled_updates:
            log.warning(
                "data_update.schedule_off",
                reason="scheduled updates need a data provider: set PRIVATETRADE_DATA_PROVIDER",
            )

    def stop(self) -> None:
        """Stop the schedule, the dispatcher and the workers (running jobs go back to the queue)."""
        if self.scheduled_updates is not None:
            self.scheduled_updates.stop()
        if self.alerting is not None:
            self.alerting.stop()
        self.dispatcher.stop()
        if self.notifier is not None:
            self.notifier.stop()
        self.engine.dispose()
        log.info("server.stopped")

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
        """The status report (see :func:`privatetrade.observability.status.status_report`)."""
        return status_report(
            StatusSources(
                data_dir=self.settings.data_dir,
                database=self.engine.dialect.name,
                uptime_seconds=self.uptime(),
                job_counts=self.submissions.counts_by_state,
                executor_state=self.executor.state,
                windows=self.metrics.windows,
                cpu=self.cpu,
                data_updates=self.data_update_status,
            )
        )

    def data_update_status(self) -> list[ScheduledUpdateStatus]:
        """The scheduled data updates: next run and last outcome, per market."""
        return _scheduled_status(self.settings, self.submissions)()

    def uptime(self) -> float:
        """Seconds since this process started serving."""
        return time.monotonic() - self.started_monotonic


def build_system(settings: Settings) -> System:
    """Create every component from the settings (nothing is started)."""
    url = settings.resolved_database_url
    engine = create_db_engine(
        url, pool_size=settings.db_pool_size, pool_timeout=settings.db_pool_timeout
    )
    files = ArtifactFiles.in_data_dir(settings.data_dir)
    submissions, queue = JobSubmissions(engine), JobQueue(engine)
    market_data = MarketData(settings.data_dir)
    executor = create_executor(
        settings.executor,
        workers=settings.workers,
        database_url=url,
        data_dir=str(settings.data_dir),
        scheduler=settings.dask_scheduler,
    )
    dispatcher = Dispatcher(
        queue,
        executor,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        max_running_per_owner=settings.max_running_jobs,
        time_limit=settings.time_limit,
    )
    jobs = JobService(
        submissions,
        files,
        KindContext(
            market_data,
            max_bars=settings.max_bars,
            data_provider=settings.data_provider,
            max_symbols=settings.max_universe_symbols,
        ),
        max_active_jobs=settings.max_active_jobs,
        on_submitted=dispatcher.wake,
    )
    metrics = ServiceMetrics(
        submissions,
        settings.data_dir,
        data_updates=_scheduled_status(settings, submissions),
        executor_state=executor.state,
    )
    events = JobEvents()
    notifications, notifier = _notifications(settings, engine, submissions, metrics)
    dispatcher.on_finished = _notify(events, metrics, notifier.wake)
    return System(
        settings=settings,
        engine=engine,
        submissions=submissions,
        queue=queue,
        results=JobResults(engine, files),
        files=files,
        market_data=market_data,
        jobs=jobs,
        executor=executor,
        dispatcher=dispatcher,
        metrics=metrics,
        events=events,
        accounts=account_service(settings, engine),
        rule_strategies=RuleStrategyRepository(engine),
        scheduled_updates=_scheduled_updates(settings, jobs),
        notifications=notifications,
        notifier=notifier,
        alerting=build_alert_checker(
            settings.alerting,
            settings.alert_thresholds,
            interval=settings.alert_check_seconds,
            data_dir=settings.data_dir,
            request_totals=metrics.request_totals,
            jobs=submissions,
            executor_state=executor.state,
            users=UserRepository(engine),
            notifications=notifications,
            event=NotificationEvent.ALERT,
        ),
    )


def _notifications(
    settings: Settings, engine: Engine, submissions: JobSubmissions, metrics: ServiceMetrics
) -> tuple[NotificationService, NotificationDispatcher]:
    """The users' notification channels and the dispatcher that empties the outbox."""
    smtp = None
    if settings.smtp_host:
        password = settings.smtp_password
        smtp = SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=None if password is None else password.get_secret_value(),
            starttls=settings.smtp_starttls,
        )
    key = settings.notification_key
    sealer = Sealer.from_settings(
        None if key is None else key.get_secret_value(),
        resolve_secret_key(settings.secret(), settings.host, settings.data_dir),
    )
    counter = NotificationMetrics(metrics.registry)
    service = NotificationService(
        NotificationStore(engine),
        submissions,
        sealer,
        DeliverySettings(
            base_url=settings.base_url,
            smtp=smtp,
            timeout=settings.notification_timeout_seconds,
            max_attempts=settings.notification_max_attempts,
            retry_seconds=settings.notification_retry_seconds,
            retry_max_seconds=settings.notification_retry_max_seconds,
        ),
        on_outcome=counter.observe,
    )
    notifier = NotificationDispatcher(
        service, start_delay_seconds=settings.notification_start_delay_seconds
    )
    service.on_queued = notifier.wake
    return service, notifier


def _scheduled_updates(settings: Settings, jobs: JobService) -> ScheduledUpdates | None:
    """The daily updates' schedule, when switched on and a provider is configured."""
    if not (settings.scheduled_updates and settings.data_provider):
        return None
    return ScheduledUpdates(
        jobs,
        provider=settings.data_provider,
        delay=dt.timedelta(minutes=settings.update_delay_minutes),
    )


def _scheduled_status(
    settings: Settings, submissions: JobSubmissions
) -> Callable[[], list[ScheduledUpdateStatus]]:
    enabled = bool(settings.scheduled_updates and settings.data_provider)
    delay = dt.timedelta(minutes=settings.update_delay_minutes)

    def status() -> list[ScheduledUpdateStatus]:
        now = dt.datetime.now(dt.UTC)
        return scheduled_update_status(submissions, enabled=enabled, delay=delay, now=now)

    return status


def _check_provider(name: str) -> None:
    """Refuse an unknown provider name at start; warn when its extra is missing."""
    from privatetrade.data.providers.base import provider_for
    from privatetrade.errors import ConfigurationError, InputError, ProviderError

    try:
        provider_for(name)
    except InputError as exc:
        raise ConfigurationError(f"PRIVATETRADE_DATA_PROVIDER: {exc}") from exc
    except ProviderError as exc:
        log.warning("data_update.provider_missing", provider=name, error=str(exc))


def account_service(settings: Settings, engine: Engine) -> AccountService:
    """The account service of the configured database (also for CLI commands)."""
    return AccountService(
        UserRepository(engine),
        resolve_secret_key(settings.secret(), settings.host, settings.data_dir),
        LoginPolicy(
            session_lifetime=dt.timedelta(hours=settings.session_hours),
            free_failures_per_pair=settings.max_failed_logins,
        ),
    )


def _notify(
    events: JobEvents, metrics: ServiceMetrics, wake_notifier: Callable[[], None]
) -> Callable[[Job], None]:
    def on_finished(job: Job) -> None:
        events.notify(job.id)
        metrics.observe_job(job)
        wake_notifier()  # the job's messages are in the outbox already

    return on_finished
