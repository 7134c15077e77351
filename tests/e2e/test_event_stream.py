"""A job's event stream: ids that grow strictly, and a reconnecting client resumes.

The real server on SQLite and PostgreSQL, ``LONG`` jobs that run for seconds, the stream
read with the parser the smoke command uses.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess, submit, wait_for

from databases import postgres_database
from privatetrade.ops.smoke.sse import StreamEvent, parse_sse_events

pytestmark = pytest.mark.e2e

LONG_BODY = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
RETRY_MS = 1000


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, long_data_dir: Path
) -> Iterator[ServerProcess]:
    """One server per database backend with the ``LONG`` symbol and one worker."""
    data_dir = tmp_path_factory.mktemp(f"events-{request.param}") / "data"
    shutil.copytree(long_data_dir, data_dir)
    database = postgres_database() if request.param == "postgresql" else nullcontext()
    with database as url, ServerProcess(data_dir, database_url=url, workers=1) as server:
        yield server


@pytest.fixture
def client(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


def stream(
    client: httpx.Client,
    job_id: str,
    last_event_id: str | None = None,
    *,
    until: str | None = None,
    timeout: float = 120.0,
) -> list[StreamEvent]:
    """Read the job's events to the end of the stream (or up to the first ``until`` state).

    Leaving early closes the connection, as a client that loses it does.
    """
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    deadline = time.monotonic() + timeout
    events: list[StreamEvent] = []
    path = f"/api/backtests/{job_id}/events"
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_sse_events(response.iter_lines()):
            assert time.monotonic() < deadline, f"event stream still open after {timeout}s"
            events.append(event)
            if until is not None and job_of(event)["state"] == until:
                break
    return events


def job_of(event: StreamEvent) -> dict[str, Any]:
    data = json.loads(event.data)
    assert isinstance(data, dict)
    return data


def ids(events: list[StreamEvent]) -> list[int]:
    return [int(event.id) for event in events]


def strictly_increasing(values: list[int]) -> bool:
    return all(earlier < later for earlier, later in itertools.pairwise(values))


def test_event_ids_grow_strictly_over_a_whole_run(client: httpx.Client) -> None:
    job_id = submit(client, LONG_BODY)["id"]
    events = stream(client, job_id)
    assert len(events) >= 3, events
    assert strictly_increasing(ids(events)), ids(events)
    assert all(event.retry == RETRY_MS for event in events)
    assert events[0].event == "state"
    assert {event.event for event in events} == {"state", "progress"}
    assert (events[-1].event, job_of(events[-1])["state"]) == ("state", "succeeded")
    progress = [job_of(event)["progress"] for event in events]
    assert progress == sorted(progress), progress


def test_a_client_that_reconnects_with_its_last_event_id_resumes(client: httpx.Client) -> None:
    job_id = submit(client, LONG_BODY)["id"]
    before = stream(client, job_id, until="running")  # then the connection drops
    seen = job_of(before[-1])
    assert seen["state"] == "running", before
    _wait_for_change(client, job_id, seen)

    after = stream(client, job_id, before[-1].id)
    assert after, "nothing sent after reconnecting"
    assert strictly_increasing(ids(before + after)), (ids(before), ids(after))
    resumed = job_of(after[0])
    assert after[0].event == "state"  # the current state first, nothing older
    assert (resumed["state"], resumed["progress"]) != (seen["state"], seen["progress"])
    assert resumed["progress"] >= seen["progress"] or resumed["state"] == "succeeded"
    assert (after[-1].event, job_of(after[-1])["state"]) == ("state", "succeeded")

    # The job is over: with the final event's id nothing more comes, the stream just ends.
    assert stream(client, job_id, after[-1].id) == []
    # An older id gets the final state only, with a larger id than the one sent.
    final = stream(client, job_id, before[-1].id)
    assert [(event.event, job_of(event)["state"]) for event in final] == [("state", "succeeded")]
    assert int(final[0].id) > int(before[-1].id)


@pytest.mark.parametrize("header", ["", "abc", "-5", "1e9", "9" * 20])
def test_a_last_event_id_that_is_not_ours_starts_the_stream_from_the_beginning(
    client: httpx.Client, header: str
) -> None:
    job_id = submit(client, {**LONG_BODY, "symbol": "AAPL"})["id"]
    assert wait_for(client, job_id)["state"] == "succeeded"
    events = stream(client, job_id, header)
    assert [(event.event, job_of(event)["state"]) for event in events] == [("state", "succeeded")]


def _wait_for_change(
    client: httpx.Client, job_id: str, seen: dict[str, Any], timeout: float = 60.0
) -> None:
    """Wait until the job's progress or state differs from what the client saw."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/backtests/{job_id}").json()
        if (job["state"], job["progress"]) != (seen["state"], seen["progress"]):
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not change within {timeout}s")


def test_a_deleted_job_ends_its_stream_with_a_deleted_event_of_a_larger_id(
    client: httpx.Client,
) -> None:
    job_id = submit(client, LONG_BODY)["id"]
    events: list[StreamEvent] = []
    deadline = time.monotonic() + 120.0
    with client.stream("GET", f"/api/backtests/{job_id}/events") as response:
        for event in parse_sse_events(response.iter_lines()):
            assert time.monotonic() < deadline, "the stream did not end after the deletion"
            events.append(event)
            if event.event == "state" and job_of(event)["state"] == "running":
                assert client.delete(f"/api/backtests/{job_id}").status_code == 204
    assert events[-1].event == "deleted"
    assert json.loads(events[-1].data) == {"id": job_id}
    assert strictly_increasing(ids(events)), ids(events)
