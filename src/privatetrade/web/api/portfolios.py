"""``/api/portfolios``: portfolio backtests (several symbols, one account, one rule).

A portfolio is a job: submit here (202, ``Location: /api/jobs/{id}``), follow at
``/api/jobs/{id}`` and ``/events``, cancel at ``/api/jobs/{id}/cancel``, download
``result.json`` (the portfolio document, schema 1.1, kind ``portfolio``),
``equity.csv``, ``holdings.csv``, ``trades.csv``, ``fills.csv`` and ``contribution.csv``
at ``/api/jobs/{id}/artifacts/{name}``. The backtest routes
(``/api/backtest/result/{id}`` ...) serve backtests only: they answer 404 here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import ConfigDict

from privatetrade.domain.jobs import JobState
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.portfolio import PortfolioSpec
from privatetrade.web.api.scans import SUBMIT_ERRORS, list_jobs, submit_job
from privatetrade.web.auth import CurrentUser
from privatetrade.web.deps import SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, problem_responses
from privatetrade.web.schemas import JobList, JobOut

router = APIRouter(tags=["portfolios"], responses=problem_responses(UNAVAILABLE))


class PortfolioCreate(PortfolioSpec):
    """A portfolio backtest to run: ``symbols`` or ``market``, the ``rule``, the settings."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "market": "KOSDAQ",
                    "start": "2016-01-01",
                    "rule": {"rule": "top_n_momentum", "top": 5, "lookback": 120},
                    "benchmark": "DEMOIDX",
                },
                {
                    "symbols": ["DEMO01", "DEMO02", "DEMO03"],
                    "rule": {"rule": "equal_weight", "rebalance": "quarterly", "band": 0.02},
                },
                {
                    "symbols": ["DEMO01", "DEMO02", "DEMO03", "DEMO04"],
                    "rule": {
                        "rule": "signals",
                        "strategy": "sma_cross",
                        "params": {"fast": 10, "slow": 40},
                        "max_positions": 2,
                    },
                    "stops": {"stop_loss": 0.1},
                },
            ]
        },
    )


@router.post(
    "/api/portfolios",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=SUBMIT_ERRORS,
)
def submit_portfolio(
    body: PortfolioCreate,
    response: Response,
    services: SystemDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue a portfolio backtest; answer 202 with the job (follow it at ``/api/jobs/{id}``).

    Checked first, without reading bars: the universe (every code known and tradable
    with prices stored over the period, one quote currency, at most the server's symbol
    limit: 422 naming ``symbols``; a market without stocks with prices: ``market``),
    the rule (``rule.<field>``; fixed ``weights`` only of symbols in the universe,
    ``rule.params.<name>`` of its strategy), ``stops`` (the signals rule only), the
    settings and the ``benchmark``.
    """
    spec = PortfolioSpec.model_validate(body.model_dump())
    return submit_job(services, user, spec, JobKind.PORTFOLIO, response, idempotency_key)


@router.get("/api/portfolios", response_model=JobList, responses=problem_responses(INVALID))
def list_portfolios(
    services: SystemDep,
    user: CurrentUser,
    symbol: Annotated[
        str | None, Query(max_length=32, description="The label: a market or the first symbol")
    ] = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """List your portfolio backtests, newest first."""
    return list_jobs(services, user, JobKind.PORTFOLIO, symbol, state, offset, limit)
