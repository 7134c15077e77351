"""The base of every rule-document node and the helper that maps a tagged union's members."""

from __future__ import annotations

import typing

from pydantic import BaseModel, ConfigDict, Tag

__all__ = ["Node", "tags_by_type"]


class Node(BaseModel):
    """A part of a rule document: frozen, no unknown keys, fields filled by alias or name."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def tags_by_type(union: object) -> dict[type[BaseModel], str]:
    """Return the tag of each model of a tagged union (``Annotated[A, Tag("~a")] | ...``).

    Args:
        union: ``Annotated[Annotated[A, Tag(...)] | ..., Discriminator(...)]``.

    Returns:
        The tag by model class, for a discriminator called with a model instance.
    """
    members = typing.get_args(typing.get_args(union)[0])
    tags: dict[type[BaseModel], str] = {}
    for member in members:
        model, *metadata = typing.get_args(member)
        for item in metadata:
            if isinstance(item, Tag):
                tags[model] = item.tag
    return tags
