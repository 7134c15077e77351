"""Rule strategies: the grammar's schema, checks and previews, and each user's saved ones.

``/api/rules/...`` works on documents sent in the request (schema, validate, preview);
``/api/rule-strategies/...`` on the caller's saved strategies (create, list, read,
update as a new version, delete, read a version, export, import). Another user's
strategy answers 404, as one that does not exist. A document's errors are 422 naming
its JSON path under ``document`` (``document.long.entry.all[1].left.period``).

:func:`resolve_saved_rules` is what the run routes call before a job is queued: a
``rules.saved`` reference without a document becomes the exact saved document.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.convertors import Convertor, register_url_convertor

from privatetrade.domain.rule_strategies import (
    MAX_RULE_DESCRIPTION,
    RuleDocumentJson,
    RuleName,
    RuleNameTakenError,
    RulesChoice,
    RuleStrategy,
    RuleStrategyVersion,
    SavedRuleRef,
)
from privatetrade.domain.specs import ParamName, ParamValue, SymbolCode
from privatetrade.engine.limits import IsoDate
from privatetrade.errors import InputError
from privatetrade.system import System
from privatetrade.web.deps import Owner, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses

__all__ = ["resolve_saved_rules", "router"]

router = APIRouter(tags=["rules"], responses=problem_responses(UNAVAILABLE))


class _StrategyIdConvertor(Convertor[str]):
    """Path segments that can be a strategy id (32 hex), so ``/import`` is no id.

    Without it ``PUT /api/rule-strategies/import`` would reach the update route
    (422 for the id) instead of answering 405 with ``Allow: POST``.
    """

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("rule_strategy_id", _StrategyIdConvertor())
_ONE = "/api/rule-strategies/{strategy_id:rule_strategy_id}"

SpecT = TypeVar("SpecT", bound=BaseModel)
StrategyId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="32 hex characters")]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_RULE_DESCRIPTION)
]
_NOT_FOUND = problem_responses({404: "No such rule strategy", **INVALID})
_WRITE = problem_responses(
    {
        400: "The body cannot be read (not UTF-8)",
        409: "You already have a rule strategy of that name",
        413: "Request body too large",
        **INVALID,
    }
)
_EXAMPLE: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {
        "fast": {"type": "int", "default": 10, "min": 2, "max": 50},
        "slow": {"type": "int", "default": 30, "min": 10, "max": 200},
    },
    "long": {
        "entry": {
            "crosses_above": [
                {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
                {"indicator": "sma", "source": {"price": "close"}, "period": "${slow}"},
            ]
        },
        "exit": {
            "crosses_below": [
                {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
                {"indicator": "sma", "source": {"price": "close"}, "period": "${slow}"},
            ]
        },
    },
}


# ---------------------------------------------------------------- schemas


class RuleDocumentIn(BaseModel):
    """A rule document to check."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"document": _EXAMPLE}]}
    )

    document: RuleDocumentJson


class RuleValidation(BaseModel):
    """A valid document: its canonical form and its parameters (name -> declaration)."""

    valid: bool
    document: dict[str, Any]
    parameters: dict[str, Any]


class RulePreviewIn(BaseModel):
    """A document to evaluate on a stock's stored bars (the last 5,000 of the range)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"symbol": "AAPL", "start": "2012-01-01", "document": _EXAMPLE}]
        },
    )

    symbol: SymbolCode
    start: IsoDate | None = None
    end: IsoDate | None = None
    adjusted: bool = True
    document: RuleDocumentJson
    params: dict[ParamName, ParamValue] = Field(default_factory=dict, max_length=32)


class IndicatorLineOut(BaseModel):
    """One indicator series (None before it has a value)."""

    name: str
    pane: str
    values: list[float | None]


class IndicatorLevelOut(BaseModel):
    """A fixed level drawn with the indicators."""

    name: str
    pane: str
    value: float


class PreviewIndicators(BaseModel):
    """The lines and levels the rule looks at."""

    lines: list[IndicatorLineOut]
    levels: list[IndicatorLevelOut]


class RulePreviewOut(BaseModel):
    """The bars and the bar indices where the rule's signals fire (before costs and stops)."""

    symbol: str
    adjusted: bool
    truncated: bool = Field(description="True when only the last 5,000 bars of the range are shown")
    params: dict[str, Any]
    time: list[str]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    entries: list[int]
    exits: list[int]
    short_entries: list[int]
    short_exits: list[int]
    indicators: PreviewIndicators


