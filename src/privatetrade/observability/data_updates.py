"""The scheduled data updates in /metrics and on the status page.

The figures come from a callable the system passes in (the jobs table and the
schedule, read at scrape time), so every server process reports the same.

Metrics, each with a ``market`` label (``KRX``, ``NYSE``):

- ``privatetrade_data_update_scheduled``: 1 when scheduled updates are on;
- ``privatetrade_data_update_next_run_timestamp_seconds``: when the next one is due;
- ``privatetrade_data_update_last_run_timestamp_seconds``: when the last one ended;
- ``privatetrade_data_update_last_run_failed``: 1 when it failed (every symbol failed,
  or the job itself) or was cancelled, 0 when it succeeded;
- ``privatetrade_data_update_last_run_symbols`` (label ``outcome``: ``updated``,
  ``up_to_date``, ``failed``): its symbols by outcome (a succeeded run only);
- ``privatetrade_data_update_last_success_timestamp_seconds``: when the last
  succeeded one ended (alert when it grows older than a few days).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from privatetrade.domain.data_updates import ScheduledUpdateStatus
from privatetrade.domain.jobs import JobState

__all__ = ["DataUpdateCollector", "data_update_report"]

StatusSource = Callable[[], Sequence[ScheduledUpdateStatus]]
_PREFIX = "privatetrade_data_update_"


class DataUpdateCollector(Collector):
    """The scheduled updates' gauges, read from ``source`` at each scrape."""

    def __init__(self, source: StatusSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        """Yield one gauge family per figure, one sample per market that has it."""
        families = {
            "scheduled": _gauge("scheduled", "1 when scheduled daily updates are on"),
            "next": _gauge("next_run_timestamp_seconds", "When the next update is due"),
            "last": _gauge("last_run_timestamp_seconds", "When the last update ended"),
            "failed": _gauge("last_run_failed", "1 when the last update failed or was cancelled"),
            "success": _gauge(
                "last_success_timestamp_seconds", "When the last succeeded update ended"
            ),
        }
        symbols = GaugeMetricFamily(
            f"{_PREFIX}last_run_symbols",
            "Symbols of the last succeeded update by outcome",
            labels=["market", "outcome"],
        )
        for status in self.source():
            labels = [status.market]
            families["scheduled"].add_metric(labels, 1.0 if status.enabled else 0.0)
            if status.next_run_at is not None:
                families["next"].add_metric(labels, status.next_run_at.timestamp())
            if status.last_finished_at is not None:
                families["last"].add_metric(labels, status.last_finished_at.timestamp())
                failed = status.last_finished_state != JobState.SUCCEEDED
                families["failed"].add_metric(labels, 1.0 if failed else 0.0)
            if status.last_success_at is not None:
                families["success"].add_metric(labels, status.last_success_at.timestamp())
            for outcome in ("updated", "up_to_date", "failed"):
                count = getattr(status, outcome)
                if count is not None:
                    symbols.add_metric([status.market, outcome], float(count))
        yield from families.values()
        yield symbols


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{_PREFIX}{name}", documentation, labels=["market"])


def data_update_report(statuses: Sequence[ScheduledUpdateStatus]) -> list[dict[str, Any]]:
    """The scheduled updates as the status report shows them (JSON values)."""
    report = []
    for status in statuses:
        entry: dict[str, Any] = {}
        for name in status.__dataclass_fields__:
            value = getattr(status, name)
            entry[name] = value.isoformat() if hasattr(value, "isoformat") else value
        report.append(entry)
    return report
