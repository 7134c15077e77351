"""A new server in an empty data directory runs a backtest submitted right after health.

The workers start with the server and load the engine's compiled kernels (compiled once
at install by ``privatetrade.engine.warmup``); a job handed over while they start shows
the stage ``waiting_for_workers``, then runs. With numba's cache empty (an install that
skipped the warm-up), the workers compile for many seconds and the job says so all along.
States are asserted, never durations: the figures are printed (``pytest -s``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import FINAL_STATES, SMALL_BODY, ServerProcess, submit

from polling import poll

pytestmark = pytest.mark.e2e

DEADLINE_S = 300.0  # only a bound for a broken run; a first result takes seconds
QUEUED_STAGES = {"queued", "waiting_for_workers"}


def follow(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """Poll the job until it ends; return each view whose state or stage changed."""
    views: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        view = client.get(f"/api/backtests/{job_id}").json()
        if not views or (view["state"], view["stage"]) != (views[-1]["state"], views[-1]["stage"]):
            views.append(view)
        if view["state"] in FINAL_STATES:
            return views
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not end within {DEADLINE_S} s: {views[-1:]}")


def first_backtest(
    server: ServerProcess, workers_ready: int = 0
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Start the server, submit once health answers, follow the job, fetch its result.

    With ``workers_ready``, also wait (before stopping) until that many worker processes
    have reported themselves ready: one may still be loading when another ran the job.
    """
    began = time.monotonic()
    server.start(timeout=DEADLINE_S)
    healthy = time.monotonic()
    try:
        with server.client() as client:
            job = submit(client, SMALL_BODY)
            views = follow(client, job["id"])
            if views[-1]["state"] == "succeeded":
                result = client.get(f"/api/backtest/result/{job['id']}")
                assert result.status_code == 200, result.text
                assert result.json()["data"]["symbol"] == "AAPL"
        finished = time.monotonic()
        poll(
            lambda: True if worker_ready_count(server) >= workers_ready else None,
            timeout=DEADLINE_S,
            what=f"{workers_ready} workers to report ready",
        )
    finally:
        server.stop()
    return views, {"health": healthy - began, "first_result": finished - healthy}


def worker_ready_count(server: ServerProcess) -> int:
    return len(list(server.log_events("executor.worker_ready")))


def check_queued_views(views: list[dict[str, Any]]) -> None:
    for view in views:
        if view["state"] == "queued":
            assert view["stage"] in QUEUED_STAGES, view
        if view["stage"] == "waiting_for_workers":
            assert view["seconds_left"] is None or view["seconds_left"] > 0, view


def report(name: str, views: list[dict[str, Any]], figures: dict[str, float]) -> None:
    stages = " > ".join(f"{view['state']}/{view['stage']}" for view in views)
    print(
        f"\n{name}: /api/health {figures['health']:.1f} s after the start; first result "
        f"{figures['first_result']:.1f} s after health; {stages}"
    )


def test_first_backtest_right_after_health_succeeds(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", workers=2)
    views, figures = first_backtest(server, workers_ready=2)
    report("installed kernels", views, figures)

    assert views[-1]["state"] == "succeeded", views[-1]
    check_queued_views(views)

    # The workers did start with the server: each one reported itself ready.
    ready = server.log_events("executor.worker_ready")
    assert sorted(event["slot"] for event in ready) == [0, 1]


@pytest.mark.slow
def test_workers_compiling_the_engine_show_the_wait(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"  # empty: the worker compiles every kernel first
    server = ServerProcess(tmp_path / "data", workers=1, env={"NUMBA_CACHE_DIR": str(cache)})
    views, figures = first_backtest(server)
    report("empty numba cache", views, figures)

    assert views[-1]["state"] == "succeeded", views[-1]
    check_queued_views(views)
    assert "waiting_for_workers" in [view["stage"] for view in views if view["state"] == "queued"]
    waits = list(server.log_events("job.waiting_for_workers"))
    assert [event["job_id"] for event in waits] == [views[0]["id"]]
    assert list(cache.rglob("*.nbi")), "the compiled kernels were not cached"
