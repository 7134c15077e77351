"""The thresholds of the built-in alerting (settings ``alert_thresholds``).

The checker is :mod:`privatetrade.observability.alerting`. The defaults are the
thresholds of ``docs/monitoring/alerts.yml`` (tested), so an installation without
Prometheus is told about the same conditions as one with it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AlertThresholds"]


class AlertThresholds(BaseModel):
    """When the built-in checker raises an alert.

    From the environment as JSON, only the fields to change, e.g.
    ``PRIVATETRADE_ALERT_THRESHOLDS='{"queue_depth": 200, "for_seconds": 120}'``.

    Attributes:
        for_seconds: How long a condition must hold before its alert fires (the
            alert is "pending" meanwhile; a condition that clears sooner sends nothing).
        window_seconds: The span over which the 5xx and 404 shares are computed.
        min_requests: Fewest requests in that span for the shares to count (a handful
            of requests with one error is no alert).
        server_error_ratio: Share of requests answered 5xx above which
            ``server_errors`` fires.
        not_found_ratio: Share of requests answered 404 above which ``not_found`` fires.
        queue_depth: Queued jobs above which ``queue_depth`` fires.
        oldest_queued_seconds: Wait of the oldest queued job above which
            ``oldest_queued`` fires.
        min_workers: Workers below which ``workers`` fires (0 switches it off).
        disk_free_ratio: Free share of the data directory's file system below which
            ``disk_free`` fires.
        memory_available_ratio: Available share of the machine's memory below which
            ``memory`` fires.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    for_seconds: float = Field(300.0, ge=0.0, le=86_400.0)
    window_seconds: float = Field(300.0, ge=60.0, le=3_600.0)
    min_requests: int = Field(20, ge=1)
    server_error_ratio: float = Field(0.05, gt=0.0, le=1.0)
    not_found_ratio: float = Field(0.10, gt=0.0, le=1.0)
    queue_depth: int = Field(50, ge=0)
    oldest_queued_seconds: float = Field(900.0, ge=0.0)
    min_workers: int = Field(1, ge=0)
    disk_free_ratio: float = Field(0.10, ge=0.0, le=1.0)
    memory_available_ratio: float = Field(0.20, ge=0.0, le=1.0)
