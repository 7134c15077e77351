"""``/api/data/imports``: upload a CSV or Parquet file, preview it, import it (admins).

Uploads come as ``multipart/form-data`` (a ``file`` and the import's fields), are stored
in ``<data_dir>/uploads/`` while they are read (never executed) and removed right after
(:mod:`privatetrade.web.uploads`). A preview reads the file and answers what an import
would store; the import takes the same fields plus ``name`` and ``mode`` (``replace`` or
``merge``), which a symbol that is stored already requires. Nothing is kept between the
two calls: the client sends the file again with its final choices.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel

from privatetrade.data.symbols import Market, parse_market
from privatetrade.errors import DataError, InputError
from privatetrade.system import System
from privatetrade.web.api.data import ADMIN_ONLY, CoverageDep, DataSymbolOut, data_symbol_out
from privatetrade.web.auth import AdminUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, ProblemError, problem_responses
from privatetrade.web.uploads import ReceivedUpload, UploadLimits, received_upload

__all__ = [
    "IMPORT_PATHS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_ROWS",
    "UPLOAD_BODY_BYTES",
    "ImportChoices",
    "ImportOut",
    "import_choices",
    "router",
]

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""Largest file an upload may bring (16 MiB: about 300,000 CSV rows of daily bars)."""
MAX_UPLOAD_ROWS = 500_000
"""Most rows an uploaded file may hold (Parquet compresses: its size alone is no bound)."""
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 256 * 1024
"""The request body limit of the upload routes: the file plus its form fields."""
IMPORT_PATHS = ("/api/data/imports/preview", "/api/data/imports")
"""The routes that take uploads (the body size middleware allows them more)."""

router = APIRouter(prefix="/api/data/imports", tags=["data"])

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._^=-]{0,31}$")
_SUFFIXES = (".csv", ".txt", ".parquet", ".pq")
_LIMITS = UploadLimits(file_field="file", max_file_bytes=MAX_UPLOAD_BYTES, suffixes=_SUFFIXES)
_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no", ""})
_UPLOAD_ERRORS = {
    **ADMIN_ONLY,
    413: "The file or the request is too large",
    415: "The body is not multipart/form-data",
    **INVALID,
}
ResultT = TypeVar("ResultT")

if TYPE_CHECKING:
    from privatetrade.data.imports import ImportResult


class ImportOut(BaseModel):
    """What an import stored: how, the symbol's coverage now, the import's own report.

    ``result`` has the file's bars and dates, the bars stored before, those the file
    overwrote, and the quality report and findings of the series as stored now.
    """

    mode: Literal["new", "replace", "merge"]
    symbol: DataSymbolOut
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImportChoices:
    """The form fields of a preview or an import, checked."""

    symbol: str
    name: str | None
    market: Market | None
    adjusted: bool
    mapping: dict[str, str]
    date_format: str | None
    tz: str | None
    mode: Literal["replace", "merge"] | None


def _form_schema(*, commit: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "file": {
            "type": "string",
            "format": "binary",
            "description": f"CSV (UTF-8 or CP949) or Parquet, at most {MAX_UPLOAD_BYTES} "
            f"bytes and {MAX_UPLOAD_ROWS} rows",
        },
        "symbol": {"type": "string", "pattern": _CODE.pattern, "description": "Symbol code"},
        "market": {
            "type": "string",
            "enum": [m.value for m in Market],
            "description": "The symbol's market (a stored symbol keeps its own)",
        },
        "adjusted": {"type": "boolean", "description": "The file holds adjusted prices"},
        "date_format": {
            "type": "string",
            "maxLength": 64,
            "description": "strptime format of the date column, e.g. %Y-%m-%d",
        },
        "tz": {"type": "string", "maxLength": 64, "description": "Time zone of naive times"},
        "column": {
            "type": "array",
            "items": {
                "type": "string",
                "maxLength": 200,
                "pattern": "^(time|open|high|low|close|volume)=.+$",
            },
            "description": "FIELD=NAME: the file's column for time, open, high, low, close, "
            "volume (found by name when not given)",
        },
    }
    if commit:
        properties["name"] = {"type": "string", "maxLength": 200, "description": "Display name"}
        properties["mode"] = {
            "type": "string",
            "enum": ["replace", "merge"],
            "description": "Required when the symbol is stored: replace its bars or merge "
            "the file's into them (the file's win on equal dates)",
        }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "symbol"],
                        "properties": properties,
                    },
                    "encoding": {"column": {"style": "form", "explode": True}},
                }
            },
        }
    }


