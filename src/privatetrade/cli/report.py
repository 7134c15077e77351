"""Terminal reports of backtest results and the strategy list (rich tables)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from privatetrade.cli.console import stdout_console

if TYPE_CHECKING:
    from privatetrade.engine.result import BacktestResult

__all__ = ["print_report", "print_strategies"]

_LAST_TRADES = 10


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:,.2f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _int(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


_METRIC_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("Final equity", "final_equity", _num),
    ("Total return", "total_return", _pct),
    ("Buy & hold return", "buy_and_hold_return", _pct),
    ("CAGR", "cagr", _pct),
    ("Volatility (ann.)", "volatility", _pct),
    ("Sharpe", "sharpe", _num),
    ("Sortino", "sortino", _num),
    ("Calmar", "calmar", _num),
    ("Max drawdown", "max_drawdown", _pct),
    ("Trades", "trade_count", _int),
    ("Win rate", "win_rate", _pct),
    ("Profit factor", "profit_factor", _num),
    ("Expectancy", "expectancy", _num),
    ("Best trade", "best_trade", _pct),
    ("Worst trade", "worst_trade", _pct),
    ("Exposure", "exposure", _pct),
    ("Turnover", "turnover", _num),
    ("Commission", "total_commission", _num),
    ("Tax", "total_tax", _num),
)


def print_report(result: BacktestResult, console: Console | None = None) -> None:
    """Print a summary of ``result``: run header, metrics, last trades, warnings."""
    out = console or stdout_console()
    times = result.times
    params = ", ".join(f"{k}={v}" for k, v in result.params.items()) or "defaults"
    subject = result.data_info.symbol or "bars"
    out.print(
        f"[bold]{result.strategy}[/bold]({params}) on [bold]{subject}[/bold]  "
        f"{times[0][:10]} → {times[-1][:10]}  ({len(times):,} bars, "
        f"costs: {result.settings.costs.preset})"
    )
    metrics = Table(show_header=False, box=None, pad_edge=False)
    metrics.add_column("metric", style="dim")
    metrics.add_column("value", justify="right")
    for label, name, fmt in _METRIC_ROWS:
        metrics.add_row(label, fmt(getattr(result.metrics, name)))
    out.print(metrics)
    _print_trades(out, result)
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")


def _print_trades(out: Console, result: BacktestResult) -> None:
    trades = result.trade_records()
    if not trades:
        return
    table = Table(title=f"Last {min(len(trades), _LAST_TRADES)} of {len(trades)} trades")
    for column in ("entry", "exit", "qty", "in", "out", "return", "reason"):
        table.add_column(
            column,
            justify="left" if column in {"entry", "exit", "reason"} else "right",
            no_wrap=True,
        )
    for trade in trades[-_LAST_TRADES:]:
        table.add_row(
            trade["entry_time"][:10],
            trade["exit_time"][:10],
            _int(trade["quantity"]),
            _num(trade["entry_price"]),
            _num(trade["exit_price"]),
            _pct(trade["return"]),
            trade["exit_reason"],
        )
    out.print(table)


def print_strategies(console: Console | None = None) -> None:
    """Print every registered strategy with its parameters and defaults."""
    from privatetrade.engine.api import default_registry

    out = console or stdout_console()
    table = Table(title="Strategies")
    table.add_column("name", style="bold")
    table.add_column("title")
    table.add_column("parameters (default)")
    for entry in default_registry().describe():
        defaults = ", ".join(f"{k}={v}" for k, v in entry["defaults"].items()) or "—"
        table.add_row(entry["name"], entry["title"], defaults)
    out.print(table)
