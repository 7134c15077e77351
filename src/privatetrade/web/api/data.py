"""``/api/data/symbols``: stored symbols, their coverage and quality; deleting (admins).

Everyone signed in sees what is stored: first and last bar, series (raw, adjusted),
source, when the bars were last written, and what the quality check found. Only
administrators delete. Uploads are in :mod:`privatetrade.web.api.data_imports`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel

from privatetrade.data.coverage import CoverageIndex, CoverageList, QualitySummary, SymbolCoverage
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.errors import DataError, InputError
from privatetrade.system import System
from privatetrade.web.auth import AdminUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, ProblemError, problem_responses

__all__ = [
    "ADMIN_ONLY",
    "CoverageDep",
    "DataSymbolList",
    "DataSymbolOut",
    "QualityReportOut",
    "QualitySummaryOut",
    "attach_coverage",
    "coverage_of",
    "data_symbol_out",
    "is_sample",
    "router",
    "stored_with_checks",
]

router = APIRouter(prefix="/api/data", tags=["data"])

ADMIN_ONLY = {401: "Not signed in", 403: "Not an administrator"}
"""The 401/403 of the administrators' routes (a ``problem_responses`` entry)."""
_LIST_WAIT_SECONDS = 2.0
_NOT_FOUND = problem_responses({404: "No such symbol, or no stored bars", **INVALID})
Code = Annotated[str, PathParam(max_length=32, description="Symbol code, e.g. 005930 or AAPL")]
ResultT = TypeVar("ResultT")


class QualitySummaryOut(BaseModel):
    """What the quality check of a symbol's bars found, in counts."""

    series: Literal["raw", "adjusted"]
    ok: bool
    problems: list[str]
    counts: dict[str, int]


class DataSymbolOut(BaseModel):
    """A stored symbol: coverage, series, source, last write, quality summary."""

    code: str
    name: str
    name_en: str | None
    market: str
    currency: str
    source: str
    synthetic: bool
    series: list[str]
    first_bar: dt.date | None
    last_bar: dt.date | None
    bar_count: int
    updated_at: dt.datetime | None
    quality: QualitySummaryOut | None
    deletable: bool


class DataSymbolList(BaseModel):
    """Stored symbols; ``pending`` of them were not checked yet (ask again)."""

    items: list[DataSymbolOut]
    total: int
    pending: int


class QualityReportOut(BaseModel):
    """The full quality report of one symbol's checked series (raw when stored)."""

    code: str
    series: Literal["raw", "adjusted"]
    report: dict[str, Any]


# ---------------------------------------------------------------------- reading


def attach_coverage(app: FastAPI, services: System) -> None:
    """Give the application the coverage index of its data directory (``create_app``)."""
    app.state.coverage = CoverageIndex(services.market_data)


def coverage_of(request: Request) -> CoverageIndex:
    """The coverage index of the application serving ``request``."""
    index: CoverageIndex = request.app.state.coverage
    return index


CoverageDep = Annotated[CoverageIndex, Depends(coverage_of)]
"""The coverage index, as a route dependency."""


def is_sample(symbol: SymbolInfo) -> bool:
    """Whether ``symbol`` belongs to the offline sample data (reinstalled when missing)."""
    return symbol.source in {"sample", "synthetic"}


def stored_with_checks(
    index: CoverageIndex,
    wait_seconds: float,
    *,
    query: str = "",
    market: Market | None = None,
    problems_only: bool = False,
) -> CoverageList:
    """The stored symbols, after waiting up to ``wait_seconds`` for pending checks."""
    found = index.stored(query=query, market=market, problems_only=problems_only)
    if found.pending and index.check_pending(wait_seconds):
        found = index.stored(query=query, market=market, problems_only=problems_only)
    return found


def data_symbol_out(item: SymbolCoverage) -> DataSymbolOut:
    """Map a stored symbol's coverage to its API shape."""
    symbol = item.symbol
    return DataSymbolOut(
        code=symbol.code,
        name=symbol.name,
        name_en=symbol.name_en,
        market=symbol.market.value,
        currency=symbol.currency,
        source=symbol.source,
        synthetic=symbol.synthetic,
        series=list(item.series),
        first_bar=symbol.first_bar,
        last_bar=symbol.last_bar,
        bar_count=symbol.bar_count,
        updated_at=item.updated_at,
        quality=_summary_out(item.quality),
        deletable=not is_sample(symbol),
    )