@router.post(
    "/preview",
    response_model=dict[str, Any],
    responses=problem_responses(_UPLOAD_ERRORS),
    openapi_extra=_form_schema(commit=False),
)
async def preview_upload(admin: AdminUser, services: SystemDep, request: Request) -> Any:
    """Read an uploaded file and tell what an import would store (administrators).

    The answer has the file's columns, the mapping found (or given), missing fields,
    the first rows, the number of bars, the first and last date, the quality summary
    (non-session days, off-tick prices, jumps, zero volume, gaps), whether the symbol
    is stored already (then the import needs ``mode``) and errors with the file's line
    numbers. Nothing is stored.
    """
    async with received_upload(request, _upload_dir(services), _LIMITS) as upload:
        choices = import_choices(upload, commit=False)
        await anyio.to_thread.run_sync(_check_rows, upload)
        preview = await _importing(lambda: _preview(services, upload.path, choices), upload)
    return {"file": {"name": upload.filename, "size": upload.size}, **preview}


@router.post(
    "",
    response_model=ImportOut,
    responses=problem_responses(
        {**_UPLOAD_ERRORS, 409: "The symbol is stored: choose mode replace or merge"}
    ),
    openapi_extra=_form_schema(commit=True),
)
async def import_upload(
    admin: AdminUser, services: SystemDep, index: CoverageDep, request: Request
) -> ImportOut:
    """Import an uploaded file as a symbol's bars: all rows or none (administrators).

    The same fields as the preview, plus ``name`` and ``mode``. A symbol that is
    stored already needs ``mode``: ``replace`` its bars of that series, or ``merge``
    the file's bars into them; without it the answer is 409 naming ``mode``.
    """
    async with received_upload(request, _upload_dir(services), _LIMITS) as upload:
        choices = import_choices(upload, commit=True)
        await anyio.to_thread.run_sync(_check_rows, upload)
        result = await _importing(lambda: _import(services, upload.path, choices), upload)
    item = await anyio.to_thread.run_sync(index.coverage, result.symbol.code)
    mode = "new" if result.mode is None else result.mode.value
    return ImportOut(mode=mode, symbol=data_symbol_out(item), result=result.to_dict())


def _upload_dir(services: System) -> Path:
    return services.market_data.data_dir / "uploads"


def import_choices(upload: ReceivedUpload, *, commit: bool) -> ImportChoices:
    """Check the upload's form fields.

    Raises:
        ProblemError: 422 naming the first bad field.
    """
    symbol = upload.text("symbol").upper()
    if not symbol:
        raise ProblemError(
            422, "name the symbol to import as", field="symbol", code="import_symbol_missing"
        )
    if not _CODE.match(symbol):
        raise ProblemError(
            422,
            "a symbol code is 1-32 letters, digits or . _ ^ = -",
            field="symbol",
            code="symbol_code_format",
        )
    market_name = upload.text("market")
    try:
        market = parse_market(market_name) if market_name else None
    except InputError as exc:
        raise ProblemError(422, str(exc), field="market") from exc
    return ImportChoices(
        symbol=symbol,
        name=(_bounded(upload.text("name"), "name", 200) or None) if commit else None,
        market=market,
        adjusted=_flag(upload.text("adjusted").lower(), "adjusted"),
        mapping=_mapping(upload.fields.get("column", [])),
        date_format=_bounded(upload.text("date_format"), "date_format") or None,
        tz=_time_zone(upload.text("tz")),
        mode=_mode(upload.text("mode")) if commit else None,
    )


