"""The portfolio and universe scan pages: their forms and a run's page.

``/portfolios/new`` picks a universe (symbols as chips, or every symbol of a market) and
a rule, showing only the fields that rule reads; it submits to ``/api/portfolios``.
``/portfolios/{id}`` follows the job live, then shows equity against the benchmark,
drawdown, the holdings' weights stacked, each symbol's contribution, the trades, the
rebalances and the downloads. ``/scans/new`` is a backtest's settings over a universe
(``/api/scans``); ``/scans/{id}`` shows the ranking as a sortable table and a scatter of
return against drawdown, each symbol opening its full backtest. Scripts:
``universe_picker.js``, ``run_form.js``, ``portfolio_*.js``, ``scan_*.js``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.domain.jobs import Job
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.scan import SCAN_SORTS
from privatetrade.domain.universe import MARKETS, UniverseSpec
from privatetrade.engine.portfolio.rules import MAX_LOOKBACK, MAX_TOP, RULE_NAMES
from privatetrade.errors import InputError
from privatetrade.web.auth import Caller
from privatetrade.web.context import system_of
from privatetrade.web.schemas import JobOut
from privatetrade.web.security import CHART_PAGE_POLICY, CSP_HEADER
from privatetrade.web.ui.pages import capital_defaults, cost_presets, not_found
from privatetrade.web.ui.render import signed_in, to_login, user_page

__all__ = ["router", "universe_job", "universe_view"]

router = APIRouter(include_in_schema=False)

_PAGES = {JobKind.PORTFOLIO: "portfolios", JobKind.SCAN: "scans"}
_MAX_CODES_TEXT = 24_000  # ?symbols=A,B,...: 2,000 codes of up to 11 characters


def universe_job(request: Request, caller: Caller, job_id: str, kind: JobKind) -> Job | None:
    """The caller's job ``job_id`` of ``kind`` (None: none, another kind or another owner)."""
    job = system_of(request).submissions.get(job_id, caller.user.id)
    return job if job is not None and job.kind == kind else None


def _symbol_or_none(request: Request, code: str) -> SymbolInfo | None:
    try:
        return system_of(request).market_data.symbol(code)
    except InputError:
        return None


def _described(request: Request, codes: list[str]) -> list[dict[str, str]]:
    """Chips for ``codes``: code, Korean and English name, market (unknown codes as typed)."""
    chips = []
    for code in codes:
        symbol = _symbol_or_none(request, code)
        chips.append(
            {
                "code": symbol.code if symbol else code,
                "name": symbol.name if symbol else "",
                "name_en": (symbol.name_en or "") if symbol else "",
                "market": symbol.market.value if symbol else "",
            }
        )
    return chips


def _universe_symbols(request: Request, spec: UniverseSpec) -> list[SymbolInfo]:
    """The catalog entries a universe names: its listed codes, or its market's stocks."""
    data = system_of(request).market_data
    if spec.symbols is not None:
        found = (_symbol_or_none(request, code) for code in spec.symbols)
        return [symbol for symbol in found if symbol is not None]
    if spec.market is None:
        return []
    return [s for s in data.catalog.all(Market(spec.market)) if not s.is_index]


def universe_view(request: Request, job: Job) -> dict[str, Any]:
    """The job as the API shows it, plus its quote currency and its symbols' names."""
    view = JobOut.of(job, system_of(request).submissions.clock()).model_dump(mode="json")
    spec = job.spec
    symbols = _universe_symbols(request, spec) if isinstance(spec, UniverseSpec) else []
    view["currency"] = symbols[0].currency if symbols else "KRW"
    view["names"] = {symbol.code: symbol.name for symbol in symbols}
    return view


def market_counts(request: Request) -> dict[str, int]:
    """How many stocks with stored prices each market has (the picker's "all of market")."""
    counts = dict.fromkeys(MARKETS, 0)
    for symbol in system_of(request).market_data.catalog.all():
        if not symbol.is_index and symbol.last_bar and symbol.market.value in counts:
            counts[symbol.market.value] += 1
    return counts


def market_indices(request: Request) -> dict[str, str]:
    """Each market's stored index (the form's default benchmark), where it has one."""
    data = system_of(request).market_data
    found = {market: data.market_index(Market(market)) for market in MARKETS}
    return {market: code for market, code in found.items() if code}


def _codes(text: str) -> list[str]:
    """``A,B,C`` -> distinct upper-case codes, in order (the form's ``?symbols=``)."""
    return list(dict.fromkeys(code.strip().upper() for code in text.split(",") if code.strip()))


