"""``GET /api/backtests/{id}/analysis``: what the result page draws beyond the result document.

The strategy's indicators computed by its own code on the run's bars, each trade's
stop and target levels (and whether a stop exit gapped through its stop), the drawdown
periods and the yearly returns next to buy and hold and the benchmark. The result
document's schema is unchanged; this document has its own ``schema_version``
(docs/api.md, "Result analysis").
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from privatetrade.domain.specs import BacktestSpec
from privatetrade.plans.result_analysis import ResultAnalysis, analyse_result
from privatetrade.system import System
from privatetrade.web.api.results import finished_artifact
from privatetrade.web.deps import Owner, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses

__all__ = ["AnalysisOut", "result_analysis", "router"]

router = APIRouter(tags=["results"], responses=problem_responses(UNAVAILABLE))


class IndicatorLineOut(BaseModel):
    """One indicator series, one value per bar of the result (null in the warm-up)."""

    name: str
    pane: Literal["price", "lower"]
    values: list[float | None]


class IndicatorLevelOut(BaseModel):
    """A constant level the rule compares a line with (RSI 30 ...)."""

    name: str
    pane: Literal["price", "lower"]
    value: float


class IndicatorsOut(BaseModel):
    """The strategy's lines and levels (both empty for buy and hold)."""

    lines: list[IndicatorLineOut]
    levels: list[IndicatorLevelOut]


class TradeLevelsOut(BaseModel):
    """The protective levels of one trade, in the result's trade order."""

    entry_bar: int
    exit_bar: int
    stop_loss: float | None
    take_profit: float | None
    trailing: list[float | None] | None
    exit_stop: float | None
    gap: bool
    exit_open: float


class DrawdownOut(BaseModel):
    """One stretch below the running peak: times are bar times of the result."""

    start: str
    trough: str
    recovery: str | None
    depth: float
    bars: int
    days: int


class YearOut(BaseModel):
    """One calendar year's returns (fractions; null when not defined)."""

    model_config = ConfigDict(populate_by_name=True)

    period: str
    return_: float | None = Field(None, alias="return")
    buy_and_hold: float | None
    benchmark: float | None


class AnalysisOut(BaseModel):
    """The analysis document."""

    schema_version: str
    bar_count: int
    bars_note: Literal["data_changed", "data_missing", "strategy_missing"] | None
    indicators: IndicatorsOut | None
    trades: list[TradeLevelsOut] | None
    drawdowns: list[DrawdownOut]
    drawdown_count: int
    yearly: list[YearOut]


def result_analysis(services: System, owner: str, job_id: str) -> ResultAnalysis:
    """Analyse the caller's succeeded backtest ``job_id`` (404 / 409 otherwise)."""
    stored = finished_artifact(services, owner, job_id, "result.json")
    spec = stored.job.spec
    if not isinstance(spec, BacktestSpec):  # finished_artifact serves backtests only
        raise ProblemError(404, f"no backtest with id {job_id!r}")
    document: dict[str, Any] = json.loads(stored.content)
    return analyse_result(spec, document, services.market_data)


@router.get(
    "/api/backtests/{job_id}/analysis",
    response_class=JSONResponse,
    responses={
        200: {"model": AnalysisOut, "description": "The analysis document"},
        **problem_responses(
            {404: "No such backtest", 409: "The backtest has not succeeded (yet)", **INVALID}
        ),
    },
)
def get_result_analysis(job_id: str, services: SystemDep, owner: Owner) -> JSONResponse:
    """Return a succeeded backtest's indicators, trade levels, drawdown periods and years.

    Indicator values align with the result's ``equity.time``. The bar-based parts
    (``indicators``, ``trades``) are null when the stored prices are no longer the
    run's (``bars_note``: ``data_changed``, ``data_missing``, ``strategy_missing``).
    """
    analysis = result_analysis(services, owner, job_id)
    return JSONResponse(analysis.to_dict())
