"""Receive a file upload (``multipart/form-data``) into a folder, bounded, then remove it.

:func:`received_upload` streams the request body through a multipart parser: the one
file part goes straight into a new file in the given folder (named by us, never by the
client; only the client's file name's suffix is kept), counting bytes and line breaks
as it goes, and the request is refused with 413 the moment the file passes its limit;
the other parts are small text fields kept in memory. The file is removed when the
``async with`` block ends, whatever happens in it. Nothing here reads the file's
content beyond counting, and nothing ever executes it.

Every refusal is a :class:`~privatetrade.web.problems.ProblemError` naming the field:
``file`` (missing, too large, several), the field's own name (too long), ``body`` (not
multipart, malformed, too many fields).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from privatetrade.web.problems import ProblemError

__all__ = ["ReceivedUpload", "UploadLimits", "received_upload"]

_STALE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """How much one upload may bring.

    Attributes:
        file_field: Name of the form field holding the file.
        max_file_bytes: Largest file.
        max_fields: Most text fields besides the file.
        max_field_bytes: Longest text field.
        suffixes: File name suffixes accepted (lower case, with the dot).
    """

    file_field: str
    max_file_bytes: int
    max_fields: int = 32
    max_field_bytes: int = 4096
    suffixes: tuple[str, ...] = ()


@dataclass(slots=True)
class ReceivedUpload:
    """One received upload: the stored file and the form's text fields.

    Attributes:
        path: Where the file is stored until the ``async with`` block ends.
        filename: The client's name for the file (never used as a path).
        suffix: The file name's suffix, lower case (``.csv``).
        size: Bytes in the file.
        line_breaks: Line feeds in the file (a bound on a text file's rows).
        fields: Text fields by name, each with every value sent, in order.
    """

    path: Path
    filename: str = ""
    suffix: str = ""
    size: int = 0
    line_breaks: int = 0
    fields: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str, default: str = "") -> str:
        """The last value of text field ``name`` (stripped), or ``default``."""
        values = self.fields.get(name)
        return values[-1].strip() if values else default


@asynccontextmanager
async def received_upload(
    request: Request, folder: Path, limits: UploadLimits
) -> AsyncIterator[ReceivedUpload]:
    """Receive ``request``'s multipart body; yield it; remove the stored file afterwards.

    Raises:
        ProblemError: 413 for a file over the limit, 415 for a body that is not
            ``multipart/form-data``, 422 for anything else wrong (the field named).
    """
    boundary = _boundary(request)
    folder.mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(_remove_stale, folder)
    receiving = folder / f"upload-{uuid.uuid4().hex}.part"
    upload = ReceivedUpload(path=receiving)
    try:
        with receiving.open("xb") as handle:
            await _Receiver(upload, handle, limits).receive(request, boundary)
        # Readers tell CSV from Parquet by the suffix: give the file the client's.
        upload.path = receiving.with_suffix(upload.suffix or ".part")
        receiving.replace(upload.path)
        if not upload.filename and limits.file_field not in upload.fields:
            raise ProblemError(422, f"send the file in the form field {limits.file_field!r}",
                               field=limits.file_field)  # fmt: skip
        if not upload.filename:
            raise ProblemError(
                422, f"{limits.file_field!r} must be a file, not text", field=limits.file_field
            )
        yield upload
    finally:
        receiving.unlink(missing_ok=True)
        upload.path.unlink(missing_ok=True)


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ProblemError(415, "send the upload as multipart/form-data", field="body")
    boundary = options.get(b"boundary", b"")
    if not boundary or len(boundary) > 200:
        raise ProblemError(422, "the multipart body has no valid boundary", field="body")
    return boundary


def _remove_stale(folder: Path) -> None:
    """Remove uploads left behind by a process that died while receiving them."""
    cutoff = time.time() - _STALE_SECONDS
    for path in folder.glob("upload-*"):
        with suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


class _Receiver:
    """The multipart parser's callbacks: the file to disk, text fields to memory."""

    def __init__(self, upload: ReceivedUpload, handle: BinaryIO, limits: UploadLimits) -> None:
        self.upload = upload
        self.handle = handle
        self.limits = limits
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.part: str | None = None  # the text field being received, or None for the file
        self.text = bytearray()
        self.in_file = False
        self.text_fields = 0
        self.ended = False
        self.pending: list[bytes] = []

    async def receive(self, request: Request, boundary: bytes) -> None:
        callbacks = {
            "on_part_begin": self.part_begin,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value_part,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_end": self.end,
        }
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                try:
                    parser.write(chunk)
                except MultipartParseError as exc:
                    detail = f"malformed multipart body: {exc}"
                    raise ProblemError(422, detail, field="body") from exc
                if self.pending:
                    data, self.pending = b"".join(self.pending), []
                    await anyio.to_thread.run_sync(self.handle.write, data)
        except ClientDisconnect as exc:  # nobody reads the answer; the file is removed
            raise ProblemError(422, "the upload was interrupted", field="body") from exc
        if not self.ended:
            raise ProblemError(422, "the multipart body ended early", field="body")

    def part_begin(self) -> None:
        self.disposition = b""
        self.part = None
        self.in_file = False
        self.text = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_value_part(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if not name:
            raise ProblemError(422, "a form part has no name", field="body")
        if b"filename" in options:
            self._begin_file(name, options[b"filename"].decode("utf-8", "replace"))
            return
        self.text_fields += 1
        if self.text_fields > self.limits.max_fields:
            raise ProblemError(422, "too many form fields", field="body")
        self.part = name

    def _begin_file(self, name: str, filename: str) -> None:
        field_name = self.limits.file_field
        if name != field_name:
            raise ProblemError(422, f"unexpected file in the form field {name!r}", field=name)
        if self.upload.filename:
            raise ProblemError(422, "send one file only", field=field_name)
        suffix = Path(filename.replace("\\", "/")).suffix.lower()
        if self.limits.suffixes and suffix not in self.limits.suffixes:
            accepted = ", ".join(self.limits.suffixes)
            raise ProblemError(
                422, f"unsupported file type {suffix or '(none)'!r}; send {accepted}",
                field=field_name,
            )  # fmt: skip
        self.upload.filename = filename or "upload"
        self.upload.suffix = suffix
        self.in_file = True

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.in_file:
            self.upload.size += len(chunk)
            if self.upload.size > self.limits.max_file_bytes:
                raise ProblemError(
                    413,
                    f"the file is larger than {self.limits.max_file_bytes} bytes",
                    field=self.limits.file_field,
                )
            self.upload.line_breaks += chunk.count(b"\n")
            self.pending.append(chunk)
            return
        self.text += chunk
        if len(self.text) > self.limits.max_field_bytes:
            limit = self.limits.max_field_bytes
            raise ProblemError(422, f"longer than {limit} bytes", field=self.part or "body")

    def part_end(self) -> None:
        if self.part is not None:
            value = self.text.decode("utf-8", "replace")
            self.upload.fields.setdefault(self.part, []).append(value)
        self.part = None
        self.in_file = False

    def end(self) -> None:
        self.ended = True
