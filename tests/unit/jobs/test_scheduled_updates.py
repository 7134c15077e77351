"""The scheduled updates' loop on a real SQLite database, driven by an injected clock.

Two loops stand for two server processes sharing the database; a third one for a
restart. Each market and session gets exactly one job whoever submits it. Nothing sleeps
for a fixed time: the clock moves by hand, the loops are woken and the tests wait for
what they expect with a deadline (or for further passes, to show nothing else came).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pandas as pd
import pytest
from job_workspace import Workspace
from prometheus_client.parser import text_string_to_metric_families

from polling import poll
from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.domain.artifacts import ArtifactInfo
from privatetrade.domain.data_updates import SCHEDULE_OWNER, DataUpdateSpec
from privatetrade.domain.jobs import FailureReason, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.jobs.kinds import KindContext
from privatetrade.jobs.scheduled_updates import ScheduledUpdates, scheduled_update_status
from privatetrade.jobs.service import JobService
from privatetrade.observability.metrics import ServiceMetrics

DELAY = dt.timedelta(minutes=30)
TIMEOUT = 30.0


class Clock:
    """A clock the test moves by hand (read from the loops' threads)."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, now: dt.datetime) -> None:
        with self._lock:
            self._now = now


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def store(data: MarketData, code: str, market: Market, tz: str) -> None:
    index = pd.DatetimeIndex([pd.Timestamp("2024-09-02", tz=tz)], name="time")
    frame = pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 10.0}, index=index
    )
    symbol = SymbolInfo(code=code, name=code, market=market, source="fdr")
    data.save_bars(symbol, frame, kind=PriceKind.ADJUSTED)


@pytest.fixture
def service(workspace: Workspace) -> JobService:
    """A job service whose data has one KRX and one US symbol fetched from fdr."""
    data = MarketData(workspace.data_dir)
    store(data, "005930", Market.KOSPI, "Asia/Seoul")
    store(data, "AAPL2", Market.NASDAQ, "America/New_York")
    return JobService(
        workspace.repository,
        ArtifactFiles.in_data_dir(workspace.data_dir),
        KindContext(data, data_provider="fdr"),
        max_active_jobs=100,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2024, 9, 13, 6, 0))  # Friday before Chuseok, 15:00 in Seoul


@pytest.fixture
def loops() -> Iterator[list[ScheduledUpdates]]:
    started: list[ScheduledUpdates] = []
    yield started
    for loop in started:
        loop.stop()


def start(loops: list[ScheduledUpdates], service: JobService, clock: Clock) -> ScheduledUpdates:
    loop = ScheduledUpdates(service, provider="fdr", delay=DELAY, clock=clock)
    loop.start()
    loops.append(loop)
    return loop


def scheduled_keys(workspace: Workspace) -> list[str]:
    """Idempotency keys of the scheduled jobs, oldest first (one entry per job)."""
    page = workspace.repository.page(SCHEDULE_OWNER, kinds=(JobKind.DATA_UPDATE,), limit=200)
    return sorted(job.idempotency_key or "" for job in page.items)


def wait_for_keys(workspace: Workspace, expected: list[str]) -> None:
    poll(
        lambda: True if scheduled_keys(workspace) == sorted(expected) else None,
        TIMEOUT,
        f"the scheduled jobs {expected} (have {scheduled_keys(workspace)})",
    )


def settle(loops: list[ScheduledUpdates], rounds: int = 2) -> None:
    """Wake every loop ``rounds`` times, each time waiting until it has looked once more.

    The second round's pass started after the first wake: it saw the clock as set.
    """
    for loop in loops:
        for _ in range(rounds):
            target = loop.passes + 1
            loop.wake()
            poll(lambda: True if loop.passes >= target else None, TIMEOUT, "a pass")  # noqa: B023


KRX_12 = "scheduled-data-update:KRX:2024-09-12"
NYSE_12 = "scheduled-data-update:NYSE:2024-09-12"
KRX_13 = "scheduled-data-update:KRX:2024-09-13"
NYSE_13 = "scheduled-data-update:NYSE:2024-09-13"
KRX_19 = "scheduled-data-update:KRX:2024-09-19"
NYSE_16 = "scheduled-data-update:NYSE:2024-09-16"
NYSE_18 = "scheduled-data-update:NYSE:2024-09-18"


