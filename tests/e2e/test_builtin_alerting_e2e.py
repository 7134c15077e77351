"""The built-in alerting through the real server: an administrator's webhook channel at a
local receiver gets one "firing" and one "resolved" message for a 404 spike, and nothing
more while the checks go on."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from notification_receivers import http_receiver, verify_signature
from server import ServerProcess

from polling import poll

pytestmark = pytest.mark.e2e

THRESHOLDS = {
    "for_seconds": 1,
    "window_seconds": 60,
    "min_requests": 20,
    "not_found_ratio": 0.1,
    "disk_free_ratio": 0,  # this machine's disk and memory must not add messages
    "memory_available_ratio": 0,
}


@pytest.fixture
def alerting_server(tmp_path: Path, sample_data_dir: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "data"
    shutil.copytree(sample_data_dir, data_dir)
    env = {
        "PRIVATETRADE_ALERTING": "true",
        "PRIVATETRADE_ALERT_CHECK_SECONDS": "1",
        "PRIVATETRADE_ALERT_THRESHOLDS": json.dumps(THRESHOLDS),
        "PRIVATETRADE_NOTIFICATION_RETRY_SECONDS": "0.05",
    }
    process = ServerProcess(data_dir, env=env, workers=1).start()
    try:
        yield process
    finally:
        process.stop()


def checks_done(state_file: Path, after: float) -> float | None:
    """The state file's time once a check rewrote it after ``after``."""
    if not state_file.exists():
        return None
    modified = state_file.stat().st_mtime_ns / 1e9
    return modified if modified > after else None


def test_an_admin_webhook_gets_firing_then_resolved_once(alerting_server: ServerProcess) -> None:
    state_file = alerting_server.data_dir / "alerting.json"
    with alerting_server.client() as admin, http_receiver() as receiver:
        created = admin.post(
            "/api/notification-channels",
            json={
                "kind": "webhook",
                "target": receiver.url(),
                "events": ["alert"],
                "language": "en",
            },
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        seen = poll(lambda: checks_done(state_file, 0.0), 30, "the first check")

        for _ in range(30):  # 30 of about 35 requests answer 404
            assert admin.get("/api/no-such-page").status_code == 404
        firing = receiver.wait_for(1)[0]
        document = json.loads(firing.body)
        assert verify_signature(secret, firing)
        assert document["event"] == "alert"
        assert document["title"] == "Warning: Many 404 (not found) answers"
        assert "Share of requests answered 404" in document["text"]
        assert "threshold 10.0%" in document["text"]
        assert ":alert:not_found:firing:" in firing.headers["idempotency-key"]

        for _ in range(300):  # the share falls to under 10 %
            assert admin.get("/api/health").status_code == 200
        received = receiver.wait_for(2)
        resolved = json.loads(received[1].body)
        assert resolved["title"] == "Resolved: Many 404 (not found) answers"
        assert ":alert:not_found:resolved:" in received[1].headers["idempotency-key"]

        for _ in range(3):  # three more checks: nothing new is sent
            seen = poll(lambda after=seen: checks_done(state_file, after), 30, "another check")
        assert len(receiver.received) == 2
    assert json.loads(state_file.read_text(encoding="utf-8")) == {}
    events = [
        event["event"] for event in alerting_server.log_events("alert.firing", "alert.resolved")
    ]
    assert events == ["alert.firing", "alert.resolved"]
