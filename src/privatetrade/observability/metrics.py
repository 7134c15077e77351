"""Prometheus metrics: requests, latencies, jobs, queue, workers, process, memory, disk.

Job counts, the queue depth and the oldest queued job's age are read from the database
at scrape time, so every server process reports the same truth. Request metrics are per
process; with several server processes ``PROMETHEUS_MULTIPROC_DIR`` makes
prometheus-client aggregate them across processes. Workers, memory and disk are read
at scrape time from the answering process (its executor) and the machine.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

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

__all__ = ["CONTENT_TYPE_LATEST", "RequestTotals", "ServiceMetrics", "queue_age_seconds"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _ExecutorState(Protocol):
    @property
    def healthy(self) -> bool: ...
    @property
    def workers(self) -> int: ...
    @property
    def busy(self) -> int: ...


class RequestTotals(NamedTuple):
    """Requests answered so far, and how many of them with a 5xx status and with 404."""

    requests: float
    server_errors: float
    not_found: float


def queue_age_seconds(oldest_queued_at: dt.datetime | None, now: dt.datetime) -> float:
    """Seconds the longest-waiting queued job has waited (0 when the queue is empty)."""
    if oldest_queued_at is None:
        return 0.0
    return max((now - oldest_queued_at).total_seconds(), 0.0)


class _DatabaseCollector(Collector):
    """Jobs by state, queue depth and the oldest queued job's age, from the jobs table."""

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
        age = queue_age_seconds(self.repository.oldest_queued_at(), dt.datetime.now(dt.UTC))
        yield GaugeMetricFamily(
            "privatetrade_queue_oldest_age_seconds",
            "Seconds the longest-waiting queued job has waited (0 when none waits)",
            value=age,
        )


class _ExecutorCollector(Collector):
    """The answering process's workers: how many can run jobs, how many are busy."""

    def __init__(self, state: Callable[[], _ExecutorState]) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state()
        yield GaugeMetricFamily(
            "privatetrade_executor_healthy",
            "1 when the executor can run jobs (local pool open, Dask scheduler reachable)",
            value=1 if state.healthy else 0,
        )
        yield GaugeMetricFamily(
            "privatetrade_workers",
            "Workers able to run jobs (0 when the executor is not healthy)",
            value=state.workers if state.healthy else 0,
        )
        yield GaugeMetricFamily(
            "privatetrade_workers_busy", "Workers running a job now", value=state.busy
        )


class _MemoryCollector(Collector):
    """The machine's memory (what the seed's operators watch as "memory < 80 %")."""

    def collect(self) -> Iterator[Metric]:
        memory = psutil.virtual_memory()
        yield GaugeMetricFamily(
            "privatetrade_system_memory_total_bytes",
            "Physical memory of the machine",
            value=memory.total,
        )
        yield GaugeMetricFamily(
            "privatetrade_system_memory_available_bytes",
            "Memory available to new processes without swapping",
            value=memory.available,
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
    :mod:`privatetrade.observability.data_updates`); ``executor_state`` the workers.
    """

    def __init__(
        self,
        repository: JobSubmissions,
        data_dir: Path,
        data_updates: StatusSource | None = None,
        executor_state: Callable[[], _ExecutorState] | None = None,
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
        self._extra: list[Collector] = [
            _DatabaseCollector(repository),
            _DiskCollector(data_dir),
            _MemoryCollector(),
        ]
        if executor_state is not None:
            self._extra.append(_ExecutorCollector(executor_state))
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

    def _request_registry(self) -> CollectorRegistry:
        """This process's registry, or every server process's with PROMETHEUS_MULTIPROC_DIR."""
        directory = _multiprocess_dir()
        if directory is None:
            return self.registry
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return registry

    def request_totals(self) -> RequestTotals:
        """Requests, 5xx and 404 answers counted so far (all server processes when aggregated)."""
        requests = server_errors = not_found = 0.0
        for family in self._request_registry().collect():
            if family.name != "privatetrade_http_requests":
                continue
            for sample in family.samples:
                if sample.name != "privatetrade_http_requests_total":
                    continue
                requests += sample.value
                status = sample.labels.get("status", "")
                server_errors += sample.value if status.startswith("5") else 0.0
                not_found += sample.value if status == "404" else 0.0
        return RequestTotals(requests, server_errors, not_found)

    def render(self) -> bytes:
        """Return the exposition text of every metric."""
        self.sample_processes()
        output = generate_latest(self._request_registry())
        extra = CollectorRegistry()
        for collector in self._extra:
            extra.register(collector)
        return output + generate_latest(extra)
