"""Universe scans: one strategy and one parameter set backtested on every symbol, ranked.

Each symbol is an independent backtest evaluated with the engine's sweep path
(:func:`~privatetrade.engine.sweep.evaluate`, one parameter set: metrics only, the same
numbers as the full backtest). Symbols run in chunks: a chunk loads its symbols' bars
where it runs (a :class:`BarsLoader`: the worker reads the Parquet files itself, so
nothing but codes travels) and returns one row per symbol. A symbol that cannot be
evaluated (no bars in the period, bad data, a strategy error) is a row with ``error``,
not a failed scan.

Runners: :class:`LocalScanRunner` (chunks one after another in this process) and
:class:`DaskScanRunner` (chunks as tasks on a Dask cluster). Stores keep finished
chunks so an interrupted scan resumes: :class:`MemoryScanStore` (nothing kept) and
:class:`DirectoryScanStore` (one JSON file per chunk, written atomically).

The library's :func:`scan` runs the same code on bars the caller holds::

    import privatetrade as pt

    found = pt.scan({"005930": frame_a, "000660": frame_b}, "sma_cross", {"fast": 5, "slow": 20})
    found.ranking("sharpe")[0]["symbol"], found.to_frame()
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from privatetrade.domain.scan import SCAN_COLUMNS, SCAN_SORTS
from privatetrade.engine.columns import SWEEP_METRICS
from privatetrade.errors import CancelledError, InputError, PrivatetradeError
from privatetrade.files import write_bytes_atomic

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.engine.bars import BarsInput, PreparedBars
    from privatetrade.engine.costs import CostModel, CostPreset
    from privatetrade.engine.settings import SimulationSettings
    from privatetrade.engine.strategies.base import Strategy

__all__ = [
    "BarsLoader",
    "DaskScanRunner",
    "DirectoryScanStore",
    "LocalScanRunner",
    "MemoryScanStore",
    "ScanChunk",
    "ScanProblem",
    "ScanProgress",
    "ScanResult",
    "ScanRunner",
    "ScanStore",
    "ScanSymbol",
    "ScanTask",
    "chunk_symbols",
    "evaluate_symbols",
    "rank_rows",
    "run_scan",
    "scan",
]

MAX_CHUNK = 50
"""Most symbols per chunk: progress and resumption every few tenths of a second."""
CHUNKS_PER_THREAD = 4
_ROW_METRICS = {  # ranking column -> sweep metric
    "total_return": "total_return",
    "cagr": "cagr",
    "sharpe": "sharpe",
    "sortino": "sortino",
    "calmar": "calmar",
    "max_drawdown": "max_drawdown",
    "win_rate": "win_rate",
    "profit_factor": "profit_factor",
    "return_over_drawdown": "return_over_drawdown",
    "trades": "trade_count",
    "final_equity": "final_equity",
}


@dataclass(frozen=True, slots=True)
class ScanSymbol:
    """One symbol of a scan: what its row shows and which settings it runs with.

    Attributes:
        code: The symbol's code (its key in the loader).
        name: Display name.
        market: Listing market (``KOSPI``, ``NASDAQ``, ...; empty when unknown).
        adjusted: Whether its prices are adjusted (None: unknown).
        settings: Key of its settings in :attr:`ScanProblem.settings` (e.g. the market:
            KOSPI and KOSDAQ differ in taxes and ticks).
        error: Known before running (e.g. no prices stored): the row's error.
    """

    code: str
    name: str = ""
    market: str = ""
    adjusted: bool | None = None
    settings: str = ""
    error: str | None = None


class BarsLoader(Protocol):
    """Loads one symbol's bars where a chunk runs (must pickle, for Dask)."""

    def __call__(self, symbol: ScanSymbol) -> BarsInput:
        """Return the symbol's bars in the scan's period.

        Raises:
            DataError: No bars in the period, or unreadable ones.
        """
        ...


@dataclass(frozen=True)
class ScanProblem:
    """A scan's fixed inputs, shipped once to wherever chunks run.

    Attributes:
        strategy: Registry name or Strategy class.
        params: The complete parameter set (defaults filled in).
        settings: Complete simulation settings by :attr:`ScanSymbol.settings` key.
        symbols: The universe, in order.
        loader: Reads a symbol's bars.
    """

    strategy: str | type[Strategy[Any]]
    params: Mapping[str, Any]
    settings: Mapping[str, SimulationSettings]
    symbols: tuple[ScanSymbol, ...]
    loader: BarsLoader


