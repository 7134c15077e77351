"""Command line: ``privatetrade backtest`` and ``privatetrade strategies``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from privatetrade.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.engine.result import BacktestResult, DataInfo

__all__ = ["backtest", "strategies"]

_PROGRESS_MIN_BARS = 200_000
_DEFAULT_CASH = {"us": 100_000.0}


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


@dataclass(frozen=True)
class _Loaded:
    """Bars for the backtest command and what they are."""

    frame: pd.DataFrame
    info: DataInfo
    costs: str
    market: str | None


def _load_bars(
    symbol: str | None, csv_path: Path | None, *, costs: str | None, tz: str | None, adjusted: bool
) -> _Loaded:
    from privatetrade.engine.result import DataInfo

    if (symbol is None) == (csv_path is None):
        raise InputError("give either a SYMBOL or --csv FILE", field="symbol")
    if csv_path is not None:
        from privatetrade.data.files import read_bars_file

        frame = read_bars_file(csv_path, tz=tz or _default_tz(costs))
        info = DataInfo(symbol=csv_path.name, source="csv", adjusted=None)
        return _Loaded(frame, info, costs or "zero", None)
    from privatetrade.cli.data import market_data

    data = market_data()
    entry = data.symbol(symbol or "")
    frame = data.bars(entry.code, adjusted=adjusted)
    info = DataInfo(symbol=entry.code, source=entry.source, adjusted=adjusted)
    krx = entry.tick_table == "krx"
    default_costs = "krx" if krx else "us"
    return _Loaded(frame, info, costs or default_costs, entry.market.value if krx else None)


def _slice(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    import pandas as pd

    try:
        lower = None if start is None else pd.Timestamp(start)
        upper = None if end is None else pd.Timestamp(end)
    except ValueError as exc:
        raise InputError(f"bad date: {exc}", field="start/end") from exc
    tz = pd.DatetimeIndex(frame.index).tz
    if lower is not None:
        frame = frame[frame.index >= (lower.tz_localize(tz) if lower.tzinfo is None else lower)]
    if upper is not None:
        upper = upper.tz_localize(tz) if upper.tzinfo is None else upper
        frame = frame[frame.index < upper + pd.Timedelta(days=1)]
    if frame.empty:
        raise InputError("no bars in the chosen date range", field="start/end")
    return frame


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
        typer.Option(help="Initial cash (default 100,000 with --costs us, else 10,000,000)."),
    ] = None,
    costs: Annotated[
        str | None, typer.Option(help="Cost preset: krx, us, zero (default: the market's).")
    ] = None,
    adjusted: Annotated[bool, typer.Option(help="Use adjusted prices.")] = False,
    market: Annotated[str | None, typer.Option(help="KRX market for krx costs.")] = None,
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD).")] = None,
    fill_at: Annotated[str, typer.Option(help="next_open or close.")] = "next_open",
    stop_loss: Annotated[float | None, typer.Option(help="Stop-loss fraction, 0.05 = 5%.")] = None,
    take_profit: Annotated[float | None, typer.Option(help="Take-profit fraction.")] = None,
    trailing_stop: Annotated[float | None, typer.Option(help="Trailing stop fraction.")] = None,
    allow_short: Annotated[bool, typer.Option(help="Trade short signals too.")] = False,
    tz: Annotated[str | None, typer.Option(help="Time zone of CSV timestamps.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result document here.")
    ] = None,
    trades_csv: Annotated[Path | None, typer.Option(help="Write the trades as CSV here.")] = None,
    equity_csv: Annotated[Path | None, typer.Option(help="Write the equity series here.")] = None,
) -> None:
    """Backtest a strategy on a sample symbol or a CSV file and print a report."""
    from privatetrade.engine.api import run_backtest

    params = _parse_params(param or [])
    loaded = _load_bars(symbol, csv, costs=costs, tz=tz, adjusted=adjusted)
    frame = _slice(loaded.frame, start, end)
    stops = {"stop_loss": stop_loss, "take_profit": take_profit, "trailing_stop": trailing_stop}
    with _progress(len(frame)) as on_progress:
        result = run_backtest(
            frame,
            strategy,
            params,
            cash=cash if cash is not None else _DEFAULT_CASH.get(loaded.costs, 10_000_000.0),
            costs=loaded.costs,  # type: ignore[arg-type]
            market=market or loaded.market,
            fill_at=fill_at,
            stops={key: value for key, value in stops.items() if value is not None},
            allow_short=allow_short,
            progress=on_progress,
            data_info=loaded.info,
        )
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

    def _update(self, fraction: float) -> None:
        self._bar.update(self._task, completed=fraction)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def strategies() -> None:
    """List the built-in strategies and their parameters."""
    from privatetrade.cli.report import print_strategies

    print_strategies()