class RuleStrategyIn(BaseModel):
    """A rule strategy to save (also the import format and the export file)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "SMA cross", "description": "", "document": _EXAMPLE}]
        },
    )

    name: RuleName
    description: Description = ""
    document: RuleDocumentJson


class RuleStrategyUpdate(BaseModel):
    """A new version: the document, and a new name or description if given."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName | None = None
    description: Description | None = None
    document: RuleDocumentJson


class RuleStrategySummary(BaseModel):
    """A saved rule strategy as listed: its latest version's number and parameters."""

    id: str
    name: str
    description: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    parameters: dict[str, Any]

    @classmethod
    def of(cls, strategy: RuleStrategy) -> RuleStrategySummary:
        """The listing entry of a strategy."""
        return cls(
            id=strategy.id,
            name=strategy.name,
            description=strategy.description,
            version=strategy.version,
            created_at=strategy.created_at,
            updated_at=strategy.updated_at,
            parameters=dict(strategy.document.get("parameters") or {}),
        )


class RuleVersionInfo(BaseModel):
    """One saved version: its number and when it was saved."""

    version: int
    created_at: dt.datetime


class RuleStrategyOut(RuleStrategySummary):
    """A saved rule strategy: the latest document and every version."""

    document: dict[str, Any]
    versions: list[RuleVersionInfo]

    @classmethod
    def full(cls, strategy: RuleStrategy) -> RuleStrategyOut:
        """The whole strategy (``versions``: the latest only when not listed)."""
        listed = strategy.versions or ((strategy.version, strategy.updated_at),)
        return cls(
            **RuleStrategySummary.of(strategy).model_dump(),
            document=strategy.document,
            versions=[RuleVersionInfo(version=v, created_at=at) for v, at in listed],
        )


class RuleVersionOut(BaseModel):
    """One version of a saved rule strategy, exactly as saved."""

    id: str
    version: int
    name: str
    description: str
    document: dict[str, Any]
    created_at: dt.datetime

    @classmethod
    def of(cls, version: RuleStrategyVersion) -> RuleVersionOut:
        """The answer for a stored version."""
        return cls(
            id=version.strategy_id,
            version=version.version,
            name=version.name,
            description=version.description,
            document=version.document,
            created_at=version.created_at,
        )


# ---------------------------------------------------------------- helpers


def checked_document(document: dict[str, Any]) -> dict[str, Any]:
    """Return the canonical form of a valid document.

    Raises:
        InputError: ``field`` is ``document.<path>``.
    """
    from privatetrade.plans.strategies import rule_document

    return rule_document(RulesChoice(document=document), "").to_dict()


def _no_such(strategy_id: str) -> ProblemError:
    return ProblemError(404, f"no rule strategy with id {strategy_id!r}")


def _name_taken(exc: RuleNameTakenError) -> ProblemError:
    return ProblemError(
        409, str(exc), field="name", code="rule_name_taken", params={"name": exc.name}
    )


