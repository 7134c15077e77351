"""Prometheus metrics: requests, latencies, jobs, queue, process, disk, scheduled updates.

Job counts and the queue depth are read from the database at scrape time, so every
server process reports the same truth. Request metrics are per process; with
several server processes ``PROMETHEUS_MULTIPROC_DIR`` makes prometheus-client
aggregate them across processes.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from privatetrade.db.jobs import JobSubmissions
from privatetrade.domain.jobs import Job, JobState
from privatetrade.observability.data_updates import DataUpdateCollector, StatusSource
from privatetrade.observability.windows import RequestWindows

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _DatabaseCollector(Collector):
    """Jobs by state and queue depth, straight from the jobs table."""

    def __init__(self, repository: JobSubmissions) -> None:
        self.repository = repository

    def collect(self) -> Iterator[Metric]:
        counts = self.repository.counts_by_state()
        jobs = GaugeMetricFamily("privatetrade_jobs", "Jobs by state", labels=["state"])
        for state, count in counts.items():
            jobs.add_metric([state.value], count)
        yield jobs
        yield GaugeMetricFamily(
            "privatetrade_queue_depth", "Jobs waiting for a worker", value=counts[JobState.QUEUED]
        )


class _DiskCollector(Collector):
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def collect(self) -> Iterator[Metric]:
        usage = shutil.disk_usage(self.data_dir)
        yield GaugeMetricFamily(
            "privatetrade_data_dir_free_bytes",
            "Free disk space of the data directory",
            value=usage.free,
        )
        yield GaugeMetricFamily(
            "privatetrade_data_dir_total_bytes",
            "Size of the data directory's file system",
            value=usage.total,
        )


class ServiceMetrics:
    """The metrics of one server process.

    ``data_updates`` reports the scheduled data updates (see
    :mod:`privatetrade.observability.data_updates`).
    """

    def __init__(
        self,
        repository: JobSubmissions,
        data_dir: Path,
        data_updates: StatusSource | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "privatetrade_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "privatetrade_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "privatetrade_job_duration_seconds",
            "Run time of finished jobs by final state",
            ["state"],
            buckets=_JOB_BUCKETS,
            registry=self.registry,
        )
        self.process_cpu = Gauge(
            "privatetrade_process_cpu_seconds",
            "CPU seconds used by a server process and its worker processes",
            ["role"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.process_memory = Gauge(
            "privatetrade_process_resident_memory_bytes",
            "Resident memory of a server process and its worker processes",
            ["role"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.windows = RequestWindows()
        self._process = psutil.Process()
        self._extra: list[Collector] = [_DatabaseCollector(repository), _DiskCollector(data_dir)]
        if data_updates is not None:
            self._extra.append(DataUpdateCollector(data_updates))
        self._last_sample = 0.0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        self.windows.observe(status, seconds)

    def observe_job(self, job: Job) -> None:
        """Record the run time of a job that reached a final state."""
        if job.state.final and job.duration_seconds is not None:
            self.job_duration.labels(job.state.value).observe(job.duration_seconds)

    def sample_processes(self) -> None:
        """Record CPU and memory of this process and its children (the workers)."""
        now = time.monotonic()
        if now - self._last_sample < 1.0:
            return
        self._last_sample = now
        cpu = self._process.cpu_times()
        self.process_cpu.labels("server").set(cpu.user + cpu.system)
        self.process_memory.labels("server").set(self._process.memory_info().rss)
        worker_cpu = worker_rss = 0.0
        for child in self._process.children(recursive=True):
            try:
                times = child.cpu_times()
                worker_cpu += times.user + times.system
                worker_rss += child.memory_info().rss
            except psutil.Error:
                continue
        self.process_cpu.labels("workers").set(worker_cpu)
        self.process_memory.labels("workers").set(worker_rss)

    def render(self) -> bytes:
        """Return the exposition text of every metric."""
        self.sample_processes()
        directory = _multiprocess_dir()
        if directory is None:
            registry = self.registry
        else:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
        extra = CollectorRegistry()
        for collector in self._extra:
            extra.register(collector)
        return output + generate_latest(extra)
