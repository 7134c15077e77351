"""Research benchmarks: optimizations and walk-forwards, in process, through the server, on Dask.

Run: ``.venv/bin/python benchmarks/bench_research.py [--quick] [--profile]`` (``./dev bench``
runs it with the other benchmarks). Everything runs in a temporary directory that holds the
offline sample data (``DEMO01``: 2,452 daily bars, 2016-01-04..2025-12-30) and is removed at
the end, with every process started here (also when the benchmark fails or gets SIGTERM).

Targets (2-core machine) and how each figure is measured:

1. 10,000 combinations of ``sma_cross`` (fast 5..104 x slow 110..209, all valid) on DEMO01
   submitted to a real ``privatetrade serve`` (local executor, 2 worker processes, default
   settings, SQLite): submit -> succeeded <= 2 s. The client times from just before
   ``POST /api/sweeps`` to the ``GET /api/jobs/{id}`` answer that first shows ``succeeded``,
   polling every 5 ms on one keep-alive connection: median and max of several runs after
   warm-up runs (two at once, so both workers load the sweep kernels; shown as "cold").
   Also shown: the job's timestamps (queued, running), the search time of ``result.json``
   (``seconds``), the stages as the poll saw them, the CPU time of the server's worker
   processes during the job and how long they waited for a CPU (Linux run-queue time: the
   workers run at nice 10 and SCHED_BATCH, so on a shared machine they yield to everything
   else), and the job's steps rerun in this process with one numba thread (as in a worker).
2. Peak memory of ``privatetrade.optimize`` of 1,000 vs 100,000 ``sma_cross`` combinations
   on DEMO01, each in a fresh ``python -c`` process: the baseline right after the imports and
   loading the bars, the peak at the end of the search (the last progress call) and the
   peak after ``optimize`` returned (the overfitting report included). Peaks are the
   process's ``VmHWM`` (/proc/self/status); ``ru_maxrss`` is printed too, but a child
   started by a large process inherits that process's high-water mark through fork, so it
   can show the parent's size instead of its own. The claim is "flat": only metrics are
   kept (no equity curves), so 100,000 should need little more than the result arrays
   (verdict: the 100,000 run's peak at most 32 MiB plus twice its extra result arrays
   above the 1,000 run's).
3. Throughput of a real Dask cluster (``dask scheduler`` and ``dask worker --nthreads 1``
   processes on 127.0.0.1, NUMBA_NUM_THREADS=1) with 1, then 2 workers:
   ``privatetrade.optimize(..., client=Client(address), store=None)`` of
   ``bollinger_reversion`` (the generic path: one compiled backtest per combination, about
   60 us each on 2,452 bars) with 4,800 (6 chunks of 815) and 40,000 combinations, and of
   100,000 ``sma_cross`` combinations (123 chunks), in combinations/s of the search (the
   cluster's part: ``result.seconds``) and of the whole call (the search plus the
   overfitting report, computed in this process). Speed-up of 2 workers over 1: clearly
   above 1 (verdict: >= 1.3), ideally close to 2. Shown with it: the CPU time of the
   workers (and their run-queue waits), of the scheduler and of this process, and the
   same searches in this process without Dask.
4. Walk-forward of DEMO01 (10 years), 24-month in-sample / 6-month out-of-sample, 1,000
   ``sma_cross`` combinations per window (fast 5..44 x slow 50..290 step 10):
   ``privatetrade.walk_forward`` in this process <= 3 s (median of several runs after a
   warm-up), with the window count, time per window and the share of the searches; and
   the same as ``POST /api/walkforwards`` through the server, submit -> succeeded.

``--quick`` does fewer runs and smaller Dask searches. ``--profile`` adds cProfile listings
of the in-process paths (the sweep job's run, the walk-forward, a 100,000-combination
optimize). Nothing here asserts a time: figures are reported with their targets. The
machine's two cores are shared with whatever else runs (the load average is printed at
each section): every figure is noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import itertools
import json
import os
import platform
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

import privatetrade as pt

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the repository: tests.e2e.server
from tests.e2e.server import FINAL_STATES, ServerProcess, free_port

from _usage import Usage, usage
from privatetrade.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

SYMBOL = "DEMO01"
SWEEP_TARGET_S = 2.0
WALK_FORWARD_TARGET_S = 3.0
SPEEDUP_VERDICT = 1.3
POLL_S = 0.005
JOB_TIMEOUT_S = 300.0
DASK = str(Path(sys.executable).parent / "dask")
_DEFAULT_LEASE_S = Settings.model_fields["lease_seconds"].default

# 1. 100 x 100 = 10,000 combinations, every fast below every slow (API ranges include stop)
SWEEP_10K = {
    "symbol": SYMBOL,
    "strategy": "sma_cross",
    "space": {
        "fast": {"start": 5, "stop": 104, "step": 1},
        "slow": {"start": 110, "stop": 209, "step": 1},
    },
}
# 4. 40 x 25 = 1,000 combinations per window
WF_SPACE = {"fast": range(5, 45), "slow": range(50, 300, 10)}
WF_BODY = {
    "symbol": SYMBOL,
    "strategy": "sma_cross",
    "space": {
        "fast": {"start": 5, "stop": 44, "step": 1},
        "slow": {"start": 50, "stop": 290, "step": 10},
    },
    "in_sample": "24m",
    "out_of_sample": "6m",
}
# 2. range() arguments per parameter
SMA_1K = {"fast": [5, 45, 1], "slow": [50, 300, 10]}  # 40 x 25
SMA_100K = {"fast": [2, 202, 1], "slow": [210, 710, 1]}  # 200 x 500


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to do (full or ``--quick``)."""

    sweep_runs: int
    step_repeats: int
    wf_runs: int
    wf_api_runs: int
    dask_repeats: int
    bollinger_periods: int  # periods 5.. of the large bollinger search (x 400 values of k)
    sma_fast: int  # fast windows 2.. of the Dask sma_cross search (x 500 slow windows)


