"""The rule document: pydantic models, validation and the published JSON Schema (stub)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["RuleDocument", "parse_rules", "rules_json_schema"]


class RuleDocument(BaseModel):
    """A validated rule document (being written)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_rules(data: Any) -> RuleDocument:
    """Validate a rule document (being written)."""
    raise NotImplementedError


def rules_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a rule document (being written)."""
    raise NotImplementedError
