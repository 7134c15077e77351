"""What the download routes share: file answers and how they are documented."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import Response

__all__ = ["attachment", "download_responses"]


def attachment(
    content: bytes | str,
    *,
    media_type: str,
    filename: str,
    etag: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Answer ``content`` as a file to save, named ``filename`` (unsafe characters -> ``_``).

    Args:
        content: The file's bytes (or text).
        media_type: Its ``Content-Type``.
        filename: The name the browser saves it under.
        etag: A strong validator (a content hash), sent as the ``ETag`` header.
        headers: More headers.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    answer = {"Content-Disposition": f'attachment; filename="{safe}"'}
    if etag is not None:
        answer["ETag"] = f'"{etag}"'
    return Response(content, media_type=media_type, headers={**answer, **(headers or {})})


def download_responses(
    errors: Mapping[int | str, dict[str, Any]], *media_types: str
) -> dict[int | str, dict[str, Any]]:
    """Document a download route: its media types, then its ``errors``."""
    return {200: {"content": {media_type: {} for media_type in media_types}}, **errors}
