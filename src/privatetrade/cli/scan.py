"""Command line: ``privatetrade scan`` (and the universe options ``portfolio`` shares).

A scan runs on the stored market data, planned by the same code as the API's scans
(:func:`~privatetrade.plans.scan.plan_scan`): ``--json`` receives the document a job
stores as ``ranking.json``, ``--csv`` its ``ranking.csv``. It runs in this process
(``--executor local``, the default) or on the Dask cluster at
``PRIVATETRADE_DASK_SCHEDULER`` (``--executor dask``). Everything is checked before
anything runs; output files are written only when the scan has finished.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from privatetrade.cli.backtest import _option_of, _parse_value
from privatetrade.cli.rules import RulesFile
from privatetrade.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from privatetrade.research.scan import ScanProgress, ScanResult, ScanRunner
    from privatetrade.settings import Settings

__all__ = ["parse_param_pairs", "parse_symbols", "scan", "spec_from_options"]

# ----------------------------------------------------------------------------- options

Market = Annotated[
    str | None,
    typer.Option(
        metavar="MARKET",
        help="Every stock of this market with prices over the period (KOSPI, KOSDAQ, NASDAQ, ...).",
    ),
]
Symbols = Annotated[
    str | None,
    typer.Option(metavar="A,B,C", help="Symbol codes, comma-separated (instead of --market)."),
]
Start = Annotated[str | None, typer.Option(metavar="DATE", help="First date, YYYY-MM-DD.")]
End = Annotated[str | None, typer.Option(metavar="DATE", help="Last date, YYYY-MM-DD.")]
Cash = Annotated[
    float | None,
    typer.Option(
        metavar="AMOUNT", help="Initial cash (default by currency: 10,000,000 KRW, 100,000 USD)."
    ),
]
Costs = Annotated[
    str,
    typer.Option(
        metavar="PRESET",
        help="Cost preset: auto (each symbol's own market: KOSPI and KOSDAQ differ), krx, "
        "us or zero.",
    ),
]
Adjusted = Annotated[
    bool,
    typer.Option(
        "--adjusted/--raw",
        help="Adjusted prices (raw ones, flagged, for a symbol without them) or raw prices.",
    ),
]
FillAt = Annotated[str, typer.Option(metavar="WHEN", help="next_open or close.")]
CloseAtEnd = Annotated[bool, typer.Option(help="Close open positions at the last close.")]
RiskFreeRate = Annotated[
    float, typer.Option(metavar="RATE", help="Annual risk-free rate for Sharpe and Sortino.")
]
Executor = Annotated[
    str | None,
    typer.Option(
        metavar="WHERE",
        help="local (this process) or dask (the cluster at PRIVATETRADE_DASK_SCHEDULER); "
        "default: PRIVATETRADE_EXECUTOR.",
    ),
]
ParamPairs = Annotated[
    str | None,
    typer.Option("--params", metavar="NAME=VALUE,...", help="Strategy parameters: fast=5,slow=20."),
]

FieldOptions = Callable[[str], str]
"""Spec field -> its option (empty: not one of these); the command's own fields."""

_FIELD_OPTIONS = {
    "symbols": "--symbols",
    "market": "--market",
    "capital": "--cash",
    "sizing.mode": "--sizing",
    "sizing.value": "--sizing-value",
    "stops.stop_loss": "--stop-loss",
    "stops.take_profit": "--take-profit",
    "stops.trailing_stop": "--trailing-stop",
    "adjusted": "--adjusted/--raw",
}


def field_option(field: str, extra: FieldOptions | None = None) -> str:
    """The option that sets a spec field: ``params.fast`` -> ``--params fast``."""
    option = extra(field) if extra is not None else ""
    if option:
        return option
    if field in _FIELD_OPTIONS:
        return _FIELD_OPTIONS[field]
    head, _, rest = field.partition(".")
    if head == "params":
        return f"--params {rest}" if rest else "--params"
    return _option_of(field)


def named(exc: InputError, extra: FieldOptions | None = None) -> InputError:
    """The error with its option first (``--symbols: ...``), not the spec field."""
    from privatetrade.cli.rules import in_rules_words

    if not exc.field:
        return exc
    about_rules = in_rules_words(exc)
    if about_rules is not None:
        return about_rules
    option = field_option(exc.field, extra)
    message = str(exc)
    for prefix in (f"{exc.field}: ", f"{exc.field.rpartition('.')[2]}: "):
        message = message.removeprefix(prefix)
    return type(exc)(f"{option}: {message}", field=exc.field)