@dataclass(frozen=True, slots=True)
class _FormStart:
    """What a form starts with: an earlier run's spec (or nothing) and its universe."""

    initial: dict[str, Any]
    universe: dict[str, Any]
    from_id: str = ""
    from_href: str = ""


def _form_start(
    request: Request, caller: Caller, kind: JobKind, from_: str, symbols: str, market: str
) -> _FormStart | None:
    """The form's starting values; None when ``from_`` is not the caller's run of ``kind``."""
    initial: dict[str, Any] = {}
    from_href = ""
    if from_:
        earlier = universe_job(request, caller, from_, kind)
        if earlier is None:
            return None
        initial = earlier.spec.model_dump(mode="json")
        from_href = f"/{_PAGES[kind]}/{earlier.id}"
    codes = initial.get("symbols") or _codes(symbols)
    chosen_market = initial.get("market") or (market.strip().upper() if not codes else "")
    universe: dict[str, Any] = (
        {"market": chosen_market}
        if chosen_market in MARKETS
        else {"symbols": _described(request, codes[: _limit(request)])}
    )
    return _FormStart(initial, universe, from_ if from_href else "", from_href)


def _limit(request: Request) -> int:
    limit: int = system_of(request).settings.max_universe_symbols
    return limit


def _form(
    request: Request, caller: Caller, kind: JobKind, start: _FormStart, **extra: Any
) -> Response:
    from privatetrade.engine.api import default_registry

    strategies = default_registry().describe()
    limits = {"symbols": _limit(request), "top": MAX_TOP, "lookback": MAX_LOOKBACK}
    template = "portfolio_form.html" if kind == JobKind.PORTFOLIO else "scan_form.html"
    return user_page(
        request,
        caller,
        template,
        strategies=strategies,
        presets=cost_presets(),
        markets=list(MARKETS),
        limits=limits,
        from_id=start.from_id,
        from_href=start.from_href,
        js={
            "strategies": strategies,
            "initial": start.initial,
            "universe": start.universe,
            "marketCounts": market_counts(request),
            "benchmarks": market_indices(request),
            "capital": capital_defaults(),
        },
        **extra,
    )


_FromQuery = Annotated[str, Query(alias="from", max_length=64)]
_SymbolsQuery = Annotated[str, Query(max_length=_MAX_CODES_TEXT)]
_MarketQuery = Annotated[str, Query(max_length=16)]


@router.get("/portfolios/new")
def new_portfolio(
    request: Request,
    from_: _FromQuery = "",
    symbols: _SymbolsQuery = "",
    market: _MarketQuery = "",
) -> Response:
    """The portfolio form.

    ``?symbols=A,B,C`` or ``?market=KOSDAQ`` preselects the universe; ``?from=<id>``
    starts from an earlier portfolio (re-run with edits).
    """
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    start = _form_start(request, caller, JobKind.PORTFOLIO, from_, symbols, market)
    if start is None:
        return not_found(request, caller)
    return _form(request, caller, JobKind.PORTFOLIO, start, rules=list(RULE_NAMES))


@router.get("/scans/new")
def new_scan(
    request: Request,
    from_: _FromQuery = "",
    symbols: _SymbolsQuery = "",
    market: _MarketQuery = "",
) -> Response:
    """The universe scan form: ``?symbols=``, ``?market=``, ``?from=<id>`` as for portfolios."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    start = _form_start(request, caller, JobKind.SCAN, from_, symbols, market)
    if start is None:
        return not_found(request, caller)
    return _form(request, caller, JobKind.SCAN, start, sorts=list(SCAN_SORTS))


def _run_page(request: Request, job_id: str, kind: JobKind, template: str) -> Response:
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    job = universe_job(request, caller, job_id, kind)
    if job is None:
        return not_found(request, caller)
    view = universe_view(request, job)
    names = view.pop("names")
    response = user_page(request, caller, template, job=view, js={"job": view, "names": names})
    response.headers[CSP_HEADER] = CHART_PAGE_POLICY  # Plotly charts (see web/security.py)
    return response


@router.get("/portfolios/{job_id}")
def portfolio_run(request: Request, job_id: str) -> Response:
    """A portfolio backtest: live progress, then its charts, tables and downloads."""
    return _run_page(request, job_id, JobKind.PORTFOLIO, "portfolio_run.html")


@router.get("/scans/{job_id}")
def scan_run(request: Request, job_id: str) -> Response:
    """A universe scan: live progress, then its ranking table and scatter."""
    return _run_page(request, job_id, JobKind.SCAN, "scan_run.html")
