"""Portfolio and universe-scan benchmarks: 500 symbols x 10 years of daily bars.

Run: ``.venv/bin/python benchmarks/bench_portfolio.py [--quick] [--profile]`` (``./dev bench``
runs it with the other benchmarks). Everything runs in a temporary data directory (removed
at the end, with every process started here) holding the offline sample data plus 500
synthetic symbols (``B00000`` .. ``B00499``, KOSPI and KOSDAQ alternately, KRW) of 2,520
business days from 2015-01-01 each, a log random walk; one in twenty lists 500 days late
and one in twenty ends 300 days early (the calendar is the union of their days).

Targets (2-core machine) and how each figure is measured:

(a) ``run_portfolio`` of a monthly top-10 momentum rotation (lookback 60) over the 500
    symbols, KRX costs per market, in this process: <= 1 s for the simulation (median of
    several runs after a warm-up; the bars already loaded). Shown with it: loading the
    500 Parquet files, serializing the result document and its CSVs.
(b) The same portfolio through a real ``privatetrade serve`` (local executor, 2 worker
    processes, SQLite): ``POST /api/portfolios`` -> the ``GET /api/jobs/{id}`` answer that
    first shows ``succeeded`` (polled every 5 ms): <= 3 s, median of several runs after
    warm-up runs (one per worker). The stages as the poll saw them are printed.
(c) A universe scan (``sma_cross`` 5/20) of the 500 symbols on the local executor, through
    the same server, POST -> succeeded: <= 5 s (median after warm-up). Also shown: the scan
    in this process (``run_scan``, the bars read from the Parquet files by its chunks).

``--quick`` does fewer runs. ``--profile`` adds cProfile listings of the in-process paths.
Nothing here asserts a time: figures are reported with their targets. The machine's two
cores are shared with whatever else runs (the load average is printed): every figure is
noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import datetime as dt
import io
import os
import platform
import pstats
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import privatetrade as pt

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the repository: tests.e2e.server
from tests.e2e.server import FINAL_STATES, ServerProcess

from _synthetic import random_walk_bars
from privatetrade.settings import Settings

SYMBOLS = 500
DAYS = 2_520
PORTFOLIO_TARGET_S = 1.0
PORTFOLIO_API_TARGET_S = 3.0
SCAN_TARGET_S = 5.0
POLL_S = 0.005
JOB_TIMEOUT_S = 300.0
RULE = {"rule": "top_n_momentum", "top": 10, "lookback": 60, "rebalance": "monthly"}
SCAN_PARAMS = {"fast": 5, "slow": 20}
_DEFAULT_LEASE_S = Settings.model_fields["lease_seconds"].default


@dataclasses.dataclass(frozen=True)
class Plan:
    """How many runs of each measurement (full or ``--quick``)."""

    simulation_runs: int
    api_runs: int
    scan_runs: int


FULL = Plan(7, 5, 5)
QUICK = Plan(3, 2, 2)


# ---------------------------------------------------------------------- reporting


@dataclasses.dataclass
class Summary:
    """The targeted figures, printed as one table at the end."""

    rows: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)

    def add(self, label: str, seconds: float, target: float) -> None:
        verdict = "OK" if seconds <= target else "MISSED"
        self.rows.append((label, _s(seconds), f"<= {target:g} s", verdict))
        print(f"  -> {label}: {_s(seconds)}   target <= {target:g} s   {verdict}", flush=True)

    def show(self) -> None:
        header = ("figure", "measured", "target", "")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(4)]
        print("\nsummary")
        for row in [header, *self.rows]:
            print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _loadavg() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def _profile(label: str, action: Callable[[], object], lines: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    action()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    text = out.getvalue()
    print(f"\n   cProfile: {label}")
    print("\n".join("   " + line for line in text[text.find("   ncalls") :].splitlines() if line))


# ---------------------------------------------------------------------- the data


def codes() -> list[str]:
    return [f"B{index:05d}" for index in range(SYMBOLS)]


def build_data_dir(data_dir: Path) -> None:
    """The sample data plus the 500 synthetic symbols (written as the store writes them)."""
    from privatetrade.data.market_data import MarketData
    from privatetrade.data.store import PriceKind
    from privatetrade.data.symbols import Market, SymbolInfo

    market = MarketData(data_dir)
    market.ensure_samples()
    days = pd.bdate_range("2015-01-01", periods=DAYS, tz="Asia/Seoul", name="time")
    entries = []
    for index, code in enumerate(codes()):
        walk = random_walk_bars(DAYS, seed=1_000 + index, volatility=0.02)
        frame = pd.DataFrame(
            {name: walk[name] for name in ("open", "high", "low", "close", "volume")},
            index=days,
        )
        if index % 20 == 1:
            frame = frame.iloc[500:]  # listed later
        elif index % 20 == 2:
            frame = frame.iloc[:-300]  # delisted earlier
        coverage = market.store.write(code, frame, kind=PriceKind.RAW, source="bench")
        entries.append(
            SymbolInfo(
                code=code, name=f"벤치 {index}",
                market=Market.KOSPI if index % 2 else Market.KOSDAQ, currency="KRW",
                tick_table="krx", source="bench", synthetic=True,
                first_bar=coverage.first_bar, last_bar=coverage.last_bar,
                bar_count=coverage.bar_count, adjusted=("raw",),
            )
        )  # fmt: skip
    market.catalog.upsert(entries)


# ---------------------------------------------------------------------- (a) in process


def bench_simulation(data_dir: Path, plan: Plan, profile: bool, summary: Summary) -> None:
    from privatetrade.data.market_data import MarketData
    from privatetrade.domain.portfolio import PortfolioSpec
    from privatetrade.plans.portfolio import load_bars, plan_portfolio

    print(f"\n(a) run_portfolio: {RULE} over {SYMBOLS} symbols x {DAYS} days, in process")
    market = MarketData(data_dir)
    spec = PortfolioSpec(symbols=codes(), rule=RULE)
    planned, portfolio_plan = _timed(lambda: plan_portfolio(spec, market))
    loading, (bars, _bench) = _timed(lambda: load_bars(portfolio_plan, market))
    print(
        f"   plan (catalog only) {_s(planned)}; loading the {SYMBOLS} Parquet files {_s(loading)}"
    )
    settings, costs = portfolio_plan.settings, portfolio_plan.symbol_costs

    def simulate() -> pt.PortfolioResult:
        return pt.run_portfolio(bars, RULE, settings=settings, costs=costs)

    cold, result = _timed(simulate)
    runs = [_timed(simulate)[0] for _ in range(plan.simulation_runs)]
    print(f"   first run (numba kernels loaded from the cache) {_s(cold)}")
    print(f"   runs: {', '.join(_s(run) for run in runs)}")
    summary.add("(a) run_portfolio simulation, median", _median(runs), PORTFOLIO_TARGET_S)
    document, text = _timed(result.to_json)
    csvs, _ = _timed(
        lambda: [
            result.equity_csv(), result.holdings_csv(), result.trades_csv(),
            result.fills_csv(), result.contribution_csv(),
        ]
    )  # fmt: skip
    metrics = result.metrics
    sharpe = "—" if metrics.sharpe is None else f"{metrics.sharpe:.3f}"
    print(
        f"   result: {len(result.aligned):,} bars on the calendar, {metrics.trade_count:,} "
        f"trades, {len(result.rebalances.signal_bars)} rebalances, total return "
        f"{metrics.total_return:.2%}, Sharpe {sharpe}"
    )
    print(f"   result.json {len(text) / 1e6:.1f} MB in {_s(document)}; the five CSVs in {_s(csvs)}")
    if profile:
        _profile("run_portfolio", simulate)


# ---------------------------------------------------------------------- (b), (c) the server


@dataclasses.dataclass
class JobRun:
    job: dict[str, Any]
    total: float
    post: float
    stages: dict[str, float]


def run_job(client: httpx.Client, path: str, body: Any) -> JobRun:
    """POST a job, poll ``/api/jobs/{id}`` every 5 ms until it ends; it must succeed."""
    started = time.perf_counter()
    response = client.post(path, json=body)
    post = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
    job_id = response.json()["id"]
    stages: dict[str, float] = {}
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        seen = time.perf_counter() - started
        stages.setdefault(job["stage"] if job["state"] == "running" else job["state"], seen)
        if job["state"] in FINAL_STATES:
            break
        if seen > JOB_TIMEOUT_S:
            raise TimeoutError(f"job {job_id} still {job['state']} after {JOB_TIMEOUT_S} s")
        time.sleep(POLL_S)
    if job["state"] != "succeeded":
        raise RuntimeError(f"job {job_id} ended {job['state']}: {job.get('error')}")
    return JobRun(job, seen, post, stages)


def warm_up(server: ServerProcess, path: str, body: Any) -> list[float]:
    """Two jobs at once (one per worker: each loads the kernels it needs); their times."""
    times: list[float] = []

    def one() -> None:
        with server.client(timeout=120.0) as own:
            times.append(run_job(own, path, body).total)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(times) != 2:
        raise RuntimeError("a warm-up job failed (see above)")
    return times


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def report_runs(runs: Sequence[JobRun]) -> None:
    print(f"   runs: {', '.join(_s(run.total) for run in runs)}")
    last = runs[-1]
    job = last.job
    queued = _epoch(job["started_at"]) - _epoch(job["created_at"])
    running = _epoch(job["finished_at"]) - _epoch(job["started_at"])
    print(
        f"   last run: POST round trip (the spec checked) {_s(last.post)}, queued {_s(queued)}, "
        f"running {_s(running)}"
    )
    stages = ", ".join(f"{name} at {_s(at)}" for name, at in last.stages.items())
    print(f"   stages the poll saw: {stages}")


def bench_portfolio_api(server: ServerProcess, plan: Plan, summary: Summary) -> None:
    print(f"\n(b) POST /api/portfolios ({SYMBOLS} symbols, {RULE['rule']}) -> succeeded")
    body = {"symbols": codes(), "rule": RULE}
    cold = warm_up(server, "/api/portfolios", body)
    print(f"   warm-up, one job per worker at once: {', '.join(_s(t) for t in cold)}")
    with server.client(timeout=120.0) as client:
        runs = [run_job(client, "/api/portfolios", body) for _ in range(plan.api_runs)]
    report_runs(runs)
    summary.add("(b) portfolio submit -> succeeded, median", _median([r.total for r in runs]),
                PORTFOLIO_API_TARGET_S)  # fmt: skip


def bench_scan(
    server: ServerProcess, data_dir: Path, plan: Plan, summary: Summary, profile: bool
) -> None:
    from privatetrade.data.market_data import MarketData
    from privatetrade.domain.scan import ScanSpec
    from privatetrade.plans.scan import plan_scan
    from privatetrade.research.scan import run_scan

    print(f"\n(c) universe scan: sma_cross {SCAN_PARAMS} on {SYMBOLS} symbols x {DAYS} days")
    spec = ScanSpec(symbols=codes(), params=SCAN_PARAMS)
    scan_plan = plan_scan(spec, MarketData(data_dir))
    run_scan(scan_plan.problem)  # kernels loaded
    in_process = [_timed(lambda: run_scan(scan_plan.problem))[0] for _ in range(plan.scan_runs)]
    print(f"   in this process (run_scan, local runner): {', '.join(_s(t) for t in in_process)}")
    body = spec.model_dump(mode="json")
    cold = warm_up(server, "/api/scans", body)
    shown = ", ".join(_s(t) for t in cold)
    print(f"   through the server, warm-up (one job per worker at once): {shown}")
    with server.client(timeout=120.0) as client:
        runs = [run_job(client, "/api/scans", body) for _ in range(plan.scan_runs)]
        ranking = client.get(f"/api/scans/{runs[-1].job['id']}/ranking", params={"limit": 3})
    report_runs(runs)
    best = ", ".join(f"{row['symbol']} {row['sharpe']:.2f}" for row in ranking.json()["rows"])
    print(f"   best Sharpe: {best}")
    summary.add("(c) scan submit -> succeeded, local executor, median",
                _median([r.total for r in runs]), SCAN_TARGET_S)  # fmt: skip
    if profile:
        _profile("run_scan", lambda: run_scan(scan_plan.problem))


@contextlib.contextmanager
def running_server(data_dir: Path, root: Path) -> Iterator[ServerProcess]:
    """The real server: local executor, 2 workers, default settings, SQLite."""
    server = ServerProcess(
        data_dir,
        workers=2,
        env={"PRIVATETRADE_LEASE_SECONDS": str(_DEFAULT_LEASE_S)},  # measure as deployed
        log_path=root / "server.log",
        end_with_parent=True,  # a benchmark killed by hand leaves no server behind
    )
    try:
        started = time.perf_counter()
        server.start(timeout=120)
        server.wait_workers_ready()
        print(
            f"\nserver: privatetrade serve on {server.url}, local executor with 2 worker "
            f"processes, SQLite (ready after {time.perf_counter() - started:.1f} s)"
        )
        yield server
    except BaseException:
        print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (fewer samples)")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process paths")
    args, _others = parser.parse_known_args()  # ./dev bench passes every script the same flags
    plan = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on SIGTERM too
    now = dt.datetime.now(dt.UTC)
    print(f"portfolio benchmarks{' (quick)' if args.quick else ''}, {now:%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}; privatetrade {pt.__version__}; numpy {np.__version__}"
    )
    print(f"load average at start: {_loadavg()}")
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="privatetrade-bench-portfolio-") as folder:
        root = Path(folder)
        data_dir = root / "data"
        built, _ = _timed(lambda: build_data_dir(data_dir))
        print(f"data: {SYMBOLS} symbols x {DAYS} days written in {built:.1f} s")
        bench_simulation(data_dir, plan, args.profile, summary)
        with running_server(data_dir, root) as server:
            bench_portfolio_api(server, plan, summary)
            bench_scan(server, data_dir, plan, summary, args.profile)
    summary.show()
    print(f"load average at the end: {_loadavg()}")


if __name__ == "__main__":
    main()
