"""The API documentation pages (Swagger UI and ReDoc) under a strict CSP.

Their JavaScript and styles come from the ``fastapi_offline`` package (no CDN); unlike
FastAPI's own pages these start Swagger UI from a script file instead of an inline
script, so no page needs ``'unsafe-inline'`` for scripts. ReDoc's bundle is served with
the one address it would fetch from the internet (the "API docs by Redocly" logo)
replaced by an empty image: the docs work offline and break no policy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from privatetrade import __version__
from privatetrade.web.security import CSP_HEADER, PAGE_POLICY, REDOC_POLICY
from privatetrade.web.ui.assets import ScriptAsset
from privatetrade.web.ui.render import templates

__all__ = ["OFFLINE_ASSETS", "install_docs"]

OFFLINE_ASSETS = "/static-offline-docs"
"""Where Swagger UI's and ReDoc's files (from ``fastapi_offline``) are served."""
_ASSET_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
_REDOC_SCRIPT = f"{OFFLINE_ASSETS}/redoc-offline.js"
_REDOC_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
_EMPTY_IMAGE = b'"data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27/%3E"'

router = APIRouter(include_in_schema=False)


def _docs_page(request: Request, name: str, content_security_policy: str) -> HTMLResponse:
    root = str(request.scope.get("root_path", ""))
    html = templates.get_template(name).render(
        title=request.app.title,
        version=__version__,
        openapi_url=f"{root}{request.app.openapi_url}",
        assets=f"{root}{OFFLINE_ASSETS}",
        redoc_script=f"{root}{_REDOC_SCRIPT}",
        static=f"{root}/static",
    )
    return HTMLResponse(html, headers={CSP_HEADER: content_security_policy})


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: try the API in the browser."""
    return _docs_page(request, "docs_swagger.html", PAGE_POLICY)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the API reference."""
    return _docs_page(request, "docs_redoc.html", REDOC_POLICY)


@cache
def _redoc_bundle() -> ScriptAsset:
    raw = (_ASSET_DIR / "redoc.standalone.js").read_bytes().replace(_REDOC_LOGO, _EMPTY_IMAGE)
    return ScriptAsset(raw, cache_control="public, max-age=86400")


@router.get(_REDOC_SCRIPT)
def redoc_script(request: Request) -> Response:
    """ReDoc's bundle, its logo address replaced by an empty image (gzip when accepted)."""
    return _redoc_bundle().response(request)


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their files (create the app with docs_url=None)."""
    app.include_router(router)
    app.mount(OFFLINE_ASSETS, StaticFiles(directory=_ASSET_DIR), name="static-offline-docs")