def _summary_out(summary: QualitySummary | None) -> QualitySummaryOut | None:
    if summary is None:
        return None
    return QualitySummaryOut.model_validate(summary.to_dict())


@router.get("/symbols", response_model=DataSymbolList, responses=problem_responses(INVALID))
async def list_stored_symbols(
    index: CoverageDep,
    q: Annotated[str, Query(max_length=100, description="Part of a code or name")] = "",
    market: Annotated[Market | None, Query(description="Only this market")] = None,
    problems: Annotated[bool, Query(description="Only symbols with quality problems")] = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> DataSymbolList:
    """List the symbols with stored bars: coverage, series, source, quality summary.

    Quality summaries are cached per version of the bars. Symbols without one are
    checked in the background; the answer waits up to two seconds for that, then
    lists those still unchecked with ``quality`` null and counts them in ``pending``
    (ask again later).
    """

    def listing() -> DataSymbolList:
        found = stored_with_checks(
            index, _LIST_WAIT_SECONDS, query=q, market=market, problems_only=problems
        )
        page = found.items[offset : offset + limit]
        return DataSymbolList(
            items=[data_symbol_out(item) for item in page],
            total=len(found.items),
            pending=found.pending,
        )

    return await anyio.to_thread.run_sync(listing)


@router.get("/symbols/{code}", response_model=DataSymbolOut, responses=_NOT_FOUND)
async def get_stored_symbol(index: CoverageDep, code: Code) -> DataSymbolOut:
    """Describe one stored symbol with its quality summary."""
    item = await _in_thread(lambda: index.coverage(code))
    return data_symbol_out(item)


@router.get("/symbols/{code}/quality", response_model=QualityReportOut, responses=_NOT_FOUND)
async def get_symbol_quality(index: CoverageDep, code: Code) -> QualityReportOut:
    """Return the full quality report of a symbol's bars (raw prices when stored).

    Missing sessions, bars on non-sessions, jumps beyond the daily limit, prices off
    the tick grid (problems), zero-volume, half-tick and limit-locked days (notes),
    each with a count and its first days.
    """
    kind, report = await _in_thread(lambda: index.report(code))
    return QualityReportOut(code=report.symbol or code, series=kind.value, report=report.to_dict())


async def _in_thread(work: Callable[[], ResultT]) -> ResultT:
    """Run a lookup in a worker thread; an unknown symbol or no bars is 404."""
    try:
        return await anyio.to_thread.run_sync(work)
    except (InputError, DataError) as exc:
        raise ProblemError(404, str(exc)) from exc


# ---------------------------------------------------------------------- deleting


@router.delete(
    "/symbols/{code}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        {**ADMIN_ONLY, 404: "No such symbol", 409: "Sample data cannot be deleted", **INVALID}
    ),
)
async def delete_symbol(
    admin: AdminUser,
    services: SystemDep,
    index: CoverageDep,
    code: Code,
    confirm: Annotated[
        str, Query(max_length=32, description="The symbol's code again: deleting is final")
    ] = "",
) -> Response:
    """Delete a symbol's stored bars and its catalog entry (administrators).

    ``confirm`` must repeat the code (any letter case): deleting cannot be undone.
    The offline sample data cannot be deleted (it is reinstalled whenever incomplete).
    """
    data = services.market_data
    try:
        symbol = await anyio.to_thread.run_sync(data.symbol, code)
    except InputError as exc:
        raise ProblemError(404, str(exc)) from exc
    if confirm.strip().upper() != symbol.code.upper():
        raise ProblemError(422, f"repeat the code {symbol.code} to delete it", field="confirm")
    if is_sample(symbol):
        raise ProblemError(
            409,
            f"{symbol.code} is part of the offline sample data, which is reinstalled "
            "whenever it is incomplete: it cannot be deleted",
        )

    def delete() -> None:
        data.delete(symbol.code)
        index.forget(symbol.code)

    await anyio.to_thread.run_sync(delete)
    return Response(status_code=204)
