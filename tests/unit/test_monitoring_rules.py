"""docs/monitoring: the alert rules pass promtool (check and unit tests), Alertmanager's
example passes amtool and routes as documented, the Grafana dashboard is well-formed.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager``
packages; ``./dev test`` installs them when missing. Without them these tests fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts.test.yml"
ALERTMANAGER = MONITORING / "alertmanager.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
README = MONITORING / "README.md"
SEVERITIES = {"critical", "warning"}
# The seed's signals: each must have an alert watching it (by the metric it reads).
SIGNALS = {
    "service down": "up{",
    "5xx rate": 'status=~"5.."',
    "404 spike": 'status="404"',
    "p99 latency": "histogram_quantile(0.99",
    "queue depth": "privatetrade_queue_depth",
    "oldest queued job": "privatetrade_queue_oldest_age_seconds",
    "workers": "privatetrade_workers",
    "disk free": "privatetrade_data_dir_free_bytes",
    "memory": "privatetrade_system_memory_available_bytes",
}


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install {package} (./dev test does)"
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=MONITORING, capture_output=True, text=True, timeout=120)


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def markdown_anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_promtool_accepts_the_rules() -> None:
    result = run(tool("promtool", "prometheus"), "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    result = run(tool("promtool", "prometheus"), "test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_threshold_fails_the_unit_tests(tmp_path: Path) -> None:
    """The unit tests can fail: a queue threshold of 40 instead of 50 breaks them."""
    rules = RULES.read_text(encoding="utf-8")
    assert rules.count("privatetrade_queue_depth > 50") == 1
    (tmp_path / RULES.name).write_text(rules.replace("queue_depth > 50", "queue_depth > 40"))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = subprocess.run(
        [tool("promtool", "prometheus"), "test", "rules", RULE_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PrivatetradeQueueBacklog" in result.stdout + result.stderr


def test_every_alert_has_severity_annotations_and_a_runbook_section() -> None:
    anchors = markdown_anchors(README)
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(annotations), name
        assert annotations["runbook"].startswith(f"README.md#{name.lower()}:"), name
        assert name.lower() in anchors, f"README.md has no section for {name}"


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert firing == names
    assert silent == names


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_each_signal_of_the_seed_has_an_alert(signal: str) -> None:
    assert any(SIGNALS[signal] in rule["expr"] for rule in alert_rules()), signal


def test_amtool_accepts_the_alertmanager_example() -> None:
    result = run(tool("amtool", "prometheus-alertmanager"), "check-config", ALERTMANAGER.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"), [("critical", "slack-and-email"), ("warning", "slack-ops")]
)
def test_alertmanager_routes_critical_to_slack_and_email(severity: str, receiver: str) -> None:
    result = run(
        tool("amtool", "prometheus-alertmanager"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER.name}",
        f"severity={severity}",
        "alertname=PrivatetradeDown",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver
    config = yaml.safe_load(ALERTMANAGER.read_text(encoding="utf-8"))
    receivers = {entry["name"]: entry for entry in config["receivers"]}
    if severity == "critical":
        assert {"slack_configs", "email_configs"} <= set(receivers[receiver])


def test_the_dashboard_is_a_grafana_dashboard_of_our_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    graphs = [panel for panel in panels if panel["type"] != "row"]
    assert len(graphs) >= 10
    for panel in graphs:
        assert panel["title"], panel
        assert panel["targets"], panel
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        for target in panel["targets"]:
            assert "privatetrade_" in target["expr"] or target["expr"].startswith("up{")
    expressions = " ".join(t["expr"] for p in graphs for t in p["targets"])
    for signal, needle in SIGNALS.items():
        assert needle.split("{")[0] in expressions, signal
