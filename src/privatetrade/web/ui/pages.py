"""The trader's pages: dashboard, stock picker, backtest form, run/result, history, compare.

Pages are rendered on the server with the data they start with; the charts, live
progress and the form's submission are done by the small scripts under ``static/js``
through the JSON API (with the session cookie and its CSRF header).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.domain.jobs import Job, JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.costs import CostModel
from privatetrade.errors import InputError
from privatetrade.web.auth import Caller
from privatetrade.web.context import system_of
from privatetrade.web.schemas import JobOut
from privatetrade.web.ui.data_pages import data_help
from privatetrade.web.ui.i18n import COLORS_COOKIE, LANGUAGE_COOKIE, Colors, Language
from privatetrade.web.ui.render import safe_next, signed_in, to_login, user_page

router = APIRouter(include_in_schema=False)

_HISTORY_PAGE = 25
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_COMPARED = 6
_YEAR_SECONDS = 365 * 24 * 3600
ChoiceT = TypeVar("ChoiceT", bound=StrEnum)
SortField = Literal[
    "created_at",
    "finished_at",
    "symbol",
    "strategy",
    "state",
    "total_return",
    "sharpe",
    "max_drawdown",
]
_BACKTESTS = (JobKind.BACKTEST,)  # these pages list and show backtests, not other job kinds
# The history's kind filter: every run (backtests, optimizations, walk-forwards, portfolios,
# scans) or one kind.
_HISTORY_KINDS: dict[str, tuple[JobKind, ...]] = {
    "": (JobKind.BACKTEST, JobKind.SWEEP, JobKind.WALKFORWARD, JobKind.PORTFOLIO, JobKind.SCAN),
    "backtest": (JobKind.BACKTEST,),
    "sweep": (JobKind.SWEEP,),
    "walkforward": (JobKind.WALKFORWARD,),
    "portfolio": (JobKind.PORTFOLIO,),
    "scan": (JobKind.SCAN,),
}


def _created_filter(
    request: Request, created_from: str, created_to: str, tz: str
) -> tuple[tuple[dt.datetime | None, dt.datetime | None], str | None]:
    """The history's date filter as UTC instants, or no filter and the message why."""
    from privatetrade.web.api.backtests import created_range, parse_day
    from privatetrade.web.ui.i18n import preferences

    t = preferences(request).t
    days: list[dt.date | None] = []
    for field, text in (("created_from", created_from), ("created_to", created_to)):
        try:
            days.append(parse_day(text, field) if text and _DAY.fullmatch(text) else None)
        except InputError:
            days.append(None)
        if text and days[-1] is None:
            return (None, None), t("history.bad_date", value=text)
    try:
        return created_range(days[0], days[1], tz or "UTC"), None
    except InputError as exc:
        key = "history.bad_range" if exc.field == "created_to" else "history.bad_tz"
        return (None, None), t(key)


def not_found(request: Request, caller: Caller) -> Response:
    """The page for anything that does not exist or is not the caller's."""
    return user_page(request, caller, "not_found.html", 404)


def _choice(kind: type[ChoiceT], value: str) -> ChoiceT | None:
    """The enum member named by a form's select (empty = any), or None."""
    return kind(value) if value in kind._value2member_map_ else None


def _symbol_or_none(request: Request, code: str) -> SymbolInfo | None:
    try:
        return system_of(request).market_data.symbol(code)
    except InputError:
        return None


def _backtest(request: Request, caller: Caller, job_id: str) -> Job | None:
    """The caller's backtest ``job_id`` (None: no such backtest, or another kind of job)."""
    job = system_of(request).submissions.get(job_id, caller.user.id)
    return job if job is not None and job.kind == JobKind.BACKTEST else None


def _job_view(request: Request, job: Job) -> dict[str, Any]:
    view = JobOut.of(job, system_of(request).submissions.clock()).model_dump(mode="json")
    code = job.spec.symbol if isinstance(job.spec, BacktestSpec) else ""
    symbol = _symbol_or_none(request, code) if code else None
    view["symbol_name"] = symbol.name if symbol else code
    view["currency"] = symbol.currency if symbol else "USD"
    return view


