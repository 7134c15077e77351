"""The research pages: the optimization / walk-forward form and a run's page.

``/research/new`` is the backtest form plus the search: per parameter a range, a list
of values or a fixed value (prefilled from the strategy's default grid), the method,
the objective and, for a walk-forward, its windows. It submits to ``/api/sweeps`` or
``/api/walkforwards``. ``/research/{id}`` follows the job live and then shows the
overfitting report, the heatmap of two parameters, the top combinations (each can be
backtested in full) or, for a walk-forward, the stitched out-of-sample equity and
its windows. The pages' scripts (``research_*.js``) call the JSON API.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from privatetrade.domain.jobs import Job
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.research import MAX_CHOICES, MAX_SEARCHED_PARAMS, OBJECTIVES
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import InputError
from privatetrade.web.auth import Caller
from privatetrade.web.context import system_of
from privatetrade.web.schemas import JobOut
from privatetrade.web.security import CHART_PAGE_POLICY, CSP_HEADER
from privatetrade.web.ui.pages import (
    capital_defaults,
    cost_presets,
    not_found,
    rule_strategy_choice,
)
from privatetrade.web.ui.render import signed_in, to_login, user_page

__all__ = ["default_grids", "research_job", "research_view", "router"]

router = APIRouter(include_in_schema=False)

_RESEARCH = (JobKind.SWEEP, JobKind.WALKFORWARD)
_FORM_SOURCES = (JobKind.BACKTEST, *_RESEARCH)
_MAX_SPEC_TEXT = 8000
_HEATMAP_METRICS = (
    "sharpe",
    "total_return",
    "cagr",
    "sortino",
    "calmar",
    "max_drawdown",
    "profit_factor",
    "win_rate",
    "return_over_drawdown",
    "trade_count",
    "final_equity",
)


def default_grids() -> dict[str, dict[str, list[Any]]]:
    """Each strategy's default grid: the values searched when the form changes nothing."""
    from privatetrade.engine.api import default_registry
    from privatetrade.research.space import default_axes

    registry = default_registry()
    return {
        entry["name"]: default_axes(registry.get(entry["name"])) for entry in registry.describe()
    }


def research_job(request: Request, caller: Caller, job_id: str) -> Job | None:
    """The caller's optimization or walk-forward ``job_id`` (None: none, or another kind)."""
    job = system_of(request).submissions.get(job_id, caller.user.id)
    return job if job is not None and job.kind in _RESEARCH else None


def research_view(request: Request, job: Job) -> dict[str, Any]:
    """The job as the API shows it, plus the stock's name and currency for the page."""
    view = JobOut.of(job, system_of(request).submissions.clock()).model_dump(mode="json")
    code = job.spec.symbol if isinstance(job.spec, BacktestSpec) else ""
    try:
        symbol = system_of(request).market_data.symbol(code) if code else None
    except InputError:
        symbol = None
    view["symbol_name"] = symbol.name if symbol else code
    view["currency"] = symbol.currency if symbol else "USD"
    return view


def _spec_from_text(text: str) -> dict[str, Any]:
    """The form's starting values from ``?spec=`` (JSON); anything else starts empty.

    The values only fill the form: the API checks them when the form is submitted.
    """
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@router.get("/research/new")
def new_research(
    request: Request,
    spec: Annotated[str, Query(max_length=_MAX_SPEC_TEXT)] = "",
    symbol: Annotated[str, Query(max_length=32)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    from_: Annotated[str, Query(alias="from", max_length=64)] = "",
    rules: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The optimization form.

    ``?spec=<json>`` fills it with a backtest form's values ("Optimize these settings"),
    ``?symbol=`` preselects a stock, ``?from=<id>`` starts from an earlier backtest,
    optimization or walk-forward, ``?kind=walkforward`` opens the walk-forward,
    ``?rules=<id>`` chooses one of the caller's rule strategies.
    """
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    from privatetrade.engine.api import default_registry

    initial = _spec_from_text(spec)
    if symbol.strip():
        initial["symbol"] = symbol.strip().upper()
    if rules:
        initial.update(rule_strategy_choice(rules))
    analysis = "walkforward" if kind == JobKind.WALKFORWARD.value else "sweep"
    from_href = ""
    if from_:
        earlier = system_of(request).submissions.get(from_, caller.user.id)
        if earlier is None or earlier.kind not in _FORM_SOURCES:
            return not_found(request, caller)
        initial = earlier.spec.model_dump(mode="json")
        page = "backtests" if earlier.kind == JobKind.BACKTEST else "research"
        from_href = f"/{page}/{earlier.id}"
        if earlier.kind == JobKind.WALKFORWARD:
            analysis = "walkforward"
    strategies = default_registry().describe()
    return user_page(
        request,
        caller,
        "research_form.html",
        strategies=strategies,
        presets=cost_presets(),
        objectives=list(OBJECTIVES),
        analysis=analysis,
        from_id=from_,
        from_href=from_href,
        js={
            "strategies": strategies,
            "initial": initial,
            "capital": capital_defaults(),
            "grids": default_grids(),
            "analysis": analysis,
            "limits": {"params": MAX_SEARCHED_PARAMS, "choices": MAX_CHOICES},
        },
    )


@router.get("/research/{job_id}")
def research_run(request: Request, job_id: str) -> Response:
    """An optimization or walk-forward: live progress, then its report and results."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    job = research_job(request, caller, job_id)
    if job is None:
        return not_found(request, caller)
    view = research_view(request, job)
    response = user_page(
        request,
        caller,
        "research_run.html",
        job=view,
        metrics=list(_HEATMAP_METRICS),
        js={"job": view, "metrics": list(_HEATMAP_METRICS)},
    )
    response.headers[CSP_HEADER] = CHART_PAGE_POLICY  # Plotly charts (see web/security.py)
    return response