def resolve_saved_rules(spec: SpecT, services: System, owner: str) -> SpecT:
    """Return ``spec`` with a saved rule strategy's exact document in ``rules``.

    ``rules.saved`` names one of the caller's strategies (``version`` None: the latest);
    its document replaces a missing one, and ``saved`` gets the version and name. A
    document sent with ``saved`` must be that version's.

    Raises:
        ProblemError: 404 for an id (or version) the caller has not;
            422 ``rule_document_mismatch`` for a different document.
    """
    rules = getattr(spec, "rules", None)
    if not isinstance(rules, RulesChoice) or rules.saved is None:
        return spec
    saved = rules.saved
    found = services.rule_strategies.version(owner, saved.id, saved.version)
    if found is None:
        what = "" if saved.version is None else f" version {saved.version}"
        raise ProblemError(
            404, f"no rule strategy with id {saved.id!r}{what}", field="rules.saved.id"
        )
    if rules.document is not None and checked_document_of_run(rules) != found.document:
        raise ProblemError(
            422,
            f"rules.document is not version {found.version} of the saved rule strategy; "
            "send either the saved reference or the document",
            field="rules.document",
            code="rule_document_mismatch",
            params={"version": found.version},
        )
    resolved = RulesChoice(
        document=found.document,
        saved=SavedRuleRef(id=saved.id, version=found.version, name=found.name),
    )
    return spec.model_copy(update={"rules": resolved})


def checked_document_of_run(rules: RulesChoice) -> dict[str, Any]:
    """A run's document in canonical form (errors name ``rules.document.<path>``)."""
    from privatetrade.plans.strategies import rule_document

    return rule_document(rules).to_dict()


