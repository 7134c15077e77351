"""Third-party browser assets served from installed Python packages (no CDN)."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

from privatetrade.web.report import plotly_js

router = APIRouter(include_in_schema=False)

_YEAR = 365 * 24 * 3600


@cache
def _plotly_variants() -> tuple[bytes, bytes, str]:
    raw = plotly_js().encode("utf-8")
    return raw, gzip.compress(raw, compresslevel=6, mtime=0), hashlib.sha256(raw).hexdigest()[:32]


@router.get("/assets/plotly.min.js")
def plotly_script(request: Request) -> Response:
    """Plotly's JavaScript from the ``plotly`` package, gzip-compressed when accepted."""
    raw, packed, digest = _plotly_variants()
    headers = {
        "Cache-Control": f"public, max-age={_YEAR}, immutable",
        "ETag": f'"{digest}"',
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/javascript; charset=utf-8", headers=headers)
    return Response(raw, media_type="text/javascript; charset=utf-8", headers=headers)
