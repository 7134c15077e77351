"""Dependencies of the API routes (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from privatetrade.db.schema import LOCAL_OWNER
from privatetrade.web.services import Services

__all__ = ["Owner", "ServicesDep"]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _owner() -> str:
    return LOCAL_OWNER


ServicesDep = Annotated[Services, Depends(_services)]
Owner = Annotated[str, Depends(_owner)]
