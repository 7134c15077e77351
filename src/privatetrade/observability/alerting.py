"""Built-in alerting for installations without Prometheus (settings ``alerting``).

The server checks the conditions of ``docs/monitoring/alerts.yml`` itself, from the
figures behind ``/metrics`` (request counters, the jobs table, the executor, the disk
and the machine's memory), and tells the administrators through their notification
channels. Three layers:

* :func:`step` and :func:`evaluate` — the state machine, pure: per alert ``ok`` →
  ``pending`` (the condition holds, for less than ``for_seconds``) → ``firing`` (one
  "firing" message) → ``ok`` again when the condition clears (one "resolved" message).
  A reading that cannot be taken (None) leaves the alert as it is.
* :class:`RequestRates` — the 5xx and 404 shares over the last ``window_seconds``,
  from samples of the cumulative request counters (like Prometheus' ``rate``).
* :class:`AlertChecker` — runs a check every ``alert_check_seconds`` in a thread of the
  server process that holds ``<data dir>/alerting.lock`` (one checker per data
  directory, however many server processes), keeps the states in
  ``<data dir>/alerting.json`` (a restart neither repeats nor forgets a firing alert),
  logs every change and hands it to the notifier.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Literal

import structlog

from privatetrade.domain.alert_thresholds import AlertThresholds

__all__ = [
    "ALERT_RULES",
    "AlertChange",
    "AlertChecker",
    "AlertRule",
    "AlertState",
    "AlertStatus",
    "Readings",
    "RequestRates",
    "evaluate",
    "step",
]

log = structlog.get_logger("privatetrade.alerting")

Severity = Literal["critical", "warning"]
ChangeKind = Literal["firing", "resolved"]
Unit = Literal["ratio", "count", "seconds"]


@dataclass(frozen=True, slots=True)
class Readings:
    """One check's figures; None where a figure could not be read.

    Attributes:
        requests: Requests answered within the rate window (None before two samples).
        server_error_ratio: Share of them answered 5xx.
        not_found_ratio: Share of them answered 404.
        queue_depth: Queued jobs.
        oldest_queued_seconds: Wait of the oldest queued job (0 when none waits).
        workers: Workers able to run jobs.
        disk_free_ratio: Free share of the data directory's file system.
        memory_available_ratio: Available share of the machine's memory.
    """

    requests: float | None = None
    server_error_ratio: float | None = None
    not_found_ratio: float | None = None
    queue_depth: float | None = None
    oldest_queued_seconds: float | None = None
    workers: float | None = None
    disk_free_ratio: float | None = None
    memory_available_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One condition: a reading compared with a threshold.

    Attributes:
        name: The alert's name in messages, logs and the state file.
        prometheus_alert: The alert of ``docs/monitoring/alerts.yml`` it mirrors.
        severity: ``critical`` or ``warning`` (as in alerts.yml).
        reading: The :class:`Readings` field it reads.
        threshold: The :class:`AlertThresholds` field it compares with.
        above: True: fires when the reading is above the threshold; False: below.
        unit: How values are shown in messages.
        needs_traffic: Holds only with at least ``min_requests`` requests in the window.
    """

    name: str
    prometheus_alert: str
    severity: Severity
    reading: str
    threshold: str
    above: bool
    unit: Unit
    needs_traffic: bool = False

    def value(self, readings: Readings) -> float | None:
        """The reading this rule looks at."""
        value = getattr(readings, self.reading)
        return None if value is None else float(value)

    def limit(self, thresholds: AlertThresholds) -> float:
        """The threshold this rule compares with."""
        return float(getattr(thresholds, self.threshold))

    def breached(self, readings: Readings, thresholds: AlertThresholds) -> bool | None:
        """Whether the condition holds; None when its figures are unknown."""
        value = self.value(readings)
        if value is None:
            return None
        if self.needs_traffic:
            if readings.requests is None:
                return None
            if readings.requests < thresholds.min_requests:
                return False
        limit = self.limit(thresholds)
        return value > limit if self.above else value < limit


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "server_errors",
        "PrivatetradeServerErrors",
        "critical",
        "server_error_ratio",
        "server_error_ratio",
        above=True,
        unit="ratio",
        needs_traffic=True,
    ),
    AlertRule(
        "not_found",
        "PrivatetradeNotFoundSpike",
        "warning",
        "not_found_ratio",
        "not_found_ratio",
        above=True,
        unit="ratio",
        needs_traffic=True,
    ),
    AlertRule(
        "queue_depth",
        "PrivatetradeQueueBacklog",
        "warning",
        "queue_depth",
        "queue_depth",
        above=True,
        unit="count",
    ),
    AlertRule(
        "oldest_queued",
        "PrivatetradeQueueStalled",
        "critical",
        "oldest_queued_seconds",
        "oldest_queued_seconds",
        above=True,
        unit="seconds",
    ),
    AlertRule(
        "workers",
        "PrivatetradeNoWorkers",
        "critical",
        "workers",
        "min_workers",
        above=False,
        unit="count",
    ),
    AlertRule(
        "disk_free",
        "PrivatetradeDiskLow",
        "critical",
        "disk_free_ratio",
        "disk_free_ratio",
        above=False,
        unit="ratio",
    ),
    AlertRule(
        "memory",
        "PrivatetradeMemoryLow",
        "warning",
        "memory_available_ratio",
        "memory_available_ratio",
        above=False,
        unit="ratio",
    ),
)


