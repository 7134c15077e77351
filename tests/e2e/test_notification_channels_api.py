"""User notifications through the real server: channels, signed webhooks, e-mail, retries.

Receivers are real (an HTTP server and aiosmtpd on 127.0.0.1); nothing is mocked.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from notification_receivers import (
    HttpReceiver,
    Received,
    SmtpReceiver,
    http_receiver,
    smtp_receiver,
    verify_signature,
)
from server import SMALL_BODY, ServerProcess, submit, wait_for

from polling import poll

PUBLIC_URL = "https://backtest.example.org"
LONG_BODY = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpReceiver]:
    with smtp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def notify_server(
    tmp_path_factory: pytest.TempPathFactory, long_data_dir: Path, smtp: SmtpReceiver
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("notify-server") / "data"
    shutil.copytree(long_data_dir, data_dir)
    env = {
        "PRIVATETRADE_PUBLIC_URL": PUBLIC_URL,
        "PRIVATETRADE_SMTP_HOST": "127.0.0.1",
        "PRIVATETRADE_SMTP_PORT": str(smtp.port),
        "PRIVATETRADE_SMTP_STARTTLS": "false",
        "PRIVATETRADE_SMTP_FROM": "alerts@backtest.example.org",
        "PRIVATETRADE_NOTIFICATION_RETRY_SECONDS": "0.05",
        "PRIVATETRADE_NOTIFICATION_TIMEOUT_SECONDS": "5",
    }
    process = ServerProcess(data_dir, env=env, workers=1).start()
    try:
        yield process
    finally:
        process.stop()


def _user(server: ServerProcess) -> httpx.Client:
    name = f"u{secrets.token_hex(4)}"
    return server.client(server.create_user(name))


def _channel(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/notification-channels", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _deliveries(client: httpx.Client, channel_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/notification-channels/{channel_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())


def _metric(server: ServerProcess, kind: str, outcome: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    pattern = (
        rf'privatetrade_notifications_total\{{channel_kind="{kind}",outcome="{outcome}"\}} (\S+)'
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_finished_run_mails_and_posts_a_signed_webhook(
    notify_server: ServerProcess, smtp: SmtpReceiver
) -> None:
    hook_path = f"/hook/{secrets.token_hex(8)}"  # a secret part of the URL
    with _user(notify_server) as client, http_receiver() as receiver:
        mail = _channel(client, kind="email", target="alice@example.org", events=["run_succeeded"])
        hook = _channel(
            client,
            kind="webhook",
            target=receiver.url(hook_path),
            events=["run_succeeded", "run_failed", "run_cancelled"],
            language="ko",
        )
        secret = hook["secret"]
        assert secret
        assert secret.startswith("whsec_")
        assert mail["secret"] is None
        assert hook["target"] == f"http://127.0.0.1:{receiver.port}/…"
        before = len(smtp.mailbox.messages)

        job = submit(client, SMALL_BODY)
        finished = wait_for(client, job["id"])
        assert finished["state"] == "succeeded"
        total_return = finished["summary"]["total_return"]

        posted = receiver.wait_for(1)[0]
        assert posted.path == hook_path
        assert verify_signature(secret, posted)
        assert not verify_signature("whsec_wrong", posted)
        assert posted.headers["idempotency-key"] == f"{hook['id']}:run_succeeded:{job['id']}"
        document = json.loads(posted.body)
        assert document["event"] == "run_succeeded"
        assert document["run"]["id"] == job["id"]
        assert document["run"]["summary"]["total_return"] == pytest.approx(total_return)
        assert document["link"] == f"{PUBLIC_URL}/backtests/{job['id']}"
        assert "완료" in document["title"]
        assert "AAPL" in document["title"]

        message = smtp.wait_for(before + 1)[before]
        assert message["To"] == "alice@example.org"
        assert "AAPL" in message["Subject"]
        assert "finished" in message["Subject"]
        body = message.get_content()
        assert f"{total_return * 100:+.2f}%" in body
        assert "Sharpe" in body
        assert "Max drawdown" in body
        assert f"{PUBLIC_URL}/backtests/{job['id']}" in body
        assert (
            message["X-Privatetrade-Idempotency-Key"] == f"{mail['id']}:run_succeeded:{job['id']}"
        )

        attempts = poll(
            lambda: _deliveries(client, hook["id"]) or None, 10, "the webhook's delivery"
        )
        assert [(a["outcome"], a["attempt"], a["job_id"]) for a in attempts] == [
            ("delivered", 1, job["id"])
        ]
        # Secrets are never shown again, nor logged.
        listed = client.get("/api/notification-channels").text
        for text in (listed, json.dumps(attempts), notify_server.log_path.read_text()):
            assert secret not in text
            assert hook_path not in text
        assert _metric(notify_server, "webhook", "delivered") >= 1
        assert _metric(notify_server, "email", "delivered") >= 1


def test_receiver_failing_three_times_gets_it_on_the_fourth_attempt(
    notify_server: ServerProcess,
) -> None:
    retries_before = _metric(notify_server, "webhook", "retry")
    with _user(notify_server) as client, http_receiver(fail_first=3) as receiver:
        hook = _channel(client, kind="webhook", target=receiver.url(), events=["run_succeeded"])
        job = submit(client, SMALL_BODY)
        wait_for(client, job["id"])
        posts = receiver.wait_for(4)
        assert [post.status for post in posts] == [500, 500, 500, 200]
        keys = {post.headers["idempotency-key"] for post in posts}
        assert keys == {f"{hook['id']}:run_succeeded:{job['id']}"}
        assert all(verify_signature(hook["secret"], post) for post in posts)

        def recorded() -> list[dict[str, Any]] | None:
            attempts = _deliveries(client, hook["id"])
            return attempts if len(attempts) == 4 else None

        attempts = list(reversed(poll(recorded, 10, "four recorded attempts")))
        assert [(a["attempt"], a["outcome"]) for a in attempts] == [
            (1, "retry"),
            (2, "retry"),
            (3, "retry"),
            (4, "delivered"),
        ]
        assert attempts[0]["detail"] == "HTTP 500"
        assert {a["message_state"] for a in attempts} == {"delivered"}
        assert _metric(notify_server, "webhook", "retry") - retries_before >= 3


def test_apprise_channel_delivers_through_the_outbox(notify_server: ServerProcess) -> None:
    with _user(notify_server) as client, http_receiver() as receiver:
        target = f"json://127.0.0.1:{receiver.port}/apprise"
        channel = _channel(client, kind="apprise", target=target, events=["run_succeeded"])
        assert channel["target"] == f"json://127.0.0.1:{receiver.port}/…"
        job = submit(client, SMALL_BODY)
        wait_for(client, job["id"])
        posted = receiver.wait_for(1)[0]
        assert posted.path == "/apprise"
        document = json.loads(posted.body)  # Apprise's JSON notification format
        assert "AAPL" in document["title"]
        assert f"{PUBLIC_URL}/backtests/{job['id']}" in document["message"]
        attempts = poll(lambda: _deliveries(client, channel["id"]) or None, 10, "delivery")
        assert attempts[0]["outcome"] == "delivered"


def test_test_message_and_a_failing_channel(notify_server: ServerProcess) -> None:
    with _user(notify_server) as client, http_receiver() as receiver:
        good = _channel(client, kind="webhook", target=receiver.url(), events=["run_failed"])
        sent = client.post(f"/api/notification-channels/{good['id']}/test")
        assert sent.status_code == 200
        assert sent.json() == {"delivered": True, "detail": None}
        test_post = receiver.wait_for(1)[0]
        assert json.loads(test_post.body)["event"] == "test"
        assert verify_signature(good["secret"], test_post)

        receiver.stop()  # nobody listens any more
        dead = _channel(client, kind="webhook", target=receiver.url(), events=["run_failed"])
        failed = client.post(f"/api/notification-channels/{dead['id']}/test").json()
        assert failed["delivered"] is False
        assert "ConnectError" in failed["detail"]
        attempts = _deliveries(client, dead["id"])
        assert [(a["event"], a["outcome"]) for a in attempts] == [("test", "failed")]


def _posted_for(receiver: HttpReceiver, run_id: str, timeout: float = 30.0) -> Received:
    """Wait for the POST about ``run_id`` among whatever else arrives."""
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        posts = receiver.wait_for(seen + 1, max(deadline - time.monotonic(), 0.01))
        for post in posts[seen:]:
            if json.loads(post.body)["run"]["id"] == run_id:
                return post
        seen = len(posts)


def test_cancelled_queued_job_notifies(notify_server: ServerProcess) -> None:
    with _user(notify_server) as client, http_receiver() as receiver:
        hook = _channel(client, kind="webhook", target=receiver.url(), events=["run_cancelled"])
        # One worker, busy for seconds: the second job waits in the queue behind the first.
        first = submit(client, LONG_BODY)
        wait_for(client, first["id"], {"running"})
        second = submit(client, SMALL_BODY)
        cancelled = client.post(f"/api/backtests/{second['id']}/cancel")
        assert cancelled.status_code in (200, 202), cancelled.text
        done = wait_for(client, second["id"])
        assert (done["state"], done["started_at"]) == ("cancelled", None)
        client.post(f"/api/backtests/{first['id']}/cancel")
        wait_for(client, first["id"])
        # The first job, cancelled too unless it finished first, may be told of before it.
        posted = _posted_for(receiver, second["id"])
        document = json.loads(posted.body)
        assert document["event"] == "run_cancelled"
        assert document["run"]["id"] == second["id"]
        assert posted.headers["idempotency-key"] == f"{hook['id']}:run_cancelled:{second['id']}"
        assert document["title"].startswith("Backtest cancelled")


def test_channel_validation_and_other_users(notify_server: ServerProcess) -> None:
    with _user(notify_server) as alice, _user(notify_server) as bob:
        cases = [
            ({"kind": "pager", "target": "x", "events": ["run_failed"]}, "kind", None),
            ({"kind": "slack", "target": "https://example.org/x", "events": ["run_failed"]},
             "target", "notification_target_invalid"),
            ({"kind": "telegram", "target": "123456:" + "A" * 35, "events": ["run_failed"]},
             "chat_id", "notification_target_invalid"),
            ({"kind": "apprise", "target": "file:///etc/passwd", "events": ["run_failed"]},
             "target", "notification_scheme_not_allowed"),
            ({"kind": "webhook", "target": "ftp://example.org/x", "events": ["run_failed"]},
             "target", "notification_target_invalid"),
            ({"kind": "webhook", "target": "https://example.org/" + "x" * 2000,
              "events": ["run_failed"]}, "target", "string_too_long"),
            ({"kind": "webhook", "target": "https://example.org/x", "events": ["test"]},
             "events", "notification_events_invalid"),
            ({"kind": "webhook", "target": "https://example.org/x", "events": []},
             "events", "too_short"),
        ]  # fmt: skip
        for body, field, code in cases:
            response = alice.post("/api/notification-channels", json=body)
            assert response.status_code == 422, (body, response.text)
            problem = response.json()
            assert field in problem["field"], problem
            assert code is None or problem["code"] == code, problem

        slack = _channel(
            alice,
            kind="slack",
            target="https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
            events=["run_failed"],
        )
        assert "TIiajkdnlazkcOXrIdevi7FQ" not in json.dumps(slack)
        for _ in range(9):
            _channel(alice, kind="webhook", target="https://example.org/x", events=["run_failed"])
        eleventh = alice.post(
            "/api/notification-channels",
            json={"kind": "webhook", "target": "https://example.org/x", "events": ["run_failed"]},
        )
        assert eleventh.status_code == 422
        assert eleventh.json()["code"] == "too_many_channels"
        assert eleventh.json()["params"] == {"limit": 10}

        path = f"/api/notification-channels/{slack['id']}"
        assert bob.get("/api/notification-channels").json() == []
        assert bob.patch(path, json={"enabled": False}).status_code == 404
        assert bob.post(f"{path}/test").status_code == 404
        assert bob.get(f"{path}/deliveries").status_code == 404
        assert bob.delete(path).status_code == 404
        changed = alice.patch(path, json={"events": ["run_failed", "run_succeeded"]})
        assert changed.status_code == 200
        assert changed.json()["events"] == ["run_failed", "run_succeeded"]
        assert alice.patch(path, json={"language": "fr"}).status_code == 422
        assert alice.delete(path).status_code == 204
        assert alice.get(f"{path}/deliveries").status_code == 404
