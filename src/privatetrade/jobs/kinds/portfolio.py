"""Job kind ``portfolio``: several symbols trading from one account under one rule.

Artifacts: ``result.json`` (the portfolio result document, schema 1.1, kind
``portfolio``: docs/result-schema.md), ``equity.csv``, ``holdings.csv`` (each bar's
weights, one column per symbol), ``trades.csv``, ``fills.csv`` and ``contribution.csv``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.kinds import JobKind, JobLabels
from privatetrade.domain.portfolio import PortfolioSpec
from privatetrade.errors import CancelledError
from privatetrade.jobs.kinds.base import KindContext, RunOutput, StageCallback
from privatetrade.plans.portfolio import execute_portfolio, load_bars, plan_portfolio

if TYPE_CHECKING:
    from privatetrade.engine.portfolio.result import PortfolioResult
    from privatetrade.engine.simulation import CancelToken

__all__ = ["ARTIFACT_NAMES", "HANDLER", "PortfolioKind", "portfolio_artifacts"]

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
ARTIFACT_NAMES = (
    "result.json",
    "equity.csv",
    "holdings.csv",
    "trades.csv",
    "fills.csv",
    "contribution.csv",
)


class PortfolioKind:
    """Check and run :class:`~privatetrade.domain.portfolio.PortfolioSpec` jobs."""

    kind = JobKind.PORTFOLIO

    def check(self, spec: PortfolioSpec, context: KindContext) -> PortfolioSpec:
        """Plan it: universe, rule against the universe, settings, benchmark (no bars read)."""
        return plan_portfolio(spec, context.market_data, max_symbols=context.max_symbols).spec

    def labels(self, spec: PortfolioSpec) -> JobLabels:
        """The universe (the market, or the first symbol and how many more) and the rule."""
        return JobLabels(spec.label, spec.strategy_label)

    def run(
        self, spec: PortfolioSpec, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Load the bars, run the portfolio, serialize the document and the CSV exports."""
        stage("loading", 0.01)
        plan = plan_portfolio(spec, context.market_data)
        bars, benchmark = load_bars(plan, context.market_data, stage=stage)
        if cancel.is_set():
            raise CancelledError("cancelled")
        result = execute_portfolio(plan, bars, benchmark, stage=stage, cancel=cancel)
        stage("saving", 0.86)
        return RunOutput(portfolio_artifacts(result, cancel), portfolio_summary(result))


def portfolio_artifacts(result: PortfolioResult, cancel: CancelToken) -> tuple[Artifact, ...]:
    """Serialize a result into its artifacts, checking ``cancel`` between them."""
    renders = (
        result.to_json,
        result.equity_csv,
        result.holdings_csv,
        result.trades_csv,
        result.fills_csv,
        result.contribution_csv,
    )
    artifacts = []
    for name, render in zip(ARTIFACT_NAMES, renders, strict=True):
        if cancel.is_set():
            raise CancelledError("cancelled")
        artifacts.append(Artifact(name, JSON if name.endswith(".json") else CSV, render().encode()))
    return tuple(artifacts)


def portfolio_summary(result: PortfolioResult) -> dict[str, Any]:
    """The key figures shown in job listings."""
    metrics = result.metrics
    return {
        "total_return": metrics.total_return,
        "cagr": metrics.cagr,
        "sharpe": metrics.sharpe,
        "max_drawdown": metrics.max_drawdown,
        "trades": metrics.trade_count,
        "turnover": metrics.turnover,
        "exposure": metrics.exposure,
        "final_equity": result.final_equity,
        "symbols": len(result.symbols),
        "symbols_held": result.n_symbols_held,
        "bars": len(result.aligned),
    }


HANDLER = PortfolioKind()
