"""Dependencies of the API routes (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from privatetrade.web.auth import CurrentUser, Owner
from privatetrade.web.services import Services

__all__ = ["CurrentUser", "Owner", "ServicesDep"]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
