"""Command line: ``privatetrade backtest`` and ``privatetrade strategies``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from privatetrade.cli.rules import RulesFile
from privatetrade.errors import InputError

if TYPE_CHECKING:
    from privatetrade.data.symbols import Market
    from privatetrade.domain.specs import BacktestSpec, CostChoice
    from privatetrade.engine.costs import CostModel
    from privatetrade.engine.result import BacktestResult
    from privatetrade.plans.backtest import BacktestPlan, CostOverrides, Instrument

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


# Spec fields whose CLI option is not ``--`` plus the field's name.
_OPTION_OF_FIELD = {
    "symbol": "SYMBOL",
    "adjusted": "--adjusted/--raw",
    "capital": "--cash",
    "sizing.mode": "--sizing",
    "sizing.value": "--sizing-value",
    "stops.stop_loss": "--stop-loss",
    "stops.take_profit": "--take-profit",
    "stops.trailing_stop": "--trailing-stop",
    "costs.commission_rate": "--commission",
    "costs.min_commission": "--min-commission",
    "costs.slippage": "--slippage",
    "costs.sell_tax_rate": "--tax",
}


def _option_of(field: str) -> str:
    """The CLI option that sets a spec field (``start`` -> ``--start``)."""
    if field in _OPTION_OF_FIELD:
        return _OPTION_OF_FIELD[field]
    return field if "." in field else "--" + field.replace("_", "-")


def _in_cli_words(exc: InputError) -> InputError:
    """Name the option, not the spec field: ``--stop-loss: ...``, not ``stops.stop_loss: ...``."""
    from privatetrade.cli.rules import in_rules_words

    about_rules = in_rules_words(exc)
    if about_rules is not None:
        return about_rules
    message = str(exc)
    if exc.field and message.startswith(f"{exc.field}: "):
        message = f"{_option_of(exc.field)}: {message.removeprefix(f'{exc.field}: ')}"
    return type(exc)(message, field=exc.field)


def _preset(costs: str) -> CostChoice:
    """Return ``costs`` as a preset name, or say which names there are."""
    from privatetrade.domain.specs import COST_PRESETS

    if costs not in COST_PRESETS:
        presets = ", ".join(COST_PRESETS)
        raise InputError(f"unknown cost preset {costs!r}; use {presets}", field="costs")
    return cast("CostChoice", costs)


def _spec(label: str, costs: str | CostModel, options: dict[str, Any]) -> BacktestSpec:
    """Build the spec the API would receive; pydantic's message becomes one line."""
    from pydantic import ValidationError

    from privatetrade.domain.specs import BacktestSpec

    values = {key: value for key, value in options.items() if value is not None}
    try:
        return BacktestSpec.model_validate({"symbol": label, "costs": costs, **values})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "options"
        message = str(error["msg"]).removeprefix("Value error, ")
        if where.startswith("rules"):
            raise InputError(f"--rules: {message}", field=where) from exc
        if error["type"] not in {"missing", "extra_forbidden"}:
            message += f", got {error['input']!r}"
        raise InputError(f"{_option_of(where)}: {message}", field=where) from exc


def _costs(
    preset: str, overrides: CostOverrides, instrument: Callable[[], Instrument]
) -> str | CostModel:
    """The spec's costs: the preset, or its cost model with the overrides applied.

    The model is what the API receives as ``costs`` for the same run, so both give
    the same result.
    """
    from privatetrade.plans.backtest import CostOverrides, preset_costs

    chosen = _preset(preset)
    if overrides == CostOverrides():
        return chosen
    return overrides.apply(preset_costs(chosen, instrument()))


def _plan(
    symbol: str | None,
    csv_path: Path | None,
    *,
    costs: str | None,
    overrides: CostOverrides,
    market: str | None,
    tz: str | None,
    options: dict[str, Any],
    file_adjusted: bool | None = None,
) -> BacktestPlan:
    """The same run plan the API and the workers make, for a symbol or a CSV file.

    ``file_adjusted`` says whether a CSV file holds adjusted prices (None: unknown).
    """
    from privatetrade.plans.backtest import Instrument, plan_backtest, plan_on_bars

    if (symbol is None) == (csv_path is None):
        raise InputError("give either a SYMBOL or --csv FILE", field="symbol")
    if csv_path is None:
        if market is not None:
            raise InputError("--market applies to --csv files only", field="market")
        from privatetrade.cli.data import market_data

        data = market_data()
        label = symbol or ""
        chosen = _costs(costs or "auto", overrides, lambda: Instrument.of(data.symbol(label)))
        return plan_backtest(_spec(label, chosen, options), data)
    from privatetrade.data.files import read_bars_file
    from privatetrade.engine.result import DataInfo

    preset = _preset(costs or "zero")
    frame = read_bars_file(csv_path, tz=tz or _default_tz(preset))
    instrument = Instrument(
        currency="USD" if preset == "us" else "KRW",
        krx_market=(market or "KOSPI") if preset == "krx" else None,
    )
    info = DataInfo(symbol=csv_path.name, source="csv", adjusted=file_adjusted)
    chosen = _costs(preset, overrides, lambda: instrument)
    spec = _spec(csv_path.stem[:32] or "csv", chosen, options)
    return plan_on_bars(spec, frame, instrument, info, market=_csv_market(preset, market))


