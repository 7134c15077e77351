"""The saved rule strategies of each user, and their versions.

Each owner sees only their own strategies: every read and write takes the owner, and
another owner's id reads as missing. Names are unique per owner among strategies not
deleted (case-insensitive). Versions are never changed: an update adds one. Deleting
marks the strategy deleted and frees its name; its versions stay in the database
(results embed their rule anyway, so nothing depends on them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from privatetrade.db.engine import is_sqlite, read_tx, write_tx
from privatetrade.db.jobs import Clock, utc_now
from privatetrade.db.schema import rule_strategies, rule_strategy_versions
from privatetrade.domain.rule_strategies import (
    RuleNameTakenError,
    RuleStrategy,
    RuleStrategyVersion,
)
from privatetrade.errors import InputError

__all__ = ["MAX_RULE_STRATEGIES", "MAX_RULE_VERSIONS", "RuleStrategyRepository"]

MAX_RULE_STRATEGIES: Final = 500
"""Most saved rule strategies (not deleted) of one owner."""
MAX_RULE_VERSIONS: Final = 1_000
"""Most versions of one rule strategy."""


def _document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strategy(values: Any, document: dict[str, Any]) -> RuleStrategy:
    return RuleStrategy(
        id=values["id"],
        owner=values["owner"],
        name=values["name"],
        description=values["description"],
        version=values["version"],
        document=document,
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def _version(values: Any) -> RuleStrategyVersion:
    return RuleStrategyVersion(
        strategy_id=values["strategy_id"],
        version=values["version"],
        name=values["name"],
        description=values["description"],
        document=json.loads(values["document"]),
        created_at=values["created_at"],
    )


class RuleStrategyRepository:
    """Reads and writes saved rule strategies (``rule_strategies`` and their versions)."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # ------------------------------------------------------------------ reads

    def owned(self, owner: str) -> list[RuleStrategy]:
        """Return the owner's strategies (not deleted), most recently updated first."""
        table, versions = rule_strategies, rule_strategy_versions
        query = (
            select(table, versions.c.document)
            .join(
                versions,
                (versions.c.strategy_id == table.c.id) & (versions.c.version == table.c.version),
            )
            .where(table.c.owner == owner, table.c.deleted_at.is_(None))
            .order_by(table.c.updated_at.desc(), table.c.id)
        )
        with read_tx(self.engine) as connection:
            rows = connection.execute(query).all()
        return [_strategy(row._mapping, json.loads(row._mapping["document"])) for row in rows]

    def get(self, owner: str, strategy_id: str) -> RuleStrategy | None:
        """Return the owner's strategy with its latest document and version list, or None."""
        with read_tx(self.engine) as connection:
            row = self._row(connection, owner, strategy_id)
            if row is None:
                return None
            listed = connection.execute(
                select(
                    rule_strategy_versions.c.version,
                    rule_strategy_versions.c.created_at,
                    rule_strategy_versions.c.document,
                )
                .where(rule_strategy_versions.c.strategy_id == strategy_id)
                .order_by(rule_strategy_versions.c.version)
            ).all()
        latest = next(item for item in listed if item.version == row["version"])
        return dataclasses.replace(
            _strategy(row, json.loads(latest.document)),
            versions=tuple((item.version, item.created_at) for item in listed),
        )

    def version(
        self, owner: str, strategy_id: str, version: int | None = None
    ) -> RuleStrategyVersion | None:
        """Return one version (None: the latest) of the owner's strategy, or None."""
        with read_tx(self.engine) as connection:
            row = self._row(connection, owner, strategy_id)
            if row is None:
                return None
            found = connection.execute(
                select(rule_strategy_versions).where(
                    rule_strategy_versions.c.strategy_id == strategy_id,
                    rule_strategy_versions.c.version == (version or row["version"]),
                )
            ).first()
        return None if found is None else _version(found._mapping)

    def _row(
        self, connection: Connection, owner: str, strategy_id: str, *, lock: bool = False
    ) -> Any:
        query = select(rule_strategies).where(
            rule_strategies.c.id == strategy_id,
            rule_strategies.c.owner == owner,
            rule_strategies.c.deleted_at.is_(None),
        )
        if lock and not is_sqlite(self.engine):
            query = query.with_for_update()
        row = connection.execute(query).first()
        return None if row is None else row._mapping

    # ------------------------------------------------------------------ writes

    def create(
        self, owner: str, name: str, description: str, document: dict[str, Any]
    ) -> RuleStrategy:
        """Save a new strategy as version 1.

        Raises:
            RuleNameTakenError: The owner has a strategy of that name.
            InputError: The owner has :data:`MAX_RULE_STRATEGIES` already (``field``
                ``name``, code ``too_many_rule_strategies``).
        """
        now = self.clock()
        strategy_id = uuid.uuid4().hex
        values = {
            "id": strategy_id,
            "owner": owner,
            "name": name,
            "name_key": name.casefold(),
            "description": description,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        try:
            with write_tx(self.engine) as connection:
                self._check_count(connection, owner)
                connection.execute(insert(rule_strategies).values(**values))
                self._insert_version(connection, strategy_id, 1, name, description, document, now)
        except IntegrityError as exc:
            raise RuleNameTakenError(name) from exc
        return _strategy(values, document)

    def update(
        self,
        owner: str,
        strategy_id: str,
        document: dict[str, Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> RuleStrategy | None:
        """Save ``document`` as the strategy's next version (name, description if given).

        Returns:
            The updated strategy, or None when the owner has no such strategy.

        Raises:
            RuleNameTakenError: ``name`` is another of the owner's strategies'.
            InputError: The strategy has :data:`MAX_RULE_VERSIONS` versions (``field``
                ``document``, code ``too_many_rule_versions``).
        """
        now = self.clock()
        try:
            with write_tx(self.engine) as connection:
                row = self._row(connection, owner, strategy_id, lock=True)
                if row is None:
                    return None
                version = int(row["version"]) + 1
                if version > MAX_RULE_VERSIONS:
                    raise InputError(
                        f"a rule strategy keeps at most {MAX_RULE_VERSIONS:,} versions; "
                        "save it under a new name",
                        field="document",
                        code="too_many_rule_versions",
                        params={"limit": MAX_RULE_VERSIONS},
                    )
                new_name = row["name"] if name is None else name
                new_description = row["description"] if description is None else description
                changes = {
                    "name": new_name,
                    "name_key": new_name.casefold(),
                    "description": new_description,
                    "version": version,
                    "updated_at": now,
                }
                connection.execute(
                    update(rule_strategies)
                    .where(rule_strategies.c.id == strategy_id)
                    .values(**changes)
                )
                self._insert_version(
                    connection, strategy_id, version, new_name, new_description, document, now
                )
        except IntegrityError as exc:
            raise RuleNameTakenError(name or "") from exc
        return _strategy({**dict(row), **changes}, document)

    def delete(self, owner: str, strategy_id: str) -> bool:
        """Mark the owner's strategy deleted (its name is free again); False if none."""
        with write_tx(self.engine) as connection:
            result = connection.execute(
                update(rule_strategies)
                .where(
                    rule_strategies.c.id == strategy_id,
                    rule_strategies.c.owner == owner,
                    rule_strategies.c.deleted_at.is_(None),
                )
                .values(deleted_at=self.clock(), name_key=None)
            )
        return bool(result.rowcount)

    def _check_count(self, connection: Connection, owner: str) -> None:
        count = connection.execute(
            select(func.count())
            .select_from(rule_strategies)
            .where(rule_strategies.c.owner == owner, rule_strategies.c.deleted_at.is_(None))
        ).scalar_one()
        if count >= MAX_RULE_STRATEGIES:
            raise InputError(
                f"you have {count:,} rule strategies; the limit is {MAX_RULE_STRATEGIES:,} "
                "(delete some first)",
                field="name",
                code="too_many_rule_strategies",
                params={"limit": MAX_RULE_STRATEGIES},
            )

    @staticmethod
    def _insert_version(
        connection: Connection,
        strategy_id: str,
        version: int,
        name: str,
        description: str,
        document: dict[str, Any],
        now: Any,
    ) -> None:
        text = _document_text(document)
        connection.execute(
            insert(rule_strategy_versions).values(
                strategy_id=strategy_id,
                version=version,
                name=name,
                description=description,
                document=text,
                sha256=hashlib.sha256(text.encode()).hexdigest(),
                created_at=now,
            )
        )