def parse_symbols(text: str | None) -> list[str] | None:
    """Read ``--symbols A,B,C`` (spaces allowed; empty parts dropped).

    Raises:
        InputError: No code at all (``field`` is ``symbols``).
    """
    if text is None:
        return None
    codes = [part.strip() for part in text.split(",") if part.strip()]
    if not codes:
        raise InputError("--symbols: give codes separated by commas (A,B,C)", field="symbols")
    return codes


def parse_param_pairs(text: str | None, option: str = "--params") -> dict[str, Any]:
    """Read ``fast=5,slow=20`` into parameters (numbers, true/false, text).

    Raises:
        InputError: A part that is not ``NAME=VALUE`` or a name given twice.
    """
    params: dict[str, Any] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        name, sep, raw = (part.strip() for part in pair.partition("="))
        if not sep or not name:
            raise InputError(f"{option}: expected NAME=VALUE,..., got {pair!r}", field="params")
        if name in params:
            raise InputError(f"{option}: {name} is given twice", field=f"params.{name}")
        params[name] = _parse_value(raw)
    return params


def spec_from_options(
    model: type[BaseModel], values: Mapping[str, Any], extra: FieldOptions | None = None
) -> Any:
    """Build a spec from option values (None = the spec's default), errors in option words.

    Raises:
        InputError: Naming the option (``--sort: ...``).
    """
    from pydantic import ValidationError

    given = {name: value for name, value in values.items() if value is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise validation_error(exc, extra) from None


def validation_error(exc: ValidationError, extra: FieldOptions | None = None) -> InputError:
    """A pydantic error as one line naming the option."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"] if part != "[key]") or "options"
    reason = str(error["msg"]).removeprefix("Value error, ")
    name = where.rpartition(".")[2]
    reason = reason.removeprefix(f"{name}: ")
    if where.startswith("rules"):
        return InputError(f"--rules: {reason}", field=where)
    if error["type"] not in {"missing", "extra_forbidden", "value_error"}:
        reason += f", got {error['input']!r}"
    return InputError(f"{field_option(where, extra)}: {reason}", field=where)


# ----------------------------------------------------------------------------- running


@contextmanager
def scan_runner(executor: str | None, settings: Settings) -> Iterator[ScanRunner]:
    """This process (``local``) or the Dask cluster at the configured scheduler."""
    from privatetrade.cli.research import _dask_client
    from privatetrade.research.scan import DaskScanRunner, LocalScanRunner

    chosen = executor or settings.executor
    if chosen not in ("local", "dask"):
        raise ConfigurationError(f"--executor: use local or dask, got {chosen!r}", field="executor")
    if chosen == "local":
        yield LocalScanRunner()
        return
    with _dask_client(settings.dask_scheduler) as client:
        yield DaskScanRunner(client, prefix=f"cli-scan-{uuid.uuid4().hex[:12]}")


@contextmanager
def _scan_progress() -> Iterator[ScanProgress | None]:
    """A progress bar of finished symbols on standard error when it is a terminal."""
    import sys

    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scan", total=None, note="")

        def update(done: int, total: int, failed: int, best: Mapping[str, Any] | None) -> None:
            note = f"{failed} failed" if failed else ""
            bar.update(task, completed=done, total=total, note=note)

        yield update


def scan(
    market: Market = None,
    symbols: Symbols = None,
    strategy: Annotated[
        str, typer.Option(metavar="NAME", help="Strategy name (see `strategies`).")
    ] = "sma_cross",
    rules: RulesFile = None,
    params: ParamPairs = None,
    sort: Annotated[
        str,
        typer.Option(
            metavar="COLUMN",
            help="Rank by: total_return, cagr, sharpe, sortino, calmar, max_drawdown (the "
            "shallowest first), win_rate, profit_factor, return_over_drawdown, trades, "
            "final_equity, bars or symbol.",
        ),
    ] = "sharpe",
    start: Start = None,
    end: End = None,
    cash: Cash = None,
    costs: Costs = "auto",
    adjusted: Adjusted = True,
    fill_at: FillAt = "next_open",
    sizing: Annotated[
        str, typer.Option(metavar="MODE", help="Entry sizing: all_in, fraction, amount or shares.")
    ] = "all_in",
    sizing_value: Annotated[
        float | None,
        typer.Option(metavar="NUMBER", help="The fraction, amount or share count of --sizing."),
    ] = None,
    stop_loss: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="Stop-loss, 0.05 = 5%.")
    ] = None,
    take_profit: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="Take-profit, 0.2 = 20%.")
    ] = None,
    trailing_stop: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="Trailing stop, 0.1 = 10%.")
    ] = None,
    allow_short: Annotated[bool, typer.Option(help="Trade short signals too.")] = False,
    close_at_end: CloseAtEnd = True,
    risk_free_rate: RiskFreeRate = 0.0,
    executor: Executor = None,
    top: Annotated[
        int, typer.Option(metavar="N", min=0, max=2_000, help="Rows of the ranking printed.")
    ] = 20,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write the ranking (every symbol) as CSV."),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", metavar="FILE", help="Write the ranking document here."),
    ] = None,
) -> None:
    """Backtest one strategy and parameter set on every symbol of a universe; rank them.

    The universe is --market (every stock of the market with prices over the period)
    or --symbols A,B,C. Each symbol is an independent backtest with the same options;
    a symbol that cannot run (no bars in the period, bad data) is a row with its error.
    """
    from privatetrade.cli.context import system
    from privatetrade.cli.research import _Outputs
    from privatetrade.cli.rules import rules_choice
    from privatetrade.domain.scan import ScanSpec
    from privatetrade.plans.scan import plan_scan
    from privatetrade.research.scan import DaskScanRunner, run_scan

    outputs = _Outputs.checked({"--csv": csv_out, "--json": json_out})
    try:
        strategy, rule = rules_choice(strategy, rules)
    except InputError as exc:
        raise named(exc) from exc
    stops = {"stop_loss": stop_loss, "take_profit": take_profit, "trailing_stop": trailing_stop}
    spec = spec_from_options(
        ScanSpec,
        {
            "rules": rule,
            "market": market,
            "symbols": parse_symbols(symbols),
            "start": start,
            "end": end,
            "strategy": strategy,
            "params": parse_param_pairs(params),
            "capital": cash,
            "costs": costs,
            "adjusted": adjusted,
            "sizing": {"mode": sizing, "value": sizing_value},
            "stops": {name: value for name, value in stops.items() if value is not None},
            "fill_at": fill_at,
            "allow_short": allow_short,
            "close_at_end": close_at_end,
            "risk_free_rate": risk_free_rate,
            "sort": sort,
        },
    )
    built = system()
    try:
        plan = plan_scan(spec, built.market_data, max_symbols=built.settings.max_universe_symbols)
    except InputError as exc:
        raise named(exc) from exc
    with scan_runner(executor, built.settings) as runner, _scan_progress() as progress:
        result = run_scan(plan.problem, sort=spec.sort, runner=runner, progress=progress)
        where = "dask" if isinstance(runner, DaskScanRunner) else "local"
    result = result.with_context(plan.document_context(where))
    outputs.write(
        {
            "--csv": result.to_csv,
            "--json": lambda: json.dumps(result.to_dict(), ensure_ascii=False, indent=1),
        }
    )
    print_ranking(result, top)


def print_ranking(result: ScanResult, top: int) -> None:
    """Print the first ``top`` rows of the ranking and the counts."""
    from rich.markup import escape
    from rich.table import Table

    from privatetrade.cli.console import stdout_console
    from privatetrade.cli.report import _num, _pct

    out = stdout_console()
    params = ", ".join(f"{name}={value}" for name, value in result.params.items())
    out.print(
        f"[bold]{result.strategy}[/bold] ({params}) on {len(result):,} symbols, "
        f"ranked by {result.sort}: {len(result) - result.failed:,} backtested, "
        f"{result.failed:,} failed, {result.seconds:.2f} s"
    )
    table = Table(show_edge=False)
    for heading in ("#", "symbol", "name", "return", "CAGR", "Sharpe", "max DD", "trades", "note"):
        table.add_column(
            heading, justify="left" if heading in ("symbol", "name", "note") else "right"
        )
    for row in result.ranking()[:top]:
        table.add_row(
            str(row["rank"]),
            escape(row["symbol"]),
            escape(row["name"]),
            _pct(row["total_return"]),
            _pct(row["cagr"]),
            _num(row["sharpe"], 2),
            _pct(row["max_drawdown"]),
            "—" if row["trades"] is None else f"{row['trades']:,}",
            escape(row["error"] or ""),
        )
    out.print(table)
