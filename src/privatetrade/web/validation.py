"""Name the exact field of a request validation error, through unions and dict keys.

Pydantic locates an error inside a union with the member it tried as an extra step
(``costs.literal['auto','krx','us','zero']``, ``costs.CostModel.sell_tax.0.rate``)
and reports every member that failed. A caller wants the field it sent
(``costs.sell_tax.0.rate``) and the reason that applies to it. This module walks
the body model's annotations along each error location to drop those steps, and of
a union's members keeps the one the input came closest to satisfying: the one whose
errors lie deepest in the input, preferring a violated bound to a wrong type.

Each error also keeps pydantic's type as its ``code`` (``greater_than_equal``, or the
type a validator raised with ``PydanticCustomError``) and the values of its context as
``params`` (``{"ge": 1}``), so a page can say it in its own language.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["FieldError", "body_model", "error_params", "field_errors"]

FieldError = dict[str, Any]
"""``{"field", "message", "code"}`` and, when the message mentions values, ``"params"``."""
Location = tuple[str | int, ...]

_SOURCES = {"body", "query", "path", "header", "cookie"}
_DICT_KEY = "[key]"
# Error types that say "not this kind of value" rather than "this value is out of bounds".
_WRONG_KIND = {
    "bool_parsing",
    "date_parsing",
    "dict_type",
    "enum",
    "float_parsing",
    "int_from_float",
    "int_parsing",
    "int_parsing_size",
    "is_instance_of",
    "list_type",
    "literal_error",
    "model_attributes_type",
    "model_type",
    "none_required",
    "tuple_type",
}


def body_model(scope: Mapping[str, Any]) -> type[BaseModel] | None:
    """Return the pydantic model of the matched route's JSON body, if it has one."""
    field = getattr(scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def field_errors(
    errors: Sequence[Mapping[str, Any]], model: type[BaseModel] | None = None
) -> list[FieldError]:
    """Return ``{"field", "message", "code", "params"}`` per error, fields as dotted paths.

    Args:
        errors: ``RequestValidationError.errors()``.
        model: The body model, to recognize the union steps of body locations.
    """
    located = [_Located.of(error, model) for error in errors]
    for level in range(max((len(item.tags) for item in located), default=0)):
        located = _resolve_unions(located, level)
    return [item.as_dict() for item in located]


def error_params(error: Mapping[str, Any]) -> dict[str, str | int | float]:
    """The values of a pydantic error's context, JSON-ready (``{"ge": 1}``).

    Numbers stay numbers, dates become ISO dates, anything else its text; a
    validator's exception object (``error``) is left out, the message has it.
    """
    params: dict[str, str | int | float] = {}
    for name, value in (error.get("ctx") or {}).items():
        if name == "error":
            continue
        if isinstance(value, bool):
            params[name] = str(value).lower()
        elif isinstance(value, (int, float, str)):
            params[name] = value
        elif isinstance(value, dt.date):
            params[name] = value.isoformat()
        else:
            params[name] = str(value)
    return params


class _Located:
    """One error with its location split into the input path and the union steps."""

    def __init__(
        self, path: list[str | int], tags: list[tuple[int, str]], error: Mapping[str, Any]
    ) -> None:
        self.path = path
        self.tags = tags
        self.error = error
        # A validator's ValueError reads "Value error, <the validator's message>".
        self.message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        self.code = str(error.get("type", "invalid_input"))
        self.params = error_params(error)
        self._extend_by_json_path()

    def _extend_by_json_path(self) -> None:
        """Name the part of a free-form JSON field that an error is about.

        A validator's ``json_path`` context (``$.long.exit.right``) extends the field
        (``rules.document.long.exit.right``), also given as ``params.path``, as the
        rule grammar's errors are.
        """
        json_path = self.params.pop("json_path", None)
        inner = json_path[1:].removeprefix(".") if isinstance(json_path, str) else ""
        if isinstance(json_path, str) and json_path.startswith("$") and inner and self.path:
            self.path = [*self.path, inner]
            self.params["path"] = self.field

    @classmethod
    def of(cls, error: Mapping[str, Any], model: type[BaseModel] | None) -> _Located:
        loc: Location = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":  # located by a character offset
            return cls([], [], error)
        source, rest = (loc[0], loc[1:]) if loc and loc[0] in _SOURCES else (None, loc)
        root = model if source == "body" else None
        path, tags = _walk(root, rest)
        return cls(path, tags, error)

    def as_dict(self) -> FieldError:
        """The error as the problem document lists it."""
        item: FieldError = {"field": self.field, "message": self.message, "code": self.code}
        if self.params:
            item["params"] = self.params
        return item

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path) or "body"

    def score(self) -> tuple[int, bool]:
        """How close the input came to this member: depth, then a bound over a kind."""
        depth = len(self.path) + len(self.tags)
        return depth, self.error.get("type") not in _WRONG_KIND and not str(
            self.error.get("type", "")
        ).endswith("_type")


