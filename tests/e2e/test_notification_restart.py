"""A server killed between a job's commit and its notification delivers it after restart, once.

The first server delays its notification dispatcher for an hour, so the job's message
is committed to the outbox (with the job's final state) but never sent; it is killed
with SIGKILL. A second server on the same database delivers the message: the receiver
sees each idempotency key exactly once, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from notification_receivers import http_receiver, verify_signature
from server import SMALL_BODY, ServerProcess, submit, wait_for

from polling import poll


def _deliveries(client: httpx.Client, channel_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/notification-channels/{channel_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_message_committed_before_a_kill_is_delivered_once_after_restart(
    data_dir: Path, database_url: str | None
) -> None:
    delayed = {"PRIVATETRADE_NOTIFICATION_START_DELAY_SECONDS": "3600"}
    first = ServerProcess(data_dir, database_url=database_url, env=delayed, workers=1).start()
    with http_receiver() as receiver:
        try:
            token = first.create_user("carol")
            with first.client(token) as client:
                hook = client.post(
                    "/api/notification-channels",
                    json={"kind": "webhook", "target": receiver.url(), "events": ["run_succeeded"]},
                ).json()
                jobs = [submit(client, SMALL_BODY)["id"] for _ in range(2)]
                for job_id in jobs:
                    assert wait_for(client, job_id)["state"] == "succeeded"
                assert _deliveries(client, hook["id"]) == []  # committed, not sent
        finally:
            first.kill()
        assert receiver.received == []

        second = ServerProcess(data_dir, database_url=database_url, workers=1)
        second.token = first.token
        second.start()
        try:
            with second.client(token) as client:
                posts = receiver.wait_for(2)

                def delivered() -> list[dict[str, Any]] | None:
                    attempts = _deliveries(client, hook["id"])
                    done = [a for a in attempts if a["outcome"] == "delivered"]
                    return attempts if len(done) == 2 else None

                attempts = poll(delivered, 20, "both messages recorded as delivered")
                # A later message passes through the same dispatcher: nothing repeats.
                barrier = submit(client, SMALL_BODY)["id"]
                wait_for(client, barrier)
                posts = receiver.wait_for(3)
        finally:
            second.stop()
    keys = [post.headers["idempotency-key"] for post in posts]
    assert sorted(keys) == sorted(
        f"{hook['id']}:run_succeeded:{job_id}" for job_id in [*jobs, barrier]
    )
    assert len(set(keys)) == len(keys) == 3
    assert all(verify_signature(hook["secret"], post) for post in posts)
    assert {json.loads(post.body)["run"]["id"] for post in posts} == {*jobs, barrier}
    assert sorted(a["job_id"] for a in attempts) == sorted(jobs)
