"""Third-party browser assets served from installed Python packages (no CDN).

``/assets/plotly.min.js`` is Plotly followed by our Korean locale for it
(``static/js/plotly_locale.js``), so every page that draws charts gets Korean tool
tips, month names and date labels without a second script.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from privatetrade.web.report import plotly_js

__all__ = ["ScriptAsset", "router"]

router = APIRouter(include_in_schema=False)

_YEAR = 365 * 24 * 3600
_PLOTLY_LOCALE = Path(__file__).resolve().parent.parent / "static" / "js" / "plotly_locale.js"
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
    locale = _PLOTLY_LOCALE.read_text(encoding="utf-8")
    raw = f"{plotly_js()}\n;\n{locale}".encode()
    return ScriptAsset(raw, cache_control=f"public, max-age={_YEAR}, immutable")


@router.get("/assets/plotly.min.js")
def plotly_script(request: Request) -> Response:
    """Plotly's JavaScript from the ``plotly`` package and our Korean locale for it."""
    return _plotly().response(request)