FULL = Plan(7, 3, 5, 3, 2, bollinger_periods=100, sma_fast=200)
QUICK = Plan(3, 1, 2, 1, 2, bollinger_periods=25, sma_fast=40)


# ---------------------------------------------------------------------- reporting


@dataclass
class Summary:
    """The targeted figures, printed as one table at the end (by section)."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, label: str, measured: str, target: str, ok: bool | None) -> None:
        verdict = "" if ok is None else ("OK" if ok else "MISSED")
        self.rows.append((label, measured, target, verdict))
        print(f"  -> {label}: {measured}   target {target}   {verdict}", flush=True)

    def show(self) -> None:
        header = ("figure", "measured", "target", "")
        rows = sorted(self.rows, key=lambda row: row[0].split(".", 1)[0])
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        print("\nsummary")
        for row in [header, *rows]:
            print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _loadavg() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _profile(label: str, action: Callable[[], object], lines: int = 30) -> None:
    """Print the ``lines`` most expensive calls (cumulative) of one run of ``action``."""
    profiler = cProfile.Profile()
    profiler.enable()
    action()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    text = out.getvalue()
    print(f"\n   cProfile: {label}")
    print("\n".join("   " + line for line in text[text.find("   ncalls") :].splitlines() if line))


class ProcessTimes:
    """CPU time and run-queue waits of some processes between two moments."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.before: dict[int, Usage] = {}
        for pid in pids:
            with contextlib.suppress(Exception):  # a process that is gone counts nothing
                self.before[pid] = usage(pid)

    def spent(self) -> tuple[float, float]:
        """(CPU seconds, seconds waited for a CPU) since the start, over the processes."""
        cpu = waited = 0.0
        for pid, before in self.before.items():
            with contextlib.suppress(Exception):
                _, used, wait = before.until(usage(pid))
                cpu, waited = cpu + used, waited + wait
        return cpu, waited


# ---------------------------------------------------------------------- jobs through the API