def test_each_market_session_is_submitted_exactly_once(
    workspace: Workspace, service: JobService, clock: Clock, loops: list[ScheduledUpdates]
) -> None:
    first, second = start(loops, service, clock), start(loops, service, clock)
    # Started at 06:00 UTC: Thursday's updates (KRX 07:00, NYSE 20:30 UTC) were missed.
    wait_for_keys(workspace, [KRX_12, NYSE_12])
    settle([first, second])
    assert scheduled_keys(workspace) == sorted([KRX_12, NYSE_12])

    clock.set(utc(2024, 9, 13, 7, 0))  # 15:30 + 30 min in Seoul
    settle([first, second])
    wait_for_keys(workspace, [KRX_12, NYSE_12, KRX_13])

    clock.set(utc(2024, 9, 13, 21, 0))  # 16:00 + 30 min in New York was 20:30 UTC
    settle([first, second])
    wait_for_keys(workspace, [KRX_12, NYSE_12, KRX_13, NYSE_13])

    # Chuseok (16-18 September) closes KRX, not the NYSE: Monday's US update only.
    clock.set(utc(2024, 9, 17, 7, 30))
    settle([first, second])
    wait_for_keys(workspace, [KRX_12, NYSE_12, KRX_13, NYSE_13, NYSE_16])

    # A restart at the same moment finds every job already there.
    for loop in list(loops):
        loop.stop()
    restarted = start(loops, service, clock)
    settle([restarted])
    assert scheduled_keys(workspace) == sorted([KRX_12, NYSE_12, KRX_13, NYSE_13, NYSE_16])

    # The first KRX session after Chuseok; only the newest due update of a market is
    # submitted (an update fetches every bar since the last stored one).
    clock.set(utc(2024, 9, 19, 7, 0))
    settle([restarted])
    wait_for_keys(workspace, [KRX_12, NYSE_12, KRX_13, NYSE_13, NYSE_16, KRX_19, NYSE_18])

    jobs = workspace.repository.page(SCHEDULE_OWNER, kinds=(JobKind.DATA_UPDATE,), limit=10)
    krx = next(job for job in jobs.items if job.idempotency_key == KRX_19)
    assert (krx.owner, krx.kind, krx.state) == (SCHEDULE_OWNER, JobKind.DATA_UPDATE, "queued")
    assert krx.spec == DataUpdateSpec(provider="fdr", exchange="XKRX")
    # Not among the owner's backtests.
    assert workspace.repository.page(SCHEDULE_OWNER, kinds=(JobKind.BACKTEST,)).total == 0


def test_a_market_without_symbols_from_the_provider_is_skipped(
    workspace: Workspace, clock: Clock, loops: list[ScheduledUpdates]
) -> None:
    data = MarketData(workspace.data_dir)
    store(data, "000660", Market.KOSPI, "Asia/Seoul")  # no US symbol from fdr
    service = JobService(
        workspace.repository,
        ArtifactFiles.in_data_dir(workspace.data_dir),
        KindContext(data, data_provider="fdr"),
        max_active_jobs=100,
    )
    loop = start(loops, service, clock)
    wait_for_keys(workspace, [KRX_12])
    settle([loop], rounds=3)
    assert scheduled_keys(workspace) == [KRX_12]


def test_status_and_metrics_report_the_last_outcome_per_market(
    workspace: Workspace, service: JobService, clock: Clock
) -> None:
    loop = ScheduledUpdates(service, provider="fdr", delay=DELAY, clock=clock)
    loop.run_due()  # the 12 September updates of both markets
    clock.set(utc(2024, 9, 13, 7, 0))
    loop.run_due()  # KRX, 13 September
    repository = workspace.repository
    by_key = {
        job.idempotency_key: job
        for job in repository.page(SCHEDULE_OWNER, kinds=(JobKind.DATA_UPDATE,)).items
    }
    summary = {"symbols": 3, "updated": 2, "up_to_date": 0, "failed": 1, "new_bars": 2}
    krx_12 = repository.start_attempt(by_key[KRX_12].id, "test:1")
    assert krx_12 is not None
    outcomes = ArtifactInfo("outcomes.json", "application/json", 2, "0" * 64, None)
    assert repository.finish_succeeded(krx_12.id, krx_12.attempt, [outcomes], summary)
    nyse = repository.start_attempt(by_key[NYSE_12].id, "test:1")
    assert nyse is not None
    assert repository.finish_failed(
        nyse.id, nyse.attempt, FailureReason.DATA_ERROR, "every symbol failed (1): AAPL2: down"
    )

    statuses = {
        status.market: status
        for status in scheduled_update_status(
            repository, enabled=True, delay=DELAY, now=utc(2024, 9, 13, 8, 0)
        )
    }

    krx, us = statuses["KRX"], statuses["NYSE"]
    assert (krx.last_session, krx.last_state) == (dt.date(2024, 9, 13), JobState.QUEUED)
    assert (krx.last_finished_state, krx.updated, krx.failed) == (JobState.SUCCEEDED, 2, 1)
    assert krx.last_success_at is not None
    assert krx.last_success_at == krx.last_finished_at
    assert (krx.next_session, krx.next_run_at) == (dt.date(2024, 9, 19), utc(2024, 9, 19, 7))
    assert (us.last_finished_state, us.updated, us.last_success_at) == ("failed", None, None)
    assert us.error is not None
    assert "AAPL2: down" in us.error
    assert (us.next_session, us.next_run_at) == (dt.date(2024, 9, 13), utc(2024, 9, 13, 20, 30))

    text = ServiceMetrics(
        repository, workspace.data_dir, data_updates=lambda: list(statuses.values())
    ).render()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name.startswith("privatetrade_data_update_")
    }

    def value(name: str, **labels: str) -> float | None:
        return samples.get((f"privatetrade_data_update_{name}", tuple(sorted(labels.items()))))

    assert value("scheduled", market="KRX") == 1.0
    assert value("last_run_failed", market="KRX") == 0.0
    assert value("last_run_failed", market="NYSE") == 1.0
    assert value("last_run_symbols", market="KRX", outcome="updated") == 2.0
    assert value("last_run_symbols", market="KRX", outcome="failed") == 1.0
    assert value("last_success_timestamp_seconds", market="KRX") == krx.last_success_at.timestamp()
    assert value("last_success_timestamp_seconds", market="NYSE") is None
    # 20:30 UTC on 13 September 2024: 19,979 days and 20.5 hours after 1970-01-01.
    assert value("next_run_timestamp_seconds", market="NYSE") == 19_979 * 86_400 + 20.5 * 3600