@dataclass(frozen=True)
class ScanTask:
    """A chunk to evaluate: its key (unique within a scan) and its symbols' positions."""

    key: str
    start: int
    stop: int


@dataclass(frozen=True)
class ScanChunk:
    """The rows of one chunk's symbols, in universe order."""

    codes: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.rows)


LOAD_THREADS = 4
"""Threads loading a chunk's bars at once (reading Parquet files releases the GIL)."""


def evaluate_symbols(problem: ScanProblem, start: int, stop: int) -> ScanChunk:
    """Backtest symbols ``start..stop-1`` of the universe (metrics only), one row each.

    The chunk's bars are loaded by :data:`LOAD_THREADS` threads first, then evaluated
    one symbol after the other.
    """
    from concurrent.futures import ThreadPoolExecutor

    symbols = problem.symbols[start:stop]
    if len(symbols) > 1:
        with ThreadPoolExecutor(max_workers=min(LOAD_THREADS, len(symbols))) as pool:
            loaded = list(pool.map(lambda symbol: _load(problem, symbol), symbols))
    else:
        loaded = [_load(problem, symbol) for symbol in symbols]
    rows = tuple(_row(problem, symbol, bars) for symbol, bars in zip(symbols, loaded, strict=True))
    return ScanChunk(tuple(symbol.code for symbol in symbols), rows)


def _load(problem: ScanProblem, symbol: ScanSymbol) -> PreparedBars | PrivatetradeError | None:
    """The symbol's validated bars, the error that kept them from loading, or None (skipped)."""
    from privatetrade.engine.bars import prepare_bars

    if symbol.error is not None:
        return None
    try:
        return prepare_bars(problem.loader(symbol))
    except PrivatetradeError as exc:
        return exc


def _row(
    problem: ScanProblem, symbol: ScanSymbol, loaded: PreparedBars | PrivatetradeError | None
) -> dict[str, Any]:
    from privatetrade.engine.sweep import evaluate

    row: dict[str, Any] = {
        "symbol": symbol.code,
        "name": symbol.name,
        "market": symbol.market,
        "adjusted": symbol.adjusted,
        "first": None,
        "last": None,
        "bars": 0,
        **dict.fromkeys(_ROW_METRICS),
        "error": symbol.error,
    }
    if loaded is None:
        return row
    if isinstance(loaded, PrivatetradeError):
        row["error"] = _one_line(loaded)
        return row
    row["bars"] = len(loaded)
    row["first"] = _local_day(loaded.local_time_ns[0])
    row["last"] = _local_day(loaded.local_time_ns[-1])
    if len(loaded) < 2:
        row["error"] = "only one bar in the period; a backtest needs at least two"
        return row
    settings = problem.settings[symbol.settings]
    try:
        result = evaluate(loaded, problem.strategy, [problem.params], settings=settings)
    except PrivatetradeError as exc:
        row["error"] = _one_line(exc)
        return row
    values = dict(zip(SWEEP_METRICS, result.values[0].tolist(), strict=True))
    for column, metric in _ROW_METRICS.items():
        value = values[metric]
        row[column] = value if math.isfinite(value) else None
    row["trades"] = int(values["trade_count"])
    return row


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _local_day(local_ns: Any) -> str:
    import numpy as np

    return str(np.datetime64(int(local_ns), "ns").astype("datetime64[D]"))


class ScanRunner(Protocol):
    """Evaluates chunks somewhere; yields each as it is finished."""

    def run(self, problem: ScanProblem, tasks: Sequence[ScanTask]) -> Iterator[ScanChunk]:
        """Evaluate ``tasks``; yield their chunks in the order they finish."""
        ...

    def parallelism(self) -> int:
        """How many chunks can usefully run at once."""
        ...


class LocalScanRunner:
    """Runs chunks in this process, in order."""

    def run(self, problem: ScanProblem, tasks: Sequence[ScanTask]) -> Iterator[ScanChunk]:
        """Evaluate the chunks one after another."""
        for task in tasks:
            yield evaluate_symbols(problem, task.start, task.stop)

    def parallelism(self) -> int:
        """One chunk at a time."""
        return 1


