"""Command line: ``privatetrade optimize`` and ``privatetrade walkforward``.

Both run on the stored market data of the data directory, planned by the same code as
the API's sweeps and walk-forwards (:func:`~privatetrade.plans.research.plan_research`),
so ``--json`` receives the document a job stores as ``result.json``. The backtest part
(dates, costs, sizing, stops, capital, benchmark) takes the ``backtest`` command's
options; the search takes ``--param NAME=START:STOP[:STEP]`` or ``NAME=V1,V2,...`` per
searched parameter (none: the strategy's default grid) and ``--fixed NAME=VALUE`` per
parameter kept at one value.

Everything is checked before anything runs: the options, the output paths, the number
of combinations against ``PRIVATETRADE_MAX_COMBINATIONS`` and, with ``--executor dask``,
the scheduler. Output files are written only when the run has finished, each atomically.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from privatetrade.cli.backtest import _costs, _in_cli_words, _option_of, _parse_value, _spec
from privatetrade.cli.rules import RulesFile
from privatetrade.errors import ConfigurationError, InputError, UnavailableError

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from privatetrade.data.market_data import MarketData
    from privatetrade.domain.research import SearchAxis, SweepSpec
    from privatetrade.domain.specs import BacktestSpec
    from privatetrade.plans.research import ResearchPlan
    from privatetrade.research.chunks import ChunkRunner
    from privatetrade.research.optimize import ProgressCallback
    from privatetrade.settings import Settings

__all__ = ["optimize", "walkforward"]

DASK_CONNECT_SECONDS = 10.0
"""How long ``--executor dask`` tries to reach the scheduler before giving up."""

_PARAM_SYNTAX = "NAME=START:STOP[:STEP] or NAME=V1,V2,... (fast=5:50:1, fast=5,10,20)"

# ----------------------------------------------------------------------------- options
# The backtest part: the ``backtest`` command's options (same names, values and help).

Strategy = Annotated[str, typer.Option(metavar="NAME", help="Strategy name (see `strategies`).")]
Cash = Annotated[
    float | None,
    typer.Option(
        metavar="AMOUNT", help="Initial cash (default by currency: 10,000,000 KRW, 100,000 USD)."
    ),
]
Costs = Annotated[
    str | None,
    typer.Option(
        metavar="PRESET",
        help="Cost preset: auto, krx, us, zero (default: auto, the symbol's market).",
    ),
]
Commission = Annotated[
    float | None,
    typer.Option(
        metavar="RATE",
        help="Commission as a fraction of traded value, both sides (0.00015 = 0.015%); "
        "replaces the preset's.",
    ),
]
MinCommission = Annotated[
    float | None,
    typer.Option(metavar="AMOUNT", help="Minimum commission per fill, quote currency."),
]
Slippage = Annotated[
    float | None,
    typer.Option(metavar="BPS", help="Slippage per market fill in basis points (5 = 0.05%)."),
]
SlippageTicks = Annotated[
    float | None,
    typer.Option(metavar="TICKS", help="Slippage per market fill in ticks of the price grid."),
]
Tax = Annotated[
    float | None,
    typer.Option(
        metavar="RATE",
        help="One sell-side tax rate for every date (0.002 = 0.2%), replacing the "
        "preset's schedule.",
    ),
]
Adjusted = Annotated[
    bool | None,
    typer.Option(
        "--adjusted/--raw",
        help="Split- and dividend-adjusted prices (the default; raw ones with a warning "
        "if a symbol has none) or raw prices as traded.",
        show_default=False,
    ),
]
Start = Annotated[str | None, typer.Option(metavar="DATE", help="First date, YYYY-MM-DD.")]
End = Annotated[str | None, typer.Option(metavar="DATE", help="Last date, YYYY-MM-DD.")]
FillAt = Annotated[str, typer.Option(metavar="WHEN", help="next_open or close.")]
Sizing = Annotated[
    str, typer.Option(metavar="MODE", help="Entry sizing: all_in, fraction, amount or shares.")
]
SizingValue = Annotated[
    float | None,
    typer.Option(metavar="NUMBER", help="The fraction, amount or share count of --sizing."),
]
StopLoss = Annotated[float | None, typer.Option(metavar="FRACTION", help="Stop-loss, 0.05 = 5%.")]
TakeProfit = Annotated[
    float | None, typer.Option(metavar="FRACTION", help="Take-profit, 0.2 = 20%.")
]
TrailingStop = Annotated[
    float | None, typer.Option(metavar="FRACTION", help="Trailing stop, 0.1 = 10%.")
]
AllowShort = Annotated[bool, typer.Option(help="Trade short signals too.")]
CloseAtEnd = Annotated[bool, typer.Option(help="Close an open position at the last close.")]
RiskFreeRate = Annotated[
    float,
    typer.Option(metavar="RATE", help="Annual risk-free rate for Sharpe, Sortino and alpha."),
]
Benchmark = Annotated[
    str | None, typer.Option(metavar="SYMBOL", help="Benchmark symbol from the catalog.")
]

# The search.

Symbol = Annotated[
    str, typer.Argument(metavar="SYMBOL", help="Symbol code from the catalog (see `data search`).")
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUES",
        help="A searched parameter: START:STOP[:STEP] (5:50:1) or comma-separated values "
        "(5,10,20); repeat for each. None: the strategy's default grid.",
    ),
]
Fixed = Annotated[
    list[str] | None,
    typer.Option(
        metavar="NAME=VALUE", help="A parameter kept at one value (not searched); repeat for each."
    ),
]
Method = Annotated[
    str,
    typer.Option(
        metavar="METHOD",
        help="grid (every combination), random (--samples drawn) or tpe (Optuna's TPE, "
        "--samples trials).",
    ),
]
Samples = Annotated[
    int | None,
    typer.Option(metavar="N", help="Combinations drawn (random) or trials (tpe); default 100."),
]
Seed = Annotated[
    int, typer.Option(metavar="N", help="Seed of random and tpe: the same seed, the same result.")
]
Objective = Annotated[
    str,
    typer.Option(
        metavar="METRIC",
        help="Metric maximized: sharpe, cagr, sortino, calmar, profit_factor, total_return, "
        "max_drawdown (the shallowest) or return_over_drawdown.",
    ),
]
MinTrades = Annotated[
    int, typer.Option(metavar="N", help="Combinations with fewer trades cannot be the best.")
]
Executor = Annotated[
    str | None,
    typer.Option(
        metavar="WHERE",
        help="local (this process) or dask (the cluster at PRIVATETRADE_DASK_SCHEDULER); "
        "default: PRIVATETRADE_EXECUTOR.",
    ),
]
JsonOut = Annotated[
    Path, typer.Option("--json", metavar="FILE", help="Write the result document here.")
]


# ----------------------------------------------------------------------------- commands


def optimize(
    ctx: typer.Context,
    symbol: Symbol,
    json_out: JsonOut,
    strategy: Strategy = "sma_cross",
    rules: RulesFile = None,
    param: Params = None,
    fixed: Fixed = None,
    method: Method = "grid",
    samples: Samples = None,
    seed: Seed = 0,
    objective: Objective = "sharpe",
    min_trades: MinTrades = 1,
    top: Annotated[
        int, typer.Option(metavar="N", help="Rows of the top-combinations table in --json.")
    ] = 20,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write every combination's row as CSV here."),
    ] = None,
    executor: Executor = None,
    cash: Cash = None,
    costs: Costs = None,
    commission: Commission = None,
    min_commission: MinCommission = None,
    slippage: Slippage = None,
    slippage_ticks: SlippageTicks = None,
    tax: Tax = None,
    adjusted: Adjusted = None,
    start: Start = None,
    end: End = None,
    fill_at: FillAt = "next_open",
    sizing: Sizing = "all_in",
    sizing_value: SizingValue = None,
    stop_loss: StopLoss = None,
    take_profit: TakeProfit = None,
    trailing_stop: TrailingStop = None,
    allow_short: AllowShort = False,
    close_at_end: CloseAtEnd = True,
    risk_free_rate: RiskFreeRate = 0.0,
    benchmark: Benchmark = None,
) -> None:
    """Optimize a strategy's parameters on a stored symbol and check for overfitting.

    Every combination is a backtest with the backtest options given here; the result
    document (--json) holds the best combination, the top table and the overfitting
    report (deflated Sharpe ratio, probability of backtest overfitting, findings), --csv
    every combination's metrics.
    """
    from privatetrade.domain.research import SweepSpec
    from privatetrade.research.api import finish_optimization
    from privatetrade.research.optimize import run_optimization

    outputs = _Outputs.checked({"--json": json_out, "--csv": csv_out})
    search = _search_values(param, fixed, method, samples, seed, objective, min_trades)
    settings, plan = _planned(SweepSpec, symbol, strategy, search | {"top": top}, ctx.params)
    problem = plan.problem()
    with _runner(executor, settings) as runner, _search_progress("optimizing") as progress:
        result = run_optimization(
            problem,
            method=plan.spec.method,
            samples=plan.spec.samples,
            seed=plan.spec.seed,
            objective=plan.spec.objective,
            min_trades=plan.spec.min_trades,
            runner=runner,
            progress=progress,
        )
    context = plan.document_context(runner)
    found = finish_optimization(problem, result, context, plan.spec.top)
    outputs.write(
        {"--json": lambda: _json(found.to_dict()), "--csv": lambda: _csv(found.to_frame())}
    )
    from privatetrade.cli.research_report import print_optimization

    print_optimization(found, plan)


def walkforward(
    ctx: typer.Context,
    symbol: Symbol,
    json_out: JsonOut,
    in_sample: Annotated[
        str,
        typer.Option(
            metavar="LENGTH", help="In-sample (optimization) window: months (24m) or bars (500b)."
        ),
    ] = "24m",
    out_of_sample: Annotated[
        str,
        typer.Option(metavar="LENGTH", help="Out-of-sample (trading) window: months or bars."),
    ] = "6m",
    step: Annotated[
        str | None,
        typer.Option(
            metavar="LENGTH", help="How far each window moves on (default: --out-of-sample)."
        ),
    ] = None,
    anchored: Annotated[
        bool,
        typer.Option(
            "--anchored/--rolling",
            help="In-sample windows all start at the first bar (grow) or roll (fixed length).",
        ),
    ] = False,
    strategy: Strategy = "sma_cross",
    rules: RulesFile = None,
    param: Params = None,
    fixed: Fixed = None,
    method: Method = "grid",
    samples: Samples = None,
    seed: Seed = 0,
    objective: Objective = "sharpe",
    min_trades: MinTrades = 1,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write the windows table as CSV here."),
    ] = None,
    equity_csv: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Write the stitched out-of-sample equity here."),
    ] = None,
    executor: Executor = None,
    cash: Cash = None,
    costs: Costs = None,
    commission: Commission = None,
    min_commission: MinCommission = None,
    slippage: Slippage = None,
    slippage_ticks: SlippageTicks = None,
    tax: Tax = None,
    adjusted: Adjusted = None,
    start: Start = None,
    end: End = None,
    fill_at: FillAt = "next_open",
    sizing: Sizing = "all_in",
    sizing_value: SizingValue = None,
    stop_loss: StopLoss = None,
    take_profit: TakeProfit = None,
    trailing_stop: TrailingStop = None,
    allow_short: AllowShort = False,
    close_at_end: CloseAtEnd = True,
    risk_free_rate: RiskFreeRate = 0.0,
    benchmark: Benchmark = None,
) -> None:
    """Walk forward on a stored symbol: optimize in-sample, trade the next window, repeat.

    The chosen parameters of each in-sample window trade the following out-of-sample
    window; the out-of-sample pieces, stitched, are the honest record. --json holds
    the windows, the stitched equity and the report (walk-forward efficiency,
    findings), --csv one row per window, --equity-csv the stitched equity.
    """
    from privatetrade.domain.research import WalkForwardSpec
    from privatetrade.research.api import finish_walk_forward, window_reporter
    from privatetrade.research.walkforward import run_walk_forward

    outputs = _Outputs.checked({"--json": json_out, "--csv": csv_out, "--equity-csv": equity_csv})
    search = _search_values(param, fixed, method, samples, seed, objective, min_trades)
    windows = {
        "in_sample": in_sample,
        "out_of_sample": out_of_sample,
        "step": step,
        "anchored": anchored,
    }
    settings, plan = _planned(WalkForwardSpec, symbol, strategy, search | windows, ctx.params)
    assert plan.windows is not None  # a walk-forward's plan has its windows
    problem = plan.problem()
    with _runner(executor, settings) as runner, _search_progress("walking forward") as progress:
        result = run_walk_forward(
            problem,
            plan.windows,
            method=plan.spec.method,
            samples=plan.spec.samples,
            seed=plan.spec.seed,
            objective=plan.spec.objective,
            min_trades=plan.spec.min_trades,
            runner=runner,
            progress=progress,
            window_report=window_reporter(problem),
        )
    bar_times = [str(t.date()) for t in plan.backtest.bars.index]
    context = {**plan.document_context(runner), "bar_times": bar_times}
    found = finish_walk_forward(result, plan.spec.objective, context)
    outputs.write(
        {
            "--json": lambda: _json(found.to_dict()),
            "--csv": lambda: _csv(found.to_frame()),
            "--equity-csv": lambda: _csv(found.equity_frame()),
        }
    )
    from privatetrade.cli.research_report import print_walk_forward

    print_walk_forward(found, plan)


# ----------------------------------------------------------------------------- the spec


def parse_params(pairs: list[str]) -> dict[str, SearchAxis]:
    """Read ``--param NAME=START:STOP[:STEP]`` / ``NAME=V1,V2,...`` options into a space.

    Raises:
        InputError: Not ``NAME=VALUES``, values that are neither a range nor a list,
            a bad range (stop below start, too many values), a name given twice.
    """
    from pydantic import ValidationError

    from privatetrade.domain.research import parse_axis

    axes: dict[str, SearchAxis] = {}
    for pair in pairs:
        name, sep, text = (part.strip() for part in pair.partition("="))
        if not sep or not name or not text:
            raise InputError(f"--param expects {_PARAM_SYNTAX}, got {pair!r}", field="space")
        if name in axes:
            raise InputError(f"--param {name}: given twice", field=f"space.{name}")
        try:
            axes[name] = parse_axis(text)
        except ValidationError as exc:
            reason = _pydantic_reason(exc)
            raise InputError(f"--param {pair}: {reason}", field=f"space.{name}") from None
        except ValueError:
            raise InputError(
                f"--param {pair}: expected {_PARAM_SYNTAX}", field=f"space.{name}"
            ) from None
    return axes


def parse_fixed(pairs: list[str], searched: Mapping[str, Any]) -> dict[str, Any]:
    """Read ``--fixed NAME=VALUE`` options (numbers, true/false, text).

    Raises:
        InputError: Not ``NAME=VALUE``, or the parameter is searched too (``--param``).
    """
    fixed: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = (part.strip() for part in pair.partition("="))
        if not sep or not name:
            raise InputError(f"--fixed expects NAME=VALUE, got {pair!r}", field="params")
        if name in searched:
            raise InputError(
                f"--fixed {name}: {name} is searched (--param {name}); give it once",
                field=f"params.{name}",
            )
        fixed[name] = _parse_value(text)
    return fixed


def _search_values(
    param: list[str] | None,
    fixed: list[str] | None,
    method: str,
    samples: int | None,
    seed: int,
    objective: str,
    min_trades: int,
) -> dict[str, Any]:
    """The search fields of the spec (``space``, ``params`` and the method's)."""
    space = parse_params(param or [])
    return {
        "space": space,
        "params": parse_fixed(fixed or [], space),
        "method": method,
        "samples": samples,
        "seed": seed,
        "objective": objective,
        "min_trades": min_trades,
    }


def _planned(
    model: type[SweepSpec],
    symbol: str,
    strategy: str,
    research: dict[str, Any],
    options: Mapping[str, Any],
) -> tuple[Settings, ResearchPlan]:
    """Build the spec and plan it on the stored data, options named in CLI words.

    ``options`` are the command's parsed options (the backtest part is taken from them).
    """
    from privatetrade.cli.context import system
    from privatetrade.plans.research import plan_research

    built = system()
    try:
        backtest = _backtest_part(symbol, strategy, research["params"], options, built.market_data)
        spec = _research_spec(model, backtest, research)
        plan = plan_research(
            spec, built.market_data, max_combinations=built.settings.max_combinations
        )
    except InputError as exc:
        raise _named(exc) from exc
    return built.settings, plan


def _backtest_part(
    symbol: str, strategy: str, fixed: dict[str, Any], options: Mapping[str, Any], data: MarketData
) -> BacktestSpec:
    """The backtest fields, checked as the ``backtest`` command checks them."""
    from privatetrade.plans.backtest import CostOverrides, Instrument

    slippage, ticks = options["slippage"], options["slippage_ticks"]
    if slippage is not None and ticks is not None:
        raise InputError("give --slippage or --slippage-ticks, not both", field="costs.slippage")
    overrides = CostOverrides(
        commission_rate=options["commission"],
        min_commission=options["min_commission"],
        slippage=slippage if ticks is None else ticks,
        slippage_unit="bps" if slippage is not None else "ticks" if ticks else None,
        sell_tax_rate=options["tax"],
    )
    chosen = _costs(
        options["costs"] or "auto", overrides, lambda: Instrument.of(data.symbol(symbol))
    )
    from privatetrade.cli.rules import rules_choice

    strategy, rule = rules_choice(strategy, options.get("rules"))
    stops = {name: options[name] for name in ("stop_loss", "take_profit", "trailing_stop")}
    fields = {
        "rules": rule,
        "strategy": strategy,
        "params": fixed,
        "capital": options["cash"],
        "adjusted": options["adjusted"],
        "start": options["start"],
        "end": options["end"],
        "fill_at": options["fill_at"],
        "sizing": {"mode": options["sizing"], "value": options["sizing_value"]},
        "stops": {name: value for name, value in stops.items() if value is not None},
        "allow_short": options["allow_short"],
        "close_at_end": options["close_at_end"],
        "risk_free_rate": options["risk_free_rate"],
        "benchmark": options["benchmark"],
    }
    return _spec(symbol, chosen, fields)


def _research_spec(
    model: type[SweepSpec], backtest: BacktestSpec, research: Mapping[str, Any]
) -> SweepSpec:
    """The sweep or walk-forward spec: the checked backtest part plus the search."""
    from pydantic import ValidationError

    from privatetrade.domain.specs import BacktestSpec

    values = {name: getattr(backtest, name) for name in BacktestSpec.model_fields}
    values.update({name: value for name, value in research.items() if value is not None})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        reason = _pydantic_reason(exc)
        if not where:  # a check of several fields: its message starts with the field
            first = reason.split(" ", 1)[0]
            where = first if first in model.model_fields else ""
        if error["type"] not in {"missing", "extra_forbidden"} and error["loc"]:
            reason += f", got {error['input']!r}"
        raise InputError(reason, field=where or None) from exc


def _pydantic_reason(exc: Any) -> str:
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def _option(field: str) -> str:
    """The option that sets a spec field: ``space.fast`` -> ``--param fast``."""
    head, _, rest = field.partition(".")
    if head in ("space", "params"):
        option = "--param" if head == "space" else "--fixed"
        return f"{option} {rest}" if rest else option
    return _option_of(field)


def _named(exc: InputError) -> InputError:
    """The error with the option it is about first (``--param fast: ...``)."""
    from privatetrade.cli.rules import in_rules_words

    about_rules = in_rules_words(exc)
    if about_rules is not None:
        return about_rules
    if not exc.field or exc.field == "symbol":
        return _in_cli_words(exc)
    option = _option(exc.field)
    message = str(exc).removeprefix(f"{exc.field}: ")
    if message.startswith(option.split(" ")[0]):
        return type(exc)(message, field=exc.field)
    name = exc.field.partition(".")[2]
    if name and message.startswith(f"{name}="):  # "fast=0: ..." -> "--param fast=0: ..."
        return type(exc)(f"{option.split(' ')[0]} {message}", field=exc.field)
    return type(exc)(f"{option}: {message}", field=exc.field)


# ----------------------------------------------------------------------------- running


@contextmanager
def _runner(executor: str | None, settings: Settings) -> Iterator[ChunkRunner]:
    """This process (``local``) or the Dask cluster at the configured scheduler."""
    from privatetrade.research.chunks import DaskRunner, InProcessRunner

    chosen = executor or settings.executor
    if chosen not in ("local", "dask"):
        raise ConfigurationError(f"--executor: use local or dask, got {chosen!r}", field="executor")
    if chosen == "local":
        yield InProcessRunner()
        return
    with _dask_client(settings.dask_scheduler) as client:
        yield DaskRunner(client, prefix=f"cli-{uuid.uuid4().hex[:12]}")


@contextmanager
def _dask_client(address: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, closed afterwards.

    Raises:
        ConfigurationError: No address, a malformed one, or no ``distributed`` installed.
        UnavailableError: The scheduler does not answer within :data:`DASK_CONNECT_SECONDS`.
    """
    if not address:
        raise ConfigurationError(
            "--executor dask: set PRIVATETRADE_DASK_SCHEDULER to the scheduler's address "
            "(tcp://HOST:8786)",
            field="executor",
        )
    try:
        from distributed import Client
        from distributed.comm.addressing import resolve_address
    except ImportError:
        raise ConfigurationError(
            "--executor dask: install the dask extra (pip install 'privatetrade[dask]')",
            field="executor",
        ) from None
    try:
        resolve_address(address)
    except (ValueError, OSError) as exc:
        raise ConfigurationError(
            f"--executor dask: bad PRIVATETRADE_DASK_SCHEDULER {address!r}: {exc}",
            field="executor",
        ) from None
    try:
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=DASK_CONNECT_SECONDS, set_as_default=False
        )
    except (OSError, TimeoutError) as exc:
        raise UnavailableError(
            f"--executor dask: cannot reach the Dask scheduler at {address}: {exc}"
        ) from None
    with client:
        yield client


@contextmanager
def _search_progress(
    label: str, console: Console | None = None
) -> Iterator[ProgressCallback | None]:
    """A progress bar of finished combinations and the best so far; nothing off a terminal.

    Drawn on ``console``, by default standard error when it is a terminal (standard
    output keeps only the summary).
    """
    if console is None:
        if not sys.stderr.isatty():
            yield None
            return
        from rich.console import Console

        console = Console(stderr=True)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[best]}"),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None, best="")

        def update(done: int, total: int, best: Mapping[str, Any] | None) -> None:
            bar.update(task, completed=done, total=total, best=best_so_far(best))

        yield update


def best_so_far(best: Mapping[str, Any] | None) -> str:
    """The progress bar's note: ``best sharpe 1.234: fast=10, slow=40`` (empty: none yet)."""
    if best is None:
        return ""
    value = best.get("value")
    shown = "—" if value is None else f"{value:,.3f}"
    params = ", ".join(f"{name}={v}" for name, v in best["params"].items())
    return f"best {best['objective']} {shown}: {params}"


# ----------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class _Outputs:
    """The output files asked for, by option; checked before the run, written after it."""

    paths: dict[str, Path]

    @classmethod
    def checked(cls, paths: Mapping[str, Path | None]) -> _Outputs:
        """Keep the given paths, each checked to be writable and named once.

        Raises:
            InputError: A folder that does not exist or cannot be written, a path that
                is a folder, or two options naming the same file.
        """
        chosen = {option: path for option, path in paths.items() if path is not None}
        seen: dict[Path, str] = {}
        for option, path in chosen.items():
            _check_writable(option, path)
            resolved = path.resolve()
            if resolved in seen:
                raise InputError(f"{option}: {path} is also {seen[resolved]}'s file", field=option)
            seen[resolved] = option
        return cls(chosen)

    def write(self, texts: Mapping[str, Callable[[], str]]) -> None:
        """Write each asked-for output atomically; ``texts`` makes each option's text."""
        from privatetrade.files import write_text_atomic

        rendered = {option: texts[option]() for option in self.paths}
        for option, path in self.paths.items():
            write_text_atomic(path, rendered[option])


def _check_writable(option: str, path: Path) -> None:
    folder = path.parent
    if path.is_dir():
        raise InputError(f"{option}: {path} is a folder; give a file name", field=option)
    if not folder.is_dir():
        raise InputError(f"{option}: folder {folder} does not exist", field=option)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option}: cannot write to folder {folder}", field=option)


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, allow_nan=False, default=str, indent=1)


def _csv(frame: pd.DataFrame) -> str:
    text: str = frame.to_csv(index=False)
    return text
