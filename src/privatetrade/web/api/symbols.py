"""``GET /api/symbols``: search the catalog, describe a symbol, read its bars."""

from __future__ import annotations

from typing import Annotated

import anyio
import pandas as pd
from fastapi import APIRouter, Query

from privatetrade.data.market_data import MarketData
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.engine.limits import IsoDate
from privatetrade.errors import DataError, InputError
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, ProblemError, problem_responses
from privatetrade.web.schemas import BarsOut, SymbolOut

router = APIRouter(prefix="/api/symbols", tags=["symbols"])
_NOT_FOUND = problem_responses({404: "No such symbol, or no stored bars", **INVALID})


def _symbol_out(symbol: SymbolInfo, default_benchmark: str | None = None) -> SymbolOut:
    return SymbolOut(
        code=symbol.code,
        name=symbol.name,
        name_en=symbol.name_en,
        market=symbol.market.value,
        currency=symbol.currency,
        lot_size=symbol.lot_size,
        status=symbol.status,
        source=symbol.source,
        synthetic=symbol.synthetic,
        first_bar=symbol.first_bar,
        last_bar=symbol.last_bar,
        bar_count=symbol.bar_count,
        adjusted=list(symbol.adjusted),
        kind=symbol.kind.value,
        default_benchmark=None if symbol.is_index else default_benchmark,
    )


def _with_benchmarks(data: MarketData, symbols: list[SymbolInfo]) -> list[SymbolOut]:
    """Describe symbols, each with its market's index as the default benchmark."""
    indices: dict[Market, str | None] = {}
    for symbol in symbols:
        if symbol.market not in indices:
            indices[symbol.market] = data.market_index(symbol.market)
    return [_symbol_out(symbol, indices[symbol.market]) for symbol in symbols]


@router.get("", response_model=list[SymbolOut], responses=problem_responses(INVALID))
async def search_symbols(
    services: SystemDep,
    q: Annotated[str, Query(max_length=100, description="Code or name (Hangul works)")] = "",
    market: Annotated[Market | None, Query(description="Only this market")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SymbolOut]:
    """Search symbols by code or name, best matches first; all symbols for an empty query."""

    def search() -> list[SymbolOut]:
        data = services.market_data
        if not q.strip():
            return _with_benchmarks(data, data.catalog.all(market)[:limit])
        hits = data.search(q, market=market, limit=limit)
        return _with_benchmarks(data, [hit.symbol for hit in hits])

    return await anyio.to_thread.run_sync(search)


def _lookup(services: SystemDep, code: str) -> SymbolInfo:
    try:
        return services.market_data.symbol(code)
    except InputError as exc:
        raise ProblemError(404, str(exc)) from exc


@router.get("/{code}", response_model=SymbolOut, responses=_NOT_FOUND)
def get_symbol(services: SystemDep, code: str) -> SymbolOut:
    """Describe one symbol: market, currency, stored data range, kind, default benchmark.

    ``default_benchmark`` is the stored index of the symbol's market (KOSPI for KOSPI
    stocks, KOSDAQ for KOSDAQ ones, the synthetic ``DEMOIDX`` while no KRX index is
    fetched, SPX for US stocks); the backtest form fills it in.
    """
    (symbol,) = _with_benchmarks(services.market_data, [_lookup(services, code)])
    return symbol


@router.get(
    "/{code}/bars",
    response_model=BarsOut,
    responses=_NOT_FOUND,
)
def get_bars(
    services: SystemDep,
    code: str,
    start: IsoDate | None = None,
    end: IsoDate | None = None,
    adjusted: bool | None = None,
) -> BarsOut:
    """Return the stored daily bars of a symbol between two local dates (inclusive).

    ``adjusted`` picks the series; without it the adjusted prices are returned when
    stored (as backtests use by default), else the raw ones. ``adjusted`` in the answer
    says which.
    """
    if start is not None and end is not None and start > end:
        raise ProblemError(422, "start must not be after end", field="start")
    symbol = _lookup(services, code)
    if adjusted is None:
        adjusted = services.market_data.series_for(symbol, adjusted=True) is not None
    try:
        frame = services.market_data.bars(symbol.code, start, end, adjusted=adjusted)
    except DataError as exc:
        raise ProblemError(404, str(exc)) from exc
    return bars_out(symbol, frame, adjusted=adjusted)


def bars_out(symbol: SymbolInfo, frame: pd.DataFrame, *, adjusted: bool) -> BarsOut:
    """Bars as columns, times in the exchange's time zone."""
    local = pd.DatetimeIndex(frame.index).tz_convert(symbol.timezone)
    return BarsOut(
        code=symbol.code,
        adjusted=adjusted,
        timezone=symbol.timezone,
        time=[stamp.isoformat() for stamp in local],
        open=frame["open"].tolist(),
        high=frame["high"].tolist(),
        low=frame["low"].tolist(),
        close=frame["close"].tolist(),
        volume=frame["volume"].tolist(),
    )
