"""``/api/jobs/{id}/artifacts``: any job's named documents, listed and downloaded as stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest
from server import ServerProcess, submit, wait_for


@pytest.fixture(scope="module")
def api(module_server: ServerProcess) -> ServerProcess:
    return module_server


@pytest.fixture
def client(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client() as http:
        yield http


def test_a_backtest_lists_and_serves_its_three_artifacts(
    api: ServerProcess, client: httpx.Client
) -> None:
    job = submit(client, {"symbol": "GOOG", "end": "2008-12-31"})
    assert wait_for(client, job["id"])["state"] == "succeeded"
    listing = client.get(f"/api/jobs/{job['id']}/artifacts")
    assert listing.status_code == 200
    body = listing.json()
    assert (body["kind"], body["state"]) == ("backtest", "succeeded")
    names = [item["name"] for item in body["items"]]
    assert names == ["equity.csv", "result.json", "trades.csv"]
    for item in body["items"]:
        response = client.get(item["url"])
        assert response.status_code == 200
        assert len(response.content) == item["size"]
        assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
        assert response.headers["etag"] == f'"{item["sha256"]}"'
        assert response.headers["content-type"].startswith(item["media_type"].split(";")[0])
        assert "attachment" in response.headers["content-disposition"]
    # The same bytes as the backtest's own downloads (which add the run section to the JSON).
    trades = client.get(f"/api/jobs/{job['id']}/artifacts/trades.csv").content
    assert trades == client.get(f"/api/backtests/{job['id']}/trades.csv").content
    stored = json.loads(client.get(f"/api/jobs/{job['id']}/artifacts/result.json").content)
    served = client.get(f"/api/backtest/result/{job['id']}").json()
    served.pop("run")
    assert stored == served
    # Files live in the data directory, one folder per job.
    folders = list((api.data_dir / "artifacts" / job["id"]).iterdir())
    assert len(folders) == 1
    assert sorted(path.name for path in folders[0].iterdir()) == names


def test_unfinished_foreign_and_unknown_artifacts_are_refused(
    api: ServerProcess, client: httpx.Client
) -> None:
    queued = submit(client, {"symbol": "AAPL"})
    client.post(f"/api/backtests/{queued['id']}/cancel")
    assert wait_for(client, queued["id"])["state"] == "cancelled"
    assert client.get(f"/api/jobs/{queued['id']}/artifacts").json()["items"] == []
    refused = client.get(f"/api/jobs/{queued['id']}/artifacts/result.json")
    assert refused.status_code == 409
    assert refused.json()["state"] == "cancelled"

    done = submit(client, {"symbol": "IBM", "end": "2005-12-31"})
    assert wait_for(client, done["id"])["state"] == "succeeded"
    assert client.get(f"/api/jobs/{done['id']}/artifacts/nothing.txt").status_code == 404
    assert client.get(f"/api/jobs/{done['id']}/artifacts/..%2Fx").status_code in {404, 422}
    assert client.get(f"/api/jobs/{'0' * 32}/artifacts").status_code == 404
    other = api.create_user("artifact-outsider")
    with api.client(other) as outsider:
        for path in (
            f"/api/jobs/{done['id']}/artifacts",
            f"/api/jobs/{done['id']}/artifacts/result.json",
        ):
            assert outsider.get(path).status_code == 404


def test_deleting_a_job_removes_its_artifact_files(
    api: ServerProcess, client: httpx.Client
) -> None:
    job = submit(client, {"symbol": "MSFT", "end": "2004-12-31"})
    assert wait_for(client, job["id"])["state"] == "succeeded"
    folder = api.data_dir / "artifacts" / job["id"]
    assert folder.is_dir()
    assert client.delete(f"/api/backtests/{job['id']}").status_code == 204
    assert not folder.exists()
    assert client.get(f"/api/jobs/{job['id']}/artifacts").status_code == 404
