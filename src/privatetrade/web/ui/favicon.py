"""The site's icon: one SVG, at the address a page links and where browsers look by default.

Pages link ``/favicon.svg?v=<version>``; browsers that were not told (a JSON answer
opened in a tab, an old bookmark) ask for ``/favicon.ico``, which gets the same SVG
(browsers go by the content type, not the name). The answer carries an ETag and may be
cached for a day; a new release links a new address.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

__all__ = ["FAVICON_CACHE_CONTROL", "FAVICON_MEDIA_TYPE", "router"]

router = APIRouter(include_in_schema=False)

FAVICON_MEDIA_TYPE = "image/svg+xml"
FAVICON_CACHE_CONTROL = "public, max-age=86400"
_ICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


@cache
def _icon() -> tuple[bytes, str]:
    raw = _ICON.read_bytes()
    return raw, f'"{hashlib.sha256(raw).hexdigest()[:32]}"'


def _answer(request: Request) -> Response:
    raw, etag = _icon()
    headers = {"Cache-Control": FAVICON_CACHE_CONTROL, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(raw, media_type=FAVICON_MEDIA_TYPE, headers=headers)


@router.get("/favicon.svg")
def favicon_svg(request: Request) -> Response:
    """The site's icon (SVG)."""
    return _answer(request)


@router.get("/favicon.ico")
def favicon_ico(request: Request) -> Response:
    """The same icon where browsers look when a page names none."""
    return _answer(request)
