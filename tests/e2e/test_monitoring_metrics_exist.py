"""Every metric docs/monitoring's alert rules and Grafana dashboard read is exported by a
running server's /metrics, and the gauges added for them report the real figures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from server import FINAL_STATES, SMALL_BODY, ServerProcess

from polling import poll

pytestmark = pytest.mark.e2e

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
METRIC = re.compile(r"\b(privatetrade_[a-z0-9_]+)")
BUILT_BY_PROMETHEUS = {"up"}


def referenced_metrics() -> dict[str, set[str]]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))
    rule_text = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    panel_text = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    )
    return {
        "alerts.yml": set(METRIC.findall(rule_text)),
        "dashboard": set(METRIC.findall(panel_text)),
    }


def scrape(server: ServerProcess) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def exported_names(server: ServerProcess) -> set[str]:
    """Every series name /metrics declares, with or without samples now.

    A family's series are its name plus the type's suffixes (``_total`` of a counter,
    ``_bucket``/``_count``/``_sum`` of a histogram); a gauge per market has no sample
    until a market has data, but is declared (HELP, TYPE).
    """
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names |= {family.name + suffix for suffix in suffixes.get(family.type, [""])}
        names |= {sample.name for sample in family.samples}
    return names


def test_every_metric_of_the_rules_and_the_dashboard_is_exported(
    module_server: ServerProcess,
) -> None:
    with module_server.client() as client:  # requests, a 404 and a finished job
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/no-such-thing").status_code == 404
        job = client.post("/api/backtests", json=SMALL_BODY)
        assert job.status_code == 202
        url = f"/api/backtests/{job.json()['id']}"
        poll(lambda: client.get(url).json()["state"] in FINAL_STATES or None, 120, "the job's end")
    exported = exported_names(module_server)
    referenced = referenced_metrics()
    assert len(referenced["alerts.yml"]) >= 8
    assert len(referenced["dashboard"]) >= 15
    for source, names in referenced.items():
        assert sorted(names - exported - BUILT_BY_PROMETHEUS) == [], source
    # the request counters were fed by the requests above (not only declared)
    assert {"privatetrade_http_requests_total", "privatetrade_job_duration_seconds_count"} <= set(
        scrape(module_server)
    )


def test_the_new_gauges_report_workers_queue_and_memory(module_server: ServerProcess) -> None:
    samples = scrape(module_server)

    def value(name: str) -> float:
        [(labels, number)] = samples[name]
        assert labels == {}
        return number

    assert value("privatetrade_executor_healthy") == 1
    assert value("privatetrade_workers") == module_server.workers
    assert 0 <= value("privatetrade_workers_busy") <= module_server.workers
    assert value("privatetrade_queue_oldest_age_seconds") >= 0
    total = psutil.virtual_memory().total
    assert value("privatetrade_system_memory_total_bytes") == total
    assert 0 < value("privatetrade_system_memory_available_bytes") <= total
    usage = shutil.disk_usage(module_server.data_dir)
    assert value("privatetrade_data_dir_total_bytes") == usage.total
