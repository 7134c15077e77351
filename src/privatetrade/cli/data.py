"""``privatetrade data ...``: list, search, show, import, fetch, update, delete."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from privatetrade.cli.console import stdout_console
from privatetrade.cli.help import command_group
from privatetrade.data.symbols import Market, parse_market
from privatetrade.errors import InputError

if TYPE_CHECKING:
    from privatetrade.data.imports import ImportResult
    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import SymbolInfo

_OFFLINE_SOURCES = {"sample", "synthetic"}
_CODE = re.compile(r"[0-9A-Za-z.\-]{1,12}")

data_app = command_group("Symbols and bars: search, import, fetch, update, delete.")


def market_data() -> MarketData:
    """Return the market data of the configured data directory."""
    from privatetrade.cli.context import system

    return system().market_data


def _market(value: str | None) -> Market | None:
    return None if value is None else parse_market(value)


def _date(value: str | None, field: str) -> dt.date | None:
    """Read a ``--start``/``--end`` date as the API does: YYYY-MM-DD, 1900 to 2100."""
    if value is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    from privatetrade.engine.limits import IsoDate

    try:
        return TypeAdapter(IsoDate).validate_python(value)
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise InputError(f"--{field}: {reason}, got {value!r}", field=field) from None


def _symbols_table(symbols: list[SymbolInfo], title: str) -> Table:
    table = Table(title=title)
    for column in ("code", "name", "market", "bars", "from", "to", "source"):
        name = column == "name"  # Korean names have no spaces: fold them, never cut them
        table.add_column(
            column,
            no_wrap=not name,
            overflow="fold" if name else "ellipsis",
            min_width=8 if name else None,
        )
    for symbol in symbols:
        table.add_row(
            symbol.code,
            symbol.name,
            symbol.market.value,
            f"{symbol.bar_count:,}",
            str(symbol.first_bar or "—"),
            str(symbol.last_bar or "—"),
            symbol.source
            if symbol.source == "synthetic" or not symbol.synthetic
            else f"{symbol.source} (synthetic)",
        )
    return table


@contextlib.contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback drawing a bar on a terminal (None when not a TTY)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@data_app.command("list")
def list_symbols(
    market: Annotated[str | None, typer.Option(help="Only this market.")] = None,
) -> None:
    """List the symbols in the catalog."""
    data = market_data()
    data.ensure_samples()
    stdout_console().print(_symbols_table(data.catalog.all(_market(market)), "Symbols"))


@data_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Code prefix or name (Korean or English).")],
    market: Annotated[str | None, typer.Option(help="Only this market.")] = None,
    limit: Annotated[int, typer.Option(metavar="N", help="At most this many results.")] = 20,
) -> None:
    """Search symbols by code or name: AAPL, DEMO01, 합성, micro."""
    data = market_data()
    hits = data.search(query, market=_market(market), limit=limit)
    if not hits:
        _no_match(data, query)
        raise typer.Exit(1)
    stdout_console().print(_symbols_table([hit.symbol for hit in hits], f"Matches for {query!r}"))


def _no_match(data: MarketData, query: str) -> None:
    """Say what there is instead: the offline symbols, and how to fetch real data."""
    offline = [symbol for symbol in data.catalog.all() if symbol.source in _OFFLINE_SOURCES]
    console = stdout_console()
    console.print(f"no symbol matches {query!r}", markup=False)
    if offline:
        console.print(_symbols_table(offline, "Offline symbols (no network needed)"))
    code = query.strip().upper() if _CODE.fullmatch(query.strip()) else "CODE"
    console.print(
        "Real KRX and US prices need the providers extra and a network:\n"
        "  pip install 'privatetrade[providers]'\n"
        f"  privatetrade data fetch {code} --provider fdr",
        markup=False,
    )


@data_app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="Symbol code.")],
    adjusted: Annotated[bool, typer.Option(help="Show the adjusted series.")] = False,
) -> None:
    """Show a symbol: catalog entry, stored range, data-quality report."""
    from privatetrade.data.quality import quality_report

    data = market_data()
    symbol = data.symbol(code)
    console = stdout_console()
    console.print(_symbols_table([symbol], symbol.code))
    console.print(f"stored series: {', '.join(symbol.adjusted) or 'none'}; "
                  f"currency {symbol.currency}; lot {symbol.lot_size}")  # fmt: skip
    if symbol.bar_count:
        report = quality_report(
            data.bars(code, adjusted=adjusted), symbol.market, index=symbol.is_index
        )
        console.print_json(data=report.to_dict())


@data_app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="CSV (UTF-8 or CP949) or Parquet file.")],
    symbol: Annotated[
        str, typer.Option("--symbol", "-s", metavar="CODE", help="Code to store it as.")
    ],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    market: Annotated[
        str | None,
        typer.Option(help="Market (KOSPI, KOSDAQ, NYSE, ...); default: the stored symbol's."),
    ] = None,
    adjusted: Annotated[bool, typer.Option(help="The file holds adjusted prices.")] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FIELD=NAME", help="Column mapping, e.g. close=Adj Close; repeat for each."
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            metavar="FORMAT",
            help="strptime format of dates, e.g. %m/%d/%Y (default: YYYY-MM-DD, ISO "
            "timestamps, YYYYMMDD, YYYY.MM.DD, YYYY/MM/DD).",
        ),
    ] = None,
    tz: Annotated[
        str | None, typer.Option(metavar="ZONE", help="Time zone (default: the market's).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Stored symbol: the file becomes its bars.")
    ] = False,
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Stored symbol: add the file's bars (the file wins)."),
    ] = False,
) -> None:
    """Import bars from a file: validated, all rows or none, then its quality report."""
    from privatetrade.data.imports import ImportModeError

    mapping = {}
    for pair in column or []:
        field, sep, source = pair.partition("=")
        if not sep:
            raise InputError(f"--column expects FIELD=NAME, got {pair!r}", field="column")
        mapping[field.strip().lower()] = source.strip()
    if replace and merge:
        raise InputError("give --replace or --merge, not both", field="mode")
    try:
        result = market_data().import_file(
            path, symbol, name=name, market=_market(market), adjusted=adjusted,
            columns=mapping, date_format=date_format, tz=tz,
            mode="replace" if replace else "merge" if merge else None,
        )  # fmt: skip
    except ImportModeError as exc:
        stored = exc.stored
        raise InputError(
            f"{exc.code} already has {stored.bar_count:,} {exc.kind.value} bars "
            f"({stored.first_bar} to {stored.last_bar}); nothing was changed: add --replace "
            "(the file becomes the stored bars) or --merge (add the file's bars, the file "
            "winning on equal dates)",
            field="mode",
        ) from None
    for line in import_summary_lines(result):
        typer.echo(line)


_FINDING_LABELS = {
    "non_session_bars": "bars outside the sessions",
    "off_grid": "off-tick prices",
    "jumps": "jumps beyond the daily limit",
    "zero_volume": "zero-volume days",
    "missing_sessions": "gaps (missing sessions)",
    "detected_splits": "detected splits (note)",
    "half_tick": "half-tick prices (note, allowed)",
    "limit_up_locked": "locked at the upper limit (note)",
    "limit_down_locked": "locked at the lower limit (note)",
}
_NOT_CHECKED = {
    "non_session_bars": "no calendar for this market",
    "missing_sessions": "no calendar for this market",
    "off_grid": "KRX raw prices only",
    "zero_volume": "the file has no volume column",
}


def import_summary_lines(result: ImportResult) -> list[str]:
    """Return what an import printed: what was stored, then the quality summary."""
    from privatetrade.data.imports import ImportMode

    symbol = result.symbol
    bars = f"{result.file_bars:,} bar{'' if result.file_bars == 1 else 's'}"
    head = (
        f"imported {bars} of {symbol.code} "
        f"({result.kind.value}, {result.first_bar} → {result.last_bar})"
    )
    if result.mode is ImportMode.REPLACE:
        head += f", replacing the {result.stored_before:,} stored"
    elif result.mode is ImportMode.MERGE:
        head += (
            f", merged: {result.new_dates:,} new, {result.overwritten:,} overwritten; now "
            f"{symbol.bar_count:,} stored ({symbol.first_bar} → {symbol.last_bar})"
        )
    report = result.quality
    calendar = report.calendar.value if report.calendar else "no calendar"
    found = [_FINDING_LABELS.get(name, name) for name in report.problems]
    verdict = f"problems: {', '.join(found)}" if found else "no problems"
    lines = [head, f"quality ({symbol.market.value}, {calendar}): {verdict}"]
    width = max(len(label) for label in _FINDING_LABELS.values())
    for finding in result.findings:
        label = _FINDING_LABELS.get(finding.name, finding.name).ljust(width)
        if not finding.checked:
            lines.append(f"  {label}  not checked ({_NOT_CHECKED.get(finding.name, '')})")
            continue
        days = ", ".join(day.isoformat() for day in finding.examples)
        more = ", …" if finding.count > len(finding.examples) else ""
        lines.append(f"  {label}  {finding.count:>6,}  {days}{more}".rstrip())
    if report.unchecked_bars and report.calendar is not None:
        lines.append(f"  {report.unchecked_bars:,} bars lie outside the calendar's years")
    return lines


@data_app.command("fetch")
def fetch(
    codes: Annotated[list[str], typer.Argument(help="Symbol codes (005930, AAPL, ...).")],
    provider: Annotated[
        str, typer.Option(metavar="NAME", help="fdr, krx (pykrx) or yahoo.")
    ] = "fdr",
    start: Annotated[
        str | None, typer.Option(metavar="DATE", help="First date, YYYY-MM-DD.")
    ] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="Last date, YYYY-MM-DD.")] = None,
    adjusted: Annotated[bool, typer.Option(help="Fetch adjusted prices.")] = False,
    market: Annotated[str | None, typer.Option(help="Market of new symbols.")] = None,
) -> None:
    """Fetch daily bars from a provider into the store (needs network and the extra)."""
    from privatetrade.data.fetching import fetch_symbols

    data = market_data()
    with _progress_bar("fetch") as progress:
        fetch_symbols(
            data, codes, provider=provider, start=_date(start, "start"), end=_date(end, "end"),
            adjusted=adjusted, market=_market(market), echo=typer.echo, progress=progress,
        )  # fmt: skip


@data_app.command("update")
def update(
    codes: Annotated[
        list[str] | None, typer.Argument(help="Symbols to update (default: all fetched).")
    ] = None,
    provider: Annotated[
        str, typer.Option(metavar="NAME", help="fdr, krx (pykrx) or yahoo.")
    ] = "fdr",
) -> None:
    """Fetch only the dates missing since each symbol's last stored bar."""
    from privatetrade.data.fetching import update_symbols

    with _progress_bar("update") as progress:
        update_symbols(
            market_data(), codes or [], provider=provider, echo=typer.echo, progress=progress
        )


@data_app.command("delete")
def delete(code: Annotated[str, typer.Argument(help="Symbol code.")]) -> None:
    """Delete a symbol's bars and catalog entry."""
    if not market_data().delete(code):
        raise InputError(f"unknown symbol {code!r}", field="symbol")
    typer.echo(f"deleted {code.upper()}")
