"""``POST /api/data/updates`` on the real server: administrators submit, users are refused.

The server is configured with the ``fdr`` provider but every HTTP proxy variable points at
a closed local port, so the worker's requests are refused at once and never leave the
machine: the job runs, every symbol fails, and the job ends ``failed`` saying why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess, free_port

from polling import poll

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def updates_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("data-updates") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    refused = f"http://127.0.0.1:{free_port()}"
    proxies = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), refused)
    env = {
        "PRIVATETRADE_DATA_PROVIDER": "fdr",
        **proxies,
        "NO_PROXY": "",
        "no_proxy": "",
        "ALL_PROXY": refused,
    }
    process = ServerProcess(data_dir, env=env).start()
    try:
        yield process
    finally:
        process.stop()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def final_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    return poll(ended, 60.0, f"data update {job_id} to end")


def test_users_cannot_submit_or_list_data_updates(updates_server: ServerProcess) -> None:
    token = updates_server.create_user("reader")
    with updates_server.client(token) as user:
        refused = problem(user.post("/api/data/updates", json={"symbols": ["005930"]}), 403)
        assert "administrators" in refused["detail"]
        problem(user.get("/api/data/updates"), 403)
        problem(user.get("/api/data/updates/schedule"), 403)
    with updates_server.client() as admin:
        listed = admin.get("/api/data/updates").json()
    assert listed["total"] == 0  # the refused request queued nothing


def test_bad_input_names_the_field(updates_server: ServerProcess) -> None:
    with updates_server.client() as admin:
        for body, field in [
            ({"symbols": ["NOT A CODE"]}, "symbols"),
            ({"symbols": ["DEMO01"]}, "symbols"),  # synthetic demo data
            ({"symbols": ["005930"], "provider": "bloomberg"}, "provider"),
            ({"symbols": ["005930"], "series": ["split"]}, "series.0"),
            ({"symbols": ["005930"], "owner": "system"}, "owner"),
            ({}, "symbols"),  # nothing stored was fetched from fdr
        ]:
            answer = problem(admin.post("/api/data/updates", json=body), 422)
            assert answer["field"] == field, (body, answer)


def test_an_admin_submits_and_follows_an_update(updates_server: ServerProcess) -> None:
    with updates_server.client() as admin:
        accepted = admin.post("/api/data/updates", json={"symbols": ["005930"]})
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()
        assert accepted.headers["location"] == f"/api/jobs/{job['id']}"
        assert (job["kind"], job["links"]["self"]) == ("data_update", accepted.headers["location"])
        assert job["spec"]["provider"] == "fdr"  # the configured one, recorded
        assert job["spec"]["symbols"] == ["005930"]

        ended = final_job(admin, job["id"])
        # The proxy refuses every request: the one symbol fails, so the job fails.
        assert (ended["state"], ended["reason"]) == ("failed", "data_error")
        assert "every symbol failed (1): 005930" in ended["error"]

        listed = admin.get("/api/data/updates").json()
        assert [item["id"] for item in listed["items"]] == [job["id"]]
        backtests = admin.get("/api/backtests", params={"limit": 200}).json()
        assert job["id"] not in {item["id"] for item in backtests["items"]}
        assert admin.get(f"/api/jobs/{job['id']}/artifacts").json()["kind"] == "data_update"
        with updates_server.anonymous() as anonymous:
            assert anonymous.get(f"/api/jobs/{job['id']}").status_code == 401
            # The backtest pages neither list nor show it.
            accounts = updates_server.accounts()
            secret, _session = accounts.start_session(accounts.user("admin"))
            accounts.repository.engine.dispose()
            anonymous.cookies.set("pt_session", secret)
            for page in ("/", "/history"):
                html = anonymous.get(page)
                assert html.status_code == 200, page
                assert job["id"] not in html.text, page
            assert anonymous.get(f"/backtests/{job['id']}").status_code == 404

    token = updates_server.create_user("someone")
    with updates_server.client(token) as user:
        problem(user.get(f"/api/jobs/{job['id']}"), 404)


def test_the_schedule_is_off_by_default_on_status_and_metrics(
    updates_server: ServerProcess,
) -> None:
    with updates_server.client() as admin:
        status = admin.get("/api/status").json()
        schedule = admin.get("/api/data/updates/schedule").json()
        metrics = admin.get("/metrics").text
    assert [(entry["market"], entry["enabled"]) for entry in status["data_updates"]] == [
        ("KRX", False),
        ("NYSE", False),
    ]
    assert schedule == status["data_updates"]
    assert all(entry["next_run_at"] is None for entry in schedule)
    assert 'privatetrade_data_update_scheduled{market="KRX"} 0.0' in metrics
    assert 'privatetrade_data_update_scheduled{market="NYSE"} 0.0' in metrics


def test_without_a_provider_an_update_is_a_conflict(module_server: ServerProcess) -> None:
    with module_server.client() as admin:
        answer = problem(admin.post("/api/data/updates", json={"symbols": ["005930"]}), 409)
    assert answer["state"] == "no_provider"
    assert "PRIVATETRADE_DATA_PROVIDER" in answer["detail"]
