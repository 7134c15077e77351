"""JobService on a SQLite file and the sample data: what a submission can get wrong, in process.

The API's submit, idempotency and delete routes are thin layers over this service; these
tests reach it without a server (the e2e tests check the HTTP answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from job_workspace import Workspace

from privatetrade.data.market_data import MarketData
from privatetrade.db.artifacts import ArtifactFiles
from privatetrade.db.schema import artifacts
from privatetrade.domain.jobs import JobState
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import (
    IdempotencyConflictError,
    InputError,
    LimitExceededError,
    NotFoundError,
)
from privatetrade.jobs.kinds import KindContext
from privatetrade.jobs.service import JobService
from privatetrade.jobs.worker import execute_job

OWNER = "alice"
MAX_ACTIVE = 2
MAX_BARS = 3_000  # AAPL has 3,270 stored bars: a whole-range run is over the limit
ONE_YEAR = {"symbol": "AAPL", "start": "2010-01-01", "end": "2010-12-31"}


def spec(**fields: Any) -> BacktestSpec:
    body = {**ONE_YEAR, "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
    return BacktestSpec.model_validate({**body, **fields})


@dataclass
class Wakes:
    """Counts how often the service woke the dispatcher."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def service(workspace: Workspace, wakes: Wakes) -> JobService:
    return JobService(
        workspace.repository,
        ArtifactFiles.in_data_dir(workspace.data_dir),
        KindContext(MarketData(workspace.data_dir), max_bars=MAX_BARS),
        max_active_jobs=MAX_ACTIVE,
        on_submitted=wakes,
    )


def total(workspace: Workspace, owner: str | None = None) -> int:
    return workspace.repository.page(owner).total


def test_check_normalizes_symbol_and_benchmark_codes(
    service: JobService, workspace: Workspace
) -> None:
    asked = spec(symbol="aapl", benchmark=" msft ")
    expected = asked.model_copy(update={"symbol": "AAPL", "benchmark": "MSFT"})
    assert service.check(asked) == expected
    submitted = service.submit(OWNER, asked)
    assert submitted.created
    stored = workspace.job(submitted.job.id)
    assert stored.spec == expected
    assert workspace.repository.page(OWNER, symbol="AAPL").total == 1  # listed as AAPL


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"symbol": "NOSUCH"}, "symbol"),
        ({"benchmark": "NOSUCH"}, "benchmark"),
        ({"strategy": "no_such_strategy"}, "strategy"),
        ({"params": {"fast": 30, "slow": 10}}, "params.fast"),
        ({"start": "2030-01-01", "end": None}, "start"),
        ({"start": None, "end": None}, "start"),  # 3,270 bars > MAX_BARS
    ],
)
def test_an_invalid_spec_names_its_field_and_queues_nothing(
    service: JobService, workspace: Workspace, wakes: Wakes, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as raised:
        service.submit(OWNER, spec(**fields))
    assert raised.value.field == field
    with pytest.raises(InputError):
        service.check(spec(**fields))
    assert total(workspace) == 0
    assert wakes.count == 0


def test_the_active_job_limit_is_per_owner_and_frees_up(
    service: JobService, workspace: Workspace, wakes: Wakes
) -> None:
    first, _second = (service.submit(OWNER, spec(), idempotency_key=f"k{i}") for i in range(2))
    with pytest.raises(LimitExceededError) as refused:
        service.submit(OWNER, spec())
    assert refused.value.retry_after >= 1
    assert f"{MAX_ACTIVE} jobs" in str(refused.value)
    # At the limit, a repeat of an accepted submission still answers with its job.
    repeat = service.submit(OWNER, spec(), idempotency_key="k0")
    assert (repeat.job.id, repeat.created) == (first.job.id, False)
    assert service.submit("bob", spec()).created  # other owners are not affected
    assert total(workspace, OWNER) == 2

    cancelled = workspace.repository.request_cancel(first.job.id)
    assert cancelled is not None
    assert cancelled.state is JobState.CANCELLED
    assert service.submit(OWNER, spec()).created  # one slot free again
    assert total(workspace, OWNER) == 3
    assert wakes.count == 4  # every new job, never a refused one or a repeat


def test_an_idempotent_repeat_returns_the_job_and_another_spec_conflicts(
    service: JobService, workspace: Workspace, wakes: Wakes
) -> None:
    first = service.submit(OWNER, spec(), idempotency_key="once")
    assert first.created
    again = service.submit(OWNER, spec(), idempotency_key="once")
    assert (again.job, again.created) == (first.job, False)
    # The spec is normalized before it is compared: the lowercase code is the same request.
    lowercase = service.submit(OWNER, spec(symbol="aapl"), idempotency_key="once")
    assert (lowercase.job.id, lowercase.created) == (first.job.id, False)

    with pytest.raises(IdempotencyConflictError) as conflict:
        service.submit(OWNER, spec(params={"fast": 5, "slow": 30}), idempotency_key="once")
    assert conflict.value.job_id == first.job.id
    with pytest.raises(InputError):  # an invalid spec is refused before the key is looked up
        service.submit(OWNER, spec(symbol="NOSUCH"), idempotency_key="once")

    theirs = service.submit("bob", spec(), idempotency_key="once")  # keys are per owner
    assert theirs.created
    assert theirs.job.id != first.job.id
    assert (total(workspace), wakes.count) == (2, 2)


def artifact_rows(workspace: Workspace, job_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(artifacts).where(artifacts.c.job_id == job_id)
    with workspace.repository.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_delete_removes_the_rows_and_the_artifact_files(
    service: JobService, workspace: Workspace
) -> None:
    done = service.submit(OWNER, spec()).job
    kept = service.submit(OWNER, spec(params={"fast": 5, "slow": 30})).job
    for job in (done, kept):
        assert execute_job(job.id, workspace.database_url, str(workspace.data_dir)) == "succeeded"
    folder = service.files.root / done.id
    assert len(list(folder.rglob("*.*"))) == 3
    assert artifact_rows(workspace, done.id) == 3

    with pytest.raises(NotFoundError):
        service.delete(done.id, "bob")  # someone else's job is not found, and stays
    assert workspace.repository.get(done.id) is not None
    service.delete(done.id, OWNER)
    assert workspace.repository.get(done.id) is None
    assert artifact_rows(workspace, done.id) == 0
    assert not folder.exists()
    with pytest.raises(NotFoundError):
        service.delete(done.id, OWNER)

    assert artifact_rows(workspace, kept.id) == 3  # the other job keeps everything
    assert len(list((service.files.root / kept.id).rglob("*.*"))) == 3
    queued = service.submit(OWNER, spec(params={"fast": 7, "slow": 30})).job
    service.delete(queued.id, None)  # an admin deletes any job; one without files too
    assert workspace.repository.get(queued.id) is None
