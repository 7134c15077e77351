"""CPU time of a process and how long its threads waited for a CPU (Linux schedstat)."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    """CPU time of a process and the run-queue waits of its threads, at one moment."""

    at: float
    cpu_seconds: float
    run_queue_ns: dict[int, int]

    def until(self, later: Usage) -> tuple[float, float, float]:
        """Return (seconds elapsed, CPU seconds used, seconds its threads waited for a CPU).

        The wait counts threads alive at the end (a thread that exited in between is missed).
        """
        waited = sum(ns - self.run_queue_ns.get(tid, 0) for tid, ns in later.run_queue_ns.items())
        return later.at - self.at, later.cpu_seconds - self.cpu_seconds, waited / 1e9


def usage(pid: int) -> Usage:
    """Snapshot the CPU time and run-queue waits of process ``pid`` (all its threads)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    waits = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                waits[int(tid)] = int(fields[1])
    return Usage(time.monotonic(), times.user + times.system, waits)
