"""Service benchmarks: the real ``privatetrade serve`` process, measured from a client.

One server process is started on a free loopback port with the default executor (the local
process pool, 2 workers) and SQLite (WAL) in a temporary data directory that also holds the
offline sample data and a synthetic minute-bar symbol ``LONG``. Everything is removed at
the end. Run: ``.venv/bin/python benchmarks/bench_service.py [--quick] [--no-wrk]``
(``./dev bench`` runs it with the other benchmarks).

Targets (2-core machine) and how each figure is measured:

1. Submit -> succeeded, 10 years of daily AAPL bars (2004-01-01..2013-12-31, sma_cross
   10/30): p50 <= 100 ms. The client times from just before ``POST /api/backtests`` to the
   ``GET /api/backtests/{id}`` answer that first shows ``succeeded``, polling every 2 ms
   over one keep-alive connection, 50 runs one after another. Polling rather than the SSE
   stream: ``/events`` re-reads the job only every 100 ms on the server, so it would
   measure its own poll interval (reported as an extra row). The job's own timestamps
   (created/started/finished, one clock on one machine) and the worker's ``job.succeeded``
   log line split the latency into: POST, queue (dispatcher wake-up, claim, hand-off to a
   worker process), run (load bars, simulate, serialize), storing (the result transaction)
   and detection (the poll's own delay: < 2 ms sleep + one GET). An in-process rerun of
   the worker's steps shows where the run time goes.
2. ``GET /api/backtest/result/{id}`` of that result, full body read: p50 <= 20 ms
   (200 downloads, one keep-alive connection).
3. ``GET /api/health`` at 500 requests/s on loopback: p99 <= 10 ms, idle and while two
   LONG backtests keep both worker processes busy. Measured with a fixed-rate open-loop
   generator in this script (asyncio, uvloop when installed, raw HTTP/1.1 on keep-alive
   sockets): request i is due at t0 + i/500 s whatever happened to earlier ones; it goes
   out on an idle connection (a new one is opened when none is idle, up to 256) and its
   latency runs from the *due* time to the last byte of the answer. A stalled server
   therefore shows up in every request that was due during the stall (no coordinated
   omission), and so does any lateness of the generator itself: its send lag (due ->
   actually sent; timers have ~1 ms granularity) is reported so the two can be told apart.
   Also reported: the server's own time for those requests (the ``ms`` of its
   ``http.request`` log lines), its CPU time per request, and how long its threads waited
   for a CPU (Linux run-queue time: high when the machine is oversubscribed).
   wrk is run too as a cross-check (installed with apt-get when missing and running as
   root; ``--no-wrk`` skips it). wrk has no fixed-rate mode, so 10 connections each wait
   a random 0..36 ms (a Lua ``delay()``) between requests, about 500 req/s. That is a
   closed loop: a slow answer delays the next request instead of being counted against
   it, so its tail is optimistic; its own overhead (C, no Python) is lower.
   For the busy case each round submits two LONG backtests (500,000 UTC minute bars,
   ``--long-bars``), waits until both are ``running`` and measures until a health answer
   reports fewer than two busy workers (``executor.busy`` is in every answer); only
   requests due before that count. Rounds repeat until 20 s (quick: 3 s) were measured.
   The jobs' states are read at the start, right after each window and at their end.
4. 200 jobs submitted at once by 20 client threads (the same 10-year AAPL spec): all must
   end ``succeeded``, none lost (counted via ``GET /api/backtests?limit=200``, the total,
   and each job's state). Reported: submit time, wall time from the first POST to the last
   ``finished_at`` and the throughput in jobs/s.

On a busy machine every figure here is noisy: the two cores are shared by this client,
the server, its two workers and whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import privatetrade as pt

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the repository: tests.e2e.server
from tests.e2e.server import FINAL_STATES, ServerProcess, wait_for

from _synthetic import MINUTE_NS, random_walk_bars
from _usage import Usage, usage
from privatetrade.ops.smoke.sse import parse_sse
from privatetrade.settings import Settings

AAPL_10Y = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
    "start": "2004-01-01",
    "end": "2013-12-31",
}
LONG = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
HEALTH_RATE = 500.0
HEALTH_TARGET_S = 0.010
_PROGRESS_WRITES = (("loading", 0.01), ("simulating", 0.05), ("saving", 0.85))
_DEFAULT_LEASE_S = Settings.model_fields["lease_seconds"].default


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to do (full or ``--quick``)."""

    latency_runs: int
    sse_runs: int
    downloads: int
    stage_repeats: int
    health_seconds: float
    busy_seconds: float
    busy_rounds: int
    wrk_seconds: float
    burst_jobs: int
    burst_threads: int


