"""Command line: ``privatetrade backtest`` and ``privatetrade strategies``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer

from privatetrade.errors import InputError

if TYPE_CHECKING:
    from privatetrade.domain.specs import BacktestSpec
    from privatetrade.engine.result import BacktestResult
    from privatetrade.plans.backtest import BacktestPlan

__all__ = ["backtest", "strategies"]

_PROGRESS_MIN_BARS = 200_000


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param expects NAME=VALUE, got {pair!r}", field="param")
        params[name.strip()] = _parse_value(raw.strip())
    return params


def _parse_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            continue
    return raw


def _default_tz(costs: str | None) -> str:
    return {"krx": "Asia/Seoul", "us": "America/New_York"}.get(costs or "", "UTC")


def _spec(label: str, costs: str, options: dict[str, Any]) -> BacktestSpec:
    """Build the spec the API would receive; pydantic's message becomes one line."""
    from pydantic import ValidationError

    from privatetrade.domain.specs import BacktestSpec, CostChoice

    if costs not in get_args(CostChoice):
        presets = ", ".join(get_args(CostChoice))
        raise InputError(f"unknown cost preset {costs!r}; use {presets}", field="costs")
    values = {key: value for key, value in options.items() if value is not None}
    try:
        return BacktestSpec.model_validate({"symbol": label, "costs": costs, **values})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "options"
        raise InputError(f"{where}: {error['msg']}", field=where) from exc


def _plan(
    symbol: str | None,
    csv_path: Path | None,
    *,
    costs: str | None,
    market: str | None,
    tz: str | None,
    options: dict[str, Any],
) -> BacktestPlan:
    """The same run plan the API and the workers make, for a symbol or a CSV file."""
    from privatetrade.plans.backtest import Instrument, plan_backtest, plan_on_bars

    if (symbol is None) == (csv_path is None):
        raise InputError("give either a SYMBOL or --csv FILE", field="symbol")
    if csv_path is None:
        if market is not None:
            raise InputError("--market applies to --csv files only", field="market")
        from privatetrade.cli.data import market_data

        return plan_backtest(_spec(symbol or "", costs or "auto", options), market_data())
    from privatetrade.data.files import read_bars_file
    from privatetrade.engine.result import DataInfo

    preset = costs or "zero"
    frame = read_bars_file(csv_path, tz=tz or _default_tz(preset))
    instrument = Instrument(
        currency="USD" if preset == "us" else "KRW",
        krx_market=(market or "KOSPI") if preset == "krx" else None,
    )
    info = DataInfo(symbol=csv_path.name, source="csv", adjusted=None)
    spec = _spec(csv_path.stem[:32] or "csv", preset, options)
    return plan_on_bars(spec, frame, instrument, info)


def backtest(
    symbol: Annotated[
        str | None, typer.Argument(help="Symbol code from the catalog (see `data search`).")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="OHLCV file (CSV) instead of a symbol.")
    ] = None,
    strategy: Annotated[str, typer.Option(help="Strategy name (see `strategies`).")] = "sma_cross",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Strategy parameter NAME=VALUE.")
    ] = None,
    cash: Annotated[
        float | None,
        typer.Option(help="Initial cash (default 10,000,000 for KRW, 100,000 for USD)."),
    ] = None,
    costs: Annotated[
        str | None,
        typer.Option(
            help="Cost preset: auto, krx, us, zero (default: the market's; zero for CSV)."
        ),
    ] = None,
    adjusted: Annotated[bool, typer.Option(help="Use adjusted prices.")] = False,
    market: Annotated[
        str | None, typer.Option(help="KRX market of a CSV file for krx costs (default KOSPI).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD).")] = None,
    fill_at: Annotated[str, typer.Option(help="next_open or close.")] = "next_open",
    sizing: Annotated[
        str, typer.Option(help="Entry sizing: all_in, fraction, amount or shares.")
    ] = "all_in",
    sizing_value: Annotated[
        float | None, typer.Option(help="The fraction, amount or share count of --sizing.")
    ] = None,
    stop_loss: Annotated[float | None, typer.Option(help="Stop-loss fraction, 0.05 = 5%.")] = None,
    take_profit: Annotated[float | None, typer.Option(help="Take-profit fraction.")] = None,
    trailing_stop: Annotated[float | None, typer.Option(help="Trailing stop fraction.")] = None,
    allow_short: Annotated[bool, typer.Option(help="Trade short signals too.")] = False,
    close_at_end: Annotated[
        bool, typer.Option(help="Close an open position at the last close.")
    ] = True,
    risk_free_rate: Annotated[
        float, typer.Option(help="Annual risk-free rate for Sharpe, Sortino and alpha.")
    ] = 0.0,
    benchmark: Annotated[
        str | None, typer.Option(help="Benchmark symbol from the catalog.")
    ] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone of CSV timestamps.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result document here.")
    ] = None,
    trades_csv: Annotated[Path | None, typer.Option(help="Write the trades as CSV here.")] = None,
    equity_csv: Annotated[Path | None, typer.Option(help="Write the equity series here.")] = None,
) -> None:
    """Backtest a strategy on a stored symbol or a CSV file and print a report.

    The options are the fields of the API's backtest request; the run is planned by the
    same code, so a symbol gives the same result here and through the API.
    """
    from privatetrade.plans.backtest import execute_plan

    stops = {"stop_loss": stop_loss, "take_profit": take_profit, "trailing_stop": trailing_stop}
    options: dict[str, Any] = {
        "strategy": strategy,
        "params": _parse_params(param or []),
        "capital": cash,
        "adjusted": adjusted,
        "start": start,
        "end": end,
        "fill_at": fill_at,
        "sizing": {"mode": sizing, "value": sizing_value},
        "stops": {key: value for key, value in stops.items() if value is not None},
        "allow_short": allow_short,
        "close_at_end": close_at_end,
        "risk_free_rate": risk_free_rate,
        "benchmark": benchmark,
    }
    plan = _plan(symbol, csv, costs=costs, market=market, tz=tz, options=options)
    with _progress(plan.bar_count) as on_progress:
        result = execute_plan(plan, stage=on_progress)
    _write_outputs(result, json_out, trades_csv, equity_csv)
    from privatetrade.cli.report import print_report

    print_report(result)


def _write_outputs(
    result: BacktestResult,
    json_out: Path | None,
    trades_csv: Path | None,
    equity_csv: Path | None,
) -> None:
    from privatetrade.files import write_text_atomic

    if json_out is not None:
        write_text_atomic(json_out, result.to_json(indent=1))
    if trades_csv is not None:
        write_text_atomic(trades_csv, result.trades_csv())
    if equity_csv is not None:
        write_text_atomic(equity_csv, result.equity_csv())


class _progress:  # noqa: N801 - used as a context manager like a function
    """A rich progress bar for long runs on a terminal; a no-op otherwise."""

    def __init__(self, bars: int) -> None:
        self._enabled = bars >= _PROGRESS_MIN_BARS and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self._enabled:
            return None
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.start()
        self._task = self._bar.add_task("backtest", total=1.0)
        return self._update

    def _update(self, _stage: str, fraction: float) -> None:
        self._bar.update(self._task, completed=fraction)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def strategies() -> None:
    """List the built-in strategies and their parameters."""
    from privatetrade.cli.report import print_strategies

    print_strategies()