def _resolve_unions(located: list[_Located], level: int) -> list[_Located]:
    """Keep, at each union of the given nesting level, the errors of its best member."""
    members: dict[tuple[str | int, ...], dict[str, list[_Located]]] = {}
    for item in located:
        if len(item.tags) > level:
            position, tag = item.tags[level]
            members.setdefault(tuple(item.path[:position]), {}).setdefault(tag, []).append(item)
    if not members:
        return located
    keep: set[int] = set()
    merged: dict[int, str] = {}
    for by_tag in members.values():
        best = max(by_tag.values(), key=lambda group: max(item.score() for item in group))
        keep.update(id(item) for item in best)
        first = best[0]
        at_union = len(first.path) == first.tags[level][0]
        if len(by_tag) > 1 and at_union and not max(item.score() for item in best)[1]:
            # No member accepted the kind of value: say what each of them wanted.
            merged[id(first)] = _either(group[0].message for group in by_tag.values())
    result = []
    for item in located:
        if len(item.tags) <= level or id(item) in keep:
            if id(item) in merged:
                item.message = merged[id(item)]
                item.code, item.params = "invalid_type", {}
            result.append(item)
    return result


def _either(messages: Iterable[str]) -> str:
    """Join what each union member wanted: "Input should be a; or b"."""
    prefix = "Input should be "
    first, *others = messages
    return "; or ".join([first, *(message.removeprefix(prefix) for message in others)])


def _walk(root: Any, loc: Location) -> tuple[list[str | int], list[tuple[int, str]]]:
    """Split ``loc`` into the input path and the union steps ``(position, tag)``."""
    path: list[str | int] = []
    tags: list[tuple[int, str]] = []
    current = root
    for step in loc:
        if step == _DICT_KEY:  # the key itself is wrong: the path already names it
            continue
        members = _union_members(current)
        if members and isinstance(step, str):
            tags.append((len(path), step))
            current = _member_for_tag(members, step)
            continue
        path.append(step)
        current = _child(current, step)
    return path, tags


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    """The members of a union other than None, if there are two or more."""
    annotation = _strip(annotation)
    if get_origin(annotation) not in (Union, types.UnionType):
        return []
    members = [_strip(arg) for arg in get_args(annotation) if arg is not type(None)]
    return members if len(members) > 1 else []


def _member_for_tag(members: list[Any], tag: str) -> Any:
    for member in members:
        if isinstance(member, type) and member.__name__ == tag:
            return member
        if get_origin(member) is Literal and tag.startswith("literal["):
            return member
    return None


def _child(annotation: Any, step: str | int) -> Any:
    """The annotation of ``step`` inside a model, mapping or sequence annotation."""
    annotation = _strip(annotation)
    nullable = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(nullable) == 1:
        annotation = _strip(nullable[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(step))
        return None if field is None else field.annotation
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, tuple, set, frozenset) and args:
        return args[0]
    return None
