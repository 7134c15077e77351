"""``GET /api/status``: the operators' snapshot (administrators only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from privatetrade.web.auth import AdminUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import problem_responses

router = APIRouter(tags=["operations"])


@router.get(
    "/api/status",
    responses=problem_responses({401: "Not signed in", 403: "Not an administrator"}),
)
def get_status(admin: AdminUser, services: SystemDep) -> dict[str, Any]:
    """Version, uptime, CPU, memory, disk, API latency and errors, jobs and workers.

    API figures cover the last 5 and 60 minutes of this server process (the same
    observations as ``/metrics``); job counts come from the database.
    """
    return services.status()