def _flag(value: str, field: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ProblemError(422, "use true or false", field=field, code="bool_parsing")


def _bounded(value: str, field: str, limit: int = 64) -> str:
    if len(value) > limit:
        raise ProblemError(
            422,
            f"at most {limit} characters",
            field=field,
            code="string_too_long",
            params={"max_length": limit},
        )
    return value


def _mapping(entries: list[str]) -> dict[str, str]:
    from privatetrade.data.files import COLUMN_ALIASES

    mapping: dict[str, str] = {}
    for entry in entries:
        if not entry.strip():
            continue
        target, sep, column = entry.partition("=")
        target = target.strip().lower()
        if not sep or not column.strip():
            raise ProblemError(422, "write a column choice as FIELD=NAME", field="column")
        if target not in COLUMN_ALIASES:
            known = ", ".join(COLUMN_ALIASES)
            raise ProblemError(422, f"unknown field {target!r}; use one of {known}", field="column")
        mapping[target] = _bounded(column.strip(), "column", 200)
    return mapping


@cache
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str | None:
    if not value:
        return None
    if value not in _zones():
        raise ProblemError(
            422,
            f"unknown time zone {value[:64]!r}",
            field="tz",
            code="unknown_time_zone",
            params={"tz": value[:64]},
        )
    return value


def _mode(value: str) -> Literal["replace", "merge"] | None:
    if value == "":
        return None
    if value == "replace":
        return "replace"
    if value == "merge":
        return "merge"
    raise ProblemError(422, "mode is replace or merge", field="mode")


def _check_rows(upload: ReceivedUpload) -> None:
    """Refuse a file with more than ``MAX_UPLOAD_ROWS`` rows before it is parsed."""
    rows = upload.line_breaks
    if upload.suffix in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        try:
            rows = pq.read_metadata(upload.path).num_rows
        except Exception as exc:  # pyarrow raises several unrelated types
            raise ProblemError(
                422, "not a readable Parquet file", field="file", code="unreadable_file"
            ) from exc
    elif rows > 0:
        rows -= 1  # the header line
    if rows > MAX_UPLOAD_ROWS:
        raise ProblemError(
            422,
            f"the file has {rows} rows; at most {MAX_UPLOAD_ROWS} are imported",
            field="file",
            code="too_many_rows",
            params={"count": rows, "limit": MAX_UPLOAD_ROWS},
        )


async def _importing(work: Callable[[], ResultT], upload: ReceivedUpload) -> ResultT:
    """Run a preview or an import in a worker thread, its errors as 4xx naming a field.

    Messages name the client's file, never where the server keeps it meanwhile.
    """
    from privatetrade.data.files import BarsFileError

    def detail(exc: Exception) -> str:
        return str(exc).replace(str(upload.path), upload.filename)

    try:
        return await anyio.to_thread.run_sync(work)
    except InputError as exc:
        status = 409 if exc.field == "mode" else 422
        raise ProblemError(status, detail(exc), field=exc.field or "file") from exc
    except BarsFileError as exc:
        errors = [{"field": "file", "message": str(p), "line": p.line} for p in exc.problems]
        raise ProblemError(422, detail(exc), field="file", errors=errors) from exc
    except DataError as exc:
        raise ProblemError(422, detail(exc), field="file") from exc


def _preview(services: System, path: Path, choices: ImportChoices) -> dict[str, Any]:
    from privatetrade.data.imports import preview_import

    preview = preview_import(
        path,
        symbol=choices.symbol,
        mapping=choices.mapping or None,
        date_format=choices.date_format,
        tz=choices.tz,
        market=choices.market,
        adjusted=choices.adjusted,
        data=services.market_data,
    )
    return preview.to_dict()


def _import(services: System, path: Path, choices: ImportChoices) -> ImportResult:
    return services.market_data.import_file(
        path,
        choices.symbol,
        name=choices.name,
        market=choices.market,
        adjusted=choices.adjusted,
        columns=choices.mapping or None,
        date_format=choices.date_format,
        tz=choices.tz,
        mode=choices.mode,
    )