FULL = Plan(50, 10, 200, 20, 20.0, 20.0, 8, 8.0, 200, 20)
QUICK = Plan(10, 3, 30, 5, 4.0, 3.0, 2, 3.0, 50, 10)


# ---------------------------------------------------------------------- reporting


@dataclass
class Summary:
    """The targeted figures, printed as one table at the end."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, label: str, measured: str, target: str, ok: bool | None) -> None:
        verdict = "" if ok is None else ("OK" if ok else "MISSED")
        self.rows.append((label, measured, target, verdict))
        print(f"  -> {label}: {measured}   target {target}   {verdict}", flush=True)

    def show(self) -> None:
        header = ("figure", "measured", "target", "")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(4)]
        print()
        print("summary")
        for row in [header, *self.rows]:
            print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


# ---------------------------------------------------------------------- data directory


def prepare_data(data_dir: Path, long_bars: int) -> None:
    """Install the sample data and the synthetic ``LONG`` symbol (UTC minute bars)."""
    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    data = MarketData(data_dir)
    data.ensure_samples()
    arrays = random_walk_bars(long_bars, seed=11, step_ns=MINUTE_NS, volatility=0.001)
    index = pd.DatetimeIndex(pd.to_datetime(arrays.pop("time"), utc=True), name="time")
    symbol = SymbolInfo(
        code="LONG",
        name="Long synthetic",
        market=Market.NYSE,
        currency="USD",
        tick_table="none",
        source="bench",
        synthetic=True,
    )
    data.save_bars(symbol, pd.DataFrame(arrays, index=index))


# ---------------------------------------------------------------------- 1. latency


def bench_latency(server: ServerProcess, plan: Plan, summary: Summary) -> str:
    """Submit -> succeeded, sequentially; return the last job's id."""
    print(f"\n1. submit -> succeeded: 10y daily AAPL, sma_cross 10/30, {plan.latency_runs} runs")
    parts: dict[str, list[float]] = {
        name: [] for name in ("total", "post", "queue", "run", "seen", "polls")
    }
    runs: list[tuple[str, float, float]] = []  # id, finished_at, seen (epoch seconds)
    with server.client() as client:
        for _ in range(plan.latency_runs):
            wall0, t0 = time.time(), time.perf_counter()
            response = client.post("/api/backtests", json=AAPL_10Y)
            t_post = time.perf_counter()
            if response.status_code != 202:
                raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
            job_id = response.json()["id"]
            polls = 0
            while True:
                job = client.get(f"/api/backtests/{job_id}").json()
                polls += 1
                if job["state"] in FINAL_STATES:
                    break
                time.sleep(0.002)
            t_seen = time.perf_counter()
            if job["state"] != "succeeded":
                raise RuntimeError(f"job {job_id} ended {job['state']}: {job.get('error')}")
            created, started = _epoch(job["created_at"]), _epoch(job["started_at"])
            finished = _epoch(job["finished_at"])
            parts["total"].append(t_seen - t0)
            parts["post"].append(t_post - t0)
            parts["queue"].append(started - created)
            parts["run"].append(finished - started)
            parts["seen"].append(wall0 + (t_seen - t0) - finished)
            parts["polls"].append(polls)
            runs.append((job_id, finished, wall0 + (t_seen - t0)))
    logged = {
        record["job_id"]: (float(record["seconds"]), _epoch(record["timestamp"]))
        for record in server.log_events("job.succeeded")
    }
    worker_seconds = [logged[i][0] for i, _, _ in runs if i in logged]
    store = [logged[i][1] - finished for i, finished, _ in runs if i in logged]
    detect = [seen - logged[i][1] for i, _, seen in runs if i in logged]
    total = parts["total"]
    print(
        f"   client-observed   p50 {_ms(_pct(total, 50))}  p95 {_ms(_pct(total, 95))}  "
        f"min {_ms(min(total))}  max {_ms(max(total))}"
    )
    print("   medians of its parts (job timestamps and the worker's log line, one clock):")
    rows = [
        ("POST round trip (spec checked, bars loaded, row inserted)", parts["post"]),
        ("queued: created_at -> started_at (wake, claim, hand-off)", parts["queue"]),
        ("running: started_at -> finished_at (load, simulate, serialize)", parts["run"]),
        ("storing: finished_at -> job.succeeded logged (result tx)", store),
        ("detection: job.succeeded logged -> seen by the 2 ms poll", detect),
        ("finished_at -> seen (storing + detection)", parts["seen"]),
        ("worker's job.succeeded 'seconds' (after start tx .. commit)", worker_seconds),
    ]
    for label, values in rows:
        if values:
            print(f"     {label:<62} {_ms(_pct(values, 50))}")
    print(f"   GET polls per run: median {_pct(parts['polls'], 50):.0f}")
    p50 = _pct(total, 50)
    summary.add(
        f"submit -> succeeded, 10y daily ({plan.latency_runs} runs)",
        f"p50 {_ms(p50)}  p95 {_ms(_pct(total, 95))}",
        "p50 <= 100 ms",
        p50 <= 0.100,
    )
    if plan.sse_runs:
        bench_sse(server, plan.sse_runs, summary)
    return runs[-1][0]


