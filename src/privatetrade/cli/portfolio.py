"""Command line: ``privatetrade portfolio``, a portfolio backtest on the stored market data.

Planned and run by the same code as the API's portfolio jobs
(:mod:`privatetrade.plans.portfolio`): ``--json`` receives the document a job stores as
``result.json``, ``--csv-dir`` the job's CSV files (``equity.csv``, ``holdings.csv``,
``trades.csv``, ``fills.csv``, ``contribution.csv``). The rule's options are the fields
of the API's ``rule`` object; an option the chosen rule does not read is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from privatetrade.cli.scan import (
    Adjusted,
    Cash,
    CloseAtEnd,
    Costs,
    End,
    FillAt,
    Market,
    ParamPairs,
    RiskFreeRate,
    Start,
    Symbols,
    named,
    parse_param_pairs,
    parse_symbols,
    spec_from_options,
)
from privatetrade.errors import InputError

if TYPE_CHECKING:
    from privatetrade.engine.portfolio.result import PortfolioResult

__all__ = ["portfolio"]

CSV_FILES = ("equity.csv", "holdings.csv", "trades.csv", "fills.csv", "contribution.csv")
__rule_option = {
    "rule": "--rule",
    "rule.rule": "--rule",
    "rule.params": "--params",
    "stops": "--stop-loss/--take-profit/--trailing-stop",
}


def _rule_option(field: str) -> str:
    """The option of a rule field (``rule.top`` -> ``--top``); empty for other fields."""
    if field in __rule_option:
        return __rule_option[field]
    head, _, rest = field.partition(".")
    if head == "rule" and rest.startswith("params."):
        return f"--params {rest.removeprefix('params.')}"
    if head == "rule" and rest:
        return "--" + rest.split(".")[0].replace("_", "-")
    return ""


def parse_weights(text: str | None) -> dict[str, float] | None:
    """Read ``--weights A=0.3,B=0.2`` (symbol -> weight).

    Raises:
        InputError: A part that is not ``SYMBOL=NUMBER`` (``field`` is ``rule.weights``).
    """
    if text is None:
        return None
    weights: dict[str, float] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        code, sep, raw = (part.strip() for part in pair.partition("="))
        try:
            weights[code] = float(raw)
        except ValueError:
            sep = ""
        if not sep or not code:
            raise InputError(
                f"--weights: expected SYMBOL=WEIGHT,..., got {pair!r}", field="rule.weights"
            )
    return weights


def _csv_dir(path: Path | None) -> Path | None:
    """Check ``--csv-dir`` before running: a folder (made if missing) in a writable place."""
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise InputError(f"--csv-dir: {path} is a file; give a folder", field="--csv-dir")
    parent = path if path.exists() else path.parent
    if not parent.is_dir():
        raise InputError(f"--csv-dir: folder {parent} does not exist", field="--csv-dir")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--csv-dir: cannot write to folder {parent}", field="--csv-dir")
    return path


def portfolio(
    market: Market = None,
    symbols: Symbols = None,
    rule: Annotated[
        str,
        typer.Option(
            metavar="RULE",
            help="equal_weight, fixed_weights, inverse_volatility, top_n_momentum, "
            "top_n_low_volatility, top_n_signal or signals.",
        ),
    ] = "equal_weight",
    top: Annotated[
        int | None, typer.Option(metavar="N", help="top_n_*: how many symbols to hold.")
    ] = None,
    lookback: Annotated[
        int | None,
        typer.Option(metavar="BARS", help="Momentum / volatility window in bars (default 60)."),
    ] = None,
    weighting: Annotated[
        str | None, typer.Option(metavar="HOW", help="top_n_*: equal or inverse_volatility.")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(metavar="A=W,...", help="fixed_weights: symbol=weight pairs (sum <= 1)."),
    ] = None,
    rebalance: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help="daily, weekly, monthly (default) or quarterly."),
    ] = None,
    rebalance_on: Annotated[
        str | None,
        typer.Option(metavar="SESSION", help="first or last (default) session of the period."),
    ] = None,
    band: Annotated[
        float | None,
        typer.Option(metavar="WEIGHT", help="No trade within this weight of the target (0.02)."),
    ] = None,
    absolute_momentum: Annotated[
        bool | None,
        typer.Option(
            "--absolute-momentum/--no-absolute-momentum",
            help="Weight 0 for a symbol whose lookback return is at or below the threshold.",
            show_default=False,
        ),
    ] = None,
    momentum_threshold: Annotated[
        float | None, typer.Option(metavar="RETURN", help="The return to beat (default 0).")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="signals, top_n_signal: the strategy of each symbol."),
    ] = None,
    params: ParamPairs = None,
    max_positions: Annotated[
        int | None, typer.Option(metavar="N", help="signals: most open positions (default 10).")
    ] = None,
    position_size: Annotated[
        str | None,
        typer.Option(metavar="HOW", help="signals: equal (default), all_in, fraction or amount."),
    ] = None,
    position_value: Annotated[
        float | None,
        typer.Option(metavar="NUMBER", help="signals: the fraction or amount of --position-size."),
    ] = None,
    entry_priority: Annotated[
        str | None,
        typer.Option(metavar="HOW", help="signals: order (default), momentum or low_volatility."),
    ] = None,
    delisted: Annotated[
        str | None,
        typer.Option(metavar="HOW", help="A symbol whose data ends early: liquidate or hold."),
    ] = None,
    start: Start = None,
    end: End = None,
    cash: Cash = None,
    costs: Costs = "auto",
    adjusted: Adjusted = True,
    fill_at: FillAt = "next_open",
    stop_loss: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="signals: stop-loss, 0.05 = 5%.")
    ] = None,
    take_profit: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="signals: take-profit, 0.2 = 20%.")
    ] = None,
    trailing_stop: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="signals: trailing stop, 0.1 = 10%.")
    ] = None,
    close_at_end: CloseAtEnd = True,
    risk_free_rate: RiskFreeRate = 0.0,
    benchmark: Annotated[
        str | None, typer.Option(metavar="SYMBOL", help="Benchmark symbol from the catalog.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the result document here.")
    ] = None,
    csv_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Write equity, holdings, trades, fills and contribution CSVs here."
        ),
    ] = None,
) -> None:
    """Backtest several symbols trading from one account under one rule.

    The universe is --market (every stock of the market with prices over the period)
    or --symbols A,B,C; the rule either holds target weights rebalanced on a schedule
    (equal_weight, fixed_weights, inverse_volatility, top_n_*) or lets each symbol's
    strategy signals compete for the cash (signals).
    """
    from privatetrade.cli.context import system
    from privatetrade.cli.research import _Outputs
    from privatetrade.domain.portfolio import PortfolioSpec
    from privatetrade.plans.portfolio import execute_portfolio, load_bars, plan_portfolio

    outputs = _Outputs.checked({"--json": json_out})
    folder = _csv_dir(csv_dir)
    rule_fields = {
        "rule": rule,
        "top": top,
        "lookback": lookback,
        "weighting": weighting,
        "weights": parse_weights(weights),
        "rebalance": rebalance,
        "rebalance_on": rebalance_on,
        "band": band,
        "absolute_momentum": absolute_momentum,
        "momentum_threshold": momentum_threshold,
        "strategy": strategy,
        "params": parse_param_pairs(params) if params is not None else None,
        "max_positions": max_positions,
        "position_size": position_size,
        "position_value": position_value,
        "entry_priority": entry_priority,
        "delisted": delisted,
    }
    stops = {"stop_loss": stop_loss, "take_profit": take_profit, "trailing_stop": trailing_stop}
    spec = spec_from_options(
        PortfolioSpec,
        {
            "market": market,
            "symbols": parse_symbols(symbols),
            "start": start,
            "end": end,
            "rule": {name: value for name, value in rule_fields.items() if value is not None},
            "capital": cash,
            "costs": costs,
            "adjusted": adjusted,
            "fill_at": fill_at,
            "stops": {name: value for name, value in stops.items() if value is not None},
            "close_at_end": close_at_end,
            "risk_free_rate": risk_free_rate,
            "benchmark": benchmark,
        },
        _rule_option,
    )
    built = system()
    try:
        plan = plan_portfolio(
            spec, built.market_data, max_symbols=built.settings.max_universe_symbols
        )
    except InputError as exc:
        raise named(exc, _rule_option) from exc
    bars, bench = load_bars(plan, built.market_data)
    result = execute_portfolio(plan, bars, bench)
    outputs.write({"--json": lambda: result.to_json(indent=1)})
    if folder is not None:
        _write_csvs(result, folder)
    print_portfolio(result)


def _write_csvs(result: PortfolioResult, folder: Path) -> None:
    from privatetrade.files import write_text_atomic

    folder.mkdir(exist_ok=True)
    renders = (
        result.equity_csv,
        result.holdings_csv,
        result.trades_csv,
        result.fills_csv,
        result.contribution_csv,
    )
    for name, render in zip(CSV_FILES, renders, strict=True):
        write_text_atomic(folder / name, render())


def print_portfolio(result: PortfolioResult, rows: int = 10) -> None:
    """Print the key metrics and the largest contributions."""
    from rich.markup import escape
    from rich.table import Table

    from privatetrade.cli.console import stdout_console
    from privatetrade.cli.report import _num, _pct

    out = stdout_console()
    metrics = result.metrics
    times = result.times
    out.print(
        f"[bold]{result.rule.rule}[/bold] portfolio of {len(result.symbols):,} symbols  "
        f"{times[0][:10]} → {times[-1][:10]}  ({len(times):,} bars)"
    )
    figures = Table(show_header=False, show_edge=False)
    for label, value in (
        ("final equity", f"{result.final_equity:,.0f}"),
        ("total return", _pct(metrics.total_return)),
        ("CAGR", _pct(metrics.cagr)),
        ("Sharpe", _num(metrics.sharpe, 2)),
        ("max drawdown", _pct(metrics.max_drawdown)),
        ("trades", f"{metrics.trade_count:,}"),
        ("turnover (annual)", _num(metrics.turnover, 2)),
        ("exposure", _pct(metrics.exposure)),
        ("symbols held", f"{result.n_symbols_held:,}"),
    ):
        figures.add_row(label, value)
    out.print(figures)
    contributions = sorted(
        result.contribution_records(), key=lambda row: abs(row["pnl"]), reverse=True
    )
    table = Table(show_edge=False, title="largest contributions")
    for heading in ("symbol", "P&L", "of capital", "trades"):
        table.add_column(heading, justify="left" if heading == "symbol" else "right")
    for row in contributions[:rows]:
        table.add_row(
            escape(str(row["symbol"])),
            f"{row['pnl']:,.0f}",
            _pct(row["return_contribution"]),
            f"{row['trades']:,}",
        )
    out.print(table)
    for warning in result.warnings[:5]:
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}")
