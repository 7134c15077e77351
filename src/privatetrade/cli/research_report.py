"""Terminal summaries of optimizations and walk-forwards (``optimize``, ``walkforward``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from privatetrade.cli.console import stdout_console
from privatetrade.cli.report import _num, _pct

if TYPE_CHECKING:
    from privatetrade.plans.research import ResearchPlan
    from privatetrade.research.documents import Optimization, WalkForward

__all__ = ["print_optimization", "print_walk_forward"]

_PERCENT_OBJECTIVES = frozenset({"cagr", "total_return", "max_drawdown"})


def _params(params: Mapping[str, Any] | None) -> str:
    if not params:
        return "—"
    return ", ".join(f"{name}={value}" for name, value in params.items())


def _trades(count: int) -> str:
    return f"{count:,} trade{'' if count == 1 else 's'}"


def _objective(name: str, value: float | None) -> str:
    return _pct(value) if name in _PERCENT_OBJECTIVES else _num(value, 3)


def _header(out: Console, plan: ResearchPlan, what: str) -> None:
    bars = plan.backtest.bars
    first, last = str(bars.index[0].date()), str(bars.index[-1].date())
    out.print(
        f"[bold]{plan.spec.strategy}[/bold] {what} on [bold]{plan.spec.symbol}[/bold]  "
        f"{first} → {last}  ({len(bars):,} bars, costs: {plan.backtest.settings.costs.preset})"
    )


def _findings(out: Console, report: Mapping[str, Any]) -> None:
    for finding in report.get("findings", []):
        colour = "yellow" if finding["severity"] == "warning" else "cyan"
        out.print(f"[{colour}]{finding['severity']}:[/{colour}] {escape(finding['message_en'])}")


def _warnings(out: Console, plan: ResearchPlan) -> None:
    for warning in plan.backtest.notes:
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def print_optimization(
    found: Optimization, plan: ResearchPlan, console: Console | None = None
) -> None:
    """Print an optimization: the search, the best combination, DSR, PBO and the findings."""
    out = console or stdout_console()
    result, report = found.result, found.report
    _header(out, plan, "optimization")
    searched = "default grid" if result.space.defaulted else "grid"
    method = searched if result.method == "grid" else result.method
    out.print(
        f"{method}: {len(result):,} combinations, {int(result.eligible.sum()):,} eligible "
        f"(at least {_trades(result.min_trades)}), "
        f"objective {result.objective}, "
        f"{result.seconds:,.1f} s"
    )
    best = found.best
    if best is None:
        out.print("[yellow]No combination is eligible[/yellow] (too few trades everywhere).")
    else:
        _print_best(out, best, result.objective)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("statistic", style="dim")
    table.add_column("value", justify="right")
    table.add_row("Deflated Sharpe ratio", _num(report.get("deflated_sharpe"), 3))
    table.add_row("Expected best Sharpe by luck", _num(report.get("expected_max_sharpe"), 3))
    pbo = report.get("pbo")
    table.add_row("Probability of overfitting", _pct(None if pbo is None else pbo.get("pbo")))
    out.print(table)
    _findings(out, report)
    _warnings(out, plan)


def _print_best(out: Console, best: Mapping[str, Any], objective: str) -> None:
    metrics = best["metrics"]
    out.print(
        f"Best: [bold]{escape(_params(best['params']))}[/bold]  {objective} "
        f"{_objective(objective, metrics.get(objective))}  ({_trades(metrics['trade_count'])}, "
        f"total return {_pct(metrics.get('total_return'))}, "
        f"max drawdown {_pct(metrics.get('max_drawdown'))})"
    )


def print_walk_forward(
    found: WalkForward, plan: ResearchPlan, console: Console | None = None
) -> None:
    """Print a walk-forward: one row per window, the stitched out-of-sample record, findings."""
    from privatetrade.domain.research import WalkForwardSpec

    out = console or stdout_console()
    spec = plan.spec
    assert isinstance(spec, WalkForwardSpec)  # a walk-forward's plan
    _header(out, plan, "walk-forward")
    windows = found.windows()
    style = "anchored" if spec.anchored else "rolling"
    out.print(
        f"{len(windows)} windows ({spec.in_sample.text()} in-sample, "
        f"{spec.out_of_sample.text()} out-of-sample, {style}), {spec.method} search of "
        f"{plan.combinations:,} combinations each, objective {spec.objective}"
    )
    out.print(_windows_table(windows, spec.objective))
    metrics = found.to_dict()["out_of_sample_metrics"] or {}
    report = found.report
    out.print(
        f"Out of sample: total return {_pct(metrics.get('total_return'))}, "
        f"CAGR {_pct(metrics.get('cagr'))}, Sharpe {_num(metrics.get('sharpe'))}, "
        f"max drawdown {_pct(metrics.get('max_drawdown'))}, "
        f"{_trades(metrics.get('trade_count') or 0)}"
    )
    out.print(
        f"Walk-forward efficiency {_num(report.get('walk_forward_efficiency'))} "
        f"(out-of-sample CAGR / mean in-sample CAGR)"
    )
    _findings(out, report)
    _warnings(out, plan)


def _windows_table(windows: list[dict[str, Any]], objective: str) -> Table:
    table = Table(title="Windows")
    for column in ("#", "in-sample", "out-of-sample", "parameters"):
        table.add_column(column, no_wrap=True)
    table.add_column(f"IS {objective}", justify="right", no_wrap=True)
    table.add_column("OOS return", justify="right", no_wrap=True)
    table.add_column("OOS Sharpe", justify="right", no_wrap=True)
    for window in windows:
        in_sample, out_sample = window["in_sample"], window["out_of_sample"]
        chosen = window["in_sample_metrics"] or {}
        oos = window["out_of_sample_metrics"] or {}
        table.add_row(
            str(window["index"] + 1),
            f"{in_sample['start']} → {in_sample['end']}",
            f"{out_sample['start']} → {out_sample['end']}"
            + (" *" if out_sample["partial"] else ""),
            escape(_params(window["params"])),
            _objective(objective, chosen.get(objective)),
            _pct(oos.get("total_return")),
            _num(oos.get("sharpe")),
        )
    return table
