"""Checks a rule document's structure alone cannot make: size, nesting and references.

:func:`check_raw` looks at the raw data before pydantic does (so a huge or deeply
nested document costs little); :func:`check_reference` checks a ``"${name}"`` against
the declared parameters. Problems are pydantic errors carrying the JSON path they are
about, turned into a :class:`~privatetrade.errors.RuleError` by the parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from privatetrade.engine.rules.limits import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_NODES
from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.rules.parameters import FloatParameter, IntParameter

__all__ = ["check_raw", "check_reference", "iter_references", "json_path"]

_RAW_DEPTH = 4 * MAX_DEPTH + 8
"""Deepest JSON nesting (objects and arrays) looked at before the grammar is applied."""
_TAG = "~"
"""Prefix of the union tags pydantic puts into error locations (dropped from paths)."""


def _error(code: str, path: str, message: str, **params: str | int | float) -> Exception:
    """Return a pydantic error carrying the JSON path it is about."""
    return PydanticCustomError(code, message, {"rule_path": path, **params})


def check_raw(data: dict[str, Any]) -> None:
    """Check nesting, node count and size of raw document data."""
    _check_nesting(data)
    for side in ("long", "short"):
        section = data.get(side)
        if isinstance(section, dict):
            _check_section_nodes(side, section, data)
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError) as exc:
        reason = str(exc)
        raise _error(
            "not_json", "$", "the document is not JSON data: {reason}", reason=reason
        ) from None
    size = len(text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise _error(
            "document_too_large",
            "$",
            "the document takes {size} bytes of JSON; at most {limit} are allowed",
            size=size,
            limit=MAX_DOCUMENT_BYTES,
        )


def _check_nesting(data: object) -> None:
    """Refuse JSON nested deeper than any valid document can be (cycles included)."""
    stack: list[tuple[object, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, location = stack.pop()
        if len(location) > _RAW_DEPTH:
            raise _error(
                "too_deep",
                json_path(location),
                "the document is nested too deeply (at most {limit} levels of conditions "
                "and series)",
                limit=MAX_DEPTH,
            )
        if isinstance(value, dict):
            stack.extend((item, (*location, str(key))) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((item, (*location, i)) for i, item in enumerate(value))


def _check_section_nodes(side: str, section: dict[str, Any], data: dict[str, Any]) -> None:
    """Check depth and node count of one section (nodes of earlier sections count too)."""
    counted = _count_before(side, data)
    roots = [(section[key], (side, key)) for key in ("entry", "exit") if key in section]
    stack: list[tuple[object, tuple[str | int, ...], int]] = [
        (value, location, 0) for value, location in reversed(roots)
    ]
    while stack:
        value, location, depth = stack.pop()
        if isinstance(value, dict):
            depth += 1
            counted += 1
            if depth > MAX_DEPTH:
                raise _error(
                    "too_deep",
                    json_path(location),
                    "conditions and series are nested {depth} levels deep here; at most "
                    "{limit} are allowed",
                    depth=depth,
                    limit=MAX_DEPTH,
                )
            if counted > MAX_NODES:
                raise _error(
                    "too_many_nodes",
                    json_path(location),
                    "the document has more than {limit} conditions and series",
                    limit=MAX_NODES,
                )
            children = [(item, (*location, str(key))) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            children = [(item, (*location, i)) for i, item in enumerate(value)]
        else:
            continue
        stack.extend((item, where, depth) for item, where in reversed(children))


def _count_before(side: str, data: dict[str, Any]) -> int:
    """Return the number of objects in the sections before ``side``."""
    if side == "long":
        return 0
    count = 0
    stack: list[object] = [data.get("long")]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            count += 1
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return max(count - 1, 0)  # the long section object itself is not a node


def iter_references(node: BaseModel, path: str = "$") -> Iterator[tuple[str, ParamRef]]:
    """Yield every parameter reference in a (part of a) document with its JSON path."""
    for name, field in type(node).model_fields.items():
        key = field.alias or name
        yield from _references_in(getattr(node, name), f"{path}.{key}")


def _references_in(value: object, path: str) -> Iterator[tuple[str, ParamRef]]:
    if isinstance(value, ParamRef):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from iter_references(value, path)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _references_in(item, f"{path}[{i}]")


def check_reference(
    path: str, reference: ParamRef, parameters: dict[str, IntParameter | FloatParameter]
) -> None:
    """Refuse a reference to an undeclared parameter or to one the slot cannot take."""
    declared = parameters.get(reference.name)
    slot = reference.slot
    if declared is None:
        known = ", ".join(parameters) or "none"
        raise _error(
            "undeclared_parameter",
            path,
            "parameter '{name}' is not declared in parameters (declared: {known})",
            name=reference.name,
            known=known,
        )
    if slot.whole and declared.kind != "int":
        raise _error(
            "parameter_type",
            path,
            "{label} must be a whole number, so parameter '{name}' must have type 'int'",
            name=reference.name,
            label=slot.label,
        )
    if not (slot.contains(declared.min) and slot.contains(declared.max)):
        raise _error(
            "parameter_out_of_range",
            path,
            "parameter '{name}' ranges from {min} to {max}, but {label} must be {expected}",
            name=reference.name,
            min=declared.min,
            max=declared.max,
            label=slot.label,
            expected=slot.describe(),
        )


def json_path(location: tuple[str | int, ...] | list[str | int]) -> str:
    """Return a pydantic error location as a JSON path (``$.long.entry.all[1]``).

    Union tags (``~...``) and pydantic's ``[key]`` markers are left out.
    """
    path = "$"
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(_TAG) or part == "[key]":
            continue
        elif part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path
