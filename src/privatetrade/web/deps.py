"""Dependencies of the API routes (``Annotated`` aliases)."""

from __future__ import annotations

from privatetrade.web.auth import CurrentUser, Owner
from privatetrade.web.context import SystemDep

__all__ = ["CurrentUser", "Owner", "SystemDep"]
