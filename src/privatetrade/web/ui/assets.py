"""Third-party browser assets served from installed Python packages (no CDN)."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

from privatetrade.web.report import plotly_js

__all__ = ["ScriptAsset", "router"]

router = APIRouter(include_in_schema=False)

_YEAR = 365 * 24 * 3600
_JAVASCRIPT = "text/javascript; charset=utf-8"


class ScriptAsset:
    """A script kept in memory, served with an ETag and gzip-compressed when accepted.

    Args:
        raw: The script's bytes.
        cache_control: The ``Cache-Control`` header of every answer.
    """

    def __init__(self, raw: bytes, *, cache_control: str) -> None:
        self.raw = raw
        self.packed = gzip.compress(raw, compresslevel=6, mtime=0)
        self.etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
        self.cache_control = cache_control

    def response(self, request: Request) -> Response:
        """Answer 304 when the client has this version, else the script (gzip if accepted)."""
        headers = {
            "Cache-Control": self.cache_control,
            "ETag": self.etag,
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(self.packed, media_type=_JAVASCRIPT, headers=headers)
        return Response(self.raw, media_type=_JAVASCRIPT, headers=headers)


@cache
def _plotly() -> ScriptAsset:
    raw = plotly_js().encode("utf-8")
    return ScriptAsset(raw, cache_control=f"public, max-age={_YEAR}, immutable")


@router.get("/assets/plotly.min.js")
def plotly_script(request: Request) -> Response:
    """Plotly's JavaScript from the ``plotly`` package, gzip-compressed when accepted."""
    return _plotly().response(request)
