"""The status report: one snapshot of the service for operators (``/api/status``, ``/status``)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from privatetrade import __version__
from privatetrade.domain.jobs import JobState

if TYPE_CHECKING:
    from privatetrade.web.services import Services

__all__ = ["CpuSampler", "directory_size", "status_report"]


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


def status_report(services: Services, cpu: CpuSampler) -> dict[str, Any]:
    """Collect the figures of the status page."""
    settings = services.settings
    usage = shutil.disk_usage(settings.data_dir)
    counts = services.repository.counts_by_state()
    executor = services.executor.state()
    windows = services.metrics.windows
    return {
        "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "uptime_seconds": round(services.uptime(), 3),
        "pid": os.getpid(),
        "cpu": cpu.sample(),
        "memory": _memory(),
        "disk": {
            "data_dir": str(settings.data_dir),
            "data_dir_bytes": directory_size(settings.data_dir),
            "filesystem_total_bytes": usage.total,
            "filesystem_free_bytes": usage.free,
        },
        "api": {
            "last_5_minutes": asdict(windows.summary(5)),
            "last_60_minutes": asdict(windows.summary(60)),
        },
        "jobs": {
            "by_state": {state.value: count for state, count in counts.items()},
            "queue_depth": counts[JobState.QUEUED],
        },
        "executor": asdict(executor),
        "database": services.engine.dialect.name,
    }
