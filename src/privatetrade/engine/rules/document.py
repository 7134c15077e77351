"""The rule document: frozen pydantic models, validation and the published JSON Schema.

The grammar is in docs/rules.md. :func:`parse_rules` is the one way in: it checks the
document's size and nesting before pydantic sees it, validates the structure
(discriminated unions, so an error names the exact part), then checks every
``"${name}"`` against the declared parameters. Every problem becomes a
:class:`~privatetrade.errors.RuleError` whose ``path`` is a JSON path.

The parts live in their own modules: :mod:`.series`, :mod:`.conditions`,
:mod:`.parameters`, and the checks beyond the structure in :mod:`.checks`.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from privatetrade.engine.rules.checks import (
    check_raw,
    check_reference,
    iter_references,
    json_path,
)
from privatetrade.engine.rules.conditions import Condition
from privatetrade.engine.rules.limits import MAX_DOCUMENT_BYTES, MAX_PARAMETERS, RULES_SCHEMA_ID
from privatetrade.engine.rules.nodes import Node
from privatetrade.engine.rules.numbers import BarsHeld, StopFraction, TakeProfit
from privatetrade.engine.rules.parameters import Parameter, ParameterName
from privatetrade.errors import RuleError

__all__ = [
    "Exits",
    "RuleDocument",
    "Section",
    "parse_rules",
    "rule_error",
    "rules_json_schema",
]


class Section(Node):
    """Entry and exit conditions of one side (long or short)."""

    entry: Condition
    exit: Condition | None = None


class Exits(Node):
    """Protective and time exits, as fractions of the entry price and bars held."""

    stop_loss: StopFraction | None = None
    take_profit: TakeProfit | None = None
    trailing_stop: StopFraction | None = None
    max_bars_held: BarsHeld | None = None


class RuleDocument(Node):
    """A validated rule document (``schema`` ``privatetrade.rules/1``).

    Build it with :func:`parse_rules`; ``model_validate`` works too and raises pydantic's
    ``ValidationError`` (whose first error :func:`parse_rules` turns into a RuleError).
    """

    schema_: Literal["privatetrade.rules/1"] = Field(alias="schema")
    parameters: dict[ParameterName, Parameter] = Field(
        default_factory=dict, max_length=MAX_PARAMETERS
    )
    long: Section
    short: Section | None = None
    exits: Exits | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_shape(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_raw(data)
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        for path, reference in iter_references(self):
            check_reference(path, reference, self.parameters)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the document as canonical JSON-ready data (nulls left out).

        ``parse_rules(doc.to_dict()) == doc``.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        """Return :meth:`to_dict` as compact JSON text with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def parse_rules(data: Any) -> RuleDocument:
    """Validate a rule document.

    Args:
        data: The document as parsed JSON (a dict), JSON text or bytes, or a
            :class:`RuleDocument` (returned as it is).

    Returns:
        The validated document.

    Raises:
        RuleError: The first problem, with ``path`` the JSON path of the offending part,
            a stable ``code`` and the ``params`` its message mentions.

    Example:
        >>> parse_rules({"schema": "privatetrade.rules/1", "long": {"entry": {"any": [5]}}})
        Traceback (most recent call last):
        ...
        privatetrade.errors.RuleError: $.long.entry.any[0]: a condition must be an object ...
    """
    if isinstance(data, RuleDocument):
        return data
    if isinstance(data, str | bytes | bytearray):
        data = _load_json(data)
    if not isinstance(data, dict):
        raise RuleError(
            f"$: a rule document must be a JSON object, got {type(data).__name__}",
            code="not_an_object",
        )
    try:
        return RuleDocument.model_validate(data)
    except ValidationError as exc:
        raise rule_error(exc) from None
    except RecursionError:
        raise RuleError("$: the document is nested too deeply", code="too_deep") from None


def _load_json(text: str | bytes | bytearray) -> Any:
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > 4 * MAX_DOCUMENT_BYTES:
        raise RuleError(
            f"$: the document takes {size} bytes; at most {MAX_DOCUMENT_BYTES} are allowed",
            code="document_too_large",
            params={"size": size, "limit": MAX_DOCUMENT_BYTES},
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise RuleError("$: the document is nested too deeply", code="too_deep") from None
    except ValueError as exc:
        raise RuleError(
            f"$: the document is not valid JSON: {exc}",
            code="invalid_json",
            params={"reason": str(exc)},
        ) from None


def rule_error(exc: ValidationError) -> RuleError:
    """Return the RuleError of the first problem pydantic found in a rule document."""
    error = exc.errors(include_url=False)[0]
    ctx = error.get("ctx") or {}
    path = str(ctx["rule_path"]) if "rule_path" in ctx else json_path(list(error["loc"]))
    params: dict[str, str | int | float] = {}
    for name, value in ctx.items():
        if name != "rule_path" and isinstance(value, str | int | float):
            params[name] = value
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    return RuleError(f"{path}: {message}", path=path, code=error["type"], params=params)


def rules_json_schema() -> dict[str, Any]:
    """Return the published JSON Schema of a rule document (draft 2020-12)."""
    schema = RuleDocument.model_json_schema(by_alias=True)
    definitions = schema.get("$defs", {})
    definitions.pop("_UnknownSeries", None)
    _drop_references(schema, "#/$defs/_UnknownSeries")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = RULES_SCHEMA_ID
    schema["title"] = "privatetrade rule strategy"
    return schema


def _drop_references(node: object, target: str) -> None:
    if isinstance(node, dict):
        for key in ("oneOf", "anyOf"):
            options = node.get(key)
            if isinstance(options, list):
                node[key] = [option for option in options if option != {"$ref": target}]
        mapping = node.get("discriminator", {}).get("mapping") if "discriminator" in node else None
        if isinstance(mapping, dict):
            for name in [name for name, ref in mapping.items() if ref == target]:
                del mapping[name]
        for value in node.values():
            _drop_references(value, target)
    elif isinstance(node, list):
        for value in node:
            _drop_references(value, target)