@dataclass
class JobRun:
    """One job followed from its POST to its final state."""

    job: dict[str, Any]
    total: float  # POST sent -> final state seen
    post: float  # the POST round trip
    stages: dict[str, float]  # stage -> when the poll first saw it (s after the POST)
    polls: int
    worker_cpu: float  # CPU seconds of the server's worker processes meanwhile
    worker_wait: float  # seconds their threads waited for a CPU meanwhile

    @property
    def queued(self) -> float:
        return _epoch(self.job["started_at"]) - _epoch(self.job["created_at"])

    @property
    def running(self) -> float:
        return _epoch(self.job["finished_at"]) - _epoch(self.job["started_at"])


def _worker_pids(server: ServerProcess) -> list[int]:
    return [child.pid for child in server.children()]


def run_job(server: ServerProcess, client: httpx.Client, path: str, body: Any) -> JobRun:
    """POST a job, poll ``/api/jobs/{id}`` every 5 ms until it ends; it must succeed."""
    times = ProcessTimes(_worker_pids(server))
    t0 = time.perf_counter()
    response = client.post(path, json=body)
    t_post = time.perf_counter() - t0
    if response.status_code != 202:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
    job_id = response.json()["id"]
    stages: dict[str, float] = {}
    polls = 0
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        polls += 1
        seen = time.perf_counter() - t0
        stages.setdefault(job["stage"] if job["state"] == "running" else job["state"], seen)
        if job["state"] in FINAL_STATES:
            break
        if seen > JOB_TIMEOUT_S:
            raise TimeoutError(f"job {job_id} still {job['state']} after {JOB_TIMEOUT_S} s")
        time.sleep(POLL_S)
    cpu, waited = times.spent()
    if job["state"] != "succeeded":
        raise RuntimeError(f"job {job_id} ended {job['state']}: {job.get('error')}")
    return JobRun(job, seen, t_post, stages, polls, cpu, waited)


def result_document(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}/artifacts/result.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def warm_up(server: ServerProcess, path: str, body: Any) -> list[float]:
    """Two jobs at once (one per worker: each loads the research kernels); their times."""
    times: list[float] = []

    def one() -> None:
        with server.client() as own:
            times.append(run_job(server, own, path, body).total)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(times) != 2:
        raise RuntimeError("a warm-up job failed (see above)")
    return times


def print_job_parts(runs: Sequence[JobRun], searches: Sequence[float]) -> None:
    """Medians of the parts of the jobs' latency, the stages seen, the workers' CPU."""
    median = _median
    print("   medians of its parts (the job's timestamps; one clock on one machine):")
    rows = [
        ("POST round trip (spec checked: bars loaded, space counted)", [r.post for r in runs]),
        ("queued: created_at -> started_at", [r.queued for r in runs]),
        ("running: started_at -> finished_at", [r.running for r in runs]),
        ("  of which the search (result.json 'seconds')", list(searches)),
        (
            "finished_at -> seen by the poll",
            [r.total - r.post - r.queued - r.running for r in runs],
        ),
        ("CPU time of the server's worker processes meanwhile", [r.worker_cpu for r in runs]),
        ("  their threads' run-queue wait (ready, no CPU free)", [r.worker_wait for r in runs]),
    ]
    for label, values in rows:
        print(f"     {label:<62} {_ms(median(values)):>8}")
    names = list(runs[-1].stages)
    spans = []
    for earlier, later in itertools.pairwise(names):
        values = [
            r.stages[later] - r.stages[earlier] for r in runs if {earlier, later} <= set(r.stages)
        ]
        if values:
            spans.append(f"{earlier} {_ms(median(values))}")
    print(f"   stages as the 5 ms poll saw them (median time in each): {', '.join(spans)}")
    print(f"   GET polls per run: median {median([r.polls for r in runs]):.0f}")


# ---------------------------------------------------------------------- 1. sweep via the API