class DaskScanRunner:
    """Runs chunks as tasks on a Dask cluster (as the sweeps' ``DaskRunner`` does).

    Args:
        client: A ``distributed.Client``; None inside a Dask task (the cluster's client
            is taken with ``worker_client``, the task seceding while it waits).
        prefix: Prefix of the task keys (e.g. the job id and attempt).
    """

    def __init__(self, client: Any = None, prefix: str = "scan") -> None:
        self._client = client
        self._prefix = prefix

    def run(self, problem: ScanProblem, tasks: Sequence[ScanTask]) -> Iterator[ScanChunk]:
        """Submit every chunk; yield chunks as they finish (the rest cancelled when abandoned)."""
        if not tasks:
            return
        if self._client is not None:
            yield from self._run_on(self._client, problem, tasks)
            return
        from distributed import worker_client

        with worker_client() as client:
            yield from self._run_on(client, problem, tasks)

    def _run_on(
        self, client: Any, problem: ScanProblem, tasks: Sequence[ScanTask]
    ) -> Iterator[ScanChunk]:
        from distributed import as_completed

        shared = client.scatter(problem, broadcast=True, hash=False)
        futures = [
            client.submit(
                evaluate_symbols,
                shared,
                task.start,
                task.stop,
                key=f"{self._prefix}-{task.key}",
                pure=False,
            )
            for task in tasks
        ]
        try:
            for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                yield future.result()
        finally:
            pending = [future for future in futures if not future.done()]
            if pending:
                client.cancel(pending)

    def parallelism(self) -> int:
        """The cluster's threads (at least 1)."""
        client = self._client
        if client is None:
            from distributed import get_client

            client = get_client()
        info = client.scheduler_info(n_workers=-1)
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        return max(threads, 1)


class ScanStore(Protocol):
    """Keeps finished chunks of a scan by key."""

    def load(self, key: str) -> ScanChunk | None:
        """Return the finished chunk ``key``, or None."""
        ...

    def save(self, key: str, chunk: ScanChunk) -> None:
        """Keep a finished chunk (atomically: whole or not at all)."""
        ...


class MemoryScanStore:
    """Keeps nothing: a scan that stops starts over (the library's default)."""

    def load(self, key: str) -> ScanChunk | None:
        """Nothing is kept."""
        return None

    def save(self, key: str, chunk: ScanChunk) -> None:
        """Nothing is kept."""


_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class DirectoryScanStore:
    """One ``<key>.json`` file per finished chunk in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, key: str) -> ScanChunk | None:
        """Read a finished chunk (None when absent or unreadable: it runs again)."""
        try:
            document = json.loads(self._path(key).read_bytes())
            return ScanChunk(tuple(document["codes"]), tuple(document["rows"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, chunk: ScanChunk) -> None:
        """Write the chunk's rows to a temporary file and rename it into place."""
        document = {"codes": list(chunk.codes), "rows": list(chunk.rows)}
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, ensure_ascii=False, allow_nan=False)
        write_bytes_atomic(self._path(key), text.encode())

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad chunk key {key!r}")
        return self.folder / f"{key}.json"


ScanProgress = Callable[[int, int, int, "dict[str, Any] | None"], None]
"""Called with (symbols done, total, failed so far, best row so far by the sort)."""


