"""The data pages: what is stored and how good it is (everyone), managing it (admins).

``/data`` lists the stored symbols (coverage, series, source, last write, quality flags),
``/data/symbols/{code}`` shows one with every quality finding, ``/data/import`` uploads a
file with a preview of its column mapping and quality before anything is stored.
Administrators get the controls (import, fetch and update from the providers, delete);
everyone else sees the same facts without them. The pages' scripts (``data*.js``) call
``/api/data``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from privatetrade.data.coverage import findings
from privatetrade.data.symbols import Market
from privatetrade.errors import DataError, InputError
from privatetrade.web.api.data import coverage_of, data_symbol_out, is_sample, stored_with_checks
from privatetrade.web.api.data_imports import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS
from privatetrade.web.auth import Caller
from privatetrade.web.context import system_of
from privatetrade.web.ui.i18n import preferences
from privatetrade.web.ui.render import signed_in, to_login, user_page

__all__ = ["data_help", "router"]

router = APIRouter(include_in_schema=False)

# The list waits this long for quality checks; the page's script asks the API for the rest.
_PAGE_WAIT_SECONDS = 1.0
_IMPORT_MODES = frozenset({"new", "replace", "merge"})


def data_help(request: Request, caller: Caller) -> dict[str, Any]:
    """What the stock search tells about codes that are not stored, for this caller.

    Administrators may fetch a code when a data provider is configured, or import a
    file; everyone else is told to ask an administrator.
    """
    return {"admin": caller.user.is_admin, "canFetch": can_fetch(request, caller)}


def can_fetch(request: Request, caller: Caller) -> bool:
    """Whether the caller may start a fetch from a provider (admin, provider configured)."""
    if not caller.user.is_admin:
        return False
    return system_of(request).settings.data_provider is not None


def _forbidden(request: Request, caller: Caller) -> Response:
    message = preferences(request).t("data.admins_only")
    return user_page(request, caller, "message.html", 403, message=message)


@router.get("/data")
def data_list(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    market_name: Annotated[str, Query(alias="market", max_length=16)] = "",
    problems: Annotated[str, Query(max_length=8)] = "",
    deleted: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """Every stored symbol with its coverage and quality flags; filter as you type.

    ``?deleted=CODE`` says that CODE was just deleted.
    """
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    listing = stored_with_checks(coverage_of(request), _PAGE_WAIT_SECONDS)
    items = [data_symbol_out(item).model_dump(mode="json") for item in listing.items]
    market = market_name if market_name in Market._value2member_map_ else ""
    return user_page(
        request,
        caller,
        "data.html",
        items=items,
        pending=listing.pending,
        filters={"q": q, "market": market, "problems": problems == "1"},
        deleted=deleted.strip().upper(),
        markets=[m.value for m in Market],
        can_fetch=can_fetch(request, caller),
        js={"pending": listing.pending, "canFetch": can_fetch(request, caller)},
    )


@router.get("/data/import")
def data_import(request: Request, symbol: Annotated[str, Query(max_length=32)] = "") -> Response:
    """Upload a CSV or Parquet file: preview its mapping and quality, then import it."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    if not caller.user.is_admin:
        return _forbidden(request, caller)
    return user_page(
        request,
        caller,
        "data_import.html",
        symbol=symbol.strip().upper(),
        markets=[m.value for m in Market],
        max_mib=MAX_UPLOAD_BYTES // (1024 * 1024),
        max_rows=f"{MAX_UPLOAD_ROWS:,}",
        js={"maxBytes": MAX_UPLOAD_BYTES},
    )


@router.get("/data/symbols/{code}")
def data_symbol(
    request: Request, code: str, imported: Annotated[str, Query(max_length=16)] = ""
) -> Response:
    """One stored symbol: coverage, series, source and every quality finding.

    ``?imported=new|replace|merge`` says that an import just stored it.
    """
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    index = coverage_of(request)
    try:
        kind, report = index.report(code)  # caches the summary the coverage shows
        item = index.coverage(code)
    except (InputError, DataError):
        return user_page(request, caller, "not_found.html", 404)
    symbol = data_symbol_out(item).model_dump(mode="json")
    return user_page(
        request,
        caller,
        "data_symbol.html",
        symbol=symbol,
        series=kind.value,
        report=report.to_dict(),
        findings=findings(report, kind),
        sample=is_sample(item.symbol),
        imported=imported if imported in _IMPORT_MODES else "",
        can_fetch=can_fetch(request, caller),
        js={"symbol": {"code": item.symbol.code, "market": item.symbol.market.value}},
    )
