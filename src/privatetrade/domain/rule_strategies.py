"""Rule strategies in runs and saved per user.

A run whose ``strategy`` is ``rules`` carries its rule in a :class:`RulesChoice`: the
rule document itself and, when it came from the user's saved rule strategies, which
one (:class:`SavedRuleRef`: id, version, name). A request may name a saved strategy
without its document; the API resolves it (owner checked) before the spec is stored,
so a stored spec, and the result it produces, always holds the exact rule it ran.

:class:`RuleStrategy` and :class:`RuleStrategyVersion` are the saved strategies, as
the repository (``db/rule_strategies.py``) returns them. Versions are immutable: an
edit adds one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from privatetrade.errors import ConflictError

__all__ = [
    "MAX_RULE_DESCRIPTION",
    "MAX_RULE_DOCUMENT_BYTES",
    "MAX_RULE_NAME",
    "RULES_STRATEGY",
    "RuleDocumentJson",
    "RuleName",
    "RuleNameTakenError",
    "RuleStrategy",
    "RuleStrategyId",
    "RuleStrategyVersion",
    "RulesChoice",
    "SavedRuleRef",
    "document_size",
    "non_finite_number_path",
    "omitted",
    "rules_field_check",
]

RULES_STRATEGY: Final = "rules"
"""The strategy name of a rule strategy in specs (as ``privatetrade.engine.rules``)."""
MAX_RULE_DOCUMENT_BYTES: Final = 32 * 1024
"""Largest rule document, as compact JSON (the engine's limit)."""
MAX_RULE_NAME: Final = 100
MAX_RULE_DESCRIPTION: Final = 2_000
MAX_RULE_VERSION: Final = 1_000_000

RuleStrategyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
RuleName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_RULE_NAME)
]


def document_size(document: Any) -> int:
    """Bytes of ``document`` as compact JSON (UTF-8), the measure of the size limit."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return len(text.encode())


def non_finite_number_path(document: Any) -> str | None:
    """The JSON path (``$.long.entry.all[1].right``) of the first NaN or infinity, or None.

    JSON bodies can hold ``NaN``, ``Infinity`` and ``1e400`` (parsed as infinity).
    """
    pending: list[tuple[str, Any]] = [("$", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path
        if isinstance(value, dict):
            items = [(f"{path}.{key}", item) for key, item in value.items()]
        elif isinstance(value, list):
            items = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
        else:
            continue
        pending.extend(reversed(items))  # depth first, in document order
    return None


def _bounded_document(document: dict[str, Any]) -> dict[str, Any]:
    """Refuse a document that is no plain JSON or larger than the limit.

    A NaN or infinity is named by its JSON path (the error's ``json_path`` context).
    """
    try:
        size = document_size(document)
    except (TypeError, ValueError) as exc:
        json_path = non_finite_number_path(document)
        if json_path is not None:
            raise PydanticCustomError(
                "rule_document_not_json",
                "the number at {json_path} must be finite (not NaN, Infinity or beyond ±1.8e308)",
                {"json_path": json_path},
            ) from exc
        raise PydanticCustomError(
            "rule_document_not_json", "the rule document must be plain JSON"
        ) from exc
    if size > MAX_RULE_DOCUMENT_BYTES:
        raise PydanticCustomError(
            "rule_document_too_large",
            "the rule document has {size} bytes; the limit is {limit}",
            {"size": size, "limit": MAX_RULE_DOCUMENT_BYTES},
        )
    return document


RuleDocumentJson = Annotated[dict[str, Any], AfterValidator(_bounded_document)]
"""A rule document as JSON (an object of at most 32 KiB), not yet checked by the grammar."""


class SavedRuleRef(BaseModel):
    """Which saved rule strategy a run uses.

    Attributes:
        id: The saved strategy's id.
        version: Its version; None in a request means the latest (the stored spec
            always holds the number).
        name: Its name when the run was submitted (filled in by the server).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleStrategyId
    version: Annotated[int, Field(ge=1, le=MAX_RULE_VERSION)] | None = None
    name: Annotated[str, StringConstraints(max_length=MAX_RULE_NAME)] | None = None


class RulesChoice(BaseModel):
    """The rule of a run whose strategy is ``rules``.

    Attributes:
        document: The rule document (schema ``privatetrade.rules/1``, docs/rules.md);
            checked when the run is planned, errors naming ``rules.document.<path>``.
        saved: The saved rule strategy it came from, or None for a document sent as is.
            A request may give ``saved`` without ``document``: the server fills the
            document in from the caller's saved strategy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    document: RuleDocumentJson | None = None
    saved: SavedRuleRef | None = None

    @model_validator(mode="after")
    def _document_or_saved(self) -> Self:
        if self.document is None and self.saved is None:
            raise PydanticCustomError(
                "rules_empty", "give the rule's document or a saved rule strategy (saved.id)"
            )
        return self

    @property
    def resolved(self) -> bool:
        """True when the document is here (a stored spec's always is)."""
        return self.document is not None


def rules_field_check(strategy: Any, rules: RulesChoice | None) -> RulesChoice | None:
    """Check ``rules`` against the spec's ``strategy`` (a field validator's body).

    ``rules`` is required when the strategy is ``rules`` and refused otherwise.
    """
    if not isinstance(strategy, str):
        return rules  # the strategy's own error suffices
    if strategy == RULES_STRATEGY and rules is None:
        raise PydanticCustomError(
            "rules_required",
            "strategy 'rules' needs rules: a rule document or a saved rule strategy",
        )
    if strategy != RULES_STRATEGY and rules is not None:
        raise PydanticCustomError(
            "rules_not_used",
            "only strategy 'rules' takes rules (the strategy is {strategy})",
            {"strategy": strategy},
        )
    return rules


@dataclass(frozen=True, slots=True)
class RuleStrategyVersion:
    """One immutable version of a saved rule strategy.

    Attributes:
        strategy_id: The saved strategy's id.
        version: 1, 2, ... in the order they were saved.
        name: The strategy's name when this version was saved.
        description: Its description then.
        document: The rule document.
        created_at: When this version was saved (UTC).
    """

    strategy_id: str
    version: int
    name: str
    description: str
    document: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RuleStrategy:
    """A user's saved rule strategy, with its latest version's document.

    Attributes:
        id: 32 hex characters.
        owner: The user it belongs to.
        name: Unique among the owner's strategies (case-insensitive).
        description: Free text.
        version: The latest version's number.
        document: The latest version's document.
        created_at: When it was first saved (UTC).
        updated_at: When its latest version was saved (UTC).
        versions: Every version's number and time, oldest first (filled by ``get``).
    """

    id: str
    owner: str
    name: str
    description: str
    version: int
    document: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    versions: tuple[tuple[int, dt.datetime], ...] = field(default=())


class RuleNameTakenError(ConflictError):
    """The owner already has a rule strategy of that name."""

    code = "rule_name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"you already have a rule strategy named {name!r}")
        self.name = name
        self.params = {"name": name}


def omitted(rules: RulesChoice | None) -> bool:
    """True for a spec without a rule: its ``rules`` is left out of the serialized spec.

    Specs, fingerprints and result documents of built-in strategies keep the text they
    had before rule strategies existed.
    """
    return rules is None