@router.get("/")
def dashboard(request: Request) -> Response:
    """Recent runs with their state and key metrics, and the way to start a new one."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    repository = system_of(request).submissions
    recent = repository.page(caller.user.id, kinds=_BACKTESTS, limit=8)
    running = repository.page(
        caller.user.id, states=(JobState.QUEUED, JobState.RUNNING), kinds=_BACKTESTS, limit=1
    ).total
    jobs = [_job_view(request, job) for job in recent.items]
    return user_page(
        request, caller, "dashboard.html", jobs=jobs, total=recent.total, active=running
    )


@router.get("/preferences")
def set_preferences(
    request: Request,
    lang: Language | None = None,
    colors: Colors | None = None,
    next: Annotated[str, Query(max_length=2000)] = "/",
) -> Response:
    """Remember the chosen language and colour convention, then go back."""
    response = RedirectResponse(safe_next(next), status_code=303)
    for cookie, value in ((LANGUAGE_COOKIE, lang), (COLORS_COOKIE, colors)):
        if value is not None:
            response.set_cookie(
                cookie, value.value, max_age=_YEAR_SECONDS, samesite="lax", path="/"
            )
    return response


@router.get("/stocks")
def stock_picker(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    market_name: Annotated[str, Query(alias="market", max_length=16)] = "",
) -> Response:
    """Search the catalog by code or name; the script searches as you type."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    market = _choice(Market, market_name)
    data = system_of(request).market_data
    if q.strip():
        found = [hit.symbol for hit in data.search(q, market=market, limit=30)]
    else:
        found = data.catalog.all(market)[:30]
    return user_page(
        request,
        caller,
        "stocks.html",
        q=q,
        market=market.value if market else "",
        markets=[m.value for m in Market],
        symbols=found,
        js={"dataHelp": data_help(request, caller)},
    )


@router.get("/stocks/{code}")
def stock_page(request: Request, code: str) -> Response:
    """One stock: what data is stored, its price chart, and "backtest this"."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    symbol = _symbol_or_none(request, code)
    if symbol is None:
        return not_found(request, caller)
    return user_page(
        request,
        caller,
        "stock.html",
        symbol=symbol,
        js={"symbol": {"code": symbol.code, "currency": symbol.currency, "name": symbol.name}},
    )


def rule_strategy_choice(strategy_id: str) -> dict[str, Any]:
    """A form's starting strategy for ``?rules=<id>``: that saved rule strategy's latest version.

    The form offers it only when it is the caller's.
    """
    return {"strategy": "rules", "rules": {"saved": {"id": strategy_id, "version": None}}}


def capital_defaults() -> dict[str, Any]:
    """The initial cash the run plan takes when the form leaves it empty, by currency."""
    from privatetrade.engine.settings import DEFAULT_CAPITAL, default_capital

    return {"by_currency": dict(DEFAULT_CAPITAL), "other": default_capital(None)}


def cost_presets() -> dict[str, dict[str, Any]]:
    """The numbers of the cost presets the form explains (KRX by market, US)."""
    return {
        "krx_kospi": CostModel.krx("KOSPI").model_dump(mode="json"),
        "krx_kosdaq": CostModel.krx("KOSDAQ").model_dump(mode="json"),
        "us": CostModel.us().model_dump(mode="json"),
    }


@router.get("/backtests/new")
def new_backtest(
    request: Request,
    symbol: Annotated[str, Query(max_length=32)] = "",
    from_: Annotated[str, Query(alias="from", max_length=64)] = "",
    rules: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The backtest form, generated from the strategies' parameter schemas.

    ``?symbol=`` preselects a stock; ``?from=<id>`` fills the form from an earlier run
    (re-run with edits); ``?rules=<id>`` chooses one of the caller's rule strategies.
    """
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    from privatetrade.engine.api import default_registry

    initial: dict[str, Any] = {"symbol": symbol.strip().upper()} if symbol.strip() else {}
    if rules:
        initial.update(rule_strategy_choice(rules))
    if from_:
        earlier = _backtest(request, caller, from_)
        if earlier is None:
            return not_found(request, caller)
        initial = earlier.spec.model_dump(mode="json")
    strategies = default_registry().describe()
    return user_page(
        request,
        caller,
        "backtest_form.html",
        strategies=strategies,
        presets=cost_presets(),
        rerun_of=from_,
        js={"strategies": strategies, "initial": initial, "capital": capital_defaults()},
    )