def bench_sse(server: ServerProcess, runs: int, summary: Summary) -> None:
    """The same latency when the client follows ``/events`` (server polls every 100 ms)."""
    samples = []
    with server.client() as client:
        for _ in range(runs):
            t0 = time.perf_counter()
            job_id = client.post("/api/backtests", json=AAPL_10Y).json()["id"]
            with client.stream("GET", f"/api/backtests/{job_id}/events") as stream:
                for _event, data in parse_sse(stream.iter_lines()):
                    if json.loads(data).get("state") == "succeeded":
                        break
            samples.append(time.perf_counter() - t0)
    summary.add(
        f"  same, seen on the SSE stream ({runs} runs)",
        f"p50 {_ms(_pct(samples, 50))}  p95 {_ms(_pct(samples, 95))}",
        "(info)",
        None,
    )


# ---------------------------------------------------------------------- worker steps


def bench_worker_steps(data_dir: Path, scratch: Path, repeat: int) -> None:
    """Rerun the worker's steps in this process to show where a job's run time goes."""
    from privatetrade.data.market_data import MarketData
    from privatetrade.db import migrate
    from privatetrade.db.artifacts import ArtifactFiles
    from privatetrade.db.engine import create_db_engine
    from privatetrade.db.jobs import JobRepository
    from privatetrade.domain.artifacts import Artifact
    from privatetrade.domain.specs import BacktestSpec
    from privatetrade.jobs.kinds import KindContext
    from privatetrade.jobs.kinds.backtest import CSV, JSON, result_summary
    from privatetrade.jobs.service import JobService
    from privatetrade.plans.backtest import execute_plan, plan_backtest

    print(f"\n   where the run time goes: the worker's steps rerun in this process ({repeat}x)")
    engine = create_db_engine(f"sqlite+pysqlite:///{scratch / 'steps.db'}", pool_size=1)
    migrate.upgrade(engine)
    files = ArtifactFiles(scratch / "steps-artifacts")
    repository = JobRepository(engine, files=files)
    data = MarketData(data_dir)
    context = KindContext(data, max_bars=2_000_000)
    service = JobService(repository, files, context, max_active_jobs=1_000)
    spec = BacktestSpec.model_validate(AAPL_10Y)
    steps: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        steps.setdefault(name, []).append(time.perf_counter() - start)

    sizes = (0, 0, 0)
    for _ in range(repeat + 1):  # the first round warms up
        job_id = uuid.uuid4().hex
        with step("POST: spec check (symbol, bars, params)"):
            service.check(spec)
        with step("POST: insert the job row"):
            repository.create(job_id, "local", spec)
        with step("db: start attempt"):
            job = repository.start_attempt(job_id, "bench")
        assert job is not None
        with step("db: 3 progress writes"):
            for stage, fraction in _PROGRESS_WRITES:
                repository.report_progress(job.id, job.attempt, fraction, stage)
        with step("load bars (Parquet) + plan"):
            plan = plan_backtest(spec, data)
        with step("simulate + metrics + result object"):
            result = execute_plan(plan)
        with step("result.to_json()"):
            document = result.to_json().encode()
        with step("trades CSV + equity CSV"):
            trades, equity = result.trades_csv().encode(), result.equity_csv().encode()
        documents = (
            Artifact("result.json", JSON, document),
            Artifact("trades.csv", CSV, trades),
            Artifact("equity.csv", CSV, equity),
        )
        with step("write 3 artifact files (sha256, fsync)"):
            staged = files.write(job.id, job.attempt, documents)
        with step("db: record artifacts + succeeded (1 tx)"):
            repository.finish_succeeded(job.id, job.attempt, staged.infos, result_summary(result))
        files.keep_only(staged)
        sizes = (len(document), len(trades), len(equity))
    engine.dispose()
    worker_total = 0.0
    for name, samples in steps.items():
        median = _pct(samples[1:], 50)
        if not name.startswith("POST"):
            worker_total += median
        print(f"     {name:<44} {median * 1e3:7.2f} ms")
    print(
        f"     {'sum of the worker steps':<44} {worker_total * 1e3:7.2f} ms   "
        f"(document {sizes[0] / 1e3:.0f} kB, trades {sizes[1] / 1e3:.0f} kB, "
        f"equity {sizes[2] / 1e3:.0f} kB)"
    )