def _csv_market(preset: str, market: str | None) -> Market:
    """The market a CSV file's bars are checked against: the one its costs imply."""
    from privatetrade.data.symbols import Market, parse_market

    if preset == "krx":
        return parse_market(market or "KOSPI")
    return Market.NYSE if preset == "us" else Market.OTHER


def backtest(
    symbol: Annotated[
        str | None,
        typer.Argument(metavar="SYMBOL", help="Symbol code from the catalog (see `data search`)."),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="OHLCV file (CSV) instead of a symbol."),
    ] = None,
    strategy: Annotated[
        str, typer.Option(metavar="NAME", help="Strategy name (see `strategies`).")
    ] = "sma_cross",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", metavar="NAME=VALUE", help="Strategy parameter; repeat for each."
        ),
    ] = None,
    rules: RulesFile = None,
    cash: Annotated[
        float | None,
        typer.Option(
            metavar="AMOUNT",
            help="Initial cash (default by currency: 10,000,000 KRW, 100,000 USD).",
        ),
    ] = None,
    costs: Annotated[
        str | None,
        typer.Option(
            metavar="PRESET",
            help="Cost preset: auto, krx, us, zero (default: auto, the symbol's market; "
            "zero for --csv).",
        ),
    ] = None,
    commission: Annotated[
        float | None,
        typer.Option(
            metavar="RATE",
            help="Commission as a fraction of traded value, both sides (0.00015 = 0.015%); "
            "replaces the preset's.",
        ),
    ] = None,
    min_commission: Annotated[
        float | None,
        typer.Option(metavar="AMOUNT", help="Minimum commission per fill, quote currency."),
    ] = None,
    slippage: Annotated[
        float | None,
        typer.Option(metavar="BPS", help="Slippage per market fill in basis points (5 = 0.05%)."),
    ] = None,
    slippage_ticks: Annotated[
        float | None,
        typer.Option(metavar="TICKS", help="Slippage per market fill in ticks of the price grid."),
    ] = None,
    tax: Annotated[
        float | None,
        typer.Option(
            metavar="RATE",
            help="One sell-side tax rate for every date (0.002 = 0.2%), replacing the "
            "preset's schedule.",
        ),
    ] = None,
    adjusted: Annotated[
        bool | None,
        typer.Option(
            "--adjusted/--raw",
            help="Split- and dividend-adjusted prices (the default; raw ones with a warning "
            "if a symbol has none) or raw prices as traded. With --csv: what the file holds.",
            show_default=False,
        ),
    ] = None,
    market: Annotated[
        str | None,
        typer.Option(
            metavar="MARKET", help="KRX market of a CSV file for krx costs (default KOSPI)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option(metavar="DATE", help="First date, YYYY-MM-DD.")
    ] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="Last date, YYYY-MM-DD.")] = None,
    fill_at: Annotated[str, typer.Option(metavar="WHEN", help="next_open or close.")] = "next_open",
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
    close_at_end: Annotated[
        bool, typer.Option(help="Close an open position at the last close.")
    ] = True,
    risk_free_rate: Annotated[
        float,
        typer.Option(metavar="RATE", help="Annual risk-free rate for Sharpe, Sortino and alpha."),
    ] = 0.0,
    benchmark: Annotated[
        str | None, typer.Option(metavar="SYMBOL", help="Benchmark symbol from the catalog.")
    ] = None,
    tz: Annotated[
        str | None, typer.Option(metavar="ZONE", help="Time zone of CSV timestamps.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the result document here.")
    ] = None,
    trades_csv: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write the trades as CSV here.")
    ] = None,
    equity_csv: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write the equity series here.")
    ] = None,
) -> None:
    """Backtest a strategy on a stored symbol or a CSV file.

    The options are the fields of the API's backtest request; the run is planned by the
    same code, so a symbol gives the same result here and through the API. The cost
    overrides (--commission, --min-commission, --slippage, --slippage-ticks, --tax)
    change the chosen preset's numbers: the API receives the same run as a cost model.
    """
    from privatetrade.cli.rules import rules_choice
    from privatetrade.plans.backtest import CostOverrides, execute_plan

    try:
        strategy, rule = rules_choice(strategy, rules)
    except InputError as exc:
        raise _in_cli_words(exc) from exc
    if slippage is not None and slippage_ticks is not None:
        raise InputError("give --slippage or --slippage-ticks, not both", field="costs.slippage")
    overrides = CostOverrides(
        commission_rate=commission,
        min_commission=min_commission,
        slippage=slippage if slippage_ticks is None else slippage_ticks,
        slippage_unit="bps" if slippage is not None else "ticks" if slippage_ticks else None,
        sell_tax_rate=tax,
    )
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
        "rules": rule,
    }
    try:
        plan = _plan(
            symbol,
            csv,
            costs=costs,
            overrides=overrides,
            market=market,
            tz=tz,
            options=options,
            file_adjusted=adjusted,
        )
    except InputError as exc:
        raise _in_cli_words(exc) from exc
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
