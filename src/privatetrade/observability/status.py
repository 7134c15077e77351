"""The status report: one snapshot of the service for operators (``/api/status``, ``/status``)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

from privatetrade import __version__
from privatetrade.domain.data_updates import ScheduledUpdateStatus
from privatetrade.domain.jobs import JobState
from privatetrade.observability.data_updates import data_update_report
from privatetrade.observability.windows import RequestWindows

__all__ = ["CpuSampler", "StatusSources", "directory_size", "status_report"]


class _ExecutorState(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def workers(self) -> int: ...
    @property
    def busy(self) -> int: ...
    @property
    def detail(self) -> str: ...


@dataclass(frozen=True)
class StatusSources:
    """Where the status report reads its figures from (passed in, never looked up)."""

    data_dir: Path
    database: str
    uptime_seconds: float
    job_counts: Callable[[], Mapping[JobState, int]]
    executor_state: Callable[[], _ExecutorState]
    windows: RequestWindows
    cpu: CpuSampler
    data_updates: Callable[[], Sequence[ScheduledUpdateStatus]] = field(default=lambda: ())


class CpuSampler:
    """CPU use of this server process and its worker processes between two calls."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._last: tuple[float, float] | None = None
        psutil.cpu_percent(interval=None)  # prime the system-wide counter

    def _busy_seconds(self) -> float:
        total = sum(self._process.cpu_times()[:2])
        for child in self._process.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
        return total

    def sample(self) -> dict[str, float | None]:
        """Return CPU % (of one core) of the service and of the whole machine."""
        now, busy = time.monotonic(), self._busy_seconds()
        service = None
        if self._last is not None and now > self._last[0]:
            service = round(100.0 * max(busy - self._last[1], 0.0) / (now - self._last[0]), 1)
        self._last = (now, busy)
        return {
            "service_percent": service,
            "system_percent": psutil.cpu_percent(interval=None),
            "cores": float(psutil.cpu_count() or 1),
        }


def directory_size(path: Path) -> int:
    """Total size in bytes of the files under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


def _memory() -> dict[str, int]:
    process = psutil.Process()
    workers = 0
    for child in process.children(recursive=True):
        try:
            workers += child.memory_info().rss
        except psutil.Error:
            continue
    system = psutil.virtual_memory()
    return {
        "server_rss_bytes": process.memory_info().rss,
        "workers_rss_bytes": workers,
        "system_total_bytes": system.total,
        "system_available_bytes": system.available,
    }


def status_report(sources: StatusSources) -> dict[str, Any]:
    """Collect the figures of the status page."""
    usage = shutil.disk_usage(sources.data_dir)
    counts = sources.job_counts()
    executor = sources.executor_state()
    windows = sources.windows
    return {
        "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "uptime_seconds": round(sources.uptime_seconds, 3),
        "pid": os.getpid(),
        "cpu": sources.cpu.sample(),
        "memory": _memory(),
        "disk": {
            "data_dir": str(sources.data_dir),
            "data_dir_bytes": directory_size(sources.data_dir),
            "filesystem_total_bytes": usage.total,
            "filesystem_free_bytes": usage.free,
        },
        "api": {
            "last_5_minutes": asdict(windows.summary(5)),
            "last_60_minutes": asdict(windows.summary(60)),
        },
        "jobs": {
            "by_state": {state.value: count for state, count in counts.items()},
            "queue_depth": counts.get(JobState.QUEUED, 0),
        },
        "executor": {
            "kind": executor.kind,
            "healthy": executor.healthy,
            "workers": executor.workers,
            "busy": executor.busy,
            "detail": executor.detail,
        },
        "database": sources.database,
        "data_updates": data_update_report(sources.data_updates()),
    }