def _free_name(services: System, owner: str, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``, ... whichever the owner does not use."""
    taken = {strategy.name.casefold() for strategy in services.rule_strategies.owned(owner)}
    if name.casefold() not in taken:
        return name
    for number in range(2, 1000):
        suffix = f" ({number})"
        candidate = name[: 100 - len(suffix)] + suffix
        if candidate.casefold() not in taken:
            return candidate
    return name  # the repository then refuses it (409)


# ---------------------------------------------------------------- documents


@router.get("/api/rules/schema", response_model=dict[str, Any])
def rules_schema() -> dict[str, Any]:
    """The JSON Schema of a rule document (``privatetrade.rules/1``, docs/rules.md)."""
    from privatetrade.engine.rules import rules_json_schema

    return rules_json_schema()


_DOCUMENT_ERRORS = problem_responses(
    {400: "The body cannot be read (not UTF-8)", 413: "Request body too large", **INVALID}
)


@router.post("/api/rules/validate", response_model=RuleValidation, responses=_DOCUMENT_ERRORS)
def validate_rules(body: RuleDocumentIn) -> RuleValidation:
    """Check a rule document; 422 naming the offending part (``document.<JSON path>``)."""
    document = checked_document(body.document)
    return RuleValidation(
        valid=True, document=document, parameters=dict(document.get("parameters") or {})
    )


@router.post("/api/rules/preview", response_model=RulePreviewOut, responses=_DOCUMENT_ERRORS)
def preview_rules(body: RulePreviewIn, services: SystemDep) -> RulePreviewOut:
    """Evaluate a document on a stock's stored bars: where it would enter and exit.

    At most the last 5,000 bars of ``start``..``end`` (``truncated`` says so); the
    signals before costs, stops and position sizing (a backtest applies those).
    ``params`` default to the document's parameter defaults.
    """
    from privatetrade.plans.rule_preview import preview_rules as preview

    if body.start is not None and body.end is not None and body.start > body.end:
        raise InputError("start must not be after end", field="end", code="start_after_end")
    found = preview(
        services.market_data,
        body.symbol,
        body.document,
        params=body.params,
        start=body.start,
        end=body.end,
        adjusted=body.adjusted,
    )
    return RulePreviewOut(
        symbol=found.symbol,
        adjusted=found.adjusted,
        truncated=found.truncated,
        params=found.params,
        **found.bars,
        **found.signals,
        indicators=PreviewIndicators.model_validate(found.indicators),
    )


# ---------------------------------------------------------------- saved strategies


@router.get("/api/rule-strategies", response_model=list[RuleStrategySummary])
def list_rule_strategies(services: SystemDep, owner: Owner) -> list[RuleStrategySummary]:
    """Your saved rule strategies, most recently saved first."""
    return [RuleStrategySummary.of(item) for item in services.rule_strategies.owned(owner)]


def _create(
    services: System, owner: str, body: RuleStrategyIn, name: str, response: Response
) -> RuleStrategyOut:
    document = checked_document(body.document)
    try:
        created = services.rule_strategies.create(owner, name, body.description, document)
    except RuleNameTakenError as exc:
        raise _name_taken(exc) from exc
    response.headers["Location"] = f"/api/rule-strategies/{created.id}"
    return RuleStrategyOut.full(created)


@router.post(
    "/api/rule-strategies",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleStrategyOut,
    responses=_WRITE,
)
def create_rule_strategy(
    body: RuleStrategyIn, response: Response, services: SystemDep, owner: Owner
) -> RuleStrategyOut:
    """Save a rule strategy as version 1; 409 if you have one of that name."""
    return _create(services, owner, body, body.name, response)


@router.post(
    "/api/rule-strategies/import",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleStrategyOut,
    responses=_WRITE,
)
def import_rule_strategy(
    body: RuleStrategyIn, response: Response, services: SystemDep, owner: Owner
) -> RuleStrategyOut:
    """Save an exported rule strategy (``{name, description, document}``) as a new one.

    A name you already use gets a number: ``SMA cross (2)``.
    """
    return _create(services, owner, body, _free_name(services, owner, body.name), response)


@router.get(_ONE, response_model=RuleStrategyOut, responses=_NOT_FOUND)
def get_rule_strategy(
    strategy_id: StrategyId, services: SystemDep, owner: Owner
) -> RuleStrategyOut:
    """One of your rule strategies: the latest document and the list of versions."""
    found = services.rule_strategies.get(owner, strategy_id)
    if found is None:
        raise _no_such(strategy_id)
    return RuleStrategyOut.full(found)


@router.put(
    _ONE,
    response_model=RuleStrategyOut,
    responses={**_NOT_FOUND, **_WRITE},
)
def update_rule_strategy(
    strategy_id: StrategyId, body: RuleStrategyUpdate, services: SystemDep, owner: Owner
) -> RuleStrategyOut:
    """Save a new version (the earlier ones are kept, unchanged); rename if ``name`` is given."""
    document = checked_document(body.document)
    try:
        updated = services.rule_strategies.update(
            owner, strategy_id, document, name=body.name, description=body.description
        )
    except RuleNameTakenError as exc:
        raise _name_taken(exc) from exc
    if updated is None:
        raise _no_such(strategy_id)
    found = services.rule_strategies.get(owner, strategy_id)
    return RuleStrategyOut.full(found or updated)


@router.delete(
    _ONE,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_NOT_FOUND,
)
def delete_rule_strategy(strategy_id: StrategyId, services: SystemDep, owner: Owner) -> Response:
    """Delete a rule strategy (runs made with it keep their rule in their results)."""
    if not services.rule_strategies.delete(owner, strategy_id):
        raise _no_such(strategy_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    _ONE + "/versions/{version}",
    response_model=RuleVersionOut,
    responses=_NOT_FOUND,
)
def get_rule_strategy_version(
    strategy_id: StrategyId,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    services: SystemDep,
    owner: Owner,
) -> RuleVersionOut:
    """One saved version of a rule strategy, exactly as saved."""
    found = services.rule_strategies.version(owner, strategy_id, version)
    if found is None:
        raise ProblemError(404, f"no version {version} of rule strategy {strategy_id!r}")
    return RuleVersionOut.of(found)


@router.get(
    _ONE + "/export",
    response_model=RuleStrategyIn,
    responses=_NOT_FOUND,
)
def export_rule_strategy(
    strategy_id: StrategyId, response: Response, services: SystemDep, owner: Owner
) -> RuleStrategyIn:
    """The latest version as a file to keep or share: ``{name, description, document}``.

    ``POST /api/rule-strategies/import`` takes the file back (here or on another server).
    """
    found = services.rule_strategies.get(owner, strategy_id)
    if found is None:
        raise _no_such(strategy_id)
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in found.name).strip("-")
    filename = f"privatetrade-rule-{slug or found.id[:8]}-v{found.version}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return RuleStrategyIn(name=found.name, description=found.description, document=found.document)
