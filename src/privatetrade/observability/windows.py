"""Recent request figures by the minute: latency percentiles and status counts.

Fed by the same hook as the Prometheus metrics (one observation per request), kept
per minute for the last hour so the status page can show the last 5 and 60 minutes.
Latencies go into log-spaced buckets (about 5 % wide), so percentiles are within a
few percent of the exact values at a fixed cost per request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RequestWindows", "WarningCounter", "WindowSummary"]

_MINUTES = 60
_MIN_SECONDS = 1e-4  # 0.1 ms
_GROWTH = 1.05
_BUCKETS = int(math.log(600.0 / _MIN_SECONDS, _GROWTH)) + 2  # up to 10 minutes


def _bucket(seconds: float) -> int:
    if seconds <= _MIN_SECONDS:
        return 0
    return min(int(math.log(seconds / _MIN_SECONDS, _GROWTH)) + 1, _BUCKETS - 1)


def _upper_bound(index: int) -> float:
    return _MIN_SECONDS * _GROWTH**index


@dataclass
class _Minute:
    start: int
    latency: list[int] = field(default_factory=lambda: [0] * _BUCKETS)
    requests: int = 0
    client_errors: int = 0
    not_found: int = 0
    server_errors: int = 0
    warnings: int = 0


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """Figures of one window (e.g. the last 5 minutes)."""

    minutes: int
    requests: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    client_errors: int
    not_found: int
    server_errors: int
    warnings: int


class RequestWindows:
    """Per-minute request statistics of the last hour (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._minutes: dict[int, _Minute] = {}
        self._lock = threading.Lock()

    def _current(self) -> _Minute:
        minute = int(self._clock() // 60)
        entry = self._minutes.get(minute)
        if entry is None:
            entry = self._minutes[minute] = _Minute(minute)
            for old in [key for key in self._minutes if key <= minute - _MINUTES]:
                del self._minutes[old]
        return entry

    def observe(self, status: int, seconds: float) -> None:
        """Record one finished request."""
        with self._lock:
            entry = self._current()
            entry.requests += 1
            entry.latency[_bucket(seconds)] += 1
            if 400 <= status < 500:
                entry.client_errors += 1
                entry.not_found += status == 404
            elif status >= 500:
                entry.server_errors += 1

    def warning(self) -> None:
        """Record one warning (or worse) log line."""
        with self._lock:
            self._current().warnings += 1

    def summary(self, minutes: int) -> WindowSummary:
        """Return the figures of the last ``minutes`` minutes (this one included)."""
        now = int(self._clock() // 60)
        with self._lock:
            recent = [entry for key, entry in self._minutes.items() if key > now - minutes]
            latency = [sum(column) for column in zip(*(e.latency for e in recent), strict=True)]
        total = sum(entry.requests for entry in recent)
        return WindowSummary(
            minutes=minutes,
            requests=total,
            p50_ms=_percentile(latency, total, 0.50),
            p95_ms=_percentile(latency, total, 0.95),
            p99_ms=_percentile(latency, total, 0.99),
            client_errors=sum(entry.client_errors for entry in recent),
            not_found=sum(entry.not_found for entry in recent),
            server_errors=sum(entry.server_errors for entry in recent),
            warnings=sum(entry.warnings for entry in recent),
        )


def _percentile(counts: list[int], total: int, quantile: float) -> float | None:
    if total == 0 or not counts:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank and count:
            return round(_upper_bound(index) * 1000.0, 3)
    return round(_upper_bound(len(counts) - 1) * 1000.0, 3)


class WarningCounter(logging.Handler):
    """A logging handler that counts warning-or-worse records into the windows."""

    def __init__(self, windows: RequestWindows) -> None:
        super().__init__(level=logging.WARNING)
        self.windows = windows

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record."""
        self.windows.warning()
