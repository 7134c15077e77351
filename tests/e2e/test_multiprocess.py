"""Several server processes share one database: metrics and jobs stay correct."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from server import ServerProcess, submit, wait_for


def _sample_sum(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _health_lines(log: Path) -> list[dict[str, object]]:
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if entry.get("event") == "http.request" and entry.get("route") == "/api/health":
            lines.append(entry)
    return lines


def test_two_server_processes_aggregate_metrics_and_share_jobs(data_dir: Path) -> None:
    server = ServerProcess(
        data_dir, env={"PRIVATETRADE_SERVER_PROCESSES": "2", "PRIVATETRADE_WORKERS": "1"}
    ).start()
    try:
        for _ in range(60):
            # A new connection per request lets the kernel spread them over both processes.
            with httpx.Client(base_url=server.url, timeout=10.0) as fresh:
                assert fresh.get("/api/health").status_code == 200
        with server.client() as client:
            ids = [
                submit(client, {"symbol": symbol, "params": {"fast": 5, "slow": 20}})["id"]
                for symbol in ("AAPL", "GOOG", "MSFT", "IBM")
            ]
            states = [wait_for(client, job_id)["state"] for job_id in ids]
            assert states == ["succeeded"] * 4
            metrics = client.get("/metrics").text
        served = [line for line in _health_lines(server.log_path) if line["status"] == 200]
        assert len({line["pid"] for line in served}) == 2, "both processes served requests"
        counted = _sample_sum(
            metrics, "privatetrade_http_requests_total", route="/api/health", status="200"
        )
        assert counted == len(served)
        assert _sample_sum(metrics, "privatetrade_jobs", state="succeeded") == 4
        assert _sample_sum(metrics, "privatetrade_job_duration_seconds_count") == 4
    finally:
        server.stop()