def chunk_symbols(count: int, parallelism: int = 1) -> int:
    """Symbols per chunk: at most :data:`MAX_CHUNK`, and at least four chunks per thread."""
    even = -(-count // max(parallelism * CHUNKS_PER_THREAD, 1))
    return max(1, min(MAX_CHUNK, even))


@dataclass
class _Tally:
    sort: str
    done: int = 0
    failed: int = 0
    best: dict[str, Any] | None = None

    def offer(self, chunk: ScanChunk) -> None:
        self.done += len(chunk)
        for row in chunk.rows:
            if row["error"] is not None:
                self.failed += 1
            elif _beats(row, self.best, self.sort):
                self.best = row

    def describe(self) -> dict[str, Any] | None:
        if self.best is None:
            return None
        return {"symbol": self.best["symbol"], "sort": self.sort, "value": self.best[self.sort]}


def _beats(row: dict[str, Any], best: dict[str, Any] | None, sort: str) -> bool:
    value = row[sort]
    if value is None or sort == "symbol":
        return best is None
    if best is None or best[sort] is None:
        return True
    return bool(value > best[sort])


@dataclass(frozen=True)
class ScanResult:
    """Every symbol's row, in universe order, and how the scan ran.

    Attributes:
        rows: One dict per symbol (:data:`~privatetrade.domain.scan.SCAN_COLUMNS`
            but ``rank``), ``error`` None when it was evaluated.
        strategy: The strategy's registry name.
        params: The complete parameter set.
        sort: The default order of :meth:`ranking`.
        seconds: Wall time of the scan.
        resumed: Chunks taken from the store instead of run.
    """

    rows: tuple[dict[str, Any], ...]
    strategy: str
    params: dict[str, Any]
    sort: str = "sharpe"
    seconds: float = 0.0
    resumed: int = 0
    context: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def failed(self) -> int:
        """Symbols that could not be evaluated."""
        return sum(row["error"] is not None for row in self.rows)

    def ranking(self, sort: str | None = None, order: str = "desc") -> list[dict[str, Any]]:
        """The rows sorted by ``sort`` (the scan's own by default), each with its ``rank``.

        See :func:`rank_rows`.
        """
        return rank_rows(self.rows, sort or self.sort, order)

    def to_frame(self) -> pd.DataFrame:
        """The ranking as a frame, one row per symbol (columns of ``ranking.csv``)."""
        import pandas as pd

        return pd.DataFrame(self.ranking(), columns=list(SCAN_COLUMNS))

    def to_csv(self) -> str:
        """The ranking as CSV (``ranking.csv``)."""
        text: str = self.to_frame().to_csv(index=False)
        return text

    def summary(self) -> dict[str, Any]:
        """Key figures for job listings: counts and the best few symbols."""
        ranked = [row for row in self.ranking() if row["error"] is None]
        return {
            "symbols": len(self.rows),
            "evaluated": len(self.rows) - self.failed,
            "failed": self.failed,
            "sort": self.sort,
            "best": [
                {"symbol": row["symbol"], "name": row["name"], "value": row[self.sort]}
                for row in ranked[:5]
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """The ranking document (``ranking.json``): how it ran and every row, ranked."""
        from privatetrade import __version__
        from privatetrade.engine.api import ENGINE_VERSION

        return {
            "schema_version": "1.0",
            "kind": "scan",
            "engine_version": ENGINE_VERSION,
            "app_version": __version__,
            **self.context,
            "strategy": self.strategy,
            "params": self.params,
            "sort": self.sort,
            "order": "desc",
            "seconds": round(self.seconds, 6),
            "resumed_chunks": self.resumed,
            "counts": {
                "symbols": len(self.rows),
                "evaluated": len(self.rows) - self.failed,
                "failed": self.failed,
            },
            "rows": self.ranking(),
        }

    def with_context(self, context: Mapping[str, Any]) -> ScanResult:
        """The same result whose document also says what was run (spec, universe, ...)."""
        import dataclasses

        return dataclasses.replace(self, context=dict(context))

    def to_json(self) -> str:
        """The ranking document as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, default=str)


def rank_rows(
    rows: Sequence[Mapping[str, Any]], sort: str, order: str = "desc"
) -> list[dict[str, Any]]:
    """Sort rows by a column and number them (``rank`` 1 = first).

    ``desc`` puts the highest first (for ``max_drawdown`` the shallowest); rows
    without a value come after those with one, and rows with an ``error`` last, in
    universe order either way.

    Raises:
        InputError: Unknown ``sort`` or ``order`` (``field`` names it).
    """
    if sort not in SCAN_SORTS:
        raise InputError(f"sort: use one of {', '.join(SCAN_SORTS)}", field="sort")
    if order not in ("asc", "desc"):
        raise InputError("order: use asc or desc", field="order")
    valued = [r for r in rows if r.get("error") is None and r.get(sort) is not None]
    empty = [r for r in rows if r.get("error") is None and r.get(sort) is None]
    failed = [r for r in rows if r.get("error") is not None]
    valued.sort(key=lambda r: r[sort], reverse=order == "desc")  # stable: ties keep order
    ranked = [*valued, *empty, *failed]
    return [{"rank": rank, **row} for rank, row in enumerate(ranked, start=1)]


def run_scan(
    problem: ScanProblem,
    *,
    sort: str = "sharpe",
    runner: ScanRunner | None = None,
    store: ScanStore | None = None,
    chunk_size: int | None = None,
    progress: ScanProgress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ScanResult:
    """Evaluate every symbol of ``problem`` in chunks; return the rows in universe order.

    Args:
        problem: Strategy, parameters, settings, symbols and their loader.
        sort: The result's default ranking column.
        runner: Where chunks run (this process by default).
        store: Where finished chunks are kept (nowhere by default); a chunk found
            there for the same symbols is not run again.
        chunk_size: Symbols per chunk; :func:`chunk_symbols` if None.
        progress: Called after each chunk (see :data:`ScanProgress`).
        cancelled: Checked between chunks; True stops the scan.

    Raises:
        CancelledError: ``cancelled`` said so.
    """
    started = time.perf_counter()
    runner = runner or LocalScanRunner()
    store = store or MemoryScanStore()
    stop = cancelled or (lambda: False)
    count = len(problem.symbols)
    size = chunk_size or chunk_symbols(count, runner.parallelism())
    tasks = [
        ScanTask(f"s{index:06d}", begin, min(begin + size, count))
        for index, begin in enumerate(range(0, count, size))
    ]
    tally = _Tally(sort)
    finished: dict[str, ScanChunk] = {}
    pending: list[ScanTask] = []
    for task in tasks:
        codes = tuple(symbol.code for symbol in problem.symbols[task.start : task.stop])
        stored = store.load(task.key)
        if stored is not None and stored.codes == codes:
            finished[task.key] = stored
            tally.offer(stored)
        else:
            pending.append(task)
    resumed = len(finished)
    if progress is not None:
        progress(tally.done, count, tally.failed, tally.describe())
    _check(stop)
    task_of = {problem.symbols[task.start].code: task for task in pending}
    for chunk in runner.run(problem, pending):
        task = task_of[chunk.codes[0]]
        store.save(task.key, chunk)
        finished[task.key] = chunk
        tally.offer(chunk)
        if progress is not None:
            progress(tally.done, count, tally.failed, tally.describe())
        _check(stop)
    rows = tuple(row for task in tasks for row in finished[task.key].rows)
    strategy = problem.strategy
    name = strategy if isinstance(strategy, str) else strategy.name
    return ScanResult(
        rows, name, dict(problem.params), sort, time.perf_counter() - started, resumed
    )


def _check(stop: Callable[[], bool]) -> None:
    if stop():
        raise CancelledError("cancelled")


@dataclass(frozen=True)
class _HeldBars:
    """The library's loader: bars the caller passed, by code."""

    bars: Mapping[str, Any]

    def __call__(self, symbol: ScanSymbol) -> Any:
        return self.bars[symbol.code]


def scan(
    bars: Mapping[str, BarsInput],
    strategy: str | type[Strategy[Any]],
    params: Mapping[str, Any] | None = None,
    *,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostModel | CostPreset | Mapping[str, CostModel | CostPreset] | None = None,
    market: str | Mapping[str, str] | None = None,
    sort: str = "sharpe",
    progress: ScanProgress | None = None,
) -> ScanResult:
    """Backtest one strategy and parameter set on each symbol's bars; rank the symbols.

    Args:
        bars: Symbol code -> bars (a DataFrame or arrays as for
            :func:`~privatetrade.run_backtest`), 1 to 2,000 symbols.
        strategy: Registry name or Strategy class.
        params: Strategy parameters (missing ones take the defaults).
        settings: Base settings (costs, sizing, stops, ...).
        cash: Initial cash override.
        costs: A cost preset or model for every symbol, or one per symbol code.
        market: KRX market for the ``krx`` preset (``KOSPI``, ``KOSDAQ``), or one per code.
        sort: The ranking's column (see :data:`~privatetrade.domain.scan.SCAN_SORTS`).
        progress: Called after each chunk with (done, total, failed, best so far).

    Returns:
        One row per symbol: metrics, or ``error`` for a symbol that could not run.

    Raises:
        InputError: No symbols or too many, unknown ``sort``, invalid parameters or
            settings (``field`` names them).
    """
    from privatetrade.domain.universe import MAX_UNIVERSE_SYMBOLS
    from privatetrade.engine.api import default_registry, make_settings

    if not bars or len(bars) > MAX_UNIVERSE_SYMBOLS:
        raise InputError(
            f"bars: give 1 to {MAX_UNIVERSE_SYMBOLS:,} symbols, got {len(bars):,}", field="bars"
        )
    if sort not in SCAN_SORTS:
        raise InputError(f"sort: use one of {', '.join(SCAN_SORTS)}", field="sort")
    built = default_registry().build(strategy, params)
    complete = dict(built.params.__dict__)
    resolved: dict[str, SimulationSettings] = {}
    symbols = []
    for code in bars:
        chosen = costs.get(code) if isinstance(costs, Mapping) else costs
        where = market.get(code) if isinstance(market, Mapping) else market
        resolved[code] = make_settings(settings, market=where, cash=cash, costs=chosen)
        symbols.append(ScanSymbol(code, code, where or "", None, code))
    problem = ScanProblem(type(built), complete, resolved, tuple(symbols), _HeldBars(bars))
    return run_scan(problem, sort=sort, progress=progress)
