"""Command line: ``privatetrade smoke --url URL``, a smoke test of a running deployment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from privatetrade.ops.smoke import SmokeReport

__all__ = ["smoke"]

_RESULT = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def smoke(
    url: Annotated[
        str, typer.Option("--url", help="Base URL of the deployment, e.g. http://127.0.0.1:8000.")
    ],
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PRIVATETRADE_TOKEN",
            show_envvar=True,
            help="API token (`tokens create USER`).",
        ),
    ] = None,
    json_out: Annotated[
        str | None,
        typer.Option("--json", metavar="FILE", help="Also write a JSON report here (- = stdout)."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.1, help="Seconds for each request and for the backtest to finish."
        ),
    ] = 60.0,
    symbol: Annotated[
        str, typer.Option("--symbol", help="Symbol to search and backtest.")
    ] = "AAPL",
) -> None:
    """Smoke-test a deployment: health, search, backtest, downloads.

    Steps: health, search, backtest, progress, downloads, cleanup. Prints one row per step
    (PASS/FAIL/SKIP, milliseconds, detail). Exits 0 only if every step passed, 1 otherwise
    (also when the deployment cannot be reached).
    """
    from privatetrade.ops.smoke import SmokeUnreachableError, run_smoke

    # With --json - the JSON report owns stdout; the table goes to stderr.
    table_stream = sys.stderr if json_out == "-" else sys.stdout
    try:
        report = run_smoke(url, token, symbol=symbol, timeout=timeout)
    except SmokeUnreachableError as exc:
        _write_json(exc.report, json_out)
        raise  # main() prints it as one `error: ...` line, exit 1
    _print_table(report, table_stream)
    _write_json(report, json_out)
    if not report.passed:
        raise typer.Exit(1)


def _write_json(report: SmokeReport, json_out: str | None) -> None:
    if json_out is None:
        return
    if json_out == "-":
        sys.stdout.write(report.to_json() + "\n")
        sys.stdout.flush()
        return
    from privatetrade.files import write_text_atomic

    write_text_atomic(Path(json_out), report.to_json() + "\n")


def _print_table(report: SmokeReport, stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from privatetrade.ops.smoke import STEP_TITLES

    console = Console(file=stream, width=None if stream.isatty() else 140, highlight=False)
    table = Table(title=f"privatetrade smoke test: {report.url}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("result")
    table.add_column("ms", justify="right")
    table.add_column("detail", overflow="fold")
    styles = {"pass": "green", "fail": "bold red", "skip": "yellow"}
    for number, step in enumerate(report.steps, start=1):
        table.add_row(
            str(number),
            Text(f"{step.name} ({STEP_TITLES.get(step.name, '')})"),
            Text(_RESULT[step.status], style=styles[step.status]),
            f"{step.ms:.0f}" if step.status != "skip" else "-",
            Text(step.detail),
        )
    console.print(table)
    version = report.version or "unknown"
    if report.passed:
        console.print(
            f"PASS: all {len(report.steps)} steps passed "
            f"(server version {version}, {report.total_ms:.0f} ms)",
            markup=False,
            soft_wrap=True,
        )
        return
    failed = [step for step in report.steps if step.status == "fail"]
    skipped = [step.name for step in report.steps if step.status == "skip"]
    first = failed[0] if failed else None
    line = f"FAIL: step {first.name} failed: {first.detail}" if first else "FAIL"
    if len(failed) > 1:
        line += f"; also failed: {', '.join(step.name for step in failed[1:])}"
    if skipped:
        line += f"; skipped: {', '.join(skipped)}"
    console.print(line, markup=False, soft_wrap=True)