# ---------------------------------------------------------------------- 2. result download


def bench_result(server: ServerProcess, job_id: str, downloads: int, summary: Summary) -> None:
    print(f"\n2. GET /api/backtest/result/{{id}}: {downloads} downloads, full body")
    samples = []
    size = 0
    with server.client() as client:
        json.loads(client.get(f"/api/backtest/result/{job_id}").content)
        for _ in range(downloads):
            start = time.perf_counter()
            response = client.get(f"/api/backtest/result/{job_id}")
            body = response.content
            samples.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"result answered {response.status_code}")
            size = len(body)
    p50 = _pct(samples, 50)
    summary.add(
        f"GET result document ({size / 1e3:.0f} kB, {downloads}x)",
        f"p50 {_ms(p50)}  p95 {_ms(_pct(samples, 95))}",
        "p50 <= 20 ms",
        p50 <= 0.020,
    )


# ---------------------------------------------------------------------- 3. health load


@dataclass(frozen=True, slots=True)
class Sample:
    """One health request: when it was due, sent and answered; what it said."""

    due: float
    sent: float
    done: float
    status: int
    busy: int
    error: str = ""


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_BUSY = re.compile(rb'"busy":\s*(\d+)')
_MAX_CONNECTIONS = 256
_PREOPEN = 8
_KEEP_ALIVE_S = 4.0  # uvicorn closes a keep-alive connection after 5 s without requests


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.perf_counter()

    async def get(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        if length is None:
            raise ValueError("answer without Content-Length")
        body = await self.reader.readexactly(int(length.group(1)))
        return int(head[9:12]), body

    def close(self) -> None:
        self.writer.close()


async def _open_loop(
    port: int, path: str, rate: float, duration: float, stop_when: Callable[[Sample], bool]
) -> list[Sample]:
    """Send GET ``path`` at a fixed rate for ``duration`` s; latency from each due time."""
    loop = asyncio.get_running_loop()
    clock = time.perf_counter  # uvloop's loop.time() only has millisecond resolution
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    slots = asyncio.Semaphore(_MAX_CONNECTIONS)
    idle: list[_Connection] = []

    async def connect() -> _Connection:
        return _Connection(*await asyncio.open_connection("127.0.0.1", port))

    for _ in range(_PREOPEN):
        idle.append(await connect())
    samples: list[Sample] = []
    stopped = False

    def take() -> _Connection | None:
        while idle:
            connection = idle.pop()  # the most recently used one
            if clock() - connection.used < _KEEP_ALIVE_S:
                return connection
            connection.close()
        return None

    async def one(due: float) -> None:
        nonlocal stopped
        sent = clock()
        status, body, error = 0, b"", ""
        async with slots:
            for attempt in range(2):  # the server closed the connection: once more, on a new one
                connection = (take() if attempt == 0 else None) or await connect()
                try:
                    status, body = await connection.get(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    connection.close()
                    if attempt == 0:
                        continue
                    status, error = 0, type(exc).__name__
                    break
                connection.used = clock()
                idle.append(connection)
                break
        match = _BUSY.search(body)
        busy = int(match.group(1)) if match else -1
        sample = Sample(due, sent, clock(), status, busy, error)
        samples.append(sample)
        if stop_when(sample):
            stopped = True

    tasks: set[asyncio.Task[None]] = set()
    start = clock() + 0.05
    for i in range(int(rate * duration)):
        due = start + i / rate
        wait = due - clock()
        if wait > 0:
            await asyncio.sleep(wait)
        if stopped:
            break
        task = loop.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(list(tasks))
    for connection in idle:
        connection.close()
    return samples


def run_open_loop(
    port: int, duration: float, stop_when: Callable[[Sample], bool] = lambda _: False
) -> list[Sample]:
    coroutine = _open_loop(port, "/api/health", HEALTH_RATE, duration, stop_when)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _server_side(server: ServerProcess, windows: Sequence[Sequence[Sample]]) -> str:
    """The server's own time for those requests: the ``ms`` of its ``http.request`` lines.

    That is from the ASGI call to the last byte handed to uvicorn; the rest of the client's
    latency is queueing before the app sees the request (event loop, CPU) and the network.
    """
    offset = time.time() - time.perf_counter()
    spans = [(w[0].due + offset, w[-1].done + offset) for w in windows if w]
    values = [
        float(record["ms"])
        for record in server.log_events("http.request")
        if record.get("route") == "/api/health"
        and any(lo <= _epoch(record["timestamp"]) <= hi for lo, hi in spans)
    ]
    if not values:
        return "server-side: no log lines found"
    return (
        f"server-side (middleware 'ms' of {len(values)} log lines): p50 {_pct(values, 50):.1f} ms"
        f"  p99 {_pct(values, 99):.1f} ms  max {max(values):.1f} ms"
    )


def _span(windows: Sequence[Sequence[Sample]]) -> float:
    """Seconds covered by the windows' due times (gaps between windows left out)."""
    return sum(w[-1].due - w[0].due + 1.0 / HEALTH_RATE for w in windows if w)


def _describe(windows: Sequence[Sequence[Sample]]) -> tuple[str, float, bool]:
    """One line about windows of samples; their p99; whether every answer was a 200."""
    samples = [s for window in windows for s in window]
    ok = [s for s in samples if s.status == 200]
    errors = len(samples) - len(ok)
    latency = [s.done - s.due for s in ok] or [float("inf")]
    lag = [s.sent - s.due for s in samples]
    span = _span(windows)
    p99 = _pct(latency, 99)
    kinds = sorted({f"{s.error or s.status}" for s in samples if s.status != 200})
    what = f" ({', '.join(kinds)})" if kinds else ""
    line = (
        f"{len(samples)} requests in {span:.1f} s = {len(samples) / span:.0f} req/s, "
        f"{errors} errors{what}; latency p50 {_ms(_pct(latency, 50))}  "
        f"p90 {_ms(_pct(latency, 90))}  p99 {_ms(p99)}  max {_ms(max(latency))}; "
        f"generator send lag p99 {_ms(_pct(lag, 99))}"
    )
    return line, p99, errors == 0


_WRK_SCRIPT = """
local mean = {delay}
notbusy = 0
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function delay() return math.random(0, 2 * mean) end
function response(status, headers, body)
  if not string.find(body, '"busy":2', 1, true) then notbusy = notbusy + 1 end
end
function done(summary, latency, requests)
  local other = 0
  for _, t in ipairs(threads) do other = other + t:get("notbusy") end
  local e = summary.errors
  io.write(string.format(
    'WRK {{"requests":%d,"seconds":%.3f,"errors":%d,"non2xx":%d,"p50":%d,"p90":%d,' ..
    '"p99":%d,"max":%d,"notbusy":%d}}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, other))
end
"""
_WRK_CONNECTIONS = 10
_WRK_MEAN_DELAY_MS = 18  # 10 connections / (18 ms + ~2 ms answer) = ~500 req/s


def find_wrk() -> str | None:
    """Return the wrk binary, installing the Debian package when missing and root."""
    found = shutil.which("wrk")
    if found or not hasattr(os, "geteuid"):
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("   wrk is not installed (and this is not root): `apt-get install wrk` adds it")
        return None
    print("   installing wrk (apt-get install -y wrk) ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if _quiet(install) != 0:
        _quiet(["apt-get", "update", "-q"])
        _quiet(install)
    found = shutil.which("wrk")
    if not found:
        print("   could not install wrk; the wrk cross-check is skipped")
    return found


def _quiet(command: list[str]) -> int:
    done = subprocess.run(command, capture_output=True, check=False)
    return done.returncode


def run_wrk(wrk: str, server: ServerProcess, seconds: float, scratch: Path) -> dict[str, Any]:
    script = scratch / "throttle.lua"
    script.write_text(_WRK_SCRIPT.format(delay=_WRK_MEAN_DELAY_MS))
    command = [
        wrk, "-t1", f"-c{_WRK_CONNECTIONS}", f"-d{max(round(seconds), 1)}s", "--timeout", "5s",
        "-s", str(script), f"{server.url}/api/health",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    return dict(json.loads(line[4:]))


def _wrk_line(figures: dict[str, Any]) -> str:
    rate = figures["requests"] / figures["seconds"]
    errors = figures["errors"] + figures["non2xx"]
    return (
        f"wrk (closed loop): {figures['requests']} requests = {rate:.0f} req/s, {errors} errors; "
        f"p50 {figures['p50'] / 1e3:.1f} ms  p90 {figures['p90'] / 1e3:.1f} ms  "
        f"p99 {figures['p99'] / 1e3:.1f} ms  max {figures['max'] / 1e3:.1f} ms"
    )


def bench_health_idle(
    server: ServerProcess, plan: Plan, wrk: str | None, scratch: Path, summary: Summary
) -> None:
    seconds = plan.health_seconds
    print(f"\n3a. GET /api/health at {HEALTH_RATE:.0f} req/s, idle server ({seconds:.0f} s)")
    assert server.process is not None
    before = usage(server.process.pid)
    samples = run_open_loop(server.port, plan.health_seconds)
    spent = before.until(usage(server.process.pid))
    line, p99, clean = _describe([samples])
    print(f"   open loop: {line}")
    print(f"   {_server_side(server, [samples])}")
    print(f"   {_cpu_line(spent, len(samples))}")
    summary.add(
        f"GET /api/health @{HEALTH_RATE:.0f}/s, idle",
        _short([samples]),
        "p99 <= 10 ms",
        clean and p99 <= HEALTH_TARGET_S,
    )
    if wrk:
        print(f"   {_wrk_line(run_wrk(wrk, server, plan.wrk_seconds, scratch))}")


def _cpu_line(spent: tuple[float, float, float], requests: int) -> str:
    seconds, cpu, waited = spent
    return (
        f"server process: {cpu / max(requests, 1) * 1e3:.2f} ms CPU per request "
        f"({cpu / seconds:.0%} of a core); its threads waited {waited:.2f} s in {seconds:.1f} s "
        "for a CPU (run queue: how contended the machine was)"
    )


def _short(windows: Sequence[Sequence[Sample]]) -> str:
    samples = [s for window in windows for s in window]
    latency = [s.done - s.due for s in samples if s.status == 200] or [float("inf")]
    span = _span(windows)
    return (
        f"p99 {_ms(_pct(latency, 99))} (p50 {_pct(latency, 50) * 1e3:.1f}, "
        f"max {max(latency) * 1e3:.1f}; {len(samples) / span:.0f} req/s)"
    )


def _states(client: httpx.Client, ids: Sequence[str]) -> list[str]:
    return [client.get(f"/api/backtests/{job_id}").json()["state"] for job_id in ids]


def _start_long_pair(client: httpx.Client) -> list[str]:
    ids = [client.post("/api/backtests", json=LONG).json()["id"] for _ in range(2)]
    deadline = time.monotonic() + 120
    while _states(client, ids) != ["running", "running"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"LONG jobs not both running: {_states(client, ids)}")
        time.sleep(0.02)
    return ids


def bench_health_busy(
    server: ServerProcess, plan: Plan, wrk: str | None, scratch: Path, summary: Summary
) -> None:
    print(
        f"\n3b. GET /api/health at {HEALTH_RATE:.0f} req/s while two LONG backtests run "
        f"(both workers busy; {plan.busy_seconds:.0f} s in rounds)"
    )
    windows: list[list[Sample]] = []
    measured = 0.0
    rounds = 0
    spent = [0.0, 0.0, 0.0]
    sent = 0
    assert server.process is not None
    with server.client() as client:
        while measured < plan.busy_seconds - 0.5 and rounds < plan.busy_rounds:
            rounds += 1
            ids = _start_long_pair(client)
            began = time.perf_counter()
            before: Usage = usage(server.process.pid)
            samples = run_open_loop(
                server.port,
                plan.busy_seconds - measured,
                stop_when=lambda s: s.status == 200 and s.busy < 2,
            )
            spent = [
                a + b for a, b in zip(spent, before.until(usage(server.process.pid)), strict=True)
            ]
            sent += len(samples)
            after = _states(client, ids)
            free = [s.due for s in samples if s.status == 200 and s.busy < 2]
            window = [s for s in samples if not free or s.due < min(free)]
            if window:
                windows.append(window)
                measured = _span(windows)
            finals = [wait_for(client, job_id, timeout=600) for job_id in ids]
            lasted = [f"{f['duration_seconds']:.1f} s" for f in finals]
            ended = "a health answer showed 1 busy worker" if free else "time was up"
            print(
                f"   round {rounds}: both running at the start, {len(window)} requests answered "
                f"with 2 workers busy; window ended when {ended}; states then: "
                f"{', '.join(after)}; finally {', '.join(f['state'] for f in finals)} after "
                f"{', '.join(lasted)} ({time.perf_counter() - began:.1f} s for the round)"
            )
        if not windows:
            print("   no request was measured while both workers were busy")
            return
        line, p99, clean = _describe(windows)
        print(f"   open loop, all rounds: {line}")
        print(f"   {_server_side(server, windows)}")
        print(f"   {_cpu_line((spent[0], spent[1], spent[2]), sent)}")
        summary.add(
            f"GET /api/health @{HEALTH_RATE:.0f}/s, 2 LONG jobs running",
            _short(windows),
            "p99 <= 10 ms",
            clean and p99 <= HEALTH_TARGET_S,
        )
        if wrk:
            ids = _start_long_pair(client)
            seconds = min(plan.wrk_seconds, 4.0)
            figures = run_wrk(wrk, server, seconds, scratch)
            after = _states(client, ids)
            print(
                f"   {_wrk_line(figures)}; {figures['notbusy']} answers saw < 2 busy workers; "
                f"LONG states after: {', '.join(after)}"
            )
            for job_id in ids:
                wait_for(client, job_id, timeout=600)


# ---------------------------------------------------------------------- 4. burst


def bench_burst(server: ServerProcess, plan: Plan, summary: Summary) -> None:
    jobs, threads = plan.burst_jobs, plan.burst_threads
    print(f"\n4. {jobs} jobs submitted at once by {threads} client threads (10y daily AAPL)")
    with server.client() as client:
        total_before = client.get("/api/backtests", params={"limit": 1}).json()["total"]
        clock: dict[str, float] = {}
        barrier = threading.Barrier(
            threads, action=lambda: clock.update(wall0=time.time(), t0=time.perf_counter())
        )
        shares = [jobs // threads + (i < jobs % threads) for i in range(threads)]

        def submit_share(count: int) -> list[tuple[int, str, float]]:
            answers = []
            with server.client() as own:
                barrier.wait()
                for _ in range(count):
                    start = time.perf_counter()
                    response = own.post("/api/backtests", json=AAPL_10Y)
                    job_id = response.json().get("id", "") if response.status_code == 202 else ""
                    answers.append((response.status_code, job_id, time.perf_counter() - start))
            return answers

        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(submit_share, count) for count in shares]
            answers = [answer for future in futures for answer in future.result()]
        wall0, t0 = clock["wall0"], clock["t0"]
        submitted = time.perf_counter() - t0
        ids = [job_id for status, job_id, _ in answers if status == 202]
        refused = [status for status, _, _ in answers if status != 202]
        active = {"state": ["queued", "running"], "limit": 1}
        while client.get("/api/backtests", params=active).json()["total"] > 0:
            if time.perf_counter() - t0 > 600:
                break
            time.sleep(0.02)
        observed = time.perf_counter() - t0
        listing = client.get("/api/backtests", params={"limit": 200}).json()
        listed = {item["id"]: item["state"] for item in listing["items"]}
        jobs_now = [client.get(f"/api/backtests/{job_id}").json() for job_id in ids]
    states: dict[str, int] = {}
    for job in jobs_now:  # a 404 (no such job) has no state: that job was lost
        states[job.get("state", "missing")] = states.get(job.get("state", "missing"), 0) + 1
    succeeded = states.get("succeeded", 0)
    in_list = sum(1 for job_id in ids if job_id in listed)
    new_total = listing["total"] - total_before
    last_finished = max(
        (_epoch(j["finished_at"]) for j in jobs_now if j.get("finished_at")), default=time.time()
    )
    wall = last_finished - wall0
    post = [seconds for _, _, seconds in answers]
    print(
        f"   all {len(answers)} POSTs answered in {submitted:.2f} s: {len(ids)} x 202"
        f"{', refused: ' + str(refused) if refused else ''}; POST latency under the burst "
        f"p50 {_ms(_pct(post, 50))}  p95 {_ms(_pct(post, 95))}  max {_ms(max(post))}"
    )
    print(
        f"   listing: total grew by {new_total}, {in_list} of ours among the newest "
        f"{min(200, len(listed))}; states by id: {states}"
    )
    print(
        f"   wall time first POST -> last finished_at {wall:.2f} s "
        f"(seen by the client after {observed:.2f} s) = {len(ids) / wall:.1f} jobs/s"
    )
    missing = {job_id for job_id, job in zip(ids, jobs_now, strict=True) if "state" not in job}
    if jobs <= 200:  # then the newest page of 200 must hold every accepted job
        missing |= {job_id for job_id in ids if job_id not in listed}
    lost = len(missing)
    complete = len(ids) == jobs == succeeded == new_total and lost == 0
    summary.add(
        f"{jobs} jobs at once",
        f"{succeeded}/{jobs} succeeded, {lost} lost; {wall:.2f} s = {jobs / wall:.1f} jobs/s",
        "all succeed",
        complete,
    )


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (fewer samples)")
    parser.add_argument("--no-wrk", action="store_true", help="skip the wrk cross-check")
    parser.add_argument("--long-bars", type=int, default=500_000, help="bars of LONG")
    parser.add_argument("--keep-log", type=Path, help="copy the server's log here at the end")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on SIGTERM too

    now = dt.datetime.now(dt.UTC)
    print(f"service benchmarks{' (quick)' if args.quick else ''}, {now:%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.machine()}; Python {platform.python_version()}; privatetrade {pt.__version__}"
    )
    print(f"load average at start: {_loadavg()}")
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="privatetrade-bench-") as folder:
        root = Path(folder)
        data_dir = root / "data"
        started = time.perf_counter()
        prepare_data(data_dir, args.long_bars)
        server = ServerProcess(
            data_dir,
            workers=2,
            env={"PRIVATETRADE_LEASE_SECONDS": str(_DEFAULT_LEASE_S)},  # measure as deployed
            log_path=root / "server.log",
            end_with_parent=True,  # a benchmark killed by hand leaves no server behind
        )
        try:
            server.start(timeout=120)
            server.wait_workers_ready()
            print(
                f"server: privatetrade serve on {server.url}, local executor with 2 worker "
                f"processes, SQLite in the temp data dir (data + start "
                f"{time.perf_counter() - started:.1f} s)"
            )
            wrk = None if args.no_wrk else find_wrk()
            job_id = bench_latency(server, plan, summary)
            bench_worker_steps(data_dir, root, plan.stage_repeats)
            bench_result(server, job_id, plan.downloads, summary)
            bench_health_idle(server, plan, wrk, root, summary)
            bench_burst(server, plan, summary)
            bench_health_busy(server, plan, wrk, root, summary)
        except BaseException:
            print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
            raise
        finally:
            server.stop()
            if args.keep_log:
                shutil.copy(server.log_path, args.keep_log)
    summary.show()
    print(f"load average at the end: {_loadavg()}")


if __name__ == "__main__":
    main()