def bench_sweep_api(server: ServerProcess, plan: Plan, summary: Summary) -> None:
    print(
        f"\n1. sweep through the API: sma_cross 10,000 combinations on {SYMBOL} (2,452 bars), "
        f"POST /api/sweeps -> succeeded, {plan.sweep_runs} runs; load {_loadavg()}"
    )
    cold = warm_up(server, "/api/sweeps", SWEEP_10K)
    print(f"   warm-up: two jobs at once on fresh workers: {', '.join(_s(t) for t in cold)}")
    runs: list[JobRun] = []
    searches: list[float] = []
    with server.client() as client:
        for _ in range(plan.sweep_runs):
            run = run_job(server, client, "/api/sweeps", SWEEP_10K)
            document = result_document(client, run.job["id"])
            if document["combinations"] != 10_000:
                raise RuntimeError(f"{document['combinations']} combinations, not 10,000")
            runs.append(run)
            searches.append(float(document["seconds"]))
    totals = [r.total for r in runs]
    print(
        f"   client-observed: median {_s(_median(totals))}  min {_s(min(totals))}  "
        f"max {_s(max(totals))}  (runs: {', '.join(f'{t:.2f}' for t in totals)})"
    )
    print_job_parts(runs, searches)
    summary.add(
        f"1. sweep 10,000 sma_cross via API ({len(runs)} runs)",
        f"median {_s(_median(totals))}  max {_s(max(totals))}; in-worker search "
        f"{_s(_median(searches))}",
        f"<= {SWEEP_TARGET_S:.0f} s",
        _median(totals) <= SWEEP_TARGET_S,
    )


class _NeverCancelled:
    def is_set(self) -> bool:
        return False


