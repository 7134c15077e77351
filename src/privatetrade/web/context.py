"""The one place the web layer finds its :class:`~privatetrade.system.System`.

``create_app`` stores the system on the application once; routes and pages receive it
(or the part they need) through the ``Annotated`` dependencies built on :func:`system_of`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from privatetrade.system import System

__all__ = ["SystemDep", "attach_system", "system_of"]


def attach_system(app: FastAPI, system: System) -> None:
    """Give the application its system (called once by ``create_app``)."""
    app.state.system = system


def system_of(request: Request) -> System:
    """Return the system of the application serving ``request``."""
    system: System = request.app.state.system
    return system


SystemDep = Annotated[System, Depends(system_of)]
