"""The saved rule strategies' repository on SQLite and PostgreSQL.

Per owner: names unique (case-insensitive) among strategies not deleted, versions
immutable and numbered from 1, another owner's id reads as missing everywhere.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from databases import postgres_database
from privatetrade.db.engine import create_db_engine
from privatetrade.db.migrate import upgrade
from privatetrade.db.rule_strategies import RuleStrategyRepository
from privatetrade.db.schema import rule_strategies, rule_strategy_versions
from privatetrade.domain.rule_strategies import RuleNameTakenError

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
START = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite+pysqlite:///{tmp_path_factory.mktemp('rules') / 'rules.db'}"
        made = create_db_engine(url, pool_size=4)
        upgrade(made)
        yield made
        made.dispose()
        return
    with postgres_database("pt_rules") as url:
        made = create_db_engine(url, pool_size=4)
        upgrade(made)
        try:
            yield made
        finally:
            made.dispose()


@pytest.fixture
def repo(engine: Engine) -> RuleStrategyRepository:
    with engine.begin() as connection:
        connection.execute(sa.delete(rule_strategy_versions))
        connection.execute(sa.delete(rule_strategies))
    return RuleStrategyRepository(engine, clock=Clock())


def document(period: int) -> dict[str, object]:
    return {"schema": "privatetrade.rules/1", "long": {"entry": {"period": period}}}


def owner() -> str:
    return uuid.uuid4().hex


def test_create_get_list_and_versions(repo: RuleStrategyRepository) -> None:
    alice = owner()
    created = repo.create(alice, "SMA cross", "fast over slow", document(10))
    assert (created.version, created.name, created.document) == (1, "SMA cross", document(10))
    assert len(created.id) == 32

    updated = repo.update(alice, created.id, document(20), description="tuned")
    assert updated is not None
    assert (updated.version, updated.description, updated.name) == (2, "tuned", "SMA cross")

    found = repo.get(alice, created.id)
    assert found is not None
    assert found.document == document(20)
    assert [number for number, _at in found.versions] == [1, 2]
    assert found.versions[0][1] < found.versions[1][1]
    # Versions never change: version 1 is as first saved (name and description of then).
    first = repo.version(alice, created.id, 1)
    assert first is not None
    assert (first.document, first.description) == (document(10), "fast over slow")
    latest = repo.version(alice, created.id)
    assert latest is not None
    assert latest.version == 2
    assert latest.document == document(20)
    assert repo.version(alice, created.id, 3) is None

    other = repo.create(alice, "RSI", "", document(14))
    listed = repo.owned(alice)
    assert [item.id for item in listed] == [other.id, created.id]  # last saved first
    assert [item.document for item in listed] == [document(14), document(20)]


def test_names_are_unique_per_owner_case_insensitively(repo: RuleStrategyRepository) -> None:
    alice, bob = owner(), owner()
    first = repo.create(alice, "Breakout", "", document(5))
    with pytest.raises(RuleNameTakenError) as caught:
        repo.create(alice, "BREAKOUT", "", document(6))
    assert caught.value.code == "rule_name_taken"
    assert repo.create(bob, "Breakout", "", document(7)).name == "Breakout"  # another owner
    second = repo.create(alice, "Other", "", document(8))
    with pytest.raises(RuleNameTakenError):
        repo.update(alice, second.id, document(9), name="breakout")
    assert repo.version(alice, second.id) is not None
    assert repo.get(alice, second.id).version == 1  # type: ignore[union-attr]  # nothing written
    # Deleting frees the name; the deleted strategy is gone for its owner.
    assert repo.delete(alice, first.id)
    assert repo.get(alice, first.id) is None
    assert repo.version(alice, first.id, 1) is None
    assert not repo.delete(alice, first.id)
    assert repo.create(alice, "Breakout", "", document(10)).version == 1


def test_another_owner_sees_nothing(repo: RuleStrategyRepository) -> None:
    alice, mallory = owner(), owner()
    saved = repo.create(alice, "Mine", "", document(3))
    assert repo.get(mallory, saved.id) is None
    assert repo.version(mallory, saved.id, 1) is None
    assert repo.version(mallory, saved.id) is None
    assert repo.update(mallory, saved.id, document(4)) is None
    assert not repo.delete(mallory, saved.id)
    assert repo.owned(mallory) == []
    # ... and none of that changed alice's.
    found = repo.get(alice, saved.id)
    assert found is not None
    assert found.version == 1
    assert found.document == document(3)


def test_deleted_strategies_keep_their_versions_in_the_database(
    repo: RuleStrategyRepository, engine: Engine
) -> None:
    alice = owner()
    saved = repo.create(alice, "Kept", "", document(3))
    repo.update(alice, saved.id, document(4))
    assert repo.delete(alice, saved.id)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(rule_strategy_versions.c.version).where(
                rule_strategy_versions.c.strategy_id == saved.id
            )
        ).all()
    assert sorted(row.version for row in rows) == [1, 2]


def test_concurrent_updates_get_distinct_versions(repo: RuleStrategyRepository) -> None:
    alice = owner()
    saved = repo.create(alice, "Busy", "", document(1))
    errors: list[BaseException] = []

    def edit(period: int) -> None:
        try:
            repo.update(alice, saved.id, document(period))
        except BaseException as exc:  # collected: a thread's failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(period,)) for period in range(2, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = repo.get(alice, saved.id)
    assert found is not None
    assert [number for number, _at in found.versions] == list(range(1, 10))
    periods = {repo.version(alice, saved.id, v).document["long"]["entry"]["period"]  # type: ignore[union-attr,index]
               for v in range(2, 10)}  # fmt: skip
    assert periods == set(range(2, 10))


def test_documents_round_trip_unicode(repo: RuleStrategyRepository) -> None:
    alice = owner()
    doc = {"schema": "privatetrade.rules/1", "parameters": {"fast": {"title": "빠른 이동평균"}}}
    saved = repo.create(alice, "이동평균 교차", "한국어 설명", doc)
    found = repo.get(alice, saved.id)
    assert found is not None
    assert (found.name, found.description, found.document) == ("이동평균 교차", "한국어 설명", doc)