@contextlib.contextmanager
def numba_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` numba threads (a server worker has one)."""
    import numba

    before = numba.get_num_threads()
    most: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    numba.set_num_threads(min(count, most))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def bench_sweep_steps(data_dir: Path, repeat: int, profile: bool) -> None:
    """The sweep job's run (plan, search, report, serialize) in this process, by stage."""
    from privatetrade.data.market_data import MarketData
    from privatetrade.domain.research import SweepSpec
    from privatetrade.jobs.kinds.base import KindContext
    from privatetrade.jobs.kinds.research import SWEEP

    spec = SweepSpec.model_validate(SWEEP_10K)
    context = KindContext(MarketData(data_dir))
    stamps: list[tuple[str, float]] = []

    def record(stage: str, fraction: float, summary: Mapping[str, Any] | None = None) -> None:
        if not stamps or stamps[-1][0] != stage:
            stamps.append((stage, time.perf_counter()))

    def run() -> float:
        stamps.clear()
        start = time.perf_counter()
        output = SWEEP.run(spec, context, record, _NeverCancelled())
        stamps.append(("done", time.perf_counter()))
        assert output.summary["combinations"] == 10_000
        return start

    labels = {
        "start -> loading": "start",
        "loading -> optimizing": "plan (bars, space) + first chunk",
        "optimizing -> reporting": "the other chunks",
        "reporting -> saving": "report: best's backtest, DSR, PBO",
        "saving -> done": "result.json, table.csv, table.parquet",
    }
    for threads in (1, 2):
        with numba_threads(threads):
            run()  # warm-up
            parts: dict[str, list[float]] = {}
            for _ in range(repeat):
                previous = ("start", run())
                for name, at in stamps:
                    parts.setdefault(f"{previous[0]} -> {name}", []).append(at - previous[1])
                    previous = (name, at)
        steps = ", ".join(
            f"{labels.get(key, key)} {_ms(_median(values))}"
            for key, values in parts.items()
            if key != "start -> loading"
        )
        total = sum(_median(v) for v in parts.values())
        print(
            f"   the job's run in this process, {threads} numba thread(s) (SweepKind.run, "
            f"median of {repeat}): {_ms(total)} = {steps}"
        )
    if profile:
        with numba_threads(1):
            _profile("SweepKind.run of 10,000 sma_cross combinations, 1 numba thread", run)


# ---------------------------------------------------------------------- 2. memory

_RSS_CHILD = """
import json, re, resource, sys, time
from pathlib import Path

def hwm_mib():
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024

def maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import privatetrade as pt
from privatetrade.data.market_data import MarketData
bars = MarketData(Path(sys.argv[1])).bars(sys.argv[2])
baseline, baseline_maxrss = hwm_mib(), maxrss_mib()
space = {name: range(*args) for name, args in json.loads(sys.argv[3]).items()}
searched = {}

def progress(done, total, best):
    if done == total:
        searched["peak"] = hwm_mib()

start = time.perf_counter()
found = pt.optimize(bars, "sma_cross", space, store=None, progress=progress)
seconds = time.perf_counter() - start
result = found.result
arrays = result.codes.nbytes + result.values.nbytes + result.block_stats.nbytes
print(json.dumps({"bars": len(bars), "baseline": baseline, "search_peak": searched["peak"],
                  "peak": hwm_mib(), "baseline_maxrss": baseline_maxrss, "maxrss": maxrss_mib(),
                  "combinations": len(result), "seconds": seconds,
                  "search_seconds": result.seconds, "arrays": arrays / 2**20}))
"""


def optimize_memory(data_dir: Path, space: Mapping[str, list[int]]) -> dict[str, float]:
    """Run one optimization in a fresh process; its memory figures (MiB) and times."""
    completed = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(data_dir), SYMBOL, json.dumps(space)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def bench_memory(data_dir: Path, profile: bool, summary: Summary) -> None:
    print(
        f"\n2. peak memory of privatetrade.optimize, sma_cross on {SYMBOL}, a fresh process "
        f"each (VmHWM; MiB); load {_loadavg()}"
    )
    small = optimize_memory(data_dir, SMA_1K)
    large = optimize_memory(data_dir, SMA_100K)
    for f in (small, large):
        print(
            f"   {f['combinations']:>7,.0f} combinations: baseline (imports + {f['bars']:,.0f} "
            f"bars) {f['baseline']:5.0f}, end of search {f['search_peak']:5.0f}, after "
            f"optimize() {f['peak']:5.0f} (+{f['peak'] - f['baseline']:.0f}); ru_maxrss "
            f"{f['baseline_maxrss']:.0f} -> {f['maxrss']:.0f}; result arrays "
            f"{f['arrays']:.1f}; {f['seconds']:.2f} s (search {f['search_seconds']:.2f} s)"
        )
    search_growth = large["search_peak"] - small["search_peak"]
    growth = large["peak"] - small["peak"]
    print(
        f"   100,000 vs 1,000: +{search_growth:.0f} MiB by the end of the search "
        f"(the kept arrays: +{large['arrays'] - small['arrays']:.0f}), +{growth:.0f} MiB "
        f"with the overfitting report ({growth * 2**20 / 99_000:,.0f} bytes per combination)"
    )
    summary.add(
        "2. peak memory optimize 1,000 / 100,000",
        f"search {small['search_peak']:.0f} / {large['search_peak']:.0f} MiB; with report "
        f"{small['peak']:.0f} / {large['peak']:.0f} MiB (+{growth:.0f}); "
        f"baseline {small['baseline']:.0f}",
        "flat: +<= 2x arrays + 32 MiB",
        growth <= 2 * (large["arrays"] - small["arrays"]) + 32,
    )
    if profile:
        from privatetrade.data.market_data import MarketData

        bars = MarketData(data_dir).bars(SYMBOL)
        space = {name: range(*args) for name, args in SMA_100K.items()}
        _profile(
            "privatetrade.optimize of 100,000 sma_cross combinations",
            lambda: pt.optimize(bars, "sma_cross", space, store=None),
        )


# ---------------------------------------------------------------------- 3. Dask


def _die_with_parent() -> None:
    """In the child: SIGTERM when this benchmark dies (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (ended by close)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.nannies: list[subprocess.Popen[bytes]] = []
        self.worker_pids: set[int] = set()

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        with (self.root / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            "scheduler",
        )

    def add_worker(self) -> None:
        index = len(self.nannies)
        args = [DASK, "worker", self.address, "--nthreads", "1", "--nworkers", "1"]
        args += ["--no-dashboard", "--host", "127.0.0.1"]
        args += ["--local-directory", str(self.root / f"worker-{index}")]
        self.nannies.append(self._spawn(args, f"worker-{index}"))

    def check_alive(self) -> None:
        for process in [self.scheduler, *self.nannies]:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"a dask process exited:\n{self.log_tail()}")

    def remember_workers(self) -> list[int]:
        """The nannies' worker processes (also ended by :meth:`close` if still alive)."""
        import psutil

        for nanny in self.nannies:
            with contextlib.suppress(psutil.Error):
                self.worker_pids.update(
                    child.pid for child in psutil.Process(nanny.pid).children(recursive=True)
                )
        return sorted(self.worker_pids)

    def close(self) -> None:
        """Terminate the workers, then the scheduler; kill what is left."""
        import psutil

        self.remember_workers()
        for group in (self.nannies, [self.scheduler] if self.scheduler else []):
            for process in group:
                if process.poll() is None:
                    process.terminate()
            for process in group:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        for pid in self.worker_pids:
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(pid)
                if child.status() != psutil.STATUS_ZOMBIE:
                    child.kill()

    def log_tail(self, lines: int = 20) -> str:
        parts = []
        for path in sorted(self.root.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"== {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


def _warm_dask_worker(bars: pd.DataFrame) -> str:
    """Run on each worker: import the library and load the kernels of both searches."""
    import privatetrade as worker_pt

    worker_pt.optimize(bars, "sma_cross", {"fast": [5, 10], "slow": [20, 30]})
    worker_pt.optimize(bars, "bollinger_reversion", {"period": [10, 20], "k": [1.5, 2.0]})
    return "ready"


@dataclass(frozen=True)
class Search:
    """One search of the Dask comparison."""

    label: str
    strategy: str
    space: dict[str, list[Any]]

    @property
    def combinations(self) -> int:
        count = 1
        for values in self.space.values():
            count *= len(values)
        return count


@dataclass(frozen=True)
class Throughput:
    """The best of a few runs of one search: combinations/s and where the time went."""

    search_rate: float  # combinations / result.seconds (the chunks)
    call_rate: float  # combinations / the whole optimize() call (plus the report)
    worker_cpu: float  # CPU seconds of the Dask workers during the call
    worker_wait: float  # seconds their threads waited for a CPU during the call
    scheduler_cpu: float  # CPU seconds of the scheduler during the call
    client_cpu: float  # CPU seconds of this process (the client and the report)


def measure(
    bars: pd.DataFrame,
    search: Search,
    repeats: int,
    client: Any = None,
    cluster: DaskCluster | None = None,
) -> Throughput:
    """Best of ``repeats`` optimizations (in this process when ``client`` is None)."""
    best: Throughput | None = None
    workers = cluster.remember_workers() if cluster else []
    scheduler = [cluster.scheduler.pid] if cluster and cluster.scheduler else []
    for _ in range(repeats):
        times = [ProcessTimes(pids) for pids in (workers, scheduler, [os.getpid()])]
        start = time.perf_counter()
        found = pt.optimize(bars, search.strategy, search.space, client=client, store=None)
        seconds = time.perf_counter() - start
        (cpu, waited), (scheduler_cpu, _), (client_cpu, _) = (t.spent() for t in times)
        if len(found.result) != search.combinations:
            raise RuntimeError(f"{len(found.result)} rows, not {search.combinations}")
        n = search.combinations
        run = Throughput(
            n / found.result.seconds, n / seconds, cpu, waited, scheduler_cpu, client_cpu
        )
        if best is None or run.search_rate > best.search_rate:
            best = run
    assert best is not None
    return best


def _searches(plan: Plan) -> list[Search]:
    k_fine = [round(1.0 + 0.01 * i, 2) for i in range(400)]
    return [
        Search(
            "bollinger_reversion",
            "bollinger_reversion",
            {"period": list(range(5, 65)), "k": [round(1.0 + 0.05 * i, 2) for i in range(80)]},
        ),
        Search(
            "bollinger_reversion",
            "bollinger_reversion",
            {"period": list(range(5, 5 + plan.bollinger_periods)), "k": k_fine},
        ),
        Search(
            "sma_cross",
            "sma_cross",
            {"fast": list(range(2, 2 + plan.sma_fast)), "slow": list(range(210, 710))},
        ),
    ]


def bench_dask(bars: pd.DataFrame, root: Path, plan: Plan, summary: Summary) -> None:
    from distributed import Client

    from privatetrade.research.optimize import chunk_size_for

    chunk = chunk_size_for(len(bars))
    searches = _searches(plan)
    print(
        f"\n3. Dask throughput, 1 vs 2 workers (--nthreads 1, NUMBA_NUM_THREADS=1) on "
        f"127.0.0.1; {len(bars):,} bars, chunks of {chunk} combinations; best of "
        f"{plan.dask_repeats} run(s); combinations/s of the search (of the whole call, with "
        f"the report); load {_loadavg()}"
    )

    def line(search: Search, figures: Throughput) -> str:
        chunks = -(-search.combinations // chunk)
        return (
            f"     {search.label:<20} {search.combinations:>7,} ({chunks:>3} chunks) "
            f"{figures.search_rate:>8,.0f}/s ({figures.call_rate:>7,.0f}/s)"
        )

    print("   in this process, no Dask (numba's default threads):")
    for search in searches:
        print(line(search, measure(bars, search, plan.dask_repeats)))
    cluster = DaskCluster(root)
    rates: dict[int, list[Throughput]] = {}
    try:
        cluster.start_scheduler()
        with Client(cluster.address, timeout="60s") as client:  # type: ignore[no-untyped-call]
            for workers in (1, 2):
                cluster.add_worker()
                started = time.perf_counter()
                client.wait_for_workers(workers, timeout=120)
                cluster.check_alive()
                cluster.remember_workers()
                client.run(_warm_dask_worker, bars.iloc[:300])
                print(
                    f"   {workers} worker(s), ready and warm after "
                    f"{time.perf_counter() - started:.1f} s; load {_loadavg()}:"
                )
                rates[workers] = []
                for search in searches:
                    figures = measure(bars, search, plan.dask_repeats, client, cluster)
                    rates[workers].append(figures)
                    print(
                        f"{line(search, figures)}  CPU: workers {figures.worker_cpu:.2f} s "
                        f"(run-queue wait {figures.worker_wait:.2f} s), scheduler "
                        f"{figures.scheduler_cpu:.2f} s, this process {figures.client_cpu:.2f} s"
                    )
    except Exception:
        print(f"dask logs:\n{cluster.log_tail()}", file=sys.stderr)
        raise
    finally:
        cluster.close()
    for search, one, two in zip(searches, rates[1], rates[2], strict=True):
        speedup = two.search_rate / one.search_rate
        summary.add(
            f"3. Dask 2 vs 1 workers, {search.label} {search.combinations:,}",
            f"{one.search_rate:,.0f} -> {two.search_rate:,.0f}/s = {speedup:.2f}x "
            f"(whole call {two.call_rate / one.call_rate:.2f}x)",
            f"> 1, ideally ~2 (verdict >= {SPEEDUP_VERDICT})",
            speedup >= SPEEDUP_VERDICT,
        )


# ---------------------------------------------------------------------- 4. walk-forward


def bench_walk_forward(bars: pd.DataFrame, plan: Plan, profile: bool, summary: Summary) -> None:
    first, last = bars.index[0].date(), bars.index[-1].date()
    print(
        f"\n4. walk-forward in this process: {SYMBOL} {first}..{last} ({len(bars):,} bars), "
        f"24m in-sample / 6m out-of-sample, 1,000 sma_cross combinations per window; "
        f"load {_loadavg()}"
    )

    def run() -> Any:
        return pt.walk_forward(
            bars, "sma_cross", WF_SPACE, in_sample="24m", out_of_sample="6m", store=None
        )

    run()  # warm-up
    samples, searches = [], []
    windows = 0
    for _ in range(plan.wf_runs):
        start = time.perf_counter()
        found = run()
        samples.append(time.perf_counter() - start)
        outcomes = found.result.windows
        windows = len(outcomes)
        searches.append(sum(outcome.optimization.seconds for outcome in outcomes))
        if {len(outcome.optimization) for outcome in outcomes} != {1_000}:
            raise RuntimeError("a window did not search 1,000 combinations")
    wall, search = _median(samples), _median(searches)
    print(
        f"   {windows} windows; wall median {_s(wall)}  max {_s(max(samples))}  = "
        f"{_ms(wall / windows)} per window; the searches {_s(search)} "
        f"({_ms(search / windows)} per window, {windows * 1_000 / search:,.0f} combinations/s), "
        f"the rest (out-of-sample runs, window reports, stitching) {_s(wall - search)}"
    )
    summary.add(
        f"4. walk-forward in process ({windows} windows x 1,000)",
        f"median {_s(wall)}  max {_s(max(samples))}; {_ms(wall / windows)}/window",
        f"<= {WALK_FORWARD_TARGET_S:.0f} s",
        wall <= WALK_FORWARD_TARGET_S,
    )
    if profile:
        _profile("privatetrade.walk_forward, 1,000 combinations per window", run)


def bench_walk_forward_api(server: ServerProcess, plan: Plan, summary: Summary) -> None:
    print(
        f"\n   the same through the API: POST /api/walkforwards -> succeeded, "
        f"{plan.wf_api_runs} runs after warm-up"
    )
    warm_up(server, "/api/walkforwards", WF_BODY)
    runs: list[JobRun] = []
    searches: list[float] = []
    with server.client() as client:
        for _ in range(plan.wf_api_runs):
            run = run_job(server, client, "/api/walkforwards", WF_BODY)
            document = result_document(client, run.job["id"])
            runs.append(run)
            searches.append(float(document["seconds"]))
    windows = runs[-1].job["summary"]["windows"]
    totals = [r.total for r in runs]
    print(
        f"   {windows} windows; client-observed median {_s(_median(totals))}  max {_s(max(totals))}"
    )
    print_job_parts(runs, searches)
    summary.add(
        f"4. walk-forward via API ({len(runs)} runs)",
        f"median {_s(_median(totals))}  max {_s(max(totals))}",
        f"<= {WALK_FORWARD_TARGET_S:.0f} s (as in process)",
        _median(totals) <= WALK_FORWARD_TARGET_S,
    )


# ---------------------------------------------------------------------- main


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

    from privatetrade.data.market_data import MarketData

    now = dt.datetime.now(dt.UTC)
    print(f"research benchmarks{' (quick)' if args.quick else ''}, {now:%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.machine()}; Python {platform.python_version()}; privatetrade {pt.__version__}"
    )
    print(f"load average at start: {_loadavg()}")
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="privatetrade-bench-research-") as folder:
        root = Path(folder)
        data_dir = root / "data"
        market = MarketData(data_dir)
        market.ensure_samples()
        bars = market.bars(SYMBOL)
        with running_server(data_dir, root) as server:
            bench_sweep_api(server, plan, summary)
            bench_sweep_steps(data_dir, plan.step_repeats, args.profile)
            bench_walk_forward(bars, plan, args.profile, summary)
            bench_walk_forward_api(server, plan, summary)
        bench_memory(data_dir, args.profile, summary)
        dask_root = root / "dask"
        dask_root.mkdir()
        bench_dask(bars, dask_root, plan, summary)
    summary.show()
    print(f"load average at the end: {_loadavg()}")


if __name__ == "__main__":
    main()