@router.get("/backtests/{job_id}")
def run_page(request: Request, job_id: str) -> Response:
    """A run: live progress until it ends, then its result (or why it failed)."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    job = _backtest(request, caller, job_id)
    if job is None:
        return not_found(request, caller)
    view = _job_view(request, job)
    return user_page(request, caller, "run.html", job=view, js={"job": view})


@router.get("/history")
def history(
    request: Request,
    symbol: Annotated[str, Query(max_length=32)] = "",
    strategy: Annotated[str, Query(max_length=64)] = "",
    state_name: Annotated[str, Query(alias="state", max_length=16)] = "",
    kind_name: Annotated[str, Query(alias="kind", max_length=16)] = "",
    sort: SortField = "created_at",
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    created_from: Annotated[str, Query(max_length=10)] = "",
    created_to: Annotated[str, Query(max_length=10)] = "",
    tz: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Every run of the caller: filter, sort, page, delete, pick several to compare.

    ``?kind=backtest|sweep|walkforward|portfolio|scan`` shows one kind of run (empty: all).
    ``?created_from=&created_to=`` (YYYY-MM-DD, days in the browser's time zone ``tz``)
    keep the runs submitted on those days; ``sort`` also takes ``total_return``,
    ``sharpe`` and ``max_drawdown``.
    """
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    from privatetrade.engine.api import default_registry

    state = _choice(JobState, state_name)
    kind = kind_name if kind_name in _HISTORY_KINDS else ""
    dates, filter_error = _created_filter(request, created_from, created_to, tz)
    found = system_of(request).submissions.page(
        caller.user.id,
        symbol=symbol.strip().upper() or None,
        strategy=strategy or None,
        states=(state,) if state else (),
        kinds=_HISTORY_KINDS[kind],
        sort=sort,
        descending=order == "desc",
        offset=offset,
        limit=_HISTORY_PAGE,
        created_from=dates[0],
        created_before=dates[1],
    )
    filters = {
        "symbol": symbol,
        "strategy": strategy,
        "state": state.value if state else "",
        "kind": kind,
        "created_from": created_from if dates[0] else "",
        "created_to": created_to if dates[1] else "",
        "tz": tz,
        "sort": sort,
        "order": order,
    }
    shown = ("symbol", "strategy", "state", "kind", "created_from", "created_to", "tz")
    return user_page(
        request,
        caller,
        "history.html",
        jobs=[_job_view(request, job) for job in found.items],
        total=found.total,
        offset=found.offset,
        page_size=_HISTORY_PAGE,
        filters=filters,
        filter_query=urlencode({key: filters[key] for key in shown}),
        filter_error=filter_error,
        strategies=[entry["name"] for entry in default_registry().describe()],
        states=[s.value for s in JobState],
        kinds=[k for k in _HISTORY_KINDS if k],
    )


@router.get("/compare")
def compare(
    request: Request, id: Annotated[list[str] | None, Query(max_length=_MAX_COMPARED * 4)] = None
) -> Response:
    """Several runs side by side: overlaid equity curves and their metrics."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    wanted = list(dict.fromkeys(id or []))
    runs = []
    for job_id in wanted[:_MAX_COMPARED]:
        job = _backtest(request, caller, job_id)
        if job is None:
            return not_found(request, caller)
        runs.append(_job_view(request, job))
    return user_page(
        request,
        caller,
        "compare.html",
        runs=runs,
        too_many=len(wanted) > _MAX_COMPARED,
        max_compared=_MAX_COMPARED,
        js={"runs": runs},
    )