class AlertStatus(StrEnum):
    """Where an alert is: its condition clear, holding (not long enough yet), or firing."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert's state.

    Attributes:
        status: ok, pending or firing.
        since: When the condition began to hold (epoch seconds; None when ok).
        value: The reading at the last check that knew it.
    """

    status: AlertStatus = AlertStatus.OK
    since: float | None = None
    value: float | None = None


OK = AlertState()


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert that began firing or resolved: what is sent to the administrators.

    Attributes:
        rule: The alert.
        kind: ``firing`` or ``resolved``.
        value: The reading at this check (the last known one when unknown now).
        threshold: The threshold it was compared with.
        since: When its condition began to hold (epoch seconds).
        at: When this check ran (epoch seconds).
    """

    rule: AlertRule
    kind: ChangeKind
    value: float | None
    threshold: float
    since: float
    at: float

    @property
    def key(self) -> str:
        """Idempotency key: one message per alert, episode and kind."""
        started = dt.datetime.fromtimestamp(self.since, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"alert:{self.rule.name}:{self.kind}:{started}"


def step(
    state: AlertState, breached: bool | None, now: float, for_seconds: float
) -> tuple[AlertState, ChangeKind | None]:
    """Advance one alert by one check; return its new state and the change to announce.

    Args:
        state: The alert's state before the check.
        breached: Whether its condition holds now (None: unknown, nothing changes).
        now: The check's time (epoch seconds).
        for_seconds: How long the condition must hold before the alert fires.
    """
    if breached is None:
        return state, None
    if not breached:
        return OK, ("resolved" if state.status is AlertStatus.FIRING else None)
    if state.status is AlertStatus.FIRING:
        return state, None
    since = now if state.since is None else state.since
    if now - since >= for_seconds:
        return AlertState(AlertStatus.FIRING, since), "firing"
    return AlertState(AlertStatus.PENDING, since), None


def evaluate(
    states: Mapping[str, AlertState],
    readings: Readings,
    thresholds: AlertThresholds,
    now: float,
    rules: Iterable[AlertRule] = ALERT_RULES,
) -> tuple[dict[str, AlertState], list[AlertChange]]:
    """Check every rule against ``readings``; return the new states and the changes."""
    new_states: dict[str, AlertState] = {}
    changes: list[AlertChange] = []
    for rule in rules:
        before = states.get(rule.name, OK)
        value = rule.value(readings)
        after, change = step(
            before, rule.breached(readings, thresholds), now, thresholds.for_seconds
        )
        shown = value if value is not None else before.value
        if after.status is not AlertStatus.OK:
            after = dataclasses.replace(after, value=shown)
        new_states[rule.name] = after
        if change is not None:
            since = after.since if change == "firing" else before.since
            changes.append(
                AlertChange(rule, change, shown, rule.limit(thresholds), since or now, now)
            )
    return new_states, changes


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float
    requests: float
    server_errors: float
    not_found: float


class RequestRates:
    """The 5xx and 404 shares of the requests of the last ``window_seconds``.

    Fed with the cumulative counters at each check; a counter that went down (a
    restarted process) starts the history again.
    """

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._samples: deque[_Sample] = deque()

    def add(self, at: float, requests: float, server_errors: float, not_found: float) -> None:
        """Record the counters read at ``at``."""
        if self._samples and requests < self._samples[-1].requests:
            self._samples.clear()
        self._samples.append(_Sample(at, requests, server_errors, not_found))
        # Keep the newest sample at or before the window's start as its base.
        while len(self._samples) > 1 and self._samples[1].at <= at - self.window_seconds:
            self._samples.popleft()

    def readings(self) -> tuple[float | None, float | None, float | None]:
        """Requests in the window and their 5xx and 404 shares (None before two samples)."""
        if len(self._samples) < 2:
            return None, None, None
        first, last = self._samples[0], self._samples[-1]
        requests = last.requests - first.requests
        if requests <= 0:
            return 0.0, 0.0, 0.0
        return (
            requests,
            (last.server_errors - first.server_errors) / requests,
            (last.not_found - first.not_found) / requests,
        )


Notifier = Callable[[AlertChange], None]


class AlertChecker:
    """Checks the thresholds every ``interval`` seconds and announces the changes.

    Args:
        read: Takes the readings of one check (given the check's epoch time).
        notify: Sends one change to the administrators; an exception is logged and
            does not stop the checker.
        thresholds: The thresholds (settings ``alert_thresholds``).
        interval: Seconds between checks.
        state_dir: Where ``alerting.lock`` and ``alerting.json`` live (the data
            directory); None keeps the states in memory and checks in every process.
        clock: Epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        read: Callable[[float], Readings],
        notify: Notifier,
        thresholds: AlertThresholds,
        *,
        interval: float = 30.0,
        state_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read = read
        self.notify = notify
        self.thresholds = thresholds
        self.interval = interval
        self.clock = clock
        self._state_path = None if state_dir is None else state_dir / "alerting.json"
        self._lock_path = None if state_dir is None else state_dir / "alerting.lock"
        self._lock_file: IO[str] | None = None
        self._states: dict[str, AlertState] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def states(self) -> dict[str, AlertState]:
        """The alerts' current states (loaded from the state file on first use)."""
        if self._states is None:
            self._states = _load_states(self._state_path)
        return dict(self._states)

    def holds_lock(self) -> bool:
        """True when this process is the data directory's checker (takes the lock if free)."""
        if self._lock_path is None or self._lock_file is not None:
            return True
        handle = self._lock_path.open("a", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        self._states = None  # another process may have checked until now: read its states
        return True

    def check(self) -> list[AlertChange]:
        """Run one check: read, evaluate, save, log and notify; return the changes."""
        if not self.holds_lock():
            return []
        now = self.clock()
        states, changes = evaluate(self.states, self.read(now), self.thresholds, now)
        self._states = states
        _save_states(self._state_path, states)
        for change in changes:
            log.warning(
                f"alert.{change.kind}",
                alert=change.rule.name,
                severity=change.rule.severity,
                value=change.value,
                threshold=change.threshold,
            )
            try:
                self.notify(change)
            except Exception:
                log.exception("alert.notify_failed", alert=change.rule.name, kind=change.kind)
        return changes

    def start(self) -> None:
        """Check in a background thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="alerting", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and give the lock up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("alert.check_failed")
            self._stop.wait(self.interval)


def _load_states(path: Path | None) -> dict[str, AlertState]:
    if path is None or not path.exists():
        return {}
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: AlertState(AlertStatus(entry["status"]), entry.get("since"), entry.get("value"))
            for name, entry in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("alert.state_unreadable", path=str(path))
        return {}


def _save_states(path: Path | None, states: Mapping[str, AlertState]) -> None:
    if path is None:
        return
    document = {
        name: {"status": state.status.value, "since": state.since, "value": state.value}
        for name, state in states.items()
        if state.status is not AlertStatus.OK
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    with contextlib.suppress(OSError):
        os.chmod(temporary, 0o600)
    os.replace(temporary, path)
