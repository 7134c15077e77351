"""What the download routes share: file answers and how they are documented."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from fastapi import Response
from fastapi.responses import StreamingResponse

__all__ = ["attachment", "download_responses", "streamed_attachment"]

_CHUNK = 1 << 20


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


def streamed_attachment(
    stream: BinaryIO,
    size: int,
    *,
    media_type: str,
    filename: str,
    etag: str | None = None,
    prefix: bytes = b"",
) -> Response:
    """Answer an open file as a download, read in chunks (``prefix`` first); closes ``stream``.

    Args:
        stream: The open file, positioned where the download continues after ``prefix``.
        size: How many bytes follow in ``stream`` (for ``Content-Length``).
        media_type: Its ``Content-Type``.
        filename: The name the browser saves it under.
        etag: A strong validator (a content hash), sent as the ``ETag`` header.
        prefix: Bytes sent before the file's.
    """
    headers = dict(attachment(b"", media_type=media_type, filename=filename, etag=etag).headers)
    headers.pop("content-length", None)
    headers["Content-Length"] = str(len(prefix) + size)

    def chunks() -> Iterator[bytes]:
        with stream:
            if prefix:
                yield prefix
            while chunk := stream.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def download_responses(
    errors: Mapping[int | str, dict[str, Any]], *media_types: str
) -> dict[int | str, dict[str, Any]]:
    """Document a download route: its media types, then its ``errors``."""
    return {200: {"content": {media_type: {} for media_type in media_types}}, **errors}
