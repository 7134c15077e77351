"""Where the built-in alerting reads its figures: the same sources as ``/metrics``.

Request shares come from the request counters (all server processes with
``PROMETHEUS_MULTIPROC_DIR``), the queue from the jobs table, the workers from this
process's executor, disk and memory from the machine. A source that fails (the
database unreachable) gives None for its figures, which leaves those alerts as they are.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import psutil
import structlog

from privatetrade.domain.alert_thresholds import AlertThresholds
from privatetrade.domain.jobs import JobState
from privatetrade.domain.users import Role, User
from privatetrade.observability.alert_delivery import AdminNotifier, Notifications
from privatetrade.observability.alerting import AlertChecker, Readings, RequestRates
from privatetrade.observability.metrics import RequestTotals, queue_age_seconds

__all__ = ["ServiceReadings", "admin_ids", "build_alert_checker"]

log = structlog.get_logger("privatetrade.alerting")


class _Jobs(Protocol):
    def counts_by_state(self) -> dict[JobState, int]: ...
    def oldest_queued_at(self) -> dt.datetime | None: ...


class _ExecutorState(Protocol):
    @property
    def healthy(self) -> bool: ...
    @property
    def workers(self) -> int: ...


class ServiceReadings:
    """Takes the readings of one check (call it with the check's epoch time).

    Args:
        request_totals: The cumulative request counters (``ServiceMetrics.request_totals``).
        jobs: The jobs table (counts by state, the oldest queued job).
        executor_state: This process's executor.
        data_dir: The data directory (its file system's free space).
        window_seconds: The span of the 5xx and 404 shares.
    """

    def __init__(
        self,
        request_totals: Callable[[], RequestTotals],
        jobs: _Jobs,
        executor_state: Callable[[], _ExecutorState],
        data_dir: Path,
        window_seconds: float,
    ) -> None:
        self.request_totals = request_totals
        self.jobs = jobs
        self.executor_state = executor_state
        self.data_dir = data_dir
        self.rates = RequestRates(window_seconds)

    def __call__(self, now: float) -> Readings:
        """The figures now."""
        totals = self.request_totals()
        self.rates.add(now, totals.requests, totals.server_errors, totals.not_found)
        requests, server_error_ratio, not_found_ratio = self.rates.readings()
        queue_depth, oldest = self._queue(now)
        return Readings(
            requests=requests,
            server_error_ratio=server_error_ratio,
            not_found_ratio=not_found_ratio,
            queue_depth=queue_depth,
            oldest_queued_seconds=oldest,
            workers=self._workers(),
            disk_free_ratio=self._disk_free(),
            memory_available_ratio=_memory_available(),
        )

    def _queue(self, now: float) -> tuple[float | None, float | None]:
        try:
            depth = self.jobs.counts_by_state()[JobState.QUEUED]
            oldest = self.jobs.oldest_queued_at()
        except Exception as exc:
            log.warning("alert.reading_failed", reading="queue", error=str(exc))
            return None, None
        return float(depth), queue_age_seconds(oldest, dt.datetime.fromtimestamp(now, dt.UTC))

    def _workers(self) -> float | None:
        try:
            state = self.executor_state()
        except Exception as exc:
            log.warning("alert.reading_failed", reading="workers", error=str(exc))
            return None
        return float(state.workers if state.healthy else 0)

    def _disk_free(self) -> float | None:
        try:
            usage = shutil.disk_usage(self.data_dir)
        except OSError as exc:
            log.warning("alert.reading_failed", reading="disk", error=str(exc))
            return None
        return usage.free / usage.total if usage.total else None


def _memory_available() -> float | None:
    memory = psutil.virtual_memory()
    return memory.available / memory.total if memory.total else None


class _Users(Protocol):
    def all(self) -> Iterable[User]: ...


def admin_ids(users: _Users) -> Callable[[], list[str]]:
    """The enabled administrators' user ids, read at each call."""

    def ids() -> list[str]:
        return [u.id for u in users.all() if u.role is Role.ADMIN and not u.disabled]

    return ids


def build_alert_checker(
    enabled: bool,
    thresholds: AlertThresholds,
    *,
    interval: float,
    data_dir: Path,
    request_totals: Callable[[], RequestTotals],
    jobs: _Jobs,
    executor_state: Callable[[], _ExecutorState],
    users: _Users,
    notifications: Notifications,
    event: Any,
) -> AlertChecker | None:
    """The server's built-in alerting (None unless ``enabled``: settings ``alerting``).

    Args:
        enabled: Settings ``alerting``.
        thresholds: Settings ``alert_thresholds``.
        interval: Settings ``alert_check_seconds``.
        data_dir: The data directory (disk figures; the checker's lock and state file).
        request_totals: The request counters (``ServiceMetrics.request_totals``).
        jobs: The jobs table.
        executor_state: The executor's state.
        users: The users (the enabled administrators are notified).
        notifications: The notification service.
        event: The notification event of alerts (``NotificationEvent.ALERT``).
    """
    if not enabled:
        return None
    read = ServiceReadings(
        request_totals, jobs, executor_state, data_dir, thresholds.window_seconds
    )
    notify = AdminNotifier(admin_ids(users), notifications, event, socket.gethostname())
    return AlertChecker(read, notify, thresholds, interval=interval, state_dir=data_dir)
